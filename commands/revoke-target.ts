import { foldTarget, targetStream, type TargetState } from '../src/domain/target.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
import { runCommand } from './runner.js';

export type RevokeTarget = { targetId: string; revokedBy: string; reason: string };

export function decideRevokeTarget(state: TargetState, cmd: RevokeTarget): Decision {
  // An id never admitted is no target at all (a typo): bad input, as an unknown run id is, not a gate's refusal.
  if (state.status === 'none') return invalid(`no target ${cmd.targetId} on the ledger (\`cto-ledger target list\` lists them)`);
  if (state.status === 'revoked') return refuse('target-admission-stale', `target ${cmd.targetId} is already revoked`);
  return accept({ type: 'TargetAdmissionRevoked', data: { targetId: cmd.targetId, revokedBy: cmd.revokedBy, reason: cmd.reason } });
}

export async function revokeTarget(ledger: Ledger, cmd: RevokeTarget): Promise<LedgerEvent> {
  const { appended } = await runCommand(ledger, {
    command: 'target revoke',
    stream: targetStream(cmd.targetId),
    actor: { kind: 'operator', id: cmd.revokedBy },
    correlationId: cmd.targetId,
    decide: (events) => decideRevokeTarget(foldTarget(cmd.targetId, events), cmd),
  });
  return appended[0]!;
}
