import { backendConfigDigest, type BackendConfig } from '../src/config/config.js';
import { backendEligibility, type BackendActivation } from '../src/domain/backend.js';
import { pastOutcomeDeadline, type RunState } from '../src/domain/run.js';
import { admissionStillHeld, checkAdmission, survivesRevocations, type TargetState } from '../src/domain/target.js';
import type { EventData } from '../src/events/catalogue.js';
import type { GateId } from '../src/events/gates.js';
import type { IsolationKind } from '../src/harness/isolation.js';
import { accept, invalid, refuse, type Decision } from './decision.js';

/** What the edge found before any mutation. */
export type ExecuteFacts = {
  now: Date;
  target: TargetState;
  /** The target repository now: null when there is none at the admitted path. */
  repo: { rootCommit: string; head: string; dirty: string[] } | null;
  /** When `repo` is null for want of a commit on HEAD's branch, that branch. */
  unbornBranch?: string | null;
  backend: BackendConfig | undefined;
  activation: BackendActivation;
  isolation: IsolationKind;
  /** Whether the process and memory caps can be enforced here (cgroups), and why not. */
  limits: { available: boolean; detail: string };
  /** Secret variable names the backend's config asks for that are not set for the harness. */
  missingSecrets: string[];
  /** The config.yaml path when there is no such file (said so, rather than "not declared in" it). */
  missingConfig?: string | null;
};

/** The gates before mutation, in DESIGN.md's order; accepting claims the approval (ExecutionStarted). */
export function decideExecute(run: RunState, facts: ExecuteFacts, startedBy: string): Decision {
  if (run.status === 'none' || !run.contract) return invalid(`unknown run ${run.runId}`);
  if (run.outcome) return refuse('approval-consumed', `run ${run.runId} is closed (${run.outcome.decision})`);
  if (run.started || run.execution) return refuse('approval-consumed', `the approval of run ${run.runId} was spent by execution ${run.started?.eventId ?? run.execution?.eventId}`);
  const approval = run.approval;
  if (!approval) return refuse('approval-missing', `run ${run.runId} has no approval`);
  if (approval.decision === 'denied') return refuse('approval-denied', `run ${run.runId} was denied by ${approval.operator}`);
  if (approval.contractDigest !== run.contractDigest) return refuse('approval-mismatch', 'the approval binds another contract digest');
  const admission = checkAdmission(facts.target, facts.now, facts.repo ? facts.repo.rootCommit : null, facts.unbornBranch, 'execute');
  if (!admission.ok) return refuse(admission.gate, admission.detail);
  // The admission the contract was admitted under must still be on the target's stream, as it was.
  const held = run.targetAdmission ? admissionStillHeld(facts.target, run.targetAdmission) : { ok: true as const };
  if (!held.ok) return refuse(held.gate, held.detail);
  // A revocation voids the approvals given before it: admitting the target again does not revive them.
  if (!survivesRevocations(facts.target, approval.admissionEventId, approval.recordedAt)) {
    return refuse(
      'target-admission-stale',
      `the approval (${approval.recordedAt}) was given under an admission of target ${facts.target.targetId} that was revoked (${facts.target.lastRevokedAt}); it was admitted again since: approve again`,
    );
  }
  if (facts.repo!.head !== approval.baseCommit) {
    return refuse('approval-mismatch', `the target is at ${facts.repo!.head}, the approval binds ${approval.baseCommit}`);
  }
  if (Date.parse(approval.expiresAt) <= facts.now.getTime()) return refuse('approval-expired', `the approval expired at ${approval.expiresAt}`);
  // Past its outcome deadline a run awaits only its rejection: nothing more is started on it.
  const late = pastOutcomeDeadline(run, facts.now);
  if (late) return refuse('outcome-missing', late);
  const digest = facts.backend ? backendConfigDigest(facts.backend) : null;
  const eligible = backendEligibility(run.backendId!, facts.backend, digest, facts.activation, admission.admission.risk, facts.missingConfig);
  if (!eligible.ok) return refuse('backend-ineligible', eligible.detail);
  if (digest !== run.backendConfigDigest) return refuse('backend-ineligible', `backend ${run.backendId}'s config changed since the contract was admitted`);
  if (facts.repo!.dirty.length > 0) {
    return refuse('start-tree-dirty', `the target's working tree is not clean: ${facts.repo!.dirty.slice(0, 3).join('; ')}${facts.repo!.dirty.length > 3 ? ' ...' : ''}`);
  }
  // unshare keeps the network and the processes apart, not the filesystem: the backend could write the
  // ledger, the operator's checkout and its git dir. What `required` promises only bubblewrap keeps.
  if (run.contract.isolation === 'required' && facts.isolation !== 'bubblewrap') {
    return refuse(
      'isolation-unavailable',
      facts.isolation === 'none'
        ? 'the contract requires isolation and none is to be had: neither bubblewrap nor unshare works on this machine, or CTO_ISOLATION=none lowered it'
        : 'the contract requires isolation and only unshare is to be had (bubblewrap does not work on this machine, or CTO_ISOLATION=unshare lowered it): under unshare the filesystem is writable, the ledger, the target checkout and its git dir included; install bubblewrap, or admit the contract with isolation: best-effort',
    );
  }
  // Caps the backend's config names are part of its isolation: promised, so never silently dropped.
  if (facts.backend?.limits && !facts.limits.available) {
    return refuse('isolation-unavailable', `backend ${run.backendId} names process and memory limits in config.yaml and this machine cannot enforce them (${facts.limits.detail}); remove its limits to run it uncapped`);
  }
  if (facts.missingSecrets.length) return refuse('provider-failure', `secrets not set for the harness: ${facts.missingSecrets.join(', ')}`);
  return accept({
    type: 'ExecutionStarted',
    data: { approvalEventId: approval.eventId, baseCommit: approval.baseCommit, backendId: run.backendId!, isolation: facts.isolation, startedBy, admissionEventId: admission.admission.eventId },
  });
}

/**
 * More changed paths than anyone reviews, and than an event should carry: every read of the run
 * parses its CaseExecuted. A run past it fails closed, and its event keeps the first this many.
 */
export const MAX_CHANGED_PATHS = 10_000;
/** And no more bytes of path names than this: 10,000 names near PATH_MAX would make a 40 MB event. */
export const MAX_CHANGED_PATH_BYTES = 1 << 20;

/** The changed paths CaseExecuted keeps: the first ones within both caps above (the bundle keeps all). */
export function recordedPaths<T extends { path: string }>(paths: readonly T[]): T[] {
  const kept: T[] = [];
  let bytes = 0;
  for (const p of paths) {
    bytes += Buffer.byteLength(p.path);
    if (kept.length === MAX_CHANGED_PATHS || bytes > MAX_CHANGED_PATH_BYTES) break;
    kept.push(p);
  }
  return kept;
}

/** What the harness observed after the backend exited and its process tree was killed. */
export type ExecutionObservations = {
  exit: { code: number | null; signal: string | null; timedOut: boolean };
  /** Set when the target's admission was revoked between the claim and the backend's start: it never ran. */
  revokedSinceClaim?: string | null;
  /** Why the backend could not start, if it could not. */
  startError: string | null;
  survivors: number;
  /** What the backend ran into at its process and memory caps (a process OOM-killed, forks refused). */
  limitsHit?: string[];
  shimAttempts: string[];
  /** Names of the backend's secrets whose values the change carries (in a path or the patch). */
  secretsInChange: string[];
  gitStateChanged: string[];
  operatorCheckoutChanged: string[];
  /** Why the patch could not be made, when it could not: then it carries nothing of the change. */
  patchError: string | null;
  paths: Array<{ path: string; change: string; verdict: 'allowed' | 'forbidden' | 'disallowed' | 'not-captured'; why: string }>;
  validation: { ran: true; code: number | null; timedOut: boolean; limitsHit?: string[] } | { ran: false; reason: string };
};

type GateResult = EventData<'CaseExecuted'>['gateResults'][number];

/** Every gate after the backend, each with its finding; the first failing one in this order is the verdict. */
export function judgeExecution(o: ExecutionObservations): { gateResults: GateResult[]; failedGate: GateId | null } {
  const forbiddenPaths = o.paths.filter((p) => p.verdict === 'forbidden');
  const disallowed = o.paths.filter((p) => p.verdict === 'disallowed');
  const uncaptured = o.paths.filter((p) => p.verdict === 'not-captured');
  const list = (items: Array<{ path: string; why: string }>) => items.slice(0, 5).map((p) => `${p.path} (${p.why})`).join('; ');
  const recorded = recordedPaths(o.paths).length;
  const nameBytes = o.paths.reduce((sum, p) => sum + Buffer.byteLength(p.path), 0);
  const results: GateResult[] = [
    ...(o.revokedSinceClaim ? [{ gate: 'target-admission-stale' as const, ok: false, detail: o.revokedSinceClaim }] : []),
    {
      gate: 'timeout',
      ok: !o.exit.timedOut,
      detail: o.exit.timedOut ? 'the backend ran past its time limit; its process tree was killed' : 'within the time limit',
    },
    {
      gate: 'provider-failure',
      ok: o.startError === null && (o.exit.timedOut || (o.exit.code === 0 && o.exit.signal === null)),
      detail: [o.startError ?? (o.exit.signal ? `the backend died by ${o.exit.signal}` : `the backend exited ${o.exit.code}`), ...(o.limitsHit ?? [])].join('; '),
    },
    {
      gate: 'forbidden-action',
      ok: o.shimAttempts.length === 0 && o.gitStateChanged.length === 0 && forbiddenPaths.length === 0 && o.secretsInChange.length === 0,
      detail:
        [
          o.shimAttempts.length ? `attempted: ${o.shimAttempts.slice(0, 5).join('; ')}` : '',
          o.secretsInChange.length ? `the change carries the value of secret ${o.secretsInChange.join(', ')} (redacted)` : '',
          o.gitStateChanged.length ? `git state changed: ${o.gitStateChanged.join(', ')}` : '',
          forbiddenPaths.length ? `touched: ${list(forbiddenPaths)}` : '',
        ]
          .filter(Boolean)
          .join(' | ') || 'no forbidden action attempted or done',
    },
    {
      gate: 'path-disallowed',
      ok: disallowed.length === 0 && recorded === o.paths.length,
      detail:
        recorded < o.paths.length
          ? `${o.paths.length} paths changed (${nameBytes} bytes of names), more than a run may change (${MAX_CHANGED_PATHS} paths, ${MAX_CHANGED_PATH_BYTES} bytes of names; the ledger records the first ${recorded}, the bundle's report.json all)${disallowed.length ? `; ${list(disallowed)}` : ''}`
          : disallowed.length
            ? list(disallowed)
            : forbiddenPaths.length
              ? 'none outside the allowed paths but the forbidden ones above'
              : 'every changed path is allowed',
    },
    {
      gate: 'end-tree-dirty',
      ok: o.operatorCheckoutChanged.length === 0 && uncaptured.length === 0 && o.survivors === 0 && o.patchError === null,
      detail:
        [
          o.operatorCheckoutChanged.length ? `the operator's checkout changed: ${o.operatorCheckoutChanged.slice(0, 5).join('; ')}` : '',
          o.patchError ? `the patch could not be made: ${o.patchError}` : '',
          uncaptured.length ? `not captured by the patch: ${list(uncaptured)}` : '',
          o.survivors ? `${o.survivors} process(es) outlived the backend` : '',
        ]
          .filter(Boolean)
          .join(' | ') || 'clean',
    },
    {
      gate: 'validation-failed',
      ok: o.validation.ran ? o.validation.code === 0 && !o.validation.timedOut : o.validation.reason.startsWith('no-test rationale'),
      detail: o.validation.ran
        ? o.validation.timedOut
          ? 'the validation command ran past its time limit'
          : [`the validation command exited ${o.validation.code}`, ...(o.validation.limitsHit ?? [])].join('; ')
        : o.validation.reason,
    },
  ];
  return { gateResults: results, failedGate: results.find((r) => !r.ok)?.gate ?? null };
}
