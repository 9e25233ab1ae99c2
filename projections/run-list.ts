import type { RunState } from '../src/domain/run.js';
import { replayPaths } from './run-files.js';

/** The line of the run list: what an operator scans, and Hermes's queues are built from. */
export type RunListEntry = {
  runId: string;
  title: string | null;
  workItem: string | null;
  status: RunState['status'];
  targetId: string | null;
  backendId: string | null;
  version: number;
  updatedAt: string | null;
  approvalExpiresAt: string | null;
  outcomeDeadline: string | null;
  lastRefusalGate: string | null;
  bundleDigest: string | null;
};

export function listEntry(state: RunState): RunListEntry {
  return {
    runId: state.runId,
    title: state.contract?.title ?? null,
    workItem: state.contract?.workItem ?? null,
    status: state.status,
    targetId: state.targetId,
    backendId: state.backendId,
    version: state.version,
    updatedAt: state.updatedAt,
    approvalExpiresAt: state.approval?.decision === 'approved' ? state.approval.expiresAt : null,
    outcomeDeadline: state.outcome ? null : state.outcomeDeadline,
    lastRefusalGate: state.lastRefusal?.gate ?? null,
    bundleDigest: state.evidence?.bundleDigest ?? null,
  };
}

/** Runs the control surface shows: each waits for someone. Closed runs are only counted. */
export const ACTIVE_STATUSES: readonly RunState['status'][] = ['awaiting-approval', 'approved', 'executing', 'executed', 'evidenced', 'failed-closed', 'denied'];

/** The control-surface summary Hermes reads: runs by what they wait for, each with its replay paths. */
export function renderControlSurface(active: readonly RunListEntry[], counts: Record<string, number>, position: number): string {
  const withReplay = (e: RunListEntry) => ({ ...e, replay: replayPaths(e.runId) });
  const by = (...statuses: RunListEntry['status'][]) => active.filter((e) => statuses.includes(e.status)).map(withReplay);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const summary = {
    position,
    totals: { runs: total, accepted: counts.accepted ?? 0, rejected: counts.rejected ?? 0 },
    waitingForApproval: by('awaiting-approval'),
    approvedNotExecuted: by('approved'),
    running: by('executing'),
    awaitingOutcome: by('executed', 'evidenced', 'failed-closed'),
    denied: by('denied'),
  };
  return JSON.stringify(summary, null, 2) + '\n';
}
