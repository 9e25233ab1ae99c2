import { canonicalize } from '../events/hashing.js';
import type { NewEvent } from '../events/envelope.js';

/** A re-append is idempotent only if the recorded event carries the same type and data. */
export function sameEvent(storedBody: string, candidate: NewEvent): boolean {
  const stored = JSON.parse(storedBody) as { type: string; data: unknown };
  return stored.type === candidate.type && canonicalize(stored.data) === canonicalize(candidate.data);
}
