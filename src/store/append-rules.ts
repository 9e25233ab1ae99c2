import { BadInput, Conflict } from '../errors.js';
import type { ExpectedVersion } from './types.js';

/** -1 stands for "no stream". Throws Conflict when the stream is not where the writer expected. */
export function checkExpected(stream: string, expected: ExpectedVersion, current: number): void {
  if (expected === 'any') return;
  if (expected === 'no-stream') {
    if (current !== -1) throw new Conflict(stream, 'no-stream', current);
    return;
  }
  if (expected !== current) throw new Conflict(stream, String(expected), current);
}

const STREAM_NAME = /^[a-z][a-z0-9-]*(-[A-Za-z0-9._-]+)?$/;

export function checkStreamName(stream: string): void {
  if (!STREAM_NAME.test(stream)) throw new BadInput(`invalid stream name ${JSON.stringify(stream)}`);
}
