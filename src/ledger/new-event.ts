import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import type { EventDraft } from '../events/catalogue.js';
import type { Actor, NewEvent } from '../events/envelope.js';

// ulid's default source asks the OS for one random byte per character; draw from a pooled buffer instead.
const pool = new Uint32Array(1024);
let next = pool.length;
function pooledRandom(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++]! / 0x1_0000_0000;
}

// Monotonic: ids made in the same millisecond still sort in creation order.
const nextUlid = monotonicFactory(pooledRandom);

export function newId(): string {
  return nextUlid();
}

export function newEvent(
  draft: EventDraft,
  meta: { actor: Actor; correlationId: string; causationId?: string | null; now: Date; id?: string },
): NewEvent {
  // Object.assign, not a spread with extra properties: on Node 20 such a spread takes a slow path
  // costing microseconds, and every append makes one.
  return Object.assign({}, draft, {
    id: meta.id ?? nextUlid(meta.now.getTime()),
    recordedAt: meta.now.toISOString(),
    actor: meta.actor,
    correlationId: meta.correlationId,
    causationId: meta.causationId ?? null,
  }) as NewEvent;
}
