import { BadInput } from '../errors.js';
import { checkPartition } from './partition.js';
import type { ReadAllOptions } from './types.js';

/**
 * A global position given to a read (`after`, `until`) or a subscription: an integer from 0. Anything
 * else (-1, 1.5, NaN, '2') is refused alike by every adapter; left to each, SQLite read it as a
 * number to compare with and the memory store as an array index, and they answered differently.
 */
export function checkPosition(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return;
  throw new BadInput(`${name} must be a global position (an integer from 0), got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
}

/** The options of readAll and readAllPages, checked before anything is read. */
export function checkReadOptions(options: ReadAllOptions): void {
  checkPosition('after', options.after);
  checkPosition('until', options.until);
  const size: unknown = options.pageSize;
  if (size !== undefined && !(typeof size === 'number' && Number.isSafeInteger(size) && size >= 1)) {
    throw new BadInput(`pageSize must be an integer from 1, got ${typeof size === 'string' ? JSON.stringify(size) : String(size)}`);
  }
  checkPartition(options.partition);
}
