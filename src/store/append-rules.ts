import { BadInput, Conflict } from '../errors.js';
import { validateNew, type NewEvent } from '../events/envelope.js';
import { checkOutsideSnapshot } from './snapshot-scope.js';
import type { ExpectedVersion } from './types.js';

/**
 * Refuses an expected version that is none of 'no-stream', 'any' or a stream version (an integer from 0):
 * -1, 1.5, NaN or the string '3' would otherwise be told as a Conflict, which writers retry, saying
 * "expected version 3, but it is at 3", and -1 passed for 'no-stream'.
 */
export function checkExpectedVersion(stream: string, expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'no-stream' || expected === 'any') return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  const shown = typeof expected === 'number' ? String(expected) : typeof expected === 'string' ? JSON.stringify(expected) : typeof expected;
  throw new BadInput(`invalid expected version ${shown} for ${stream}: 'no-stream', 'any', or the version of the stream's last event (an integer from 0)`);
}

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

/** One append holds each event id once: the log holds each id once. */
export function checkDistinctIds(stream: string, events: readonly NewEvent[]): void {
  if (new Set(events.map((e) => e.id)).size !== events.length) throw new BadInput(`the same event id twice in one append to ${stream}`);
}

const NOT_PLAIN = Symbol('not plain');

/** A copy of a tree of plain objects, arrays and primitives, each property read once; NOT_PLAIN thrown for anything else. */
function plainCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') throw NOT_PLAIN;
    return value;
  }
  if (depth > 64) throw NOT_PLAIN;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(plainCopy(value[i], depth + 1));
    return out;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) throw NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__') throw NOT_PLAIN;
    out[key] = plainCopy((value as Record<string, unknown>)[key], depth + 1);
  }
  return out;
}

/**
 * A deep copy of the events handed to append, taken when it is called: what is validated and sealed is
 * their own data as it was then, read once. The caller's objects are not sealed themselves, whose
 * getters, prototype toJSON (which the canonical JSON would follow) or later changes could make
 * the stored event another than the one validated, breaking its stream for good. Events as the
 * ledger makes them (and a transparent Proxy of one) are plain objects of JSON values, copied by hand
 * at a third of structuredClone's cost; anything else (a class instance, a Date, a cycle, a
 * `__proto__` key) goes through structuredClone. One that cannot be copied is refused as validation
 * would refuse it.
 */
function snapshot(events: readonly NewEvent[]): NewEvent[] {
  try {
    return events.map((e) => plainCopy(e, 0)) as NewEvent[];
  } catch (err) {
    if (err !== NOT_PLAIN) throw err;
  }
  try {
    return structuredClone(events) as NewEvent[];
  } catch (err) {
    events.forEach(validateNew);
    throw new BadInput(`the events cannot be copied for appending: ${(err as Error).message}`);
  }
}

/**
 * What every store checks of an append before it queues or makes it, in one place so they refuse
 * alike: the stream's name, the expected version, no append from inside the store's own snapshot,
 * something to append, and a validated copy of the events, each id once. Returns the copy to seal.
 */
export function admitAppend(store: object, stream: string, given: readonly NewEvent[], expected: unknown): NewEvent[] {
  checkStreamName(stream);
  checkExpectedVersion(stream, expected);
  checkOutsideSnapshot(store, stream);
  if (given.length === 0) throw new BadInput('nothing to append');
  const events = snapshot(given);
  events.forEach(validateNew);
  // Caught here, so an insert inside a group commit never trips over its own batch.
  checkDistinctIds(stream, events);
  return events;
}
