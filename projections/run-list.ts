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

/** The control-surface summary Hermes reads: runs by what they wait for, each with its replay paths. */
export function renderControlSurface(entries: readonly RunListEntry[], position: number): string {
  const withReplay = (e: RunListEntry) => ({ ...e, replay: replayPaths(e.runId) });
  const by = (...statuses: RunListEntry['status'][]) => entries.filter((e) => statuses.includes(e.status)).map(withReplay);
  const summary = {
    position,
    totals: {
      runs: entries.length,
      accepted: entries.filter((e) => e.status === 'accepted').length,
      rejected: entries.filter((e) => e.status === 'rejected').length,
    },
    waitingForApproval: by('awaiting-approval'),
    approvedNotExecuted: by('approved'),
    awaitingOutcome: by('executed', 'evidenced', 'failed-closed'),
    denied: by('denied'),
  };
  return JSON.stringify(summary, null, 2) + '\n';
}

export function renderRunList(entries: readonly RunListEntry[]): string {
  return JSON.stringify(entries, null, 2) + '\n';
}
