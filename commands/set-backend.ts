import { existsSync } from 'node:fs';
import { backendConfigDigest, notDeclared, type BackendConfig } from '../src/config/config.js';
import { backendStream, foldBackend, type BackendActivation } from '../src/domain/backend.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
import { runCommand } from './runner.js';

export type SetBackend = { backendId: string; enable: boolean; by: string; note: string };

export function decideSetBackend(state: BackendActivation, cmd: SetBackend, declared: BackendConfig | undefined, missingConfig?: string | null): Decision {
  if (cmd.enable) {
    if (!declared) return invalid(notDeclared(cmd.backendId, missingConfig));
    if (!declared.enabled) return refuse('backend-ineligible', `backend ${cmd.backendId} has enabled: false in config.yaml (a kill switch)`);
    const configDigest = backendConfigDigest(declared);
    if (state.enabled && state.configDigest === configDigest) return accept();
    return accept({ type: 'BackendEnabled', data: { backendId: cmd.backendId, configDigest, enabledBy: cmd.by, note: cmd.note } });
  }
  // A kill switch must not report success for a typo: a backend that is neither declared nor ever
  // on the ledger is no backend at all.
  if (!declared && state.version < 0) return invalid(`${notDeclared(cmd.backendId, missingConfig)} and was never on this ledger`);
  if (!state.enabled) return accept();
  return accept({ type: 'BackendDisabled', data: { backendId: cmd.backendId, disabledBy: cmd.by, reason: cmd.note } });
}

/** Enables or disables a backend on the ledger; returns whether an event was appended. */
export async function setBackend(ledger: Ledger, cmd: SetBackend): Promise<boolean> {
  const declared = ledger.config().backends.find((b) => b.id === cmd.backendId);
  const missingConfig = declared || existsSync(ledger.configFile) ? null : ledger.configFile;
  const { appended } = await runCommand(ledger, {
    command: cmd.enable ? 'backend enable' : 'backend disable',
    stream: backendStream(cmd.backendId),
    actor: { kind: 'operator', id: cmd.by },
    correlationId: `backend-${cmd.backendId}`,
    decide: (events) => decideSetBackend(foldBackend(cmd.backendId, events), cmd, declared, missingConfig),
  });
  return appended.length > 0;
}
