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

/** What one event changes in a run's state (the pure core of evolveRun). */
function changesFor(state: RunState, event: LedgerEvent): Partial<RunState> {
  switch (event.type) {
    case 'ContractAdmitted':
      return {
        status: 'awaiting-approval',
        admittedAt: event.recordedAt,
        contract: event.data.contract,
        contractDigest: event.data.contractDigest,
        contractEventId: event.id,
        targetId: event.data.target.targetId,
        targetPath: event.data.target.path,
        backendId: event.data.backend.id,
        backendConfigDigest: event.data.backend.configDigest,
        backendNetwork: event.data.backend.network ?? 'none',
      };
    case 'ApprovalRecorded':
      return {
        status: event.data.decision === 'approved' ? 'approved' : 'denied',
        approval: { ...event.data, eventId: event.id, recordedAt: event.recordedAt, consumed: false },
        outcomeDeadline:
          event.data.decision === 'approved' && state.contract
            ? addHours(event.recordedAt, state.contract.limits.outcomeDeadlineHours)
            : state.outcomeDeadline,
      };
    case 'ExecutionRefused':
      return { lastRefusal: { gate: event.data.gate, detail: event.data.detail, command: 'execute', at: event.recordedAt } };
    case 'CommandRefused':
      return { lastRefusal: { gate: event.data.gate, detail: event.data.detail, command: event.data.command, at: event.recordedAt } };
    case 'ExecutionStarted':
      return {
        status: 'executing',
        approval: state.approval && { ...state.approval, consumed: true },
        started: { ...event.data, eventId: event.id, at: event.recordedAt },
      };
    case 'CaseExecuted':
      return {
        status: event.data.status === 'succeeded' ? 'executed' : 'failed-closed',
        approval: state.approval && { ...state.approval, consumed: true },
        execution: { ...event.data, eventId: event.id },
        lastRefusal:
          event.data.failedGate !== null
            ? { gate: event.data.failedGate, detail: 'execution failed closed', command: 'execute', at: event.recordedAt }
            : state.lastRefusal,
      };
    case 'EvidenceDigested':
      return { status: state.status === 'executed' ? 'evidenced' : state.status, evidence: { ...event.data, eventId: event.id } };
    case 'OutcomeRecorded':
      return { status: event.data.decision === 'accepted' ? 'accepted' : 'rejected', outcome: { ...event.data, recordedAt: event.recordedAt } };
    default:
      return {};
  }
}

/** Folds one run-stream event; events at or below the state's version are already in (idempotent). */
export function evolveRun(state: RunState, event: LedgerEvent): RunState {
  if (event.version <= state.version) return state;
  return {
    ...state,
    version: event.version,
    lastHash: event.hash,
    lastEventId: event.id,
    updatedAt: event.recordedAt,
    ...changesFor(state, event),
  };
}

export function foldRun(runId: string, events: readonly LedgerEvent[]): RunState {
  return events.reduce(evolveRun, initialRunState(runId));
}

export const runStream = (runId: string) => `run-${runId}`;
