import { foldRun, pastOutcomeDeadline, runStream, type RunState } from '../src/domain/run.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { accept, type Decision } from './decision.js';
import { runCommand } from './runner.js';

/** A run past its outcome deadline with no outcome is closed, rejected, by the `outcome-missing` gate. */
export function decideSweep(run: RunState, now: Date): Decision {
  if (run.outcome || !pastOutcomeDeadline(run, now)) return accept();
  if (run.status === 'denied') return accept();
  return accept({
    type: 'OutcomeRecorded',
    data: {
      decision: 'rejected',
      operator: 'cto-ledger',
      reason: `no outcome was recorded by the deadline ${run.outcomeDeadline}`,
      bundleDigest: run.evidence?.bundleDigest ?? null,
      gate: 'outcome-missing',
    },
  });
}

/** Closes every overdue run; returns the ids it closed. */
export async function sweep(ledger: Ledger): Promise<string[]> {
  const closed: string[] = [];
  const now = ledger.now();
  for (const tail of await ledger.store.streamTails()) {
    if (!tail.stream.startsWith('run-')) continue;
    const runId = tail.stream.slice(4);
    const { appended } = await runCommand(ledger, {
      command: 'sweep',
      stream: runStream(runId),
      actor: { kind: 'system', id: 'cto-ledger-sweep' },
      correlationId: runId,
      decide: (events: LedgerEvent[]) => decideSweep(foldRun(runId, events), now),
    });
    if (appended.length) closed.push(runId);
  }
  return closed;
}
