import { BadInput, Conflict, Refused, StoreUnavailable } from '../src/errors.js';
import type { Actor, LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { newEvent } from '../src/ledger/new-event.js';
import type { AppendResult } from '../src/store/types.js';
import type { Decision } from './decision.js';

export type CommandSpec = {
  /** Command name, recorded with a refusal. */
  command: string;
  stream: string;
  actor: Actor;
  correlationId: string;
  /** Pure: the stream's events (already chain-checked) in, a decision out. */
  decide: (events: LedgerEvent[]) => Decision;
  /** Record a refusal on the stream (only where the stream exists: a run's refusals are part of its story). */
  recordRefusal?: 'CommandRefused' | 'ExecutionRefused';
};

const CONFLICT_RETRIES = 8;

export type CommandResult = { appended: LedgerEvent[]; result: AppendResult | null };

/**
 * The one runner every command goes through: read the stream, decide, append with the version read
 * as the expected version; on a conflict (someone appended meanwhile) decide again.
 */
export async function runCommand(ledger: Ledger, spec: CommandSpec): Promise<CommandResult> {
  for (let attempt = 0; ; attempt++) {
    const events = await ledger.store.readStream(spec.stream);
    const last = events[events.length - 1];
    const expected = last ? last.version : 'no-stream';
    const decision = spec.decide(events);
    const now = ledger.now();
    const meta = { actor: spec.actor, correlationId: spec.correlationId, causationId: last?.id ?? null, now };
    try {
      if (decision.kind === 'invalid') throw new BadInput(decision.detail);
      if (decision.kind === 'refuse') {
        if (spec.recordRefusal && last) {
          const data = { gate: decision.gate, detail: decision.detail, requestedBy: spec.actor.id };
          const draft =
            spec.recordRefusal === 'ExecutionRefused'
              ? ({ type: 'ExecutionRefused', data } as const)
              : ({ type: 'CommandRefused', data: { ...data, command: spec.command } } as const);
          await ledger.store.append(spec.stream, [newEvent(draft, meta)], expected);
        }
        throw new Refused(decision.gate, decision.detail);
      }
      if (decision.events.length === 0) return { appended: [], result: null };
      const drafts = decision.events.map((d) => newEvent(d, meta));
      const result = await ledger.store.append(spec.stream, drafts, expected);
      // A duplicate (a retried command whose first append landed) was sealed earlier: read it back.
      const appended = result.duplicate ? (await ledger.store.readStream(spec.stream)).slice(-drafts.length) : result.events;
      return { appended, result };
    } catch (err) {
      // Decided again on the stream as it now is; many writers on one stream (a burst of scripts) may
      // each lose a few races, so a few tries, spread out a little so they do not collide again.
      if (err instanceof Conflict && attempt < CONFLICT_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
        continue;
      }
      if (err instanceof Conflict) throw new StoreUnavailable(`${spec.command}: ${err.message}, after ${CONFLICT_RETRIES + 1} tries against other writers of the stream; nothing was appended, try again`);
      throw err;
    }
  }
}
