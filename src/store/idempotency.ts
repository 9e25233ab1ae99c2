import { BadInput } from '../errors.js';
import { canonicalize } from '../events/hashing.js';
import type { NewEvent } from '../events/envelope.js';
import type { AppendResult } from './types.js';

/** A re-append is idempotent only if the recorded event carries the same type and data. */
export function sameEvent(storedBody: string, candidate: NewEvent): boolean {
  const stored = JSON.parse(storedBody) as { type: string; data: unknown };
  return stored.type === candidate.type && canonicalize(stored.data) === canonicalize(candidate.data);
}

export type RecordedRow = { stream: string; version: number; position: number; body: string };

/**
 * The answer to a re-append (every id already recorded, in this stream, in a row, with the same type
 * and data), null when no id is recorded; otherwise BadInput saying which id is the trouble: one
 * recorded with other content or elsewhere, or a batch only partly recorded (retry exactly the
 * append that was made; new events go in an append of their own).
 */
export function duplicateOf(stream: string, events: readonly NewEvent[], recorded: (id: string) => RecordedRow | undefined): AppendResult | null {
  const rows = events.map((e) => recorded(e.id));
  if (rows.every((r) => r === undefined)) return null;
  const missing = events.find((_, i) => rows[i] === undefined);
  if (missing) {
    const known = events.find((_, i) => rows[i] !== undefined)!;
    throw new BadInput(
      `append to ${stream} is partly a re-append: event ${known.id} is already recorded, ${missing.id} is not; a retry repeats exactly the events of the append it retries, and new events go in an append of their own`,
    );
  }
  const first = rows[0]!;
  rows.forEach((r, i) => {
    const e = events[i]!;
    if (r!.stream !== stream) throw new BadInput(`event ${e.id} is already recorded in another stream (${r!.stream}), not in ${stream}`);
    if (r!.version !== first.version + i) throw new BadInput(`event ids already recorded in ${stream}, but not in this order or not one after another (event ${e.id} is version ${r!.version})`);
    if (!sameEvent(r!.body, e)) throw new BadInput(`event ${e.id} is already recorded in ${stream} with other content`);
  });
  const last = rows[rows.length - 1]!;
  return { version: last.version, position: last.position, duplicate: true, events: [] };
}
