import type { EventDraft } from '../src/events/catalogue.js';
import type { NewEvent } from '../src/events/envelope.js';
import { digestOf } from '../src/events/hashing.js';
import { newEvent, newId } from '../src/ledger/new-event.js';
import { normalizeContract } from '../src/contract/schema.js';

const COMMIT = 'a'.repeat(40);
const SHA = 'b'.repeat(64);

/** The n-th event of a synthetic run (about 600 bytes sealed on average over a run of 10). */
export function runEvent(runId: string, n: number, now: Date): NewEvent {
  const meta = { actor: { kind: 'operator' as const, id: 'bench' }, correlationId: runId, now };
  let draft: EventDraft;
  if (n === 0) {
    const contract = normalizeContract({
      title: 'Bench task',
      target: 'bench',
      backend: 'demo',
      brief: 'Change one line.',
      references: ['PRD'],
      allowedPaths: ['src/**'],
      forbiddenActions: [],
      successCriteria: ['it works'],
      rollback: 'none',
      isolation: 'required',
      noTestRationale: 'bench',
      limits: { backendSeconds: 60, outcomeDeadlineHours: 1 },
    });
    draft = {
      type: 'ContractAdmitted',
      data: {
        runId,
        contract,
        contractDigest: digestOf(contract),
        source: { file: '/bench/contract.yaml', format: 'yaml' },
        target: { targetId: 'bench', admissionEventId: runId, admissionHash: SHA, rootCommit: COMMIT, path: '/bench/repo' },
        backend: { id: 'demo', configDigest: SHA },
        admittedBy: 'bench',
      },
    };
  } else if (n === EVENTS_PER_RUN - 1) {
    draft = { type: 'OutcomeRecorded', data: { decision: 'rejected', operator: 'bench', reason: 'benchmark run closed without evidence', bundleDigest: null, gate: null } };
  } else if (n % 2 === 1) {
    draft = {
      type: 'ApprovalRecorded',
      data: { decision: 'approved', operator: 'bench', contractDigest: SHA, baseCommit: COMMIT, expiresAt: now.toISOString(), note: 'approved for the benchmark' },
    };
  } else {
    draft = {
      type: 'CommandRefused',
      data: { command: 'outcome', gate: 'evidence-missing', detail: 'no evidence yet: the harness has not run this case', requestedBy: 'bench' },
    };
  }
  return newEvent(draft, meta);
}

export const EVENTS_PER_RUN = 10;
export { newId };
