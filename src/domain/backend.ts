import { notDeclared } from '../config/config.js';
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

/** Whether a backend may run for a target of `risk` now: declared, not killed, enabled on the ledger for this exact config. */
export function backendEligibility(
  backendId: string,
  declared: { enabled: boolean; eligibleRisks: readonly string[] } | undefined,
  configDigest: string | null,
  activation: BackendActivation,
  risk: string,
  /** The config.yaml path when there is no such file (said so, rather than "not declared in" it). */
  missingConfig?: string | null,
): { ok: true } | { ok: false; detail: string } {
  if (!declared) return { ok: false, detail: notDeclared(backendId, missingConfig) };
  if (!declared.enabled) return { ok: false, detail: `backend ${backendId} is switched off in config.yaml (enabled: false)` };
  if (!activation.enabled) {
    return {
      ok: false,
      detail: activation.changedBy
        ? `backend ${backendId} was disabled on the ledger by ${activation.changedBy} at ${activation.changedAt} (run: cto-ledger backend enable ${backendId})`
        : `backend ${backendId} is not enabled on the ledger (runtime default activation is false; run: cto-ledger backend enable ${backendId})`,
    };
  }
  if (activation.configDigest !== configDigest) {
    return { ok: false, detail: `backend ${backendId}'s config.yaml entry changed since it was enabled; enable it again to activate the new entry` };
  }
  if (!declared.eligibleRisks.includes(risk)) {
    return { ok: false, detail: `backend ${backendId} is not eligible for ${risk}-risk targets (eligible: ${declared.eligibleRisks.join(', ')})` };
  }
  return { ok: true };
}
