import { initialRunState, type RunState } from '../src/domain/run.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import { canonicalize } from '../src/events/hashing.js';

// The per-run projection files: pure renderers, so the runner and `replay` write the same bytes.

export const RUN_FILES = {
  state: 'run.json',
  normalized: 'events.normalized.jsonl',
  trace: 'trace.jsonl',
} as const;

/** Paths Hermes and auditors replay from, relative to the ledger dir (so a copied ledger still resolves). */
export function replayPaths(runId: string) {
  const dir = `projections/runs/${runId}`;
  return {
    dir,
    runState: `${dir}/${RUN_FILES.state}`,
    normalizedEvents: `${dir}/${RUN_FILES.normalized}`,
    trace: `${dir}/${RUN_FILES.trace}`,
  };
}

export type RunDocument = RunState & { replay: ReturnType<typeof replayPaths> };

export function renderRunState(state: RunState): string {
  const doc: RunDocument = { ...state, replay: replayPaths(state.runId) };
  return JSON.stringify(doc, null, 2) + '\n';
}

export function parseRunState(text: string, runId: string): RunState {
  const { replay: _replay, ...state } = JSON.parse(text) as RunDocument;
  return { ...initialRunState(runId), ...state };
}

/** One canonical JSON line per ledger event of the run: the envelope exactly as hashed, plus its hash. */
export function normalizedLine(event: LedgerEvent): string {
  return canonicalize(event) + '\n';
}

const PHASE: Record<LedgerEvent['type'], string> = {
  TargetAdmitted: 'target.admit',
  TargetAdmissionRevoked: 'target.revoke',
  BackendEnabled: 'backend.enable',
  BackendDisabled: 'backend.disable',
  ContractAdmitted: 'contract.admit',
  ApprovalRecorded: 'approval.record',
  ExecutionRefused: 'execute.refused',
  CommandRefused: 'command.refused',
  CaseExecuted: 'case.execute',
  EvidenceDigested: 'evidence.digest',
  OutcomeRecorded: 'outcome.record',
};

/** One span per event of the run; the execution span carries the backend's real start and end. */
export function traceLine(event: LedgerEvent): string {
  let start = event.recordedAt;
  let end = event.recordedAt;
  let status: 'ok' | 'error' = 'ok';
  const attributes: Record<string, unknown> = { 'event.type': event.type, 'event.version': event.version, actor: `${event.actor.kind}:${event.actor.id}` };
  switch (event.type) {
    case 'CaseExecuted':
      start = event.data.startedAt;
      end = event.data.endedAt;
      status = event.data.status === 'succeeded' ? 'ok' : 'error';
      attributes['case.status'] = event.data.status;
      attributes['case.isolation'] = event.data.isolation;
      if (event.data.failedGate) attributes.gate = event.data.failedGate;
      break;
    case 'ExecutionRefused':
    case 'CommandRefused':
      status = 'error';
      attributes.gate = event.data.gate;
      break;
    case 'ApprovalRecorded':
      attributes.decision = event.data.decision;
      break;
    case 'OutcomeRecorded':
      attributes.decision = event.data.decision;
      break;
    default:
      break;
  }
  return (
    canonicalize({
      traceId: event.correlationId,
      spanId: event.id,
      parentSpanId: event.causationId,
      name: PHASE[event.type],
      startTime: start,
      endTime: end,
      status,
      attributes,
    }) + '\n'
  );
}
