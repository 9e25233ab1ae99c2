import type { EventDraft } from '../src/events/catalogue.js';
import type { GateId } from '../src/events/gates.js';

/** What a pure decide step returns: events to append, a refusal by a named gate, or bad input. */
export type Decision =
  | { kind: 'accept'; events: EventDraft[] }
  | { kind: 'refuse'; gate: GateId; detail: string }
  | { kind: 'invalid'; detail: string };

export const accept = (...events: EventDraft[]): Decision => ({ kind: 'accept', events });
export const refuse = (gate: GateId, detail: string): Decision => ({ kind: 'refuse', gate, detail });
export const invalid = (detail: string): Decision => ({ kind: 'invalid', detail });
