import type { EventData } from '../events/catalogue.js';
import type { LedgerEvent } from '../events/envelope.js';

export type TargetState = {
  targetId: string;
  status: 'none' | 'admitted' | 'revoked';
  version: number;
  admission: (EventData<'TargetAdmitted'> & { eventId: string; hash: string; recordedAt: string }) | null;
  revocation: (EventData<'TargetAdmissionRevoked'> & { recordedAt: string }) | null;
  /** When it was last revoked, kept across later admissions: approvals given before it are void. */
  lastRevokedAt: string | null;
  /**
   * The admissions no revocation has followed, in stream order. Approvals and executions name the
   * admission they were decided under; being in this list is what keeps them valid. Unlike clock
   * times, stream order cannot be overtaken by a command that read the target before a revocation
   * and appended after it.
   */
  unrevokedAdmissions: string[];
  /**
   * Every event of the stream by id, with its hash: what a run names its admission by (ContractAdmitted's
   * `target.admissionEventId` and `admissionHash`), so an admission edited and re-chained is told apart.
   */
  hashes: Record<string, string>;
};

export function foldTarget(targetId: string, events: readonly LedgerEvent[]): TargetState {
  let state: TargetState = { targetId, status: 'none', version: -1, admission: null, revocation: null, lastRevokedAt: null, unrevokedAdmissions: [], hashes: {} };
  for (const event of events) {
    if (event.type === 'TargetAdmitted') {
      state = { ...state, status: 'admitted', admission: { ...event.data, eventId: event.id, hash: event.hash, recordedAt: event.recordedAt }, revocation: null, unrevokedAdmissions: [...state.unrevokedAdmissions, event.id] };
    } else if (event.type === 'TargetAdmissionRevoked') {
      state = { ...state, status: 'revoked', revocation: { ...event.data, recordedAt: event.recordedAt }, lastRevokedAt: event.recordedAt, unrevokedAdmissions: [] };
    }
    state = { ...state, version: event.version, hashes: { ...state.hashes, [event.id]: event.hash } };
  }
  return state;
}

/**
 * Whether the target's stream still holds the admission a run was admitted under, with the hash it was
 * admitted under: an admission edited and its stream re-chained outside cto-ledger still links, but
 * no longer to what the run was decided on.
 */
export function admissionStillHeld(
  state: TargetState,
  claim: { eventId: string; hash: string },
): { ok: true } | { ok: false; gate: 'target-admission-stale'; detail: string } {
  const now = state.hashes[claim.eventId];
  if (now === claim.hash) return { ok: true };
  const stream = targetStream(state.targetId);
  return {
    ok: false,
    gate: 'target-admission-stale',
    detail:
      now === undefined
        ? `the run was admitted under event ${claim.eventId} of ${stream}, which that stream no longer holds: it was removed or rewritten outside cto-ledger`
        : `the run was admitted under event ${claim.eventId} of ${stream} with hash ${claim.hash}, but that event now hashes to ${now}: ${stream} was rewritten outside cto-ledger`,
  };
}

/** Current admission or the reason there is none; the gate ids are DESIGN.md's. */
export type AdmissionCheck =
  | { ok: true; admission: NonNullable<TargetState['admission']> }
  | { ok: false; gate: 'target-admission-missing' | 'target-admission-stale'; detail: string };

/** Why each command that finds the target's repository now cannot do without a commit on HEAD. */
const NEEDS_HEAD = {
  approve: "approve binds the target's HEAD commit",
  'contract admit': "contract admit reads the repository's root commit, its identity, from HEAD",
  execute: "execute starts the backend from the target's HEAD commit, the one the approval bound",
} as const;

/**
 * `unbornBranch`: when no commit is found at the admitted path because the repository there has HEAD
 * on a branch with no commits yet (the caller looks), that branch: it is said, not "moved or deleted",
 * with why `command` needs a commit there.
 */
export function checkAdmission(
  state: TargetState,
  now: Date,
  repoRootCommit?: string | null,
  unbornBranch?: string | null,
  command: keyof typeof NEEDS_HEAD = 'approve',
): AdmissionCheck {
  if (state.status === 'none' || !state.admission) {
    return { ok: false, gate: 'target-admission-missing', detail: `target ${state.targetId} was never admitted` };
  }
  if (state.status === 'revoked') {
    return { ok: false, gate: 'target-admission-stale', detail: `target ${state.targetId} admission was revoked: ${state.revocation?.reason ?? ''}` };
  }
  if (Date.parse(state.admission.expiresAt) <= now.getTime()) {
    return { ok: false, gate: 'target-admission-stale', detail: `target ${state.targetId} admission expired at ${state.admission.expiresAt}` };
  }
  if (repoRootCommit !== undefined && repoRootCommit !== state.admission.rootCommit) {
    return {
      ok: false,
      gate: 'target-admission-stale',
      detail:
        repoRootCommit === null
          ? unbornBranch
            ? `the git repository at ${state.admission.path} has HEAD on branch ${unbornBranch}, which has no commits yet: ${NEEDS_HEAD[command]}; check out a branch with commits first`
            : `there is no git repository with commits at ${state.admission.path} now (moved or deleted?); admit the repository where it is`
          : `the repository at ${state.admission.path} is no longer the admitted one (root commit ${repoRootCommit}, admitted ${state.admission.rootCommit})`,
    };
  }
  return { ok: true, admission: state.admission };
}

/**
 * Whether something decided under an admission still stands: no revocation has followed that
 * admission on the target's stream. Events written before they named their admission fall back to
 * comparing clock times with the last revocation.
 */
export function survivesRevocations(state: TargetState, decidedUnder: string | undefined, decidedAt: string): boolean {
  if (decidedUnder !== undefined) return state.unrevokedAdmissions.includes(decidedUnder);
  return !state.lastRevokedAt || Date.parse(state.lastRevokedAt) < Date.parse(decidedAt);
}

export const targetStream = (targetId: string) => `target-${targetId}`;

/**
 * Whether an approval recorded on a run can still start it, as `execute` will judge: the projections
 * say "approved" for as long as the log does, whatever the hour or the target's stream.
 */
export type ApprovalStanding = 'usable' | 'expired' | 'voided-by-revocation' | 'target-not-admitted' | 'base-moved';

export function approvalStanding(
  approval: { expiresAt: string; recordedAt: string; admissionEventId?: string },
  target: TargetState,
  now: Date,
): ApprovalStanding {
  if (!survivesRevocations(target, approval.admissionEventId, approval.recordedAt)) return 'voided-by-revocation';
  if (!checkAdmission(target, now).ok) return 'target-not-admitted';
  if (Date.parse(approval.expiresAt) <= now.getTime()) return 'expired';
  return 'usable';
}
