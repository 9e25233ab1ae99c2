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
};

export function foldTarget(targetId: string, events: readonly LedgerEvent[]): TargetState {
  let state: TargetState = { targetId, status: 'none', version: -1, admission: null, revocation: null, lastRevokedAt: null };
  for (const event of events) {
    if (event.type === 'TargetAdmitted') {
      state = { ...state, status: 'admitted', admission: { ...event.data, eventId: event.id, hash: event.hash, recordedAt: event.recordedAt }, revocation: null };
    } else if (event.type === 'TargetAdmissionRevoked') {
      state = { ...state, status: 'revoked', revocation: { ...event.data, recordedAt: event.recordedAt }, lastRevokedAt: event.recordedAt };
    }
    state = { ...state, version: event.version };
  }
  return state;
}

/** Current admission or the reason there is none; the gate ids are DESIGN.md's. */
export type AdmissionCheck =
  | { ok: true; admission: NonNullable<TargetState['admission']> }
  | { ok: false; gate: 'target-admission-missing' | 'target-admission-stale'; detail: string };

export function checkAdmission(state: TargetState, now: Date, repoRootCommit?: string | null): AdmissionCheck {
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
      detail: `the repository at ${state.admission.path} is no longer the admitted one (root commit ${repoRootCommit ?? 'none'}, admitted ${state.admission.rootCommit})`,
    };
  }
  return { ok: true, admission: state.admission };
}

export const targetStream = (targetId: string) => `target-${targetId}`;
