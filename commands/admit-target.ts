import { BadInput } from '../src/errors.js';
import { checkAdmission, foldTarget, targetStream, type TargetState } from '../src/domain/target.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import type { RepoFacts } from '../src/target/repo.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
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

/** `others`: the current admissions of other target ids. */
export function decideAdmitTarget(state: TargetState, cmd: AdmitTarget, facts: { repo: RepoFacts; now: Date; others?: TargetState[] }): Decision {
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
  // One repository, one target id: revoking "the repository" must not leave it admitted under another.
  const twin = facts.others?.find((other) => other.targetId !== cmd.targetId && other.admission?.path === facts.repo.path);
  if (twin) return invalid(`${facts.repo.path} is already admitted as target ${twin.targetId}: renew it under that id, or revoke it first`);
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
  // The root commit names the repository on the ledger; a shallow clone's is only where it was cut,
  // and moves when it is deepened: the same repository would then be refused as another one.
  if (repo.shallow) {
    throw new BadInput(`${cmd.path} is a shallow clone: its first commit, which identifies it on the ledger, is not there (run git fetch --unshallow in it first)`);
  }
  const now = ledger.now();
  const others: TargetState[] = [];
  for (const { stream } of await ledger.store.streamTails()) {
    if (!stream.startsWith('target-') || stream === targetStream(cmd.targetId)) continue;
    const other = foldTarget(stream.slice('target-'.length), await ledger.store.readStream(stream));
    if (checkAdmission(other, now).ok) others.push(other);
  }
  const { appended } = await runCommand(ledger, {
    command: 'target admit',
    stream: targetStream(cmd.targetId),
    actor: { kind: 'operator', id: cmd.admittedBy },
    correlationId: cmd.targetId,
    decide: (events) => decideAdmitTarget(foldTarget(cmd.targetId, events), cmd, { repo, now, others }),
  });
  return appended[0]!;
}
