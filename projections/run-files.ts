import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { foldRun, type RunState } from '../src/domain/run.js';
import { canonicalWithHash, type LedgerEvent } from '../src/events/envelope.js';
import { canonicalize } from '../src/events/hashing.js';
import { writeAtomic } from './files.js';

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
    evidence: `evidence/${runId}`,
  };
}

export type RunDocument = RunState & { replay: ReturnType<typeof replayPaths> };

export function renderRunState(state: RunState): string {
  const doc: RunDocument = { ...state, replay: replayPaths(state.runId) };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** One canonical JSON line per ledger event: the envelope exactly as hashed, plus its hash. */
export function normalizedLine(event: LedgerEvent, body?: string): string {
  return (body ? canonicalWithHash(body, event.hash) : canonicalize(event)) + '\n';
}

const PHASE: Record<LedgerEvent['type'], string> = {
  TargetAdmitted: 'target.admit',
  TargetAdmissionRevoked: 'target.revoke',
  BackendEnabled: 'backend.enable',
  BackendDisabled: 'backend.disable',
  ContractAdmitted: 'contract.admit',
  ApprovalRecorded: 'approval.record',
  ExecutionRefused: 'execute.refused',
  ExecutionStarted: 'execute.start',
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
  // Keys in sorted order, so JSON.stringify gives the canonical form without the slower canonicalizer.
  const attributes: Record<string, unknown> = { actor: `${event.actor.kind}:${event.actor.id}` };
  switch (event.type) {
    case 'CaseExecuted':
      start = event.data.startedAt;
      end = event.data.endedAt;
      status = event.data.status === 'succeeded' ? 'ok' : 'error';
      attributes['case.isolation'] = event.data.isolation;
      attributes['case.status'] = event.data.status;
      break;
    case 'ApprovalRecorded':
    case 'OutcomeRecorded':
      attributes.decision = event.data.decision;
      break;
    default:
      break;
  }
  attributes['event.type'] = event.type;
  attributes['event.version'] = event.version;
  const gate =
    event.type === 'CaseExecuted' ? event.data.failedGate : event.type === 'ExecutionRefused' || event.type === 'CommandRefused' ? event.data.gate : null;
  if (gate) {
    attributes.gate = gate;
    status = 'error';
  }
  return (
    JSON.stringify({
      attributes,
      endTime: end,
      name: PHASE[event.type],
      parentSpanId: event.causationId,
      spanId: event.id,
      startTime: start,
      status,
      traceId: event.correlationId,
    }) + '\n'
  );
}

/** A run's three files, rendered from its stream alone: the runner and `replay` write the same bytes. */
export function renderRunFiles(runId: string, events: readonly LedgerEvent[]): Record<string, string> {
  return {
    [RUN_FILES.state]: renderRunState(foldRun(runId, events)),
    [RUN_FILES.normalized]: events.map((e) => normalizedLine(e)).join(''),
    [RUN_FILES.trace]: events.map(traceLine).join(''),
  };
}

export function writeRunFiles(dir: string, runId: string, events: readonly LedgerEvent[]): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(renderRunFiles(runId, events)).map(([name, text]) => {
    writeAtomic(join(dir, name), text);
    return join(dir, name);
  });
}
