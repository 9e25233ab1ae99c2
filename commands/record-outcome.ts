import { foldRun, pastOutcomeDeadline, runStream, type RunState } from '../src/domain/run.js';
import { admissionStillHeld, checkAdmission, foldTarget, survivesRevocations, targetStream, type AdmissionCheck, type TargetState } from '../src/domain/target.js';
import type { LedgerEvent } from '../src/events/envelope.js';
import { join } from 'node:path';
import { verifyArtifacts, verifyBundle, type EvidenceCheck } from '../src/evidence/verify.js';
import { executionLiveness, type Liveness } from '../src/harness/liveness.js';
import { ledgerPaths, type Ledger } from '../src/ledger/ledger.js';
import { noRepository } from '../src/target/repo.js';
import { accept, invalid, refuse, type Decision } from './decision.js';
import { loadRun } from './record-approval.js';
import { runCommand } from './runner.js';

export type RecordOutcome = { runId: string; decision: 'accepted' | 'rejected'; operator: string; reason: string };

/**
 * Facts for an acceptance: the artifacts re-hashed now, the target's HEAD now, its admission now, and
 * the run's stream as read now (each event's version and hash: the evidence names the event it was made after).
 */
export type OutcomeFacts = {
  evidence: EvidenceCheck | null;
  targetHead: string | null;
  admission?: AdmissionCheck;
  target?: TargetState;
  now?: Date;
  runEvents?: ReadonlyArray<{ version: number; hash: string }>;
  /** For a run started and not finished: whether a harness is still at it (`gone`: killed or crashed). */
  harness?: Liveness;
};

export function decideOutcome(run: RunState, cmd: RecordOutcome, facts: OutcomeFacts): Decision {
  if (run.status === 'none') return invalid(`unknown run ${cmd.runId}`);
  if (run.outcome) return invalid(`run ${cmd.runId} already has an outcome (${run.outcome.decision} by ${run.outcome.operator})`);
  const bundleDigest = run.evidence?.bundleDigest ?? null;
  if (cmd.decision === 'accepted') {
    // The deadline is the contract's: past it, the run is rejected (by `sweep`, or by the operator now).
    const late = facts.now ? pastOutcomeDeadline(run, facts.now) : null;
    if (late) return refuse('outcome-missing', late);
    if (run.execution?.status === 'failed-closed') {
      return refuse(run.execution.failedGate ?? 'evidence-missing', `run ${cmd.runId} failed closed; it can only be rejected`);
    }
    if (!run.execution && run.started && facts.harness === 'gone') {
      return refuse('evidence-missing', `run ${cmd.runId} was started, but its harness is gone (killed or crashed): no evidence will come, so it can only be rejected (outcome ${cmd.runId} --reject)`);
    }
    if (!run.execution && run.started) {
      // "Still executing" only where a harness is known to be at it; otherwise say what is known.
      const why =
        facts.harness === 'missing'
          ? `was started, but no harness on this machine marked it (its marker under executing/ is missing), so none can be told to be at it: there is no evidence; if no harness runs it elsewhere, none will come and it can only be rejected (outcome ${cmd.runId} --reject)`
          : facts.harness === 'elsewhere'
            ? 'was started by a harness on another host: there is no evidence here yet'
            : 'is still executing: there is no evidence yet';
      return refuse('evidence-missing', `run ${cmd.runId} ${why}`);
    }
    if (!run.execution) return refuse('evidence-missing', `run ${cmd.runId} has not been executed: there is no evidence to accept`);
    if (!run.evidence || !facts.evidence) return refuse('evidence-missing', `run ${cmd.runId} has no digested evidence`);
    if (!facts.evidence.ok) return refuse('evidence-stale', facts.evidence.detail);
    // The evidence names the run's event it was made after (freshness): a stream re-chained since
    // (an event edited and every later link recomputed) no longer holds it there.
    const { streamVersion, lastEventHash } = run.evidence.freshness;
    if (facts.runEvents) {
      const there = facts.runEvents.find((e) => e.version === streamVersion);
      if (there?.hash !== lastEventHash) {
        return refuse(
          'evidence-stale',
          there
            ? `the evidence was made after event ${streamVersion} of run ${cmd.runId} with hash ${lastEventHash}, but that event now hashes to ${there.hash}: the run's stream was rewritten outside cto-ledger`
            : `the evidence was made after event ${streamVersion} of run ${cmd.runId}, which its stream no longer holds: it was removed outside cto-ledger`,
        );
      }
    }
    // A change is not accepted into a repository whose admission was revoked (or lapsed) since.
    if (facts.admission && !facts.admission.ok) return refuse(facts.admission.gate, facts.admission.detail);
    // Nor when the admission the run was admitted under is no longer on the target's stream as it was.
    const held = facts.target && run.targetAdmission ? admissionStillHeld(facts.target, run.targetAdmission) : { ok: true as const };
    if (!held.ok) return refuse(held.gate, held.detail);
    // Nor when it was revoked since the execution started, even if admitted again after.
    const startedAt = run.started?.at ?? run.execution.startedAt;
    if (facts.target && !survivesRevocations(facts.target, run.started?.admissionEventId, startedAt)) {
      return refuse('target-admission-stale', `target ${run.targetId} was revoked at ${facts.target.lastRevokedAt}, after this run started executing (${startedAt}); its change can only be rejected`);
    }
    if (facts.targetHead !== run.execution.baseCommit) {
      return refuse('evidence-stale', `the target moved from ${run.execution.baseCommit} to ${facts.targetHead ?? 'nowhere'} since the evidence was made`);
    }
  }
  return accept({
    type: 'OutcomeRecorded',
    data: { decision: cmd.decision, operator: cmd.operator, reason: cmd.reason, bundleDigest, gate: null },
  });
}

export async function recordOutcome(ledger: Ledger, cmd: RecordOutcome): Promise<LedgerEvent> {
  const run = await loadRun(ledger, cmd.runId);
  let facts: OutcomeFacts = { evidence: null, targetHead: null, now: ledger.now() };
  // Executing with no harness left to finish it: told as such, not as "still executing".
  if (cmd.decision === 'accepted' && run.status === 'executing') facts.harness = executionLiveness(ledger.dir, cmd.runId);
  if (cmd.decision === 'accepted' && run.evidence) {
    const stored = await verifyArtifacts(ledgerPaths(ledger.dir).artifacts, run.evidence.artifacts);
    const evidence = stored.ok ? await verifyBundle(join(ledgerPaths(ledger.dir).root, 'evidence', cmd.runId), run.evidence.artifacts) : stored;
    const targetHead = run.targetPath ? await ledger.inspectRepo(run.targetPath).then((r) => r.head, noRepository) : null;
    const target = foldTarget(run.targetId!, await ledger.store.readStream(targetStream(run.targetId!)));
    facts = { evidence, targetHead, admission: checkAdmission(target, ledger.now()), target, now: ledger.now() };
  }
  const { appended } = await runCommand(ledger, {
    command: 'outcome',
    stream: runStream(cmd.runId),
    actor: { kind: 'operator', id: cmd.operator },
    correlationId: cmd.runId,
    recordRefusal: 'CommandRefused',
    decide: (events) => decideOutcome(foldRun(cmd.runId, events), cmd, cmd.decision === 'accepted' ? { ...facts, runEvents: events } : facts),
  });
  return appended[0]!;
}
