import type { LedgerEvent } from '../events/envelope.js';

export type BackendActivation = {
  backendId: string;
  version: number;
  enabled: boolean;
  /** Digest of the config entry that was enabled: an edited entry is inactive until enabled again. */
  configDigest: string | null;
  changedBy: string | null;
  changedAt: string | null;
};

export function foldBackend(backendId: string, events: readonly LedgerEvent[]): BackendActivation {
  let state: BackendActivation = { backendId, version: -1, enabled: false, configDigest: null, changedBy: null, changedAt: null };
  for (const e of events) {
    if (e.type === 'BackendEnabled') {
      state = { ...state, enabled: true, configDigest: e.data.configDigest, changedBy: e.data.enabledBy, changedAt: e.recordedAt };
    } else if (e.type === 'BackendDisabled') {
      state = { ...state, enabled: false, configDigest: null, changedBy: e.data.disabledBy, changedAt: e.recordedAt };
    }
    state = { ...state, version: e.version };
  }
  return state;
}

export const backendStream = (backendId: string) => `backend-${backendId}`;
