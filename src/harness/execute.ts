import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { decideExecute, judgeExecution, recordedPaths, type ExecuteFacts, type ExecutionObservations } from '../../commands/execute.js';
import { loadRun } from '../../commands/record-approval.js';
import { runCommand } from '../../commands/runner.js';
import { normalizedLine } from '../../projections/run-files.js';
import { backendStream, foldBackend } from '../domain/backend.js';
import { foldRun, runStream } from '../domain/run.js';
import { foldTarget, survivesRevocations, targetStream } from '../domain/target.js';
import { Refused, StoreUnavailable } from '../errors.js';
import type { EventData, EventDraft } from '../events/catalogue.js';
import type { LedgerEvent } from '../events/envelope.js';
import type { GateId } from '../events/gates.js';
import { ledgerPaths, type Ledger } from '../ledger/ledger.js';
import { noRepository, unbornBranch } from '../target/repo.js';
import { holdsSecret, logForEvidence, redact, sealBundle } from './evidence.js';
import { changedGitState, changedPaths, digestOfPath, filledSubmodulePaths, looksBinary, makePatch, snapshotGitState, specialFiles, strayGitEntries, textForReview, type ChangedPath } from './inspect.js';
import { detectIsolation } from './isolation.js';
import { defaultLimits, detectLimits, type LimitsReport } from './limits.js';
import { judgePaths, TOO_LARGE, UNREADABLE } from './policy.js';
import { renderReportMarkdown, type ExecutionReport } from './report.js';
import { runSandboxed, type Connection, type SandboxResult } from './sandbox.js';
import { readShimAttempts, writeShims } from './shims.js';
import { checkScratchDirs, createWorktree, removeWorktree, type Worktree } from './worktree.js';
import { holdExecution } from './liveness.js';
import { cutWhole } from '../events/hashing.js';

export type ExecuteResult = {
  runId: string;
  status: 'succeeded' | 'failed-closed';
  failedGate: GateId | null;
  isolation: string;
  evidenceDir: string;
  bundleDigest: string;
};

export type ExecuteOptions = {
  by: string;
  onPhase?: (phase: string) => void;
  /** The operator stopping the execution (Ctrl-C): the running step is killed, the run fails closed, evidenced, its worktree removed. */
  signal?: AbortSignal;
};

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
/** The largest patch the harness checks for secrets and keeps as evidence. */
export const PATCH_CAP = 256 << 20;

/** One trace span of the harness's own work (phases, connections, attempts), for trace.jsonl. */
type Span = { name: string; start: string; end: string; status: 'ok' | 'error'; attributes: Record<string, unknown> };

function timed<T>(spans: Span[], name: string, work: () => Promise<T>, attributes: Record<string, unknown> = {}): Promise<T> {
  const start = new Date().toISOString();
  return work().then(
    (value) => (spans.push({ name, start, end: new Date().toISOString(), status: 'ok', attributes }), value),
    (err: unknown) => {
      spans.push({ name, start, end: new Date().toISOString(), status: 'error', attributes: { ...attributes, error: String(err) } });
      throw err;
    },
  );
}

/** The facts the gates before mutation need, read at the edge. */
async function gatherFacts(ledger: Ledger, runId: string): Promise<ExecuteFacts & { targetPath: string | null }> {
  const run = await loadRun(ledger, runId);
  checkScratchDirs();
  const target = foldTarget(run.targetId!, await ledger.store.readStream(targetStream(run.targetId!)));
  const targetPath = target.admission?.path ?? null;
  const repo = targetPath ? await ledger.inspectRepo(targetPath).catch(noRepository) : null;
  // No commit found: a repository still there, on a branch with none yet, is told apart from a missing one.
  const unborn = targetPath && !repo ? await unbornBranch(targetPath) : null;
  const backend = ledger.config().backends.find((b) => b.id === run.backendId);
  return {
    now: ledger.now(),
    target,
    targetPath,
    repo,
    unbornBranch: unborn,
    backend,
    activation: foldBackend(run.backendId!, await ledger.store.readStream(backendStream(run.backendId!))),
    isolation: detectIsolation().kind,
    limits: detectLimits(),
    missingSecrets: (backend?.secrets ?? []).filter((name) => !process.env[name]),
    missingConfig: existsSync(ledger.configFile) ? null : ledger.configFile,
  };
}

/**
 * What a backend never sees: home directories (SSH keys, cloud and registry tokens, agent sockets),
 * the ledger (other runs' contracts and evidence), and the places services keep their state and unix
 * sockets (/var, /srv, /mnt, /media: a read-only mount does not stop connect() on a socket). The
 * paths it needs are bound back in (a backend's readOnlyPaths).
 */
export function hiddenFromBackends(ledgerDir: string, targetPath?: string): string[] {
  // The operator's checkout too, wherever it is: its untracked and ignored files (an .env) are not in
  // the worktree and are none of the backend's business. Its git dir is bound back, read-only.
  const candidates = ['/root', '/home', ...operatorHome(), '/var', '/srv', '/mnt', '/media', ledgerDir, ...(targetPath ? [targetPath] : [])].map((p) => resolve(p));
  return [...new Set(candidates)].filter((p) => p !== '/' && existsSync(p) && statSync(p).isDirectory());
}

/**
 * The operator's home dir. With HOME unset, Node asks the user database, and a user id with no entry
 * there (a container's `--user 1000`) has none: the lookup threw after the approval was spent, failing
 * the run closed with "uv_os_homedir returned ENOENT". No home then: nothing of it to hide.
 */
function operatorHome(): string[] {
  try {
    return [homedir()];
  } catch {
    return [];
  }
}

/**
 * Executes an approved run through the harness: the gates before mutation (a refusal is recorded as
 * ExecutionRefused), then the claim on the approval, the backend in its sandbox, the checks after it,
 * the validation, the evidence bundle, and CaseExecuted + EvidenceDigested. The worktree is removed.
 */
export async function executeRun(ledger: Ledger, runId: string, options: ExecuteOptions): Promise<ExecuteResult> {
  const facts = await gatherFacts(ledger, runId);
  const { appended } = await runCommand(ledger, {
    command: 'execute',
    stream: runStream(runId),
    actor: { kind: 'operator', id: options.by },
    correlationId: runId,
    recordRefusal: 'ExecutionRefused',
    decide: (events) => decideExecute(foldRun(runId, events), facts, options.by),
  });
  const started = appended[0]!;
  if (started.type !== 'ExecutionStarted') throw new StoreUnavailable('execution was not claimed');
  const run = foldRun(runId, await ledger.store.readStream(runStream(runId)));
  const contract = run.contract!;
  const backend = facts.backend!;
  const repoPath = facts.targetPath!;
  const spans: Span[] = [];
  const phase = (name: string) => options.onPhase?.(name);

  let wt: Worktree | null = null;
  // Set once the repository's git state is found changed after the backend: no more git runs on it.
  let gitTampered = false;
  // Set once this attempt starts writing evidence/<run>/: a bundle the ledger never digested is removed.
  let evidenceWritten: string | null = null;
  // Known from the backend's config before anything runs: a harness failure's own message is redacted too.
  const secrets = Object.fromEntries(backend.secrets.map((name) => [name, process.env[name] ?? '']));
  // Everything the backend could put a secret's value into that reaches the ledger or the bundle.
  const clean = (text: string) => redact(Buffer.from(text), secrets).toString('utf8');
  // What the backend did, kept where a harness failure after it can still evidence it.
  const gathered: Gathered = { outDir: null, shimLog: null, connections: [], result: null, limits: {}, spans };
  const release = holdExecution(ledger.dir, runId);
  // Checked after each step: what was gathered so far is evidenced by the harness-failure path below.
  const stopIfInterrupted = () => {
    if (options.signal?.aborted) throw new Error(`interrupted by ${String(options.signal.reason ?? 'the operator')}: the execution was stopped and its running step killed`);
  };
  try {
    // The claim names the admission it was decided under; a revocation appended to the target's
    // stream meanwhile (a revoke racing this execute) is found here, and the backend never starts.
    const targetNow = foldTarget(run.targetId!, await ledger.store.readStream(targetStream(run.targetId!)));
    const revokedSinceClaim = survivesRevocations(targetNow, started.data.admissionEventId, started.recordedAt)
      ? null
      : `target ${run.targetId} was revoked (${targetNow.lastRevokedAt}) after this execution was claimed: the backend was not started`;
    phase('worktree');
    wt = await timed(spans, 'harness.worktree', () => createWorktree(repoPath, started.data.baseCommit, runId));
    const runDir = join(wt.scratch, 'run');
    const inDir = join(runDir, 'in');
    const shimDir = join(inDir, 'shims');
    const shimLog = join(runDir, 'shimlog');
    const home = join(runDir, 'home');
    const outDir = join(runDir, 'out');
    for (const dir of [inDir, shimLog, home, outDir]) mkdirSync(dir, { recursive: true });
    gathered.outDir = outDir;
    gathered.shimLog = shimLog;
    writeShims(shimDir);
    const contractFile = join(inDir, 'contract.json');
    writeFileSync(contractFile, JSON.stringify({ runId, baseCommit: started.data.baseCommit, contractDigest: run.contractDigest, ...contract }, null, 2) + '\n');

    const before = await snapshotGitState(wt);
    // The secrets first: whatever their names, the harness's own variables win.
    const env = {
      ...secrets,
      PATH: `${shimDir}:${SYSTEM_PATH}`,
      HOME: home,
      TMPDIR: '/tmp',
      LANG: 'C.UTF-8',
      CTO_RUN_ID: runId,
      CTO_WORKTREE: wt.path,
      CTO_CONTRACT_FILE: contractFile,
      CTO_BASE_COMMIT: started.data.baseCommit,
      CTO_SHIM_LOG: shimLog,
    };
    const command = [...backend.command];
    if (command[0]!.includes('/') && !isAbsolute(command[0]!)) command[0] = resolve(ledger.dir, command[0]!);
    // The backend's own program files (a script under /tmp, say) are visible to it, read-only.
    const programFiles = command.filter((arg) => isAbsolute(arg) && existsSync(arg));
    const sandboxBase = {
      cwd: wt.path,
      writable: [shimLog, home],
      readOnly: [join(wt.path, '.git'), wt.commonDir, inDir, ...programFiles, ...(backend.readOnlyPaths ?? [])],
      hidden: hiddenFromBackends(ledger.dir, repoPath),
      isolation: started.data.isolation,
      // setup, backend and validation alike: each runs code the backend chose or wrote
      limits: { ...defaultLimits(), ...backend.limits },
      limitsRequired: backend.limits !== undefined,
      abort: options.signal,
    };
    const limits = gathered.limits;

    // The contract's setup step (dependencies, say) runs first, under the same isolation and network
    // policy, without secrets; what it leaves ignored by git is the setup's, not the backend's.
    let setupFailure: string | null = null;
    let setupIgnored = new Set<string>();
    if (contract.setup && !revokedSinceClaim) {
      stopIfInterrupted();
      phase('setup');
      const setup = await timed(spans, 'setup.run', () =>
        runSandboxed({
          ...sandboxBase,
          argv: ['/bin/sh', '-c', `exec 2>&1\n${contract.setup!.command}`],
          env: { PATH: SYSTEM_PATH, HOME: home, TMPDIR: '/tmp', LANG: 'C.UTF-8', CTO_RUN_ID: runId, CTO_WORKTREE: wt!.path },
          stdoutFile: join(outDir, 'setup.log'),
          stderrFile: join(outDir, 'setup.stderr.log'),
          timeoutMs: contract.setup!.timeoutSeconds * 1000,
          network: backend.network,
        }),
      );
      limits.setup = setup.limits;
      if (setup.timedOut || setup.code !== 0) setupFailure = `the setup command ${setup.timedOut ? 'timed out' : `exited ${setup.code}`} (see setup.log)`;
      setupIgnored = new Set((await changedPaths(wt, started.data.baseCommit)).filter((p) => p.change === 'ignored').map((p) => p.path));
    }
    const setupOutputs = [...setupIgnored].map((path) => join(wt!.path, path.replace(/\/$/, '')));
    // Without bubblewrap nothing binds them read-only: their digests tell whether the backend changed them.
    const setupDigests = started.data.isolation === 'bubblewrap' ? null : new Map(setupOutputs.map((abs) => [abs, digestOfPath(abs)]));

    // Validation gets HOME as it was before the backend ran: the backend could otherwise plant files
    // there (Python's usercustomize, an .npmrc, a .gitconfig) that make the validation pass.
    const validationHome = join(runDir, 'validation-home');
    cpSync(home, validationHome, { recursive: true, verbatimSymlinks: true });

    stopIfInterrupted();
    phase('backend');
    const connections = gathered.connections;
    let result: SandboxResult | null = null;
    let startError: string | null = setupFailure;
    if (!setupFailure && !revokedSinceClaim) {
      try {
        result = await timed(spans, 'backend.run', () =>
          runSandboxed({
            ...sandboxBase,
            // What the setup left (node_modules, a venv) is the validation's to use, never the backend's to change.
            readOnly: [...sandboxBase.readOnly, ...setupOutputs],
            argv: command,
            env,
            stdinFile: contractFile,
            stdoutFile: join(outDir, 'backend.stdout.log'),
            stderrFile: join(outDir, 'backend.stderr.log'),
            timeoutMs: contract.limits.backendSeconds * 1000,
            network: backend.network,
            onConnection: (c) => connections.push(c),
          }),
        );
        limits.backend = result.limits;
        gathered.result = result;
      } catch (err) {
        startError = `the backend could not start: ${(err as Error).message}`;
      }
    }

    stopIfInterrupted();
    phase('inspect');
    // FIFOs, sockets and device nodes first, before any git call looks at the tree: git opens a
    // `.gitignore` (and other paths) without looking at its type, and a FIFO there would block the
    // harness forever. Named as refusals below; removed (the patch could never carry them).
    const specials = specialFiles(wt.path, setupOutputs);
    for (const special of specials) {
      try {
        rmSync(Buffer.concat([Buffer.from(`${wt.path}/`), special.bytes]), { force: true });
      } catch {
        // named below all the same; git's calls then fail or block as they would have
      }
    }
    const after = await snapshotGitState(wt, before);
    const gitStateChanged = changedGitState(before, after);
    // The repository's config, attributes, hooks or refs changed (possible only where its git dir is
    // writable: unshare, none): git would now run what was planted there (a clean filter runs on
    // `status` and `add`) outside the sandbox, in the harness's own calls. No more git on it: the run
    // fails closed (forbidden-action), with neither a listing of paths nor a patch.
    gitTampered = gitStateChanged.length > 0;
    const notLooked = `the repository's git state changed (${gitStateChanged.join(', ')}), and git would run what was planted there`;
    const operatorNow = gitTampered ? null : await ledger.inspectRepo(repoPath).catch(() => null);
    const operatorCheckoutChanged = gitTampered
      ? []
      : !operatorNow
      ? ['the repository is gone']
      : [
          ...(operatorNow.head !== started.data.baseCommit ? [`HEAD moved to ${operatorNow.head}`] : []),
          ...operatorNow.dirty.map((line) => `working tree: ${line}`),
        ];
    const setupChanged = new Set(setupDigests ? [...setupDigests].filter(([abs, digest]) => digestOfPath(abs) !== digest).map(([abs]) => abs) : []);
    const paths = (gitTampered ? [] : await changedPaths(wt, started.data.baseCommit)).filter((p) => !(p.change === 'ignored' && setupIgnored.has(p.path) && !setupChanged.has(join(wt!.path, p.path.replace(/\/$/, '')))));
    const listed = new Set(paths.map((p) => p.path.replace(/\/$/, '')));
    for (const stray of strayGitEntries(wt.path, setupOutputs)) {
      // A nested repository git lists already (as its dir); any other .git is named here.
      if (stray.kind === 'git' && listed.has(stray.path.slice(0, -'/.git'.length))) continue;
      paths.push({ path: stray.path, change: 'added', unreviewable: stray.why });
    }
    for (const special of specials) {
      const why = special.kind.startsWith('.git') ? `a ${special.kind}` : `a ${special.kind}, which the patch cannot carry and git could block on`;
      paths.push({ path: special.path, change: 'added', unreviewable: `${why} (removed before the harness's git looked at the tree)` });
    }
    for (const sub of gitTampered ? [] : await filledSubmodulePaths(wt, started.data.baseCommit)) {
      paths.push({ path: sub, change: 'added', unreviewable: "files in a submodule's path, which the harness leaves empty: git neither lists nor patches them" });
    }
    const worktreePath = wt.path;
    const verdicts = judgePaths(paths, contract.allowedPaths, (path) => {
      const abs = join(worktreePath, path);
      const st = existsSync(abs) ? lstatSync(abs) : null;
      if (!st?.isFile()) return null;
      // A manifest over 16 MiB is refused unread. Any other file is read for the characters that hide
      // code up to the size of a patch the harness keeps (padded past 16 MiB, a Trojan Source line went
      // unchecked and the run succeeded). A larger one is shown either as binary, where nothing is read
      // as text, or as text in a patch over that cap, which fails the run (end-tree-dirty).
      if (st.size > 16 << 20 && /\.(ya?ml|json)$/i.test(path)) return TOO_LARGE;
      if (st.size > PATCH_CAP) return null;
      // A file the patch shows as binary (base85) is not read as text by anyone: nothing to hide in it.
      let bytes: Buffer;
      try {
        bytes = readFileSync(abs);
      } catch {
        return UNREADABLE; // a throw here would leave the run without evidence
      }
      return textForReview(path, bytes);
    });
    // A tree git cannot stage (an empty nested repository, say) still gets judged and evidenced.
    let patchError: string | null = null;
    let patch = await timed(spans, 'harness.patch', () => (gitTampered ? Promise.reject(new Error(notLooked)) : makePatch(wt!, started.data.baseCommit))).catch((err: unknown) => {
      patchError = cutWhole(((err as Error).message ?? String(err)).split('\n').filter(Boolean).slice(-2).join(' '), 500);
      return Buffer.alloc(0);
    });
    if (patch.length > PATCH_CAP) {
      // Past V8's largest string (512 MiB) the checks below would throw and leave the run without
      // evidence; long before that, no one reviews it. Not kept: the run fails closed, evidenced.
      patchError = `the patch is ${patch.length} bytes, more than the ${PATCH_CAP} the harness checks and keeps`;
      patch = Buffer.alloc(0);
    }
    // A secret value in a file name or content would reach the ledger (changedPaths) and the
    // artifacts: fail closed, and keep only the redacted form. Encoded copies (base64, say) are not found.
    // Found as redact() finds them (in any case), so nothing is left unredacted that it would catch.
    const changeText = [patch.toString('utf8'), ...verdicts.map((v) => v.path)].join('\n');
    // A file the patch shows as binary is there zlib-compressed and base85-encoded, where no form of a
    // secret is found: each changed file's own bytes are searched too, and a patch carrying a secret in
    // a binary file is not kept (it cannot be redacted there).
    const inFiles = Object.keys(secrets).length ? secretsInFiles(worktreePath, paths, secrets) : { names: [], inBinary: false };
    const secretsInChange = Object.entries(secrets)
      .filter(([name, value]) => holdsSecret(changeText, value) || inFiles.names.includes(name))
      .map(([name]) => name);
    if (secretsInChange.length) {
      patch = redact(patch, secrets);
      // an encoded copy wrapped across lines, or one in a binary file, is found but cannot be cut out: keep no patch at all
      if (inFiles.inBinary) {
        patchError = 'the patch holds a secret in a file it shows as binary (compressed) or in UTF-16, which cannot be redacted; not kept';
        patch = Buffer.alloc(0);
      } else if (secretsInChange.some((name) => holdsSecret(patch.toString('utf8'), secrets[name]!))) {
        patchError = 'the patch holds an encoded secret wrapped across lines, which cannot be redacted; not kept';
        patch = Buffer.alloc(0);
      }
      for (const item of [...paths, ...verdicts]) item.path = redact(Buffer.from(item.path), secrets).toString('utf8');
    }

    for (const c of connections) c.host = clean(c.host);
    const observations: ExecutionObservations = {
      exit: { code: result?.code ?? null, signal: result?.signal ?? null, timedOut: result?.timedOut ?? false },
      revokedSinceClaim,
      startError: startError === null ? null : clean(startError),
      survivors: result?.survivors ?? 0,
      limitsHit: limitsHit(result?.limits),
      shimAttempts: readShimAttempts(shimLog).map((a) => clean(a.command)),
      secretsInChange,
      gitStateChanged,
      operatorCheckoutChanged,
      patchError: patchError === null ? null : clean(patchError),
      paths: verdicts,
      validation: { ran: false, reason: contract.validation ? 'not run: an earlier gate failed first' : `no-test rationale: ${contract.noTestRationale}` },
    };
    const testLog = join(outDir, 'test.log');
    const early = judgeExecution(observations);
    const earlyFailure = early.gateResults.find((g) => !g.ok && g.gate !== 'validation-failed');
    if (contract.validation && !earlyFailure) {
      stopIfInterrupted();
      phase('validation');
      const validation = await timed(spans, 'validation.run', () =>
        runSandboxed({
          ...sandboxBase,
          argv: ['/bin/sh', '-c', `exec 2>&1\n${contract.validation!.command}`],
          env: { PATH: SYSTEM_PATH, HOME: validationHome, TMPDIR: '/tmp', LANG: 'C.UTF-8', CTO_RUN_ID: runId, CTO_WORKTREE: worktreePath },
          writable: [validationHome],
          stdoutFile: testLog,
          stderrFile: join(outDir, 'validation.stderr.log'),
          timeoutMs: contract.validation!.timeoutSeconds * 1000,
          network: 'none',
        }),
      );
      limits.validation = validation.limits;
      observations.validation = { ran: true, code: validation.code, timedOut: validation.timedOut, limitsHit: limitsHit(validation.limits) };
    } else {
      writeFileSync(testLog, contract.validation ? `validation not run: ${earlyFailure?.gate} failed first\n` : `no validation command; rationale: ${contract.noTestRationale}\n`);
    }
    const judged = judgeExecution(observations);
    // Every finding redacted as a whole before it reaches the ledger: a verdict's reason can quote
    // what the backend chose besides a path (a symlink's target, say).
    const gateResults = judged.gateResults.map((g) => ({ ...g, detail: clean(g.detail) }));
    const failedGate = judged.failedGate;
    const status = failedGate ? 'failed-closed' : 'succeeded';
    const endedAt = new Date().toISOString();

    stopIfInterrupted();
    phase('evidence');
    const evidenceDir = join(ledgerPaths(ledger.dir).root, 'evidence', runId);
    // Written beside it and renamed into place once CaseExecuted and EvidenceDigested are on the
    // ledger: a harness killed meanwhile leaves a `.partial-PID` dir, never an evidence/<run>/ whose
    // report says "Succeeded" with nothing recorded (a failure it survives removes it, below).
    const making = `${evidenceDir}.partial-${process.pid}`;
    rmSync(making, { recursive: true, force: true });
    evidenceWritten = making;
    mkdirSync(making, { recursive: true });
    const files: Record<string, string | Buffer> = {
      'patch.diff': patch,
      'test.log': logForEvidence(testLog, secrets),
      'backend.stdout.log': logForEvidence(join(outDir, 'backend.stdout.log'), secrets),
      'backend.stderr.log': logForEvidence(join(outDir, 'backend.stderr.log'), secrets),
    };
    if (contract.setup) files['setup.log'] = logForEvidence(join(outDir, 'setup.log'), secrets);
    const report: ExecutionReport = {
      runId,
      title: contract.title,
      workItem: contract.workItem ?? null,
      contractDigest: run.contractDigest!,
      backend: { id: backend.id, command: backend.command },
      target: { id: run.targetId!, path: repoPath, baseCommit: started.data.baseCommit },
      isolation: started.data.isolation,
      startedAt: result?.startedAt ?? started.recordedAt,
      endedAt: result?.endedAt ?? endedAt,
      backendSeconds: (result?.durationMs ?? 0) / 1000,
      exit: observations.exit,
      status,
      failedGate,
      gateResults,
      paths: verdicts,
      shimAttempts: observations.shimAttempts,
      connections,
      connectionsNotListed: result?.connectionsNotListed ?? 0,
      validation: {
        command: contract.validation?.command ?? null,
        rationale: contract.noTestRationale ?? null,
        exitCode: observations.validation.ran ? observations.validation.code : null,
        ran: observations.validation.ran,
      },
      patchBytes: patch.length,
      limits,
    };
    const runEvents = await ledger.store.readStream(runStream(runId));
    // What the bundle reflects: the base, the target now, and the ledger event it was made after.
    const freshness = { baseCommit: started.data.baseCommit, targetHead: operatorNow?.head ?? null, streamVersion: started.version, lastEventHash: started.hash, at: endedAt };
    const sealed = sealWithReport(making, ledgerPaths(ledger.dir).artifacts, files, { runId, report, runEvents, spans, endedAt, freshness, secrets });

    await appendFacts(ledger, runId, [
      caseExecuted(started, {
        startedAt: report.startedAt,
        endedAt: report.endedAt,
        exit: observations.exit,
        changedPaths: recordedPaths(paths).map((p) => ({ path: p.path, change: p.change })),
        gateResults,
        status,
        failedGate,
      }),
      { type: 'EvidenceDigested', data: { artifacts: sealed.artifacts, bundleDigest: sealed.bundleDigest, freshness } },
    ]);
    rmSync(evidenceDir, { recursive: true, force: true });
    renameSync(making, evidenceDir);
    return { runId, status, failedGate, isolation: started.data.isolation, evidenceDir, bundleDigest: sealed.bundleDigest };
  } catch (err) {
    // The harness itself failed after the claim: the run fails closed and can only be rejected. Its
    // message can quote what the backend chose (a path, a host): redacted as every other finding.
    const message = clean(err instanceof Error ? err.message : String(err));
    const failed = caseExecuted(started, {
      startedAt: gathered.result?.startedAt ?? started.recordedAt,
      endedAt: new Date().toISOString(),
      exit: { code: gathered.result?.code ?? null, signal: gathered.result?.signal ?? null, timedOut: gathered.result?.timedOut ?? false },
      changedPaths: [],
      gateResults: [{ gate: 'provider-failure', ok: false, detail: `harness error: ${message}` }],
      status: 'failed-closed',
      failedGate: 'provider-failure',
    });
    // Only putting the digested bundle in place failed (rm or rename: EBUSY, ENOSPC): the execution and
    // its evidence are on the ledger already. Nothing more is appended (a second CaseExecuted, failed
    // closed, followed a succeeded one), and the bundle is left where it was written, not removed.
    if (evidenceWritten && (await discardUndigestedEvidence(ledger, runId, started.id, evidenceWritten)) === 'digested') {
      throw new StoreUnavailable(
        `run ${runId} was executed and its evidence digested, but the bundle could not be put in place at ${evidenceWritten.replace(/\.partial-\d+$/, '')}: ${message}; it is in ${evidenceWritten} (move it there)`,
      );
    }
    // What the backend attempted is evidenced even so, in a bundle of what was gathered; when that
    // cannot be written or digested either, the failure alone is recorded.
    const evidenced = await evidenceHarnessFailure(ledger, { runId, run, started, repoPath, failed, backend, message, gathered, secrets, clean }).catch(() => null);
    if (!evidenced) await appendFacts(ledger, runId, [failed]).catch(() => undefined);
    if (err instanceof Refused) throw err;
    throw new StoreUnavailable(`execution of run ${runId} failed: ${message}${evidenced ? ` (failed closed, evidence in ${evidenced})` : ''}`);
  } finally {
    if (wt) await removeWorktree(repoPath, wt, { prune: !gitTampered, wait: options.signal?.aborted === true });
    release();
  }
}

/** What the harness had gathered about the backend's run when it failed itself. */
type Gathered = {
  outDir: string | null;
  shimLog: string | null;
  connections: Connection[];
  result: SandboxResult | null;
  limits: ExecutionReport['limits'];
  spans: Span[];
};

/**
 * The bundle of a run whose harness failed after the claim: a report saying so and why, the backend's
 * logs (capped and redacted as always), its refused commands and connections, sealed and digested with
 * the failed-closed CaseExecuted. Returns where it is, or null when this execution already digested
 * evidence; throws when it cannot be written or digested (its partial dir removed).
 */
async function evidenceHarnessFailure(
  ledger: Ledger,
  f: {
    runId: string;
    run: ReturnType<typeof foldRun>;
    started: Started;
    repoPath: string;
    failed: Extract<EventDraft, { type: 'CaseExecuted' }>;
    backend: { id: string; command: string[] };
    message: string;
    gathered: Gathered;
    secrets: Record<string, string>;
    clean: (text: string) => string;
  },
): Promise<string | null> {
  const { runId, run, started, gathered, secrets, clean } = f;
  const contract = run.contract!;
  const runEvents = await ledger.store.readStream(runStream(runId));
  const from = runEvents.findIndex((e) => e.id === started.id);
  if (from < 0 || runEvents.slice(from + 1).some((e) => e.type === 'CaseExecuted' || e.type === 'EvidenceDigested')) return null;
  const evidenceDir = join(ledgerPaths(ledger.dir).root, 'evidence', runId);
  const making = `${evidenceDir}.partial-${process.pid}`;
  rmSync(making, { recursive: true, force: true });
  try {
    mkdirSync(making, { recursive: true });
    const endedAt = new Date().toISOString();
    const result = gathered.result;
    const files: Record<string, string | Buffer> = {};
    if (gathered.outDir) {
      for (const name of ['backend.stdout.log', 'backend.stderr.log', ...(contract.setup ? ['setup.log'] : []), 'test.log']) {
        const log = join(gathered.outDir, name);
        if (name === 'test.log' && !existsSync(log)) continue;
        files[name] = logForEvidence(log, secrets);
      }
    }
    const shimAttempts = gathered.shimLog ? readShimAttempts(gathered.shimLog).map((a) => clean(a.command)) : [];
    const connections = gathered.connections.map((c) => ({ ...c, host: clean(c.host) }));
    const report: ExecutionReport = {
      runId,
      title: contract.title,
      workItem: contract.workItem ?? null,
      contractDigest: run.contractDigest!,
      backend: { id: f.backend.id, command: f.backend.command },
      target: { id: run.targetId!, path: f.repoPath, baseCommit: started.data.baseCommit },
      isolation: started.data.isolation,
      startedAt: result?.startedAt ?? started.recordedAt,
      endedAt: result?.endedAt ?? endedAt,
      backendSeconds: (result?.durationMs ?? 0) / 1000,
      exit: { code: result?.code ?? null, signal: result?.signal ?? null, timedOut: result?.timedOut ?? false },
      status: 'failed-closed',
      failedGate: 'provider-failure',
      gateResults: f.failed.data.gateResults,
      paths: [],
      shimAttempts,
      connections,
      connectionsNotListed: result?.connectionsNotListed ?? 0,
      validation: { command: contract.validation?.command ?? null, rationale: contract.noTestRationale ?? null, exitCode: null, ran: false },
      patchBytes: 0,
      limits: gathered.limits,
      harnessError: f.message,
    };
    const targetHead = await ledger.inspectRepo(f.repoPath).then((r) => r.head, () => null);
    const freshness = { baseCommit: started.data.baseCommit, targetHead, streamVersion: started.version, lastEventHash: started.hash, at: endedAt };
    const spans: Span[] = [...gathered.spans, { name: 'harness.error', start: endedAt, end: endedAt, status: 'error', attributes: { error: f.message } }];
    const sealed = sealWithReport(making, ledgerPaths(ledger.dir).artifacts, files, { runId, report, runEvents, spans, endedAt, freshness, secrets });
    await appendFacts(ledger, runId, [f.failed, { type: 'EvidenceDigested', data: { artifacts: sealed.artifacts, bundleDigest: sealed.bundleDigest, freshness } }]);
  } catch (err) {
    await discardUndigestedEvidence(ledger, runId, started.id, making);
    throw err;
  }
  try {
    rmSync(evidenceDir, { recursive: true, force: true });
    renameSync(making, evidenceDir);
    return evidenceDir;
  } catch {
    return making; // digested on the ledger: left where it is for the operator
  }
}

/**
 * Completes a bundle: the report (JSON and Markdown), the run's events, the trace (the harness's
 * spans, every connection, every refused command) and the freshness proof are added to `files`;
 * all are written to `dir` and sealed. What the backend could put a secret into is redacted whole.
 */
function sealWithReport(
  dir: string,
  artifactsDir: string,
  files: Record<string, string | Buffer>,
  parts: { runId: string; report: ExecutionReport; runEvents: LedgerEvent[]; spans: Span[]; endedAt: string; freshness: object; secrets: Record<string, string> },
): ReturnType<typeof sealBundle> {
  const { runId, report, endedAt, secrets } = parts;
  const traceSpans: Span[] = [
    ...parts.spans,
    ...report.connections.map((c): Span => ({ name: 'network.connect', start: c.at, end: c.at, status: c.allowed ? 'ok' : 'error', attributes: { host: c.host, port: c.port, allowed: c.allowed, method: c.method } })),
    ...report.shimAttempts.map((a): Span => ({ name: 'shim.refused', start: endedAt, end: endedAt, status: 'error', attributes: { command: a } })),
  ].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  Object.assign(files, {
    // Redacted whole, as the logs are: a span's error text (git's, say) can quote a path the backend named.
    'report.json': redact(Buffer.from(JSON.stringify(report, null, 2) + '\n'), secrets),
    'report.md': redact(Buffer.from(renderReportMarkdown(report)), secrets),
    'events.normalized.jsonl': parts.runEvents.map((e) => normalizedLine(e)).join(''),
    'trace.jsonl': redact(Buffer.from(traceSpans.map((s) => JSON.stringify({ traceId: runId, ...s }) + '\n').join('')), secrets),
    'freshness.json': JSON.stringify(parts.freshness, null, 2) + '\n',
  });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return sealBundle(dir, Object.keys(files), artifactsDir);
}

/**
 * The secrets whose value (plain or encoded, as holdsSecret finds it) is in the bytes of a changed
 * file, and whether one is where redacting the patch's text cannot cut it out (`inBinary`): in a file the
 * patch shows as binary, or in UTF-16.
 */
function secretsInFiles(root: string, paths: readonly ChangedPath[], secrets: Record<string, string>): { names: string[]; inBinary: boolean } {
  const names = new Set<string>();
  let inBinary = false;
  for (const p of paths) {
    if (p.change === 'deleted' || p.change === 'ignored' || p.unreviewable) continue;
    const abs = join(root, p.path);
    let bytes: Buffer;
    try {
      const st = lstatSync(abs);
      if (!st.isFile() || st.size > PATCH_CAP) continue;
      bytes = readFileSync(abs);
    } catch {
      continue;
    }
    const text = bytes.toString('utf8');
    // As a reader's tools decode it too: UTF-16 (with a byte-order mark, as textForReview reads it, or
    // without: the ASCII of a secret with NULs between), which the patch shows with NULs between.
    const decoded = `${textForReview(p.path, bytes) ?? ''}\n${text.replace(/\0/g, '')}`;
    for (const [name, value] of Object.entries(secrets)) {
      const plain = holdsSecret(text, value);
      if (!plain && !holdsSecret(decoded, value)) continue;
      names.add(name);
      if (!plain || looksBinary(p.path, bytes)) inBinary = true;
    }
  }
  return { names: [...names], inBinary };
}

/** What a step ran into at its caps, in words for a gate's finding. */
function limitsHit(report: LimitsReport | undefined): string[] {
  if (!report?.enforced) return [];
  return [
    ...(report.oomKills ? [`${report.oomKills} process(es) killed at the memory cap of ${report.memoryMiB} MiB`] : []),
    ...(report.forkRefusals ? [`${report.forkRefusals} fork(s) refused at the cap of ${report.processes} processes`] : []),
  ];
}

/**
 * A bundle cut short (a full disk, a failed artifact store) or sealed but never digested on the ledger
 * (its append failed) would show a report, `"status": "succeeded"` and a patch, that the ledger does not
 * hold: it is removed, unless the stream says this execution's evidence was digested after all.
 */
async function discardUndigestedEvidence(ledger: Ledger, runId: string, startedId: string, evidenceDir: string): Promise<'digested' | 'discarded' | 'unknown'> {
  try {
    const events = await ledger.store.readStream(runStream(runId));
    const from = events.findIndex((e) => e.id === startedId);
    if (from < 0) return 'unknown';
    if (events.slice(from).some((e) => e.type === 'EvidenceDigested')) return 'digested';
    rmSync(evidenceDir, { recursive: true, force: true });
    return 'discarded';
  } catch {
    // The stream cannot be read now: what is there is left for the operator to judge.
    return 'unknown';
  }
}

type Started = Extract<LedgerEvent, { type: 'ExecutionStarted' }>;

function caseExecuted(
  started: Started,
  fields: Omit<EventData<'CaseExecuted'>, 'backendId' | 'approvalEventId' | 'baseCommit' | 'isolation'>,
): Extract<EventDraft, { type: 'CaseExecuted' }> {
  const { backendId, approvalEventId, baseCommit, isolation } = started.data;
  return { type: 'CaseExecuted', data: { backendId, approvalEventId, baseCommit, isolation, ...fields } };
}

/** Facts are appended whatever happened on the stream meanwhile (an operator may have rejected the run). */
async function appendFacts(ledger: Ledger, runId: string, drafts: EventDraft[]): Promise<LedgerEvent[]> {
  const { appended } = await runCommand(ledger, {
    command: 'execute',
    stream: runStream(runId),
    actor: { kind: 'harness', id: 'cto-ledger' },
    correlationId: runId,
    decide: () => ({ kind: 'accept', events: drafts }),
  });
  return appended;
}
