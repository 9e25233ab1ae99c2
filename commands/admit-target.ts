import { foldTarget, targetStream, type TargetState } from '../src/domain/target.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import type { RepoFacts } from '../src/target/repo.js';
import { accept, refuse, type Decision } from './decision.js';
import { runCommand } from './runner.js';

export type AdmitTarget = {
  targetId: string;
  owner: string;
  ownership: string;
  criticality: string;
  risk: string;
  expiresInDays: number;
  admittedBy: string;
};

const ADMISSIBLE = { ownership: 'owned', criticality: 'noncritical', risk: 'low' } as const;

export function decideAdmitTarget(state: TargetState, cmd: AdmitTarget, facts: { repo: RepoFacts; now: Date }): Decision {
  for (const field of ['ownership', 'criticality', 'risk'] as const) {
    if (cmd[field] !== ADMISSIBLE[field]) {
      return refuse(
        'target-admission-missing',
        `${field} ${cmd[field]} is not admissible: only ${ADMISSIBLE.ownership}, ${ADMISSIBLE.criticality}, ${ADMISSIBLE.risk} risk targets are admitted`,
      );
    }
  }
  const previous = state.admission;
  if (previous && previous.rootCommit !== facts.repo.rootCommit) {
    return refuse(
      'target-admission-stale',
      `target ${cmd.targetId} is admitted for another repository (root commit ${previous.rootCommit}); revoke it or pick another id`,
    );
  }
  const expiresAt = new Date(facts.now.getTime() + cmd.expiresInDays * 86_400_000).toISOString();
  return accept({
    type: 'TargetAdmitted',
    data: {
      targetId: cmd.targetId,
      path: facts.repo.path,
      remoteUrl: facts.repo.remoteUrl,
      rootCommit: facts.repo.rootCommit,
      head: facts.repo.head,
      owner: cmd.owner,
      ownership: ADMISSIBLE.ownership,
      criticality: ADMISSIBLE.criticality,
      risk: ADMISSIBLE.risk,
      admittedBy: cmd.admittedBy,
      expiresAt,
    },
  });
}

export async function admitTarget(ledger: Ledger, cmd: AdmitTarget & { path: string }): Promise<LedgerEvent> {
  const repo = await ledger.inspectRepo(cmd.path);
  const now = ledger.now();
  const { appended } = await runCommand(ledger, {
    command: 'target admit',
    stream: targetStream(cmd.targetId),
    actor: { kind: 'operator', id: cmd.admittedBy },
    correlationId: cmd.targetId,
    decide: (events) => decideAdmitTarget(foldTarget(cmd.targetId, events), cmd, { repo, now }),
  });
  return appended[0]!;
}
