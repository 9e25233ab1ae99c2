import { foldRun, pastOutcomeDeadline, runStream, type RunState } from '../src/domain/run.js';
import { checkAdmission, foldTarget, targetStream, type TargetState } from '../src/domain/target.js';
import { BadInput, LedgerDamaged } from '../src/errors.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import type { Ledger } from '../src/ledger/ledger.js';
import type { FoldedRun } from '../projections/projection-db.js';
import { noRepository, unbornBranch, type RepoFacts } from '../src/target/repo.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
import { runCommand } from './runner.js';

export type RecordApproval = {
  runId: string;
  decision: 'approved' | 'denied';
  operator: string;
  expiresInHours: number;
  note: string;
  /** The digest the operator was shown; when given it must match the admitted contract. */
  contractDigest?: string;
};

/** `unbornBranch`: when `repo` is null for want of a commit on HEAD's branch, that branch. */
export type ApprovalFacts = { now: Date; target: TargetState; repo: RepoFacts | null; unbornBranch?: string | null };

export function decideApproval(run: RunState, cmd: RecordApproval, facts: ApprovalFacts): Decision {
  if (run.status === 'none' || !run.contractDigest) return invalid(`unknown run ${cmd.runId}`);
  // A closed run takes no decision at all, as a second outcome is none: bad input, nothing recorded
  // (a refusal appended to it would make a closed run's last gate say something happened to it).
  if (run.outcome) {
    const { decision, operator, gate } = run.outcome;
    return invalid(`run ${cmd.runId} is closed (${decision} by ${operator}${gate ? `, gate ${gate}` : ''} at ${run.outcome.recordedAt}): nothing to ${cmd.decision === 'approved' ? 'approve' : 'deny'}`);
  }
  if (run.execution || run.started) return refuse('approval-consumed', `run ${cmd.runId} was executed; its approval is spent and cannot be renewed`);
  // Past its outcome deadline a run can only be rejected: a new approval would set a new deadline
  // (it runs from the approval) and let execute start the backend after all.
  const late = cmd.decision === 'approved' ? pastOutcomeDeadline(run, facts.now) : null;
  if (late) return refuse('outcome-missing', late);
  if (cmd.contractDigest && cmd.contractDigest !== run.contractDigest) {
    return refuse('approval-mismatch', `contract digest ${cmd.contractDigest} is not the admitted contract's ${run.contractDigest}`);
  }
  let baseCommit = facts.repo?.head ?? facts.target.admission?.head;
  let admissionEventId = facts.target.status === 'admitted' ? facts.target.admission?.eventId : undefined;
  if (cmd.decision === 'approved') {
    const admission = checkAdmission(facts.target, facts.now, facts.repo ? facts.repo.rootCommit : null, facts.unbornBranch);
    if (!admission.ok) return refuse(admission.gate, admission.detail);
    baseCommit = facts.repo!.head;
    admissionEventId = admission.admission.eventId;
  }
  if (!baseCommit) return refuse('target-admission-missing', `target ${run.targetId} has no admission to bind to`);
  return accept({
    type: 'ApprovalRecorded',
    data: {
      decision: cmd.decision,
      operator: cmd.operator,
      contractDigest: run.contractDigest,
      baseCommit,
      expiresAt: new Date(facts.now.getTime() + cmd.expiresInHours * 3_600_000).toISOString(),
      note: cmd.note,
      ...(admissionEventId ? { admissionEventId } : {}),
    },
  });
}

/** Loads a run's state, or fails with bad input naming the unknown run id. */
/**
 * `folded`, how far the projections folded the run, read beforehand: a caller loading many runs reads
 * them all at once (one open of the projections, not one a run).
 */
export async function loadRun(ledger: Ledger, runId: string, folded?: FoldedRun | null): Promise<RunState> {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(runId)) throw new BadInput(`${JSON.stringify(runId)} is not a run id (a ULID)`);
  // Each event checks its predecessor, but nothing in a chain marks its end: a stream cut short
  // reads as a shorter valid one. The projections remember how far they folded it. Read first: a
  // writer in another process may append and fold between the two reads, never unfold.
  if (folded === undefined) folded = ledger.foldedRun?.(runId);
  const run = foldRun(runId, await ledger.store.readStream(runStream(runId)));
  if (folded && (folded.version > run.version || (folded.version === run.version && folded.lastHash !== run.lastHash))) {
    throw new LedgerDamaged(
      `run ${runId}: the ledger holds it up to version ${run.version}, but the projections folded it to version ${folded.version}${folded.version === run.version ? ' with another last event' : ''}: its events were removed or rewritten outside cto-ledger`,
    );
  }
  if (run.status === 'none') throw new BadInput(`unknown run ${runId}`);
  return run;
}

export async function recordApproval(ledger: Ledger, cmd: RecordApproval): Promise<LedgerEvent> {
  const run = await loadRun(ledger, cmd.runId);
  const targetId = run.targetId!;
  const target = foldTarget(targetId, await ledger.store.readStream(targetStream(targetId)));
  let repo: RepoFacts | null = null;
  if (target.admission) repo = await ledger.inspectRepo(target.admission.path).catch(noRepository);
  // No commit found: a repository still there, on a branch with none yet, is told apart from a missing one.
  const unborn = target.admission && !repo ? await unbornBranch(target.admission.path) : null;
  const facts: ApprovalFacts = { now: ledger.now(), target, repo, unbornBranch: unborn };
  const { appended } = await runCommand(ledger, {
    command: cmd.decision === 'approved' ? 'approve' : 'deny',
    stream: runStream(cmd.runId),
    actor: { kind: 'operator', id: cmd.operator },
    correlationId: cmd.runId,
    recordRefusal: 'CommandRefused',
    decide: (events) => decideApproval(foldRun(cmd.runId, events), cmd, facts),
  });
  return appended[0]!;
}
