import { monotonicFactory } from 'ulid';
import type { EventDraft } from '../events/catalogue.js';
import type { Actor, NewEvent } from '../events/envelope.js';

// Monotonic: ids made in the same millisecond still sort in creation order (and it is ~100x faster).
const nextUlid = monotonicFactory();

export function newId(): string {
  return nextUlid();
}

export function newEvent(
  draft: EventDraft,
  meta: { actor: Actor; correlationId: string; causationId?: string | null; now: Date; id?: string },
): NewEvent {
  return {
    ...draft,
    id: meta.id ?? nextUlid(meta.now.getTime()),
    recordedAt: meta.now.toISOString(),
    actor: meta.actor,
    correlationId: meta.correlationId,
    causationId: meta.causationId ?? null,
  } as NewEvent;
}
