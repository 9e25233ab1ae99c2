import type { Contract } from '../contract/schema.js';
import type { EventData } from '../events/catalogue.js';
import type { LedgerEvent } from '../events/envelope.js';
import type { GateId } from '../events/gates.js';

export type RunStatus =
  | 'none'
  | 'awaiting-approval'
  | 'approved'
  | 'denied'
  | 'executing'
  | 'failed-closed'
  | 'executed'
  | 'evidenced'
  | 'accepted'
  | 'rejected';

export type RunState = {
  runId: string;
  status: RunStatus;
  /** Version of the last event folded in; -1 before the first. */
  version: number;
  lastHash: string | null;
  lastEventId: string | null;
  admittedAt: string | null;
  updatedAt: string | null;
  contract: Contract | null;
  contractDigest: string | null;
  contractEventId: string | null;
  targetId: string | null;
  targetPath: string | null;
  /** The target admission the contract was admitted under, by event id and hash (ContractAdmitted). */
  targetAdmission: { eventId: string; hash: string } | null;
  backendId: string | null;
  backendConfigDigest: string | null;
  backendNetwork: 'none' | { allow: string[] } | null;
  approval: (EventData<'ApprovalRecorded'> & { eventId: string; recordedAt: string; consumed: boolean }) | null;
  /** Set when an execution claimed the approval (ExecutionStarted): it can never start a second one. */
  started: (EventData<'ExecutionStarted'> & { eventId: string; at: string }) | null;
  execution: (EventData<'CaseExecuted'> & { eventId: string }) | null;
  evidence: (EventData<'EvidenceDigested'> & { eventId: string }) | null;
  outcome: (EventData<'OutcomeRecorded'> & { recordedAt: string }) | null;
  /** Set once the contract is approved: runs past it without an outcome are swept. */
  outcomeDeadline: string | null;
  lastRefusal: { gate: GateId; detail: string; command: string; at: string } | null;
};

export function initialRunState(runId: string): RunState {
  return {
    runId,
    status: 'none',
    version: -1,
    lastHash: null,
    lastEventId: null,
    admittedAt: null,
    updatedAt: null,
    contract: null,
    contractDigest: null,
    contractEventId: null,
    targetId: null,
    targetPath: null,
    targetAdmission: null,
    backendId: null,
    backendConfigDigest: null,
    backendNetwork: null,
    approval: null,
    started: null,
    execution: null,
    evidence: null,
    outcome: null,
    outcomeDeadline: null,
    lastRefusal: null,
  };
}

function addHours(iso: string, hours: number): string {
  return new Date(Date.parse(iso) + hours * 3_600_000).toISOString();
}

/**
 * (Object.assign rather than `{ ...data, more }` below: on Node 20 a spread with extra properties
 * takes a slow path, about twenty times slower, and a rebuild makes one for most events.)
 *
 * Writes what one event changes onto `next`, a fresh copy made by evolveRun (so evolveRun stays pure);
 * assigning fields keeps the object's shape stable, which a spread of per-event changes would not.
 */
function applyEvent(next: RunState, state: RunState, event: LedgerEvent): void {
  switch (event.type) {
    case 'ContractAdmitted':
      next.status = 'awaiting-approval';
      next.admittedAt = event.recordedAt;
      next.contract = event.data.contract;
      next.contractDigest = event.data.contractDigest;
      next.contractEventId = event.id;
      next.targetId = event.data.target.targetId;
      next.targetPath = event.data.target.path;
      next.targetAdmission = { eventId: event.data.target.admissionEventId, hash: event.data.target.admissionHash };
      next.backendId = event.data.backend.id;
      next.backendConfigDigest = event.data.backend.configDigest;
      next.backendNetwork = event.data.backend.network ?? 'none';
      return;
    case 'ApprovalRecorded':
      next.status = event.data.decision === 'approved' ? 'approved' : 'denied';
      next.approval = Object.assign({}, event.data, { eventId: event.id, recordedAt: event.recordedAt, consumed: false });
      if (event.data.decision === 'approved' && state.contract) {
        next.outcomeDeadline = addHours(event.recordedAt, state.contract.limits.outcomeDeadlineHours);
      }
      return;
    case 'ExecutionRefused':
      next.lastRefusal = { gate: event.data.gate, detail: event.data.detail, command: 'execute', at: event.recordedAt };
      return;
    case 'CommandRefused':
      next.lastRefusal = { gate: event.data.gate, detail: event.data.detail, command: event.data.command, at: event.recordedAt };
      return;
    case 'ExecutionStarted':
      next.status = 'executing';
      next.approval = state.approval && Object.assign({}, state.approval, { consumed: true });
      next.started = Object.assign({}, event.data, { eventId: event.id, at: event.recordedAt });
      return;
    case 'CaseExecuted':
      // A run rejected while the harness ran is closed: its facts are kept, its status is not reopened.
      if (!state.outcome) next.status = event.data.status === 'succeeded' ? 'executed' : 'failed-closed';
      next.approval = state.approval && Object.assign({}, state.approval, { consumed: true });
      next.execution = Object.assign({}, event.data, { eventId: event.id });
      if (event.data.failedGate !== null) {
        next.lastRefusal = { gate: event.data.failedGate, detail: 'execution failed closed', command: 'execute', at: event.recordedAt };
      }
      return;
    case 'EvidenceDigested':
      if (state.status === 'executed') next.status = 'evidenced';
      next.evidence = Object.assign({}, event.data, { eventId: event.id });
      return;
    case 'OutcomeRecorded':
      next.status = event.data.decision === 'accepted' ? 'accepted' : 'rejected';
      next.outcome = Object.assign({}, event.data, { recordedAt: event.recordedAt });
      // Closed by a gate (sweep: outcome-missing): the list shows it as the run's last refusal.
      if (event.data.gate) next.lastRefusal = { gate: event.data.gate, detail: event.data.reason, command: 'sweep', at: event.recordedAt };
      return;
    default:
      return;
  }
}

/**
 * A copy written out field by field: V8 gives an object spread spare room (about three times the
 * bytes) and copies it slower, and a rebuild copies a state per event. The return type makes the
 * compiler name any field forgotten here.
 */
function copyRunState(s: RunState): RunState {
  return {
    runId: s.runId,
    status: s.status,
    version: s.version,
    lastHash: s.lastHash,
    lastEventId: s.lastEventId,
    admittedAt: s.admittedAt,
    updatedAt: s.updatedAt,
    contract: s.contract,
    contractDigest: s.contractDigest,
    contractEventId: s.contractEventId,
    targetId: s.targetId,
    targetPath: s.targetPath,
    targetAdmission: s.targetAdmission,
    backendId: s.backendId,
    backendConfigDigest: s.backendConfigDigest,
    backendNetwork: s.backendNetwork,
    approval: s.approval,
    started: s.started,
    execution: s.execution,
    evidence: s.evidence,
    outcome: s.outcome,
    outcomeDeadline: s.outcomeDeadline,
    lastRefusal: s.lastRefusal,
  };
}

/** Folds one run-stream event; events at or below the state's version are already in (idempotent). */
export function evolveRun(state: RunState, event: LedgerEvent): RunState {
  if (event.version <= state.version) return state;
  const next = copyRunState(state);
  next.version = event.version;
  next.lastHash = event.hash;
  next.lastEventId = event.id;
  next.updatedAt = event.recordedAt;
  applyEvent(next, state, event);
  return next;
}

export function foldRun(runId: string, events: readonly LedgerEvent[]): RunState {
  return events.reduce(evolveRun, initialRunState(runId));
}

export const runStream = (runId: string) => `run-${runId}`;

/** Why nothing more may be started or accepted on a run past its outcome deadline; null before it. */
export function pastOutcomeDeadline(run: RunState, now: Date): string | null {
  return run.outcomeDeadline && Date.parse(run.outcomeDeadline) <= now.getTime()
    ? `run ${run.runId} passed its outcome deadline (${run.outcomeDeadline}); it can only be rejected`
    : null;
}
