import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { admitTarget } from '../../commands/admit-target.js';
import { recordApproval } from '../../commands/record-approval.js';
import { recordOutcome } from '../../commands/record-outcome.js';
import { revokeTarget } from '../../commands/revoke-target.js';
import { setBackend } from '../../commands/set-backend.js';
import { sweep } from '../../commands/sweep.js';
import { artifactPath } from '../../src/evidence/verify.js';
import { ledgerPaths } from '../../src/ledger/ledger.js';
import { hiddenFromBackends } from '../../src/harness/execute.js';
import { detectLimits } from '../../src/harness/limits.js';
import { holdsSecret } from '../../src/harness/evidence.js';
import { sandboxArgv } from '../../src/harness/sandbox.js';
import { scratchBase } from '../../src/harness/worktree.js';
import { decideExecute } from '../../commands/execute.js';
import { foldTarget } from '../../src/domain/target.js';
import { foldBackend } from '../../src/domain/backend.js';
import { GOOD_BACKEND, makeWorld } from '../fixtures/harness.js';
import { git } from '../fixtures/repos.js';
import { Refused } from '../../src/errors.js';
import { refusedGate } from '../fixtures/refusals.js';
import { tempDir } from '../fixtures/tmp.js';
import { CLI, cli } from '../fixtures/cli.js';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/main.js';
import { canonicalize, sha256Hex } from '../../src/events/hashing.js';
import { runStream } from '../../src/domain/run.js';

type World = Awaited<ReturnType<typeof makeWorld>>;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.cleanup();
});
async function world(options: Parameters<typeof makeWorld>[0] = {}) {
  const w = await makeWorld(options);
  worlds.push(w);
  return w;
}


/** Runs `work` with these environment variables set (the harness reads secrets from its own environment). */
async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await work();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The value appears in no file the run left in the ledger or its bundle, in any case. */
function leaksNowhere(w: World, evidenceDir: string, value: string): void {
  const files = [ledgerPaths(w.dir).db, ...readdirSync(evidenceDir).map((f) => join(evidenceDir, f))];
  for (const file of files) expect(readFileSync(file).toString('latin1').toLowerCase(), file).not.toContain(value.toLowerCase());
}

function noWorktrees(w: World): boolean {
  return git(w.repo.path, 'worktree', 'list').split('\n').length === 1;
}

function processesMatching(marker: string): string[] {
  const r = spawnSync('pgrep', ['-af', marker], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l && !l.includes('pgrep'));
}

/**
 * The value is recoverable from no file the run left in the ledger or its bundle, in any case, even
 * with every line break (raw, or escaped as JSON writes it) taken out, plain or base64 at any alignment.
 */
function recoverableNowhere(w: World, evidenceDir: string, value: string): void {
  const forms = [value, ...[0, 1, 2].map((pad) => Buffer.from('x'.repeat(pad) + value).toString('base64').slice(4, -4))];
  const files = [ledgerPaths(w.dir).db, ...readdirSync(evidenceDir).map((f) => join(evidenceDir, f))];
  for (const file of files) {
    const joined = readFileSync(file).toString('latin1').replace(/\r|\n|\\r|\\n/g, '').toLowerCase();
    for (const form of forms) expect(joined, `${file}: ${form}`).not.toContain(form.toLowerCase());
  }
}

const gateDetail = async (w: World, gate: string) => (await w.state()).execution!.gateResults.find((g) => g.gate === gate)!.detail;

describe('execute: the control run', () => {
  it('runs the backend in isolation, checks, validates, digests, and accepts from the evidence', async () => {
    const w = await world();
    const base = w.repo.head();
    const result = await w.execute();
    expect(result).toMatchObject({ status: 'succeeded', failedGate: null, isolation: 'bubblewrap' });
    const state = await w.state();
    expect(state.status).toBe('evidenced');
    expect(state.execution?.changedPaths).toEqual([{ path: 'src/greet.js', change: 'modified' }]);
    expect(state.execution?.gateResults.every((g) => g.ok)).toBe(true);
    // The operator's checkout was never written; the worktree is gone.
    expect(readFileSync(join(w.repo.path, 'src/greet.js'), 'utf8')).toContain('hi ');
    expect(w.repo.head()).toBe(base);
    expect(noWorktrees(w)).toBe(true);
    // The bundle verifies with the standard tool, and the patch applies on the base commit.
    const bundle = result.evidenceDir;
    for (const name of ['report.json', 'report.md', 'events.normalized.jsonl', 'trace.jsonl', 'patch.diff', 'test.log', 'backend.stdout.log', 'backend.stderr.log', 'digests.json', 'SHA256SUMS', 'freshness.json']) {
      expect(existsSync(join(bundle, name)), name).toBe(true);
    }
    expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: bundle }).status).toBe(0);
    const tmp = tempDir('cto-apply-');
    try {
      execFileSync('git', ['clone', '-q', w.repo.path, join(tmp.dir, 'c')]);
      execFileSync('git', ['-C', join(tmp.dir, 'c'), 'apply', '--check', join(bundle, 'patch.diff')]);
      execFileSync('git', ['-C', join(tmp.dir, 'c'), 'apply', join(bundle, 'patch.diff')]);
      expect(readFileSync(join(tmp.dir, 'c', 'src/greet.js'), 'utf8')).toContain('Hello, ');
    } finally {
      tmp.remove();
    }
    expect(readFileSync(join(bundle, 'test.log'), 'utf8')).toContain('ok');
    for (const a of state.evidence!.artifacts) expect(existsSync(artifactPath(ledgerPaths(w.dir).artifacts, a.sha256))).toBe(true);
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'evidence checks out' });
    expect((await w.state()).status).toBe('accepted');
  });
});

describe('execute: gates before any mutation refuse with ExecutionRefused', () => {
  const cases: Array<[string, (w: World) => Promise<void> | void, Parameters<typeof makeWorld>[0]?]> = [
    ['approval-missing', () => undefined, { approve: false }],
    ['approval-denied', async (w) => void (await recordApproval(w.ledger, { runId: w.runId, decision: 'denied', operator: 'jp', expiresInHours: 1, note: 'no' }))],
    ['approval-mismatch', (w) => w.repo.commit('README.md', 'moved on\n')],
    ['approval-expired', (w) => w.advance(25 * 3_600_000)],
    ['target-admission-stale', async (w) => void (await revokeTarget(w.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'paused' }))],
    ['backend-ineligible', async (w) => void (await setBackend(w.ledger, { backendId: 'agent', enable: false, by: 'jp', note: 'off' }))],
    ['start-tree-dirty', (w) => writeFileSync(join(w.repo.path, 'scratch.txt'), 'uncommitted\n')],
  ];
  for (const [gate, arrange, options] of cases) {
    it(gate, async () => {
      const w = await world(options);
      await arrange(w);
      expect(await refusedGate(w.execute())).toBe(gate);
      const state = await w.state();
      expect(state.lastRefusal?.gate).toBe(gate);
      expect(state.started).toBeNull();
      expect((await w.events()).at(-1)?.type).toBe('ExecutionRefused');
      expect(noWorktrees(w)).toBe(true);
    });
  }

  it('target-admission-stale: an approval given before a revocation does not survive the target being admitted again', async () => {
    const w = await world();
    await revokeTarget(w.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'handed over' });
    w.advance(1_000);
    await admitTarget(w.ledger, { path: w.repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
    const err = await w.execute().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Refused);
    expect(err).toMatchObject({ gate: 'target-admission-stale' });
    expect((err as Refused).detail).toMatch(/under an admission .* that was revoked .* approve again/);
    expect(noWorktrees(w)).toBe(true);
    // Approved again under the new admission, it runs.
    w.advance(1_000);
    await recordApproval(w.ledger, { runId: w.runId, decision: 'approved', operator: 'jp', expiresInHours: 1, note: '' });
    expect((await w.execute()).failedGate).toBeNull();
  });

  /** Makes the next repository inspection (after the command read the target's stream) run `meanwhile` first. */
  function interleave(w: World, meanwhile: () => Promise<void>) {
    const real = w.ledger.inspectRepo;
    w.ledger.inspectRepo = async (path) => {
      w.ledger.inspectRepo = real;
      await meanwhile();
      return real(path);
    };
  }
  const readmit = (w: World) =>
    admitTarget(w.ledger, { path: w.repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
  const revokeLater = (w: World) => async () => {
    await revokeTarget(w.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'handed over' });
    w.advance(1_000);
  };

  it('target-admission-stale: an approval that read the target before a revocation and was recorded after it is void', async () => {
    // The race: approve reads the admission, a revoke lands, approve appends (with a later clock time).
    const w = await world({ approve: false });
    interleave(w, revokeLater(w));
    const approval = await recordApproval(w.ledger, { runId: w.runId, decision: 'approved', operator: 'jp', expiresInHours: 1, note: '' });
    const revocation = (await w.ledger.store.readStream('target-fixture')).at(-1)!;
    expect(revocation.type).toBe('TargetAdmissionRevoked');
    expect(Date.parse(approval.recordedAt)).toBeGreaterThan(Date.parse(revocation.recordedAt));
    w.advance(1_000);
    await readmit(w);
    expect(await refusedGate(w.execute())).toBe('target-admission-stale');
    expect(noWorktrees(w)).toBe(true);
  });

  it('target-admission-stale: a target revoked while the backend ran: its change cannot be accepted after a re-admission', async () => {
    const w = await world();
    // The harness looks at the operator's checkout once before the claim and once after the backend.
    const real = w.ledger.inspectRepo;
    let calls = 0;
    w.ledger.inspectRepo = async (path) => {
      if (++calls === 2) await revokeLater(w)();
      return real(path);
    };
    expect((await w.execute()).failedGate).toBeNull();
    expect((await w.ledger.store.readStream('target-fixture')).at(-1)!.type).toBe('TargetAdmissionRevoked');
    w.advance(1_000);
    await readmit(w);
    const err = await recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'looks fine' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ gate: 'target-admission-stale' });
    // Rejecting it still works.
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'revoked meanwhile' });
    expect((await w.state()).status).toBe('rejected');
  });

  it('target-admission-stale: a revocation landing between the claim and the backend\'s start: the backend never runs', async () => {
    const w = await world({ body: `fs.writeFileSync('src/ran.txt', 'backend ran'); ${GOOD_BACKEND}` });
    const store = w.ledger.store;
    const append = store.append.bind(store);
    store.append = async (stream, events, expected) => {
      const result = await append(stream, events, expected);
      if (events[0]?.type === 'ExecutionStarted') await revokeTarget(w.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'raced' });
      return result;
    };
    const result = await w.execute();
    expect(result.failedGate).toBe('target-admission-stale');
    const state = await w.state();
    expect(state.execution!.gateResults[0]).toMatchObject({ gate: 'target-admission-stale', ok: false, detail: expect.stringMatching(/the backend was not started/) });
    expect(state.execution!.changedPaths).toEqual([]);
    expect(noWorktrees(w)).toBe(true);
  });

  it('renewing an admission without a revocation keeps the approval', async () => {
    const w = await world();
    w.advance(1_000);
    await readmit(w);
    expect((await w.execute()).failedGate).toBeNull();
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'ok' });
    expect((await w.state()).status).toBe('accepted');
  });

  it('target-admission-missing: a run whose target has no admission on the ledger (decided from the facts)', async () => {
    // No command can make such a run (admitting a contract needs the admission), so the decider is
    // given the facts directly: an empty target stream.
    const w = await world();
    const run = await w.state();
    const head = git(w.repo.path, 'rev-parse', 'HEAD');
    const facts = { now: new Date(), target: foldTarget('fixture', []), repo: { rootCommit: head, head, dirty: [] }, backend: undefined, activation: foldBackend('agent', []), isolation: 'bubblewrap' as const, limits: { available: true, detail: '' }, missingSecrets: [] };
    expect(decideExecute(run, facts, 'jp')).toMatchObject({ kind: 'refuse', gate: 'target-admission-missing' });
    const admitted = foldTarget('fixture', await w.ledger.store.readStream('target-fixture'));
    expect(decideExecute(run, { ...facts, target: admitted }, 'jp')).not.toMatchObject({ gate: 'target-admission-missing' });
  });

  it('isolation-unavailable when the contract requires isolation and the machine offers none', async () => {
    const w = await world();
    process.env.CTO_ISOLATION = 'none';
    try {
      expect(await refusedGate(w.execute())).toBe('isolation-unavailable');
    } finally {
      delete process.env.CTO_ISOLATION;
    }
    expect((await w.execute()).status).toBe('succeeded');
  });

  it('isolation-unavailable when the contract requires isolation and only unshare is to be had (the filesystem stays writable); best-effort runs under it', async () => {
    const required = await world();
    const bestEffort = await world({ contract: { isolation: 'best-effort' } });
    process.env.CTO_ISOLATION = 'unshare';
    try {
      const refused = required.execute();
      expect(await refusedGate(refused)).toBe('isolation-unavailable');
      await expect(refused).rejects.toThrow(/only unshare is to be had .*the ledger, the target checkout and its git dir/);
      expect((await required.events()).map((e) => e.type)).not.toContain('ExecutionStarted');
      const result = await bestEffort.execute();
      if (result.isolation !== 'unshare') return void console.log(`skipped: unshare is not available here (${result.isolation})`);
      expect(result.status).toBe('succeeded');
    } finally {
      delete process.env.CTO_ISOLATION;
    }
  });

  it('isolation-unavailable when the backend names process and memory limits and they cannot be enforced (CTO_LIMITS=none); without named limits it runs uncapped and says so', async () => {
    const capped = await world({ backend: { limits: { processes: 256 } } });
    const uncapped = await world();
    process.env.CTO_LIMITS = 'none';
    try {
      const refused = capped.execute();
      expect(await refusedGate(refused)).toBe('isolation-unavailable');
      await expect(refused).rejects.toThrow(/names process and memory limits in config.yaml and this machine cannot enforce them \(turned off by CTO_LIMITS=none\)/);
      expect((await capped.events()).map((e) => e.type)).not.toContain('ExecutionStarted');
      const result = await uncapped.execute();
      expect(result.status).toBe('succeeded');
      const report = JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8')) as { limits: Record<string, unknown> };
      expect(report.limits.backend).toEqual({ enforced: false, reason: 'turned off by CTO_LIMITS=none' });
    } finally {
      delete process.env.CTO_LIMITS;
    }
  });

  it('path-disallowed: names of the changed paths past 1 MiB in all; CaseExecuted keeps the first within the cap, report.json every one', async () => {
    // 300 files under a path of about 3,700 bytes (15 dirs of 240): 1.1 MB of names, each name allowed
    const w = await world({
      body: `${GOOD_BACKEND} const dir = 'src/' + Array(15).fill('d'.repeat(240)).join('/'); fs.mkdirSync(dir, { recursive: true }); for (let i = 0; i < 300; i++) fs.writeFileSync(dir + '/f' + String(i).padStart(3, '0'), 'x\\n');`,
    });
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/^301 paths changed \(\d+ bytes of names\), more than a run may change/);
    const recorded = (await w.state()).execution!.changedPaths;
    const report = JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8')) as { paths: Array<{ path: string }> };
    expect(report.paths).toHaveLength(301);
    expect(recorded.length).toBeGreaterThan(250);
    expect(recorded.length).toBeLessThan(301);
    expect(recorded.map((p) => p.path)).toEqual(report.paths.slice(0, recorded.length).map((p) => p.path));
  });

  it('approval-consumed: two executions at once, one runs and one is refused; never a second', async () => {
    const w = await world();
    const results = await Promise.allSettled([w.execute(), w.execute()]);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0]!.reason as Refused).gate).toBe('approval-consumed');
    expect(await refusedGate(w.execute())).toBe('approval-consumed');
    const types = (await w.events()).map((e) => e.type);
    expect(types.filter((t) => t === 'ExecutionStarted')).toHaveLength(1);
    expect(types.filter((t) => t === 'CaseExecuted')).toHaveLength(1);
  });
});

describe('execute: an adversarial backend fails closed after it started', () => {
  it('forbidden-action: pushing to a bare remote leaves it unchanged', async () => {
    const tmp = tempDir('cto-bare-');
    const bare = join(tmp.dir, 'remote.git');
    execFileSync('git', ['init', '-q', '--bare', bare]);
    const w = await world({
      body: `
        fs.writeFileSync('src/greet.js', 'export const greet = (n) => "Hello";\\n');
        for (const argv of [['git', 'push', 'origin', 'HEAD:refs/heads/main'], ['/usr/bin/git', 'push', ${JSON.stringify(bare)}, 'HEAD:refs/heads/stolen']]) {
          const r = cp.spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
          console.log(argv.join(' '), '->', r.status, r.stderr);
        }`,
    });
    git(w.repo.path, 'remote', 'add', 'origin', bare);
    const before = execFileSync('git', ['--git-dir', bare, 'for-each-ref']).toString();
    const result = await w.execute();
    expect(result.failedGate).toBe('forbidden-action');
    expect(execFileSync('git', ['--git-dir', bare, 'for-each-ref']).toString()).toBe(before);
    expect(await gateDetail(w, 'forbidden-action')).toMatch(/git push origin/);
    expect(readFileSync(join(result.evidenceDir, 'trace.jsonl'), 'utf8')).toMatch(/shim\.refused/);
    tmp.remove();
  });

  it('forbidden-action: a commit, by the shim or by the real git, never lands', async () => {
    const w = await world({
      body: `
        fs.writeFileSync('src/greet.js', 'x\\n');
        cp.spawnSync('git', ['commit', '-am', 'sneaky']);
        const r = cp.spawnSync('/usr/bin/git', ['-c', 'user.name=a', '-c', 'user.email=a@b', 'commit', '-am', 'sneaky'], { encoding: 'utf8' });
        console.log('real git commit ->', r.status, r.stderr);`,
    });
    const head = w.repo.head();
    const refs = git(w.repo.path, 'for-each-ref');
    const result = await w.execute();
    expect(result.failedGate).toBe('forbidden-action');
    expect(w.repo.head()).toBe(head);
    expect(git(w.repo.path, 'for-each-ref')).toBe(refs);
    expect(readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8')).toMatch(/real git commit -> [1-9]/);
  });

  it("cannot write the operator's checkout, $HOME, the ledger or the repository's hooks", async () => {
    const home = process.env.HOME ?? '/root';
    const marker = `cto-escape-${Date.now()}`;
    const w = await world();
    const targets = [join(w.repo.path, 'src', 'greet.js'), join(home, marker), join(w.dir, marker), join(w.repo.path, '.git', 'hooks', 'post-checkout')];
    writeFileSync(
      join(w.dir, '..', 'backend.mjs'),
      `import fs from 'node:fs';\nfor (const t of ${JSON.stringify(targets)}) { try { fs.writeFileSync(t, 'pwned'); console.log('wrote', t); } catch (e) { console.log('refused', t, e.code); } }\nfs.writeFileSync('src/greet.js', 'export const greet = (n) => "Hello, " + n;\\n');\n`,
    );
    const result = await w.execute();
    const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
    expect(log).toMatch(/refused/);
    expect(log).not.toMatch(/^wrote /m);
    expect(readFileSync(targets[0]!, 'utf8')).not.toContain('pwned');
    for (const t of targets.slice(1)) expect(existsSync(t), t).toBe(false);
    expect(result.status).toBe('succeeded');
  });

  it('timeout: a backend that sleeps past its limit and forks is killed with every descendant', async () => {
    const marker = `30${Math.floor(Math.random() * 1000) + 1000}`;
    const w = await world({
      contract: { limits: { backendSeconds: 2, outcomeDeadlineHours: 24 } },
      body: `cp.spawn('sh', ['-c', 'sleep ${marker}1 & setsid sleep ${marker}2 & sleep ${marker}3'], { stdio: 'ignore' }); setTimeout(() => {}, 600000);`,
    });
    const started = Date.now();
    const result = await w.execute();
    expect(result.failedGate).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await w.state()).execution?.exit.timedOut).toBe(true);
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
  });

  it('a background process left behind does not survive the run', async () => {
    const marker = `40${Math.floor(Math.random() * 1000) + 1000}`;
    const w = await world({
      body: `${GOOD_BACKEND}
        cp.spawn('setsid', ['sh', '-c', 'sleep 1; echo late > src/late.txt; sleep ${marker}'], { detached: true, stdio: 'ignore' }).unref();`,
    });
    const result = await w.execute();
    await new Promise((r) => setTimeout(r, 1500));
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
    expect(result.status).toBe('succeeded');
    expect((await w.state()).execution?.changedPaths.map((p) => p.path)).toEqual(['src/greet.js']);
  });

  it('path-disallowed: a symlink to /etc inside the allowed paths', async () => {
    const w = await world({ body: `fs.symlinkSync('/etc', 'src/etc');` });
    expect((await w.execute()).failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/symlink out of the worktree/);
  });

  it('path-disallowed: a symlink that leaves the worktree only when the links on its way are followed', async () => {
    // src/d/d/d/up is the worktree root; `up/` then five `..` stays inside on paper, and is above it on disk.
    const w = await world({
      body: `${GOOD_BACKEND}
        fs.mkdirSync('src/d/d/d', { recursive: true });
        fs.symlinkSync('../../../..', 'src/d/d/d/up');
        fs.symlinkSync('d/d/d/up/../../../../../etc/passwd', 'src/passwd');`,
    });
    expect((await w.execute()).failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/src\/passwd \(a symlink out of the worktree/);
  });

  it('path-disallowed: a file whose name is not UTF-8, which no later look by name would find', async () => {
    const w = await world({
      body: `${GOOD_BACKEND} fs.writeFileSync(Buffer.concat([Buffer.from('src/'), Buffer.from([0xff]), Buffer.from('hidden.txt')]), 'x');`,
    });
    expect((await w.execute()).failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/not UTF-8/);
  });

  it('path-disallowed: a file name with a line break, named escaped in the report', async () => {
    const w = await world({ body: `${GOOD_BACKEND} fs.writeFileSync('src/a\\nforged.js', 'x');` });
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/control characters/);
    expect(readFileSync(join(result.evidenceDir, 'report.md'), 'utf8')).toContain('`src/a\\nforged.js`');
  });

  it('path-disallowed: a nested git repository, whose files git neither lists nor patches', async () => {
    const w = await world({
      body: `${GOOD_BACKEND}
        fs.mkdirSync('src/sub/.github/workflows', { recursive: true });
        fs.writeFileSync('src/sub/.github/workflows/ci.yml', 'on: push\\n');
        const g = (...a) => cp.execFileSync('/usr/bin/git', ['-c', 'user.email=a@b', '-c', 'user.name=a', ...a], { cwd: 'src/sub' });
        g('init', '-q'); g('add', '-A'); g('commit', '-qm', 'x');`,
    });
    expect((await w.execute()).failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/src\/sub\/ \(a nested git repository/);
  });

  it('an empty nested repository, which git cannot stage, is still judged and evidenced', async () => {
    const w = await world({ body: `${GOOD_BACKEND} fs.mkdirSync('src/sub'); cp.execFileSync('/usr/bin/git', ['init', '-q'], { cwd: 'src/sub' });` });
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    const gates = (await w.state()).execution!.gateResults;
    expect(gates.find((g) => g.gate === 'end-tree-dirty')).toMatchObject({ ok: false, detail: expect.stringMatching(/the patch could not be made/) });
    expect(existsSync(join(result.evidenceDir, 'report.json'))).toBe(true);
  });

  it('validation-failed: what the backend plants in HOME does not reach the validation', async () => {
    // Python imports usercustomize from the user's site dir at startup: a planted one could exit 0.
    const py = spawnSync('python3', ['-c', 'import site; print(site.getusersitepackages())'], { encoding: 'utf8', env: { HOME: '/HOME' } });
    if (py.status !== 0) return void console.log('skipped: no python3 on this machine');
    const site = py.stdout.trim().replace(/^\/HOME\//, '');
    const w = await world({
      contract: { validation: { command: 'python3 test/missing.py', timeoutSeconds: 30 } },
      body: `${GOOD_BACKEND}
        fs.mkdirSync(process.env.HOME + '/${site}', { recursive: true });
        fs.writeFileSync(process.env.HOME + '/${site}/usercustomize.py', 'import os; os._exit(0)\\n');`,
    });
    expect((await w.execute()).failedGate).toBe('validation-failed');
  });

  for (const [what, make] of [
    ['a FIFO (reading it would block forever)', `cp.execFileSync('mkfifo', [log]);`],
    ['a link to /dev/zero (reading it would never end)', `fs.symlinkSync('/dev/zero', log);`],
  ] as const) {
    it(`forbidden-action: the shim log replaced by ${what}`, async () => {
      const w = await world({ body: `${GOOD_BACKEND} const log = process.env.CTO_SHIM_LOG + '/attempts.log'; fs.rmSync(log, { force: true }); ${make}` });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/shim-log replaced/);
    });
  }

  it('a backend that writes more output than the bundle keeps: the log is cut and says so; the run is judged as usual', async () => {
    const w = await world({ body: `${GOOD_BACKEND} const chunk = 'x'.repeat(1 << 20) + '\\n'; for (let i = 0; i < 20; i++) fs.writeSync(1, chunk);` });
    const result = await w.execute();
    expect(result.failedGate).toBeNull();
    const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'));
    expect(log.length).toBeLessThan(17 << 20);
    expect(log.subarray(-200).toString()).toMatch(/cut at 16777216 bytes of 2097\d{4}/);
  });

  it('path-disallowed: a change outside the allowed globs', async () => {
    const w = await world({ body: `fs.writeFileSync('README.md', 'rewritten\\n'); ${GOOD_BACKEND}` });
    expect((await w.execute()).failedGate).toBe('path-disallowed');
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/README\.md/);
  });

  it('forbidden-action: editing .github/workflows/ci.yml while .github/** is allowed (forbidden wins)', async () => {
    const w = await world({
      contract: { allowedPaths: ['src/**', '.github/**'] },
      body: `fs.mkdirSync('.github/workflows', { recursive: true }); fs.writeFileSync('.github/workflows/ci.yml', 'on: push\\n'); ${GOOD_BACKEND}`,
    });
    expect((await w.execute()).failedGate).toBe('forbidden-action');
    expect(await gateDetail(w, 'forbidden-action')).toMatch(/ci\.yml/);
    expect(await gateDetail(w, 'path-disallowed')).toBe('none outside the allowed paths but the forbidden ones above');
  });

  it('forbidden-action: a credential file inside the allowed paths', async () => {
    const w = await world({ body: `fs.writeFileSync('src/.env.production', 'TOKEN=x\\n'); ${GOOD_BACKEND}` });
    expect((await w.execute()).failedGate).toBe('forbidden-action');
  });

  it('validation-failed: the validation command fails on the change; the run can then only be rejected', async () => {
    const w = await world({ body: `fs.writeFileSync('src/greet.js', 'export const greet = (n) => "bye";\\n');` });
    const result = await w.execute();
    expect(result.failedGate).toBe('validation-failed');
    expect(readFileSync(join(result.evidenceDir, 'test.log'), 'utf8')).toMatch(/bad greeting/);
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('validation-failed');
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'failed closed' });
    expect((await w.state()).status).toBe('rejected');
  });

  it('provider-failure: the backend exits non-zero', async () => {
    const w = await world({ body: `console.error('model provider unavailable'); process.exit(3);` });
    expect((await w.execute()).failedGate).toBe('provider-failure');
  });

  it('provider-failure: the backend cannot start', async () => {
    const w = await world({ backend: { command: ['/nonexistent/agent'] } });
    expect((await w.execute()).failedGate).toBe('provider-failure');
  });

  it('end-tree-dirty: the backend leaves a file the patch cannot carry (ignored by git)', async () => {
    const w = await world({ body: `${GOOD_BACKEND} fs.writeFileSync('src/debug.log', 'notes');` });
    expect((await w.execute()).failedGate).toBe('end-tree-dirty');
    expect(await gateDetail(w, 'end-tree-dirty')).toMatch(/debug\.log/);
  });

  it('passes only the secrets its config names, redacts them from logs, never records them', () =>
    withEnv({ AGENT_TEST_TOKEN: 'sk-test-4242424242', AGENT_OTHER_SECRET: 'should-not-pass' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `console.log('token is', process.env.AGENT_TEST_TOKEN, 'other', process.env.AGENT_OTHER_SECRET ?? 'absent'); ${GOOD_BACKEND}`,
      });
      const result = await w.execute();
      const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
      expect(log).toContain('token is [redacted:AGENT_TEST_TOKEN]');
      expect(log).toContain('other absent');
      leaksNowhere(w, result.evidenceDir, 'sk-test-4242424242');
    }));
});

describe.skipIf(!detectLimits().available)('execute: the process and memory caps of a run', () => {
  it('a backend filling RAM through the worktree is killed at its memory cap, and the report says so', async () => {
    const w = await world({
      backend: { limits: { processes: 64, memoryMiB: 128 } },
      body: `const mb = Buffer.alloc(1 << 20, 7); const fd = fs.openSync('src/big.bin', 'w'); for (let i = 0; i < 400; i++) fs.writeSync(fd, mb);`,
    });
    const result = await w.execute();
    expect(result).toMatchObject({ status: 'failed-closed', failedGate: 'provider-failure' });
    expect(await gateDetail(w, 'provider-failure')).toMatch(/killed at the memory cap of 128 MiB/);
    const report = JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8')) as { limits: Record<string, { enforced: boolean; oomKills: number }> };
    expect(report.limits.backend).toMatchObject({ enforced: true, processes: 64, memoryMiB: 128 });
    expect(report.limits.backend!.oomKills).toBeGreaterThan(0);
    expect(readFileSync(join(result.evidenceDir, 'report.md'), 'utf8')).toMatch(/## Limits[\s\S]*backend: at most 64 processes and 128 MiB/);
  });

  it('the control run reports the caps of the backend and the validation', async () => {
    const w = await world();
    const result = await w.execute();
    expect(result.status).toBe('succeeded');
    const report = JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8')) as { limits: Record<string, { enforced: boolean; processes: number }> };
    expect(report.limits.backend).toMatchObject({ enforced: true, processes: 4096, oomKills: 0, forkRefusals: 0 });
    expect(report.limits.validation).toMatchObject({ enforced: true });
  });
});

describe('execute: a secret written into the change, or into what the backend did', () => {
  it('forbidden-action: its value in a file name or content fails the run, and never reaches the ledger or the bundle', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-5151515151' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        // Lower-cased, in a name only: found as redaction finds it, in any case.
        body: `${GOOD_BACKEND} fs.writeFileSync('src/leak-' + process.env.AGENT_TEST_TOKEN.toLowerCase() + '.txt', 'token\\n');`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/carries the value of secret AGENT_TEST_TOKEN/);
      expect((await w.state()).execution!.changedPaths.map((p) => p.path)).toContain('src/leak-[redacted:AGENT_TEST_TOKEN].txt');
      leaksNowhere(w, result.evidenceDir, 'Sk-Mixed-5151515151');
    }));

  it('forbidden-action: its value base64-encoded in the change fails the run, and the encoded form is kept only redacted', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-6262626262' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND} fs.writeFileSync('src/config.js', 'export const blob = "' + Buffer.from('x' + process.env.AGENT_TEST_TOKEN).toString('base64') + '";\\n');`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/carries the value of secret AGENT_TEST_TOKEN/);
      const encoded = Buffer.from('xSk-Mixed-6262626262').toString('base64').slice(2, -2);
      leaksNowhere(w, result.evidenceDir, encoded);
      expect(readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8')).toContain('[redacted:AGENT_TEST_TOKEN]');
    }));

  it('forbidden-action: its value base64-encoded and wrapped at 76 columns (as base64(1) writes it) fails the run, and no patch holding it is kept', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-6464646464' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND} fs.writeFileSync('src/blob.txt', Buffer.from('x'.repeat(50) + process.env.AGENT_TEST_TOKEN).toString('base64').replace(/.{76}/g, '$&\\n') + '\\n');`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/carries the value of secret AGENT_TEST_TOKEN/);
      const patchFile = join(result.evidenceDir, 'patch.diff');
      const kept = existsSync(patchFile) ? readFileSync(patchFile, 'utf8') : '';
      expect(holdsSecret(kept, 'Sk-Mixed-6464646464')).toBe(false);
    }));

  it('is redacted from the logs when the backend prints it wrapped across lines: base64 at 76 columns, the value split by LF or CRLF', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-8181818181-wrapped' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND}
          const t = process.env.AGENT_TEST_TOKEN;
          for (const pad of ['', 'x', 'xy']) console.log(Buffer.from('header '.repeat(10) + pad + t).toString('base64').replace(/.{76}/g, '$&\\n'));
          console.log('token: ' + t.slice(0, 9) + '\\n' + t.slice(9));
          process.stderr.write('token: ' + t.slice(0, 12) + '\\r\\n' + t.slice(12) + '\\r\\n');
          process.stderr.write(cp.execFileSync('base64', { input: t }).toString() + cp.execFileSync('base64', ['-w', '7'], { input: 'abc' + t }).toString());`,
      });
      const result = await w.execute();
      expect(result.status).toBe('succeeded');
      for (const log of ['backend.stdout.log', 'backend.stderr.log']) expect(readFileSync(join(result.evidenceDir, log), 'utf8'), log).toContain('[redacted:AGENT_TEST_TOKEN]');
      expect(readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8')).toContain('token: [redacted:AGENT_TEST_TOKEN]\n');
      recoverableNowhere(w, result.evidenceDir, 'Sk-Mixed-8181818181-wrapped');
    }));

  it('forbidden-action: its value split by a newline in a file name fails the run, and is recoverable from nothing kept', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-9191919191-split' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND} const t = process.env.AGENT_TEST_TOKEN; fs.writeFileSync('src/n-' + t.slice(0, 10) + '\\n' + t.slice(10), 'x\\n');`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/carries the value of secret AGENT_TEST_TOKEN/);
      expect((await w.state()).execution!.changedPaths.map((p) => p.path)).toContain('src/n-[redacted:AGENT_TEST_TOKEN]\n');
      recoverableNowhere(w, result.evidenceDir, 'Sk-Mixed-9191919191-split');
    }));

  it('forbidden-action: its value in base32, as a hex dump (xxd, hexdump -C), or reversed in the change fails the run, and is kept only redacted', async () => {
    const secret = 'Sk-Mixed-2727272727-encoded';
    const encoders = {
      base32: `cp.execFileSync('base32', { input: 'ab' + t }).toString()`,
      'base32, lower case, no padding': `cp.execFileSync('base32', ['-w', '0'], { input: t }).toString().toLowerCase().replace(/=/g, '')`,
      xxd: `cp.execFileSync('xxd', { input: 'header: ' + t }).toString()`,
      'hexdump -C': `cp.execFileSync('hexdump', ['-C'], { input: t + '\\n' }).toString()`,
      reversed: `[...t].reverse().join('')`,
    };
    for (const [name, encode] of Object.entries(encoders)) {
      await withEnv({ AGENT_TEST_TOKEN: secret }, async () => {
        const w = await world({
          backend: { secrets: ['AGENT_TEST_TOKEN'] },
          body: `${GOOD_BACKEND} const t = process.env.AGENT_TEST_TOKEN; fs.writeFileSync('src/blob.txt', ${encode} + '\\n');`,
        });
        const result = await w.execute();
        expect(result.failedGate, name).toBe('forbidden-action');
        expect(await gateDetail(w, 'forbidden-action'), name).toMatch(/carries the value of secret AGENT_TEST_TOKEN/);
        const patch = readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8');
        expect(patch, name).toContain('[redacted:AGENT_TEST_TOKEN]');
        expect(holdsSecret(patch, secret), name).toBe(false);
      });
    }
  });

  it('is redacted from the logs when the backend prints it in base32, as a hex dump or reversed, and the run succeeds', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-3737373737-encoded' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND}
          const t = process.env.AGENT_TEST_TOKEN;
          for (const [tool, args] of [['base32', []], ['xxd', []], ['xxd', ['-p']], ['hexdump', ['-C']], ['od', ['-A', 'x', '-t', 'x1z']], ['rev', []]]) {
            process.stdout.write(cp.execFileSync(tool, args, { input: 'log line: ' + t + '\\n' }).toString());
          }
          process.stderr.write(cp.execFileSync('od', ['-x'], { input: 'x' + t }).toString());`,
      });
      const result = await w.execute();
      expect(result.status).toBe('succeeded');
      const hex = Buffer.from('Sk-Mixed-3737373737-encoded').toString('hex');
      for (const log of ['backend.stdout.log', 'backend.stderr.log']) {
        const text = readFileSync(join(result.evidenceDir, log), 'utf8');
        expect(text, log).toContain('[redacted:AGENT_TEST_TOKEN]');
        expect(holdsSecret(text, 'Sk-Mixed-3737373737-encoded'), log).toBe(false);
        // no 6 bytes of it in hex left on any line, in byte order or swapped in 16-bit words
        for (const line of text.split('\n')) {
          const digits = line.replace(/^[0-9a-f]+:?\s/i, '').replace(/[^0-9a-f]/gi, '').toLowerCase();
          for (const order of [hex, hex.replace(/(..)(..)/g, '$2$1'), hex.slice(2).replace(/(..)(..)/g, '$2$1')]) {
            for (let i = 0; i + 12 <= order.length; i += 2) expect(digits, `${log}: ${line}`).not.toContain(order.slice(i, i + 12));
          }
        }
      }
      recoverableNowhere(w, result.evidenceDir, 'Sk-Mixed-3737373737-encoded');
    }));

  it('a realistic clean change, with hashes, a lock file and base64 blobs unrelated to the secret, passes', () =>
    withEnv({ AGENT_TEST_TOKEN: 'sk-live-Q7w8E9r0T1y2U3i4O5p6A7s8D9f0' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND}
          const crypto = await import('node:crypto');
          const h = (alg, i, enc) => crypto.createHash(alg).update('pkg-' + i).digest(enc);
          const packages = {};
          for (let i = 0; i < 200; i++) packages['node_modules/pkg-' + i] = { version: '1.' + i + '.0', resolved: 'https://registry.npmjs.org/pkg-' + i + '/-/pkg-' + i + '-1.' + i + '.0.tgz', integrity: 'sha512-' + h('sha512', i, 'base64') };
          fs.writeFileSync('src/package-lock.json', JSON.stringify({ name: 'app', lockfileVersion: 3, packages }, null, 2) + '\\n');
          fs.writeFileSync('src/SHA256SUMS', Array.from({ length: 200 }, (_, i) => h('sha256', i, 'hex') + '  dist/file-' + i + '.js').join('\\n') + '\\n');
          fs.writeFileSync('src/icon.js', 'export const icon = "data:image/png;base64,' + crypto.randomBytes(3000).toString('base64') + '";\\n');
          fs.writeFileSync('src/fixture.hex', cp.execFileSync('xxd', { input: crypto.randomBytes(4096) }).toString());
          fs.writeFileSync('src/totp.js', 'export const demoSeed = "' + cp.execFileSync('base32', ['-w', '0'], { input: crypto.randomBytes(20) }).toString() + '";\\nexport const table = [31, 32, 33, 34, 35, 36, 37, 38, 39, 40];\\n');`,
      });
      const result = await w.execute();
      expect(result).toMatchObject({ status: 'succeeded', failedGate: null });
      expect(readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8')).not.toContain('[redacted:');
    }));

  it('is redacted from a verdict that quotes a symlink target holding it, before the ledger', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-6363636363' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND} fs.symlinkSync('/tmp/' + process.env.AGENT_TEST_TOKEN, 'src/cache');`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'path-disallowed')).toMatch(/-> \/tmp\/\[redacted:AGENT_TEST_TOKEN\]/);
      leaksNowhere(w, result.evidenceDir, 'Sk-Mixed-6363636363');
    }));

  it('is redacted from refused commands and failure details before the ledger or the bundle', () =>
    withEnv({ AGENT_TEST_TOKEN: 'Sk-Mixed-7373737373' }, async () => {
      const w = await world({
        backend: { secrets: ['AGENT_TEST_TOKEN'] },
        body: `${GOOD_BACKEND}
          try { cp.execFileSync('git', ['push', 'origin-' + process.env.AGENT_TEST_TOKEN], { stdio: 'ignore' }); } catch {}
          fs.mkdirSync('src/d-' + process.env.AGENT_TEST_TOKEN); cp.execFileSync('/usr/bin/git', ['init', '-q'], { cwd: 'src/d-' + process.env.AGENT_TEST_TOKEN });`,
      });
      const result = await w.execute();
      expect(result.failedGate).toBe('forbidden-action');
      expect(await gateDetail(w, 'forbidden-action')).toMatch(/git push origin-\[redacted:AGENT_TEST_TOKEN\]/);
      // The empty nested repository makes git fail with the dir's name in its message.
      expect(await gateDetail(w, 'end-tree-dirty')).toMatch(/the patch could not be made: .*\[redacted:AGENT_TEST_TOKEN\]/);
      leaksNowhere(w, result.evidenceDir, 'Sk-Mixed-7373737373');
    }));
});

describe('execute: a harness killed mid-run', () => {
  it('leaves the run executing, and status says no harness is running it any more', async () => {
    const w = await world({ body: `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15000); ${GOOD_BACKEND}` });
    const scratch = tempDir('cto-scratch-');
    const harness = spawn(process.execPath, [CLI, '--ledger', w.dir, 'execute', w.runId], {
      stdio: 'ignore',
      env: { ...process.env, CTO_OPERATOR: 'jp', CTO_SCRATCH_DIR: scratch.dir },
    });
    const exited = new Promise((resolve) => harness.on('exit', resolve));
    try {
      const status = () => JSON.parse(cli(['--ledger', w.dir, 'status', w.runId, '--json']).stdout) as { status: string; harness?: string };
      let seen = status();
      for (let i = 0; i < 100 && seen.harness !== 'running'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        seen = status();
      }
      expect(seen).toMatchObject({ status: 'executing', harness: 'running' });
      harness.kill('SIGKILL');
      await exited;
      expect(status()).toMatchObject({ status: 'executing', harness: 'gone' });
      expect(cli(['--ledger', w.dir, 'status', w.runId]).stdout).toMatch(/no harness is running it/);
      // The operator closes it; the approval was spent and stays spent.
      expect(cli(['--ledger', w.dir, 'outcome', w.runId, '--reject', '--reason', 'harness killed']).code).toBe(0);
      expect((await w.state()).status).toBe('rejected');
      // The dead harness's marker by the ledger goes with it.
      expect(readdirSync(join(w.dir, 'executing'))).toEqual([]);
      // Its scratch dir (the worktree) was left behind; the next run on this machine removes it.
      expect(readdirSync(scratch.dir)).toHaveLength(1);
      process.env.CTO_SCRATCH_DIR = scratch.dir;
      const next = await world();
      await next.execute();
      for (let i = 0; i < 100 && readdirSync(scratch.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(scratch.dir)).toEqual([]);
    } finally {
      delete process.env.CTO_SCRATCH_DIR;
      harness.kill('SIGKILL');
      scratch.remove();
    }
  });
});

describe('outcome after execution', () => {
  it('target-admission-stale: no change is accepted into a target revoked since; rejecting it still closes the run', async () => {
    const w = await world();
    await w.execute();
    await revokeTarget(w.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'handed over' });
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('target-admission-stale');
    // Admitted again: the revocation still stands between this execution and its acceptance.
    w.advance(1_000);
    await admitTarget(w.ledger, { path: w.repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('target-admission-stale');
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'target handed over' });
    expect((await w.state()).status).toBe('rejected');
  });

  it('evidence-stale when an artifact no longer hashes, or the target moved', async () => {
    const w = await world();
    await w.execute();
    const state = await w.state();
    const patch = state.evidence!.artifacts.find((a) => a.name === 'patch.diff')!;
    const file = artifactPath(ledgerPaths(w.dir).artifacts, patch.sha256);
    const original = readFileSync(file);
    execFileSync('chmod', ['u+w', file]);
    writeFileSync(file, 'tampered');
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('evidence-stale');
    writeFileSync(file, original);
    // The bundle's copy, which the operator is told to apply, is checked as well.
    const bundled = join(w.dir, 'evidence', w.runId, 'patch.diff');
    const reviewed = readFileSync(bundled);
    execFileSync('chmod', ['u+w', bundled]);
    writeFileSync(bundled, Buffer.concat([reviewed, Buffer.from('diff --git a/test/x b/test/x\n')]));
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('evidence-stale');
    writeFileSync(bundled, reviewed);
    // A bundle that is gone is not the evidence either.
    rmSync(bundled);
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('evidence-stale');
    writeFileSync(bundled, reviewed);
    w.repo.commit('README.md', 'moved\n');
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'x' }))).toBe('evidence-stale');
  });

  it('outcome-missing: past the outcome deadline nothing is started or accepted, before sweep runs', async () => {
    const w = await world({ contract: { limits: { backendSeconds: 20, outcomeDeadlineHours: 1 } } });
    await w.execute();
    w.advance(2 * 3_600_000);
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'late' }))).toBe('outcome-missing');
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'late' });
    expect((await w.state()).status).toBe('rejected');
    const late = await world({ contract: { limits: { backendSeconds: 20, outcomeDeadlineHours: 1 } } });
    late.advance(2 * 3_600_000);
    expect(await refusedGate(late.execute())).toBe('outcome-missing');
    expect(noWorktrees(late)).toBe(true);
  });

  it('outcome-missing: sweep closes runs past their deadline, rejected', async () => {
    const w = await world();
    await w.execute();
    expect(await sweep(w.ledger)).toEqual([]);
    w.advance(25 * 3_600_000);
    expect(await sweep(w.ledger)).toEqual([w.runId]);
    expect((await w.state()).outcome).toMatchObject({ decision: 'rejected', gate: 'outcome-missing' });
    // The list names the gate that closed it.
    expect((await w.state()).lastRefusal).toMatchObject({ gate: 'outcome-missing', command: 'sweep' });
    expect(await sweep(w.ledger)).toEqual([]);
  });
});

describe('execute: what the host offers stays out of reach', () => {
  it.each([
    ['/run (docker, dbus, agents)', '/run'],
    ['/var (where services keep theirs)', '/var/tmp'],
  ])('a host unix socket under %s cannot be reached', async (_, dir) => {
    const { createServer } = await import('node:net');
    const socket = `${dir}/cto-test-${process.pid}.sock`;
    const server = createServer((c) => c.end('HOST SECRET\n'));
    await new Promise<void>((r) => server.listen(socket, r));
    try {
      const w = await world({
        body: `const net = await import('node:net');
          const s = net.connect(${JSON.stringify(socket)});
          s.on('data', (d) => console.log('got', String(d)));
          s.on('error', (e) => console.log('socket error', e.code));
          await new Promise((r) => setTimeout(r, 300));
          ${GOOD_BACKEND}`,
      });
      const result = await w.execute();
      const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
      expect(log).toMatch(/socket error ENOENT/);
      expect(log).not.toMatch(/HOST SECRET/);
    } finally {
      server.close();
    }
  });

  it("the operator's home directory is empty to the backend (keys, tokens), and its own program still runs", async () => {
    const secretFile = join(homedir(), `.cto-test-secret-${process.pid}`);
    const agentDir = join(homedir(), `.cto-test-agent-${process.pid}`);
    writeFileSync(secretFile, 'HOME SECRET TOKEN\n');
    mkdirSync(agentDir, { recursive: true });
    writeFileSync(join(agentDir, 'lib.mjs'), "export const name = 'agent library';\n");
    try {
      const w = await world({
        backend: { readOnlyPaths: [agentDir] },
        body: `console.log('loaded', (await import(${JSON.stringify(join(agentDir, 'lib.mjs'))})).name);
          for (const f of [${JSON.stringify(secretFile)}, ${JSON.stringify(join(homedir(), '.ssh'))}]) {
            try { console.log('read', f, String(fs.readFileSync(f))); } catch (e) { console.log('hidden', f, e.code); }
          }
          console.log('home entries', fs.readdirSync(${JSON.stringify(homedir())}).length);
          ${GOOD_BACKEND}`,
      });
      const result = await w.execute();
      const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
      expect(log).toContain(`hidden ${secretFile} ENOENT`);
      expect(log).not.toContain('HOME SECRET TOKEN');
      // Only what the config binds back shows: the agent's own library, nothing else of the home.
      expect(log).toMatch(/home entries 1/);
      expect(log).toContain('loaded agent library');
      expect((await w.state()).status).toBe('evidenced');
    } finally {
      rmSync(secretFile, { force: true });
      rmSync(agentDir, { recursive: true, force: true });
    }
  });

  it("the operator's checkout is empty to the backend, wherever it is (its untracked .env), and git still works", async () => {
    // Under /tmp or a home it would be hidden anyway: put it where nothing else hides it.
    const base = '/opt';
    let outside: string;
    try {
      outside = mkdtempSync(join(base, 'cto-ledger-test-'));
    } catch {
      return void console.log(`skipped: cannot make a dir under ${base} on this machine`);
    }
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = outside;
    try {
      const w = await world({
        body: `const gitdir = fs.readFileSync('.git', 'utf8').match(/gitdir: (.*)\\/\\.git\\/worktrees\\//)[1];
          try { console.log('read', String(fs.readFileSync(gitdir + '/.env'))); } catch (e) { console.log('hidden', e.code); }
          console.log('git', cp.execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim().length);
          ${GOOD_BACKEND}`,
      });
      expect(w.repo.path.startsWith(outside)).toBe(true);
      writeFileSync(join(w.repo.path, '.env'), 'OPERATOR SECRET\n');
      writeFileSync(join(w.repo.path, '.git', 'info', 'exclude'), '.env\n');
      const result = await w.execute();
      const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
      expect(log).toContain('hidden ENOENT');
      expect(log).not.toContain('OPERATOR SECRET');
      expect(log).toContain('git 40');
      expect(result.failedGate).toBeNull();
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('hides the home, the ledger and other places from the sandbox argv, binds listed paths back', () => {
    const hidden = hiddenFromBackends('/srv/ledger-that-does-not-exist');
    expect(hidden).toContain(homedir());
    expect(hidden).not.toContain('/srv/ledger-that-does-not-exist');
    const argv = sandboxArgv(
      { argv: ['agent'], cwd: '/tmp/wt', readOnly: ['/root/agent'], hidden: ['/root'], env: {}, stdoutFile: '/dev/null', stderrFile: '/dev/null', timeoutMs: 1000, isolation: 'bubblewrap', network: 'none' },
      null,
    );
    // The tmpfs comes before the binds, so a path bound back under it stays visible.
    expect(argv.indexOf('/root')).toBeLessThan(argv.indexOf('/root/agent'));
    expect(argv.slice(argv.indexOf('/root') - 1, argv.indexOf('/root') + 1)).toEqual(['--tmpfs', '/root']);
  });

  it('checks the worktree out where CTO_SCRATCH_DIR says (else /dev/shm when roomy), and removes it and older trash after', async () => {
    const scratch = tempDir('cto-scratch-');
    process.env.CTO_SCRATCH_DIR = scratch.dir;
    // Trash a process that ended too soon left behind: swept by the next run.
    mkdirSync(join(scratch.dir, 'cto-run-01JD0000000000000000000000-abcdef.removed', 'src'), { recursive: true });
    try {
      const w = await world({ body: `console.log('cwd', process.cwd()); ${GOOD_BACKEND}` });
      const result = await w.execute();
      expect(readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8')).toContain(`cwd ${scratch.dir}/cto-run-${w.runId}-`);
      expect(result.status).toBe('succeeded');
      for (let i = 0; i < 100 && readdirSync(scratch.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(scratch.dir)).toEqual([]);
    } finally {
      delete process.env.CTO_SCRATCH_DIR;
      scratch.remove();
    }
    expect([tmpdir(), '/dev/shm']).toContain(scratchBase());
  });

  it('removes a worktree the backend nested past PATH_MAX (which Node\'s rm cannot delete)', async () => {
    const scratch = tempDir('cto-scratch-');
    process.env.CTO_SCRATCH_DIR = scratch.dir;
    try {
      const w = await world({ body: `process.chdir('src'); for (let i = 0; i < 500; i++) { fs.mkdirSync('dddddddddd'); process.chdir('dddddddddd'); }` });
      await w.execute();
      for (let i = 0; i < 200 && readdirSync(scratch.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(readdirSync(scratch.dir)).toEqual([]);
    } finally {
      delete process.env.CTO_SCRATCH_DIR;
      spawnSync('rm', ['-rf', scratch.dir]);
    }
  });

  it("end-tree-dirty: the operator's checkout changes while the backend runs", async () => {
    const w = await world({ body: `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); ${GOOD_BACKEND}` });
    const running = w.execute();
    await new Promise((r) => setTimeout(r, 700));
    writeFileSync(join(w.repo.path, 'operator-notes.txt'), 'edited during the run\n');
    expect((await running).failedGate).toBe('end-tree-dirty');
    expect(await gateDetail(w, 'end-tree-dirty')).toMatch(/operator-notes\.txt/);
  });

  it('shows a text change as text in the patch even when the tree marks it -diff', async () => {
    const w = await world({ files: { '.gitattributes': '*.js -diff\n', 'src/greet.js': 'export const greet = (n) => `hi ${n}`;\n', 'test/check.mjs': "console.log('ok');\n" } });
    const result = await w.execute();
    const patch = readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8');
    expect(patch).not.toMatch(/Binary files/);
    expect(patch).toMatch(/^\+export const greet = \(n\) => `Hello, \$\{n\}!`;$/m);
  });

  it('shows a source file with a NUL (and a byte that is not UTF-8) in it as text, not as a binary patch', async () => {
    const w = await world({ body: `fs.writeFileSync('src/greet.js', Buffer.from('/*\\u0000\\u00ff*/ globalThis.UNSEEN = 1; export const greet = (n) => \`Hello, \${n}!\`;\\n', 'latin1'));` });
    const result = await w.execute();
    const patch = readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8');
    expect(patch).not.toMatch(/GIT binary patch/);
    expect(patch).toMatch(/^\+\/\*\u0000.\*\/ globalThis\.UNSEEN = 1;/m);
    const tmp = tempDir('cto-apply-');
    try {
      execFileSync('git', ['clone', '-q', w.repo.path, join(tmp.dir, 'c')]);
      execFileSync('git', ['-C', join(tmp.dir, 'c'), 'apply', join(result.evidenceDir, 'patch.diff')]);
      expect(readFileSync(join(tmp.dir, 'c', 'src/greet.js'), 'latin1')).toContain('/*\u0000\u00ff*/ globalThis.UNSEEN = 1;');
    } finally {
      tmp.remove();
    }
  });
});

describe('execute: the contract setup step', () => {
  it('runs before the backend; what it leaves ignored is not the backend\'s; its log is evidence', async () => {
    const w = await world({ contract: { setup: { command: 'mkdir -p src/vendor.log && echo installed > src/vendor.log/dep.txt && echo setup-done', timeoutSeconds: 30 } } });
    const result = await w.execute();
    expect(result.status).toBe('succeeded');
    expect(readFileSync(join(result.evidenceDir, 'setup.log'), 'utf8')).toContain('setup-done');
    expect((await w.state()).evidence!.artifacts.map((a) => a.name)).toContain('setup.log');
  });

  it("what the setup left is the validation's: the backend cannot change it to make the validation pass", async () => {
    // The setup installs the checker (ignored by git, as node_modules is); the backend, which does not
    // fix the code, rewrites the checker to exit 0. It must fail to, and the validation must fail.
    const w = await world({
      contract: {
        setup: { command: "mkdir -p src/deps.log && printf 'import \"../../test/check.mjs\";\\n' > src/deps.log/checker.mjs", timeoutSeconds: 30 },
        validation: { command: 'node src/deps.log/checker.mjs', timeoutSeconds: 30 },
      },
      body: `try { fs.writeFileSync('src/deps.log/checker.mjs', 'process.exit(0);\\n'); console.log('rewrote'); } catch (e) { console.log('refused', e.code); }
        try { fs.writeFileSync('src/deps.log/extra.mjs', 'x'); } catch (e) { console.log('refused', e.code); }`,
    });
    const result = await w.execute();
    expect(readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8')).toMatch(/refused EROFS/);
    expect(result.failedGate).toBe('validation-failed');
  });

  it("without bubblewrap nothing binds the setup's output read-only: a change to it is found by digest (end-tree-dirty)", () =>
    withEnv({ CTO_ISOLATION: 'unshare' }, async () => {
      const w = await world({
        contract: { isolation: 'best-effort', setup: { command: "mkdir -p src/deps.log && echo 'export {};' > src/deps.log/checker.mjs", timeoutSeconds: 30 } },
        body: `${GOOD_BACKEND} fs.writeFileSync('src/deps.log/checker.mjs', 'process.exit(0);\\n');`,
      });
      const result = await w.execute();
      if (result.isolation !== 'unshare') return void console.log(`skipped: unshare is not available here (${result.isolation})`);
      expect(result.failedGate).toBe('end-tree-dirty');
      expect(await gateDetail(w, 'end-tree-dirty')).toMatch(/src\/deps\.log/);
    }));

  it("path-disallowed: files written into a submodule's (unpopulated) path, which git neither lists nor patches", async () => {
    const lib = tempDir('cto-sublib-');
    try {
      git(lib.dir, 'init', '-q', '-b', 'main');
      writeFileSync(join(lib.dir, 'index.mjs'), 'export const ok = () => false;\n');
      git(lib.dir, 'add', '-A');
      git(lib.dir, 'commit', '-q', '-m', 'lib');
      const w = await world({
        body: `fs.writeFileSync('vendor/lib/index.mjs', 'export const ok = () => true;\\n'); ${GOOD_BACKEND}`,
        contract: { validation: { command: "node -e \"import('./vendor/lib/index.mjs').then((m) => process.exit(m.ok() ? 0 : 1))\"", timeoutSeconds: 30 } },
      });
      execFileSync('git', ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib.dir, 'vendor/lib'], { cwd: w.repo.path });
      git(w.repo.path, 'commit', '-q', '-m', 'submodule');
      await recordApproval(w.ledger, { runId: w.runId, decision: 'approved', operator: 'jp', expiresInHours: 24, note: 'at the new head' });
      const result = await w.execute();
      expect(result.failedGate).toBe('path-disallowed');
      expect(await gateDetail(w, 'path-disallowed')).toMatch(/vendor\/lib \(files in a submodule's path/);
    } finally {
      lib.remove();
    }
  });

  it('path-disallowed: a change that hides code from a reader of patch.diff (a lone CR); a binary file is not read as text', async () => {
    const w = await world({
      body: `fs.writeFileSync('src/greet.js', 'globalThis.X = 1;\\r// formatting only\\nexport const greet = (n) => \`Hello, \${n}!\`;\\n');
        fs.writeFileSync('src/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x1b, 0x0d, 0xff, 0xfe]));`,
    });
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    const detail = await gateDetail(w, 'path-disallowed');
    expect(detail).toMatch(/src\/greet\.js \(content with characters that hide code/);
    expect(detail).not.toMatch(/logo\.png/);
  });

  it('end-tree-dirty, with evidence: a patch over the cap (here 300 MB of text) is not kept, and does not crash the harness', async () => {
    const w = await world({
      body: `const line = Buffer.from('x'.repeat(79) + '\\n'); const buf = Buffer.alloc(80 * 3_800_000);
        for (let i = 0; i < 3_800_000; i++) line.copy(buf, i * 80);
        fs.writeFileSync('src/big.txt', buf); ${GOOD_BACKEND}`,
    });
    const result = await w.execute();
    expect(result.failedGate).toBe('end-tree-dirty');
    expect(await gateDetail(w, 'end-tree-dirty')).toMatch(/the patch is \d+ bytes, more than the 268435456/);
    expect(readFileSync(join(result.evidenceDir, 'patch.diff')).length).toBe(0);
  }, 60_000);

  it('path-disallowed, with evidence: a tree nested past PATH_MAX does not crash the inspection, and the attempts are kept', async () => {
    const w = await world({
      body: `try { cp.execFileSync('git', ['push', 'origin', 'main'], { stdio: 'ignore' }); } catch {}
        process.chdir('src'); for (let i = 0; i < 500; i++) { fs.mkdirSync('dddddddddd'); process.chdir('dddddddddd'); } fs.writeFileSync('x.js', '1');`,
    });
    const result = await w.execute();
    expect(result.status).toBe('failed-closed');
    expect(existsSync(join(result.evidenceDir, 'report.json'))).toBe(true);
    expect((await w.state()).execution!.gateResults.find((g) => g.gate === 'forbidden-action')!.detail).toMatch(/git push/);
    expect(await gateDetail(w, 'path-disallowed')).toMatch(/could not look into \(ENAMETOOLONG\)/);
  });

  it('path-disallowed: files kept under a .git that is not the tree\'s own, which git neither lists nor patches', async () => {
    const w = await world({
      body: `fs.mkdirSync('src/v/.GIT', { recursive: true });
        fs.writeFileSync('src/v/.GIT/impl.js', 'export const greet = (n) => \`Hello, \${n}!\`;\\n');
        fs.rmSync('src/greet.js'); fs.symlinkSync('v/.GIT/impl.js', 'src/greet.js');`,
    });
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    const detail = await gateDetail(w, 'path-disallowed');
    expect(detail).toMatch(/src\/v\/\.GIT \(a \.git inside the tree/);
    expect(detail).toMatch(/src\/greet\.js \(a symlink out of the worktree/);
  });

  it('a failing setup fails closed before the backend runs', async () => {
    const w = await world({ contract: { setup: { command: 'exit 4', timeoutSeconds: 30 } }, body: `fs.writeFileSync('src/ran.txt', 'backend ran');` });
    const result = await w.execute();
    expect(result.failedGate).toBe('provider-failure');
    expect(await gateDetail(w, 'provider-failure')).toMatch(/setup command exited 4/);
    expect((await w.state()).execution!.changedPaths).toEqual([]);
  });
});

describe('execute: network policy per backend', () => {
  it('reaches only the listed host through the harness proxy; every connection is in the report and trace', async () => {
    const { createServer } = await import('node:http');
    const serve = (body: string) =>
      new Promise<{ port: number; hits: () => number; close: () => void }>((resolve) => {
        let hits = 0;
        const server = createServer((_, res) => (hits++, res.end(body)));
        server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, hits: () => hits, close: () => server.close() }));
      });
    const listed = await serve('LISTED');
    const other = await serve('OTHER');
    try {
      const w = await world({
        backend: { network: { allow: [`127.0.0.1:${listed.port}`] } },
        body: `for (const port of [${listed.port}, ${other.port}]) {
            const r = cp.spawnSync('curl', ['-s', '-o', '-', '-w', ' %{http_code}', 'http://127.0.0.1:' + port + '/'], { encoding: 'utf8' });
            console.log('port', port, '->', r.stdout);
          }
          ${GOOD_BACKEND}`,
      });
      const result = await w.execute();
      expect(result.status).toBe('succeeded');
      const log = readFileSync(join(result.evidenceDir, 'backend.stdout.log'), 'utf8');
      expect(log).toContain(`port ${listed.port} -> LISTED 200`);
      expect(log).toContain(`port ${other.port} -> `);
      expect(log).not.toContain('OTHER');
      expect(other.hits()).toBe(0);
      const report = JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8'));
      expect(report.connections.map((c: { port: number; allowed: boolean }) => [c.port, c.allowed])).toEqual([
        [listed.port, true],
        [other.port, false],
      ]);
      expect(readFileSync(join(result.evidenceDir, 'trace.jsonl'), 'utf8').match(/network\.connect/g)).toHaveLength(2);
      expect((await w.state()).backendNetwork).toEqual({ allow: [`127.0.0.1:${listed.port}`] });
    } finally {
      listed.close();
      other.close();
    }
  });
});

describe('evidence changed after it was digested', () => {
  it('health re-hashes every digested bundle and the artifact store, as outcome --accept does', async () => {
    const w = await world();
    await w.execute();
    const L = ledgerPaths(w.dir).root;
    expect(cli(['--ledger', L, 'health']).code).toBe(0);
    // The patch a person applies after acceptance, rewritten with its SHA256SUMS, which `sha256sum -c` then passes.
    const bundle = join(L, 'evidence', w.runId);
    writeFileSync(join(bundle, 'patch.diff'), 'diff --git a/x b/x\n');
    execFileSync('sh', ['-c', 'sha256sum $(ls | grep -v SHA256SUMS) > SHA256SUMS'], { cwd: bundle });
    const health = cli(['--ledger', L, 'health', '--json']);
    expect(health.code).toBe(3);
    expect(JSON.parse(health.stdout).problems.join('\n')).toMatch(`run ${w.runId}: evidence changed after it was digested: ${bundle}/SHA256SUMS is not the digested SHA256SUMS`);
  });
});

describe('an execution whose evidence never reaches the ledger', () => {
  it('leaves no evidence/<run>/ (whose report says Succeeded): the bundle is renamed into place only once it is digested on the ledger', async () => {
    const w = await world();
    // The store fails the append of the evidence; the bundle was written beside its place, and is never renamed into it.
    const append = w.ledger.store.append.bind(w.ledger.store);
    let bundleBeforeAppend: string[] = [];
    const evidence = join(ledgerPaths(w.dir).root, 'evidence');
    w.ledger.store.append = (stream, events, expected) => {
      if (!events.some((e) => e.type === 'EvidenceDigested')) return append(stream, events, expected);
      bundleBeforeAppend = readdirSync(evidence);
      return Promise.reject(new Error('disk gone'));
    };
    await expect(w.execute()).rejects.toThrow('disk gone');
    expect(bundleBeforeAppend).toEqual([`${w.runId}.partial-${process.pid}`]);
    // what a harness killed at that moment would leave; one that survives the failure removes it
    expect(readdirSync(evidence)).toEqual([]);
    expect((await w.state()).status).not.toBe('evidenced');
  });
});

describe('the harness itself failing after the backend ran', () => {
  const SECRET = 'Sk-Mixed-8484848484';
  /** A backend that prints its secret, tries a forbidden push, and connects where it may not. */
  const attempting = (port: number) => `console.log('token is', process.env.AGENT_TEST_TOKEN); console.error('stderr here');
    try { cp.execFileSync('git', ['push', 'origin-' + process.env.AGENT_TEST_TOKEN], { stdio: 'ignore' }); } catch {}
    cp.spawnSync('curl', ['-s', '-o', '/dev/null', 'http://127.0.0.1:${port}/'], { encoding: 'utf8' });
    ${GOOD_BACKEND}`;
  /** Makes the store fail the appends holding EvidenceDigested (`times` of them), with the secret in its message. */
  function failEvidenceAppends(w: World, times: number) {
    const append = w.ledger.store.append.bind(w.ledger.store);
    let failed = 0;
    w.ledger.store.append = (stream, events, expected) => {
      if (!events.some((e) => e.type === 'EvidenceDigested') || failed >= times) return append(stream, events, expected);
      failed++;
      return Promise.reject(new Error(`disk I/O error near /tmp/${SECRET}`));
    };
  }

  it('fails closed with its message redacted, and evidences what the backend attempted in a digested bundle', () =>
    withEnv({ AGENT_TEST_TOKEN: SECRET }, async () => {
      const w = await world({ backend: { secrets: ['AGENT_TEST_TOKEN'], network: { allow: ['127.0.0.1:9'] } }, body: attempting(7) });
      failEvidenceAppends(w, 1);
      const err = (await w.execute().catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(/disk I\/O error near \/tmp\/\[redacted:AGENT_TEST_TOKEN\]/);
      expect(err.message).not.toContain(SECRET);
      const state = await w.state();
      expect(state.status).toBe('failed-closed');
      expect(state.execution).toMatchObject({ status: 'failed-closed', failedGate: 'provider-failure', changedPaths: [] });
      expect(state.execution!.gateResults).toEqual([
        { gate: 'provider-failure', ok: false, detail: 'harness error: disk I/O error near /tmp/[redacted:AGENT_TEST_TOKEN]' },
      ]);
      // One bundle, in place (the one cut short by the failure removed), and digested on the ledger.
      const evidence = join(ledgerPaths(w.dir).root, 'evidence');
      expect(readdirSync(evidence)).toEqual([w.runId]);
      const bundle = join(evidence, w.runId);
      expect(state.evidence).not.toBeNull();
      expect((await w.events()).slice(-2).map((e) => e.type)).toEqual(['CaseExecuted', 'EvidenceDigested']);
      expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: bundle }).status).toBe(0);
      expect(existsSync(join(bundle, 'patch.diff'))).toBe(false);
      const report = JSON.parse(readFileSync(join(bundle, 'report.json'), 'utf8'));
      expect(report).toMatchObject({ status: 'failed-closed', failedGate: 'provider-failure', harnessError: 'disk I/O error near /tmp/[redacted:AGENT_TEST_TOKEN]' });
      expect(report.shimAttempts).toEqual([expect.stringMatching(/^git push origin-\[redacted:AGENT_TEST_TOKEN\]/)]);
      expect(report.connections.map((c: { port: number; allowed: boolean }) => [c.port, c.allowed])).toEqual([[7, false]]);
      expect(readFileSync(join(bundle, 'report.md'), 'utf8')).toMatch(/^# Failed closed: provider-failure[\s\S]*The harness itself failed/);
      expect(readFileSync(join(bundle, 'backend.stdout.log'), 'utf8')).toContain('token is [redacted:AGENT_TEST_TOKEN]');
      expect(readFileSync(join(bundle, 'backend.stderr.log'), 'utf8')).toContain('stderr here');
      const trace = readFileSync(join(bundle, 'trace.jsonl'), 'utf8');
      for (const span of ['backend.run', 'network.connect', 'shim.refused', 'harness.error']) expect(trace).toContain(`"name":"${span}"`);
      leaksNowhere(w, bundle, SECRET);
      // Auditors see it: health re-hashes it; it can only be rejected.
      expect(cli(['--ledger', ledgerPaths(w.dir).root, 'health']).code).toBe(0);
      expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'no' }))).toBe('provider-failure');
      await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'harness failed' });
      expect((await w.state()).status).toBe('rejected');
    }));

  it('when its bundle cannot be digested either, records the failure alone, redacted, and leaves no bundle', () =>
    withEnv({ AGENT_TEST_TOKEN: SECRET }, async () => {
      const w = await world({ backend: { secrets: ['AGENT_TEST_TOKEN'] }, body: attempting(7) });
      failEvidenceAppends(w, Infinity);
      const err = (await w.execute().catch((e: unknown) => e)) as Error;
      expect(err.message).not.toContain(SECRET);
      const state = await w.state();
      expect(state.execution).toMatchObject({ status: 'failed-closed', failedGate: 'provider-failure' });
      expect(state.execution!.gateResults[0]!.detail).toBe('harness error: disk I/O error near /tmp/[redacted:AGENT_TEST_TOKEN]');
      expect(state.evidence).toBeNull();
      expect(readdirSync(join(ledgerPaths(w.dir).root, 'evidence'))).toEqual([]);
      expect(readFileSync(ledgerPaths(w.dir).db).toString('latin1').toLowerCase()).not.toContain(SECRET.toLowerCase());
    }));
});

describe('decisions a stream re-chained outside cto-ledger no longer holds', () => {
  /**
   * Edits the event at `version` of `stream` in the SQLite file (triggers dropped and put back) and
   * re-links every later one: each hash recomputed, so the stream read alone still links.
   */
  function rechain(w: World, stream: string, version: number, edit: (event: { data: Record<string, unknown> }) => void) {
    const db = new Database(ledgerPaths(w.dir).db);
    try {
      const triggers = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_no_update'`).pluck().all() as string[];
      db.exec('DROP TRIGGER events_no_update');
      const rows = db.prepare('SELECT position, version, body, hash FROM events WHERE stream = ? ORDER BY version').all(stream) as Array<{ position: number; version: number; body: string; hash: string }>;
      let prev: string | null = null;
      for (const row of rows) {
        if (row.version < version) {
          prev = row.hash;
          continue;
        }
        const event = JSON.parse(row.body) as { data: Record<string, unknown>; prevHash: string | null };
        if (row.version === version) edit(event);
        else event.prevHash = prev;
        const body = canonicalize(event);
        prev = sha256Hex(body);
        db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, prev, row.position);
      }
      for (const t of triggers) db.exec(t);
    } finally {
      db.close();
    }
  }
  const forgeOwner = (w: World) => rechain(w, 'target-fixture', 0, (e) => void (e.data.owner = 'mallory'));
  const rebuild = async (w: World) => {
    let err = '';
    expect(await main(['--ledger', ledgerPaths(w.dir).root, 'rebuild'], { out: () => {}, err: (s) => void (err += s) }), err).toBe(0);
  };

  it("execute refuses target-admission-stale when the admission the contract was admitted under was edited and re-chained", async () => {
    const w = await world();
    forgeOwner(w);
    const err = await w.execute().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Refused);
    expect(err).toMatchObject({ gate: 'target-admission-stale' });
    expect((err as Refused).detail).toMatch(/admitted under event \w+ of target-fixture with hash \w+, but that event now hashes to \w+: target-fixture was rewritten outside cto-ledger/);
    expect((await w.events()).at(-1)?.type).toBe('ExecutionRefused');
    expect((await w.state()).started).toBeNull();
    expect(noWorktrees(w)).toBe(true);
  });

  it('outcome --accept refuses target-admission-stale when that admission was edited and re-chained after the execution', async () => {
    const w = await world();
    expect((await w.execute()).failedGate).toBeNull();
    forgeOwner(w);
    expect(await refusedGate(recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'ok' }))).toBe('target-admission-stale');
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'target rewritten' });
    expect((await w.state()).status).toBe('rejected');
  });

  it("outcome --accept refuses evidence-stale when the run's stream no longer holds the event the evidence was made after", async () => {
    const w = await world();
    const result = await w.execute();
    expect(result.failedGate).toBeNull();
    const freshness = (await w.state()).evidence!.freshness;
    // The approval's note edited, the run re-linked to its end, the projections rebuilt from the log as it is now.
    rechain(w, runStream(w.runId), 1, (e) => void (e.data.note = 'edited'));
    await rebuild(w);
    const now = (await w.events())[freshness.streamVersion]!;
    expect(now.hash).not.toBe(freshness.lastEventHash);
    const err = await recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'ok' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ gate: 'evidence-stale' });
    expect((err as Refused).detail).toBe(
      `the evidence was made after event ${freshness.streamVersion} of run ${w.runId} with hash ${freshness.lastEventHash}, but that event now hashes to ${now.hash}: the run's stream was rewritten outside cto-ledger`,
    );
    // health finds it too, where no chain or projection would after the rebuild
    const health = cli(['--ledger', ledgerPaths(w.dir).root, 'health', '--json']);
    expect(health.code).toBe(3);
    expect((JSON.parse(health.stdout) as { problems: string[] }).problems.join('\n')).toContain(`run-${w.runId}: its evidence was made after version ${freshness.streamVersion}`);
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'rejected', operator: 'jp', reason: 'stream rewritten' });
    expect((await w.state()).status).toBe('rejected');
  });

  it('an untouched ledger: the same checks let the run be executed and accepted', async () => {
    const w = await world();
    expect((await w.execute()).failedGate).toBeNull();
    await rebuild(w);
    await recordOutcome(w.ledger, { runId: w.runId, decision: 'accepted', operator: 'jp', reason: 'ok' });
    expect((await w.state()).status).toBe('accepted');
  });
});

describe('execute: the bundle cannot be put in place after its digest is on the ledger', () => {
  const isRoot = process.getuid?.() === 0;
  it.skipIf(!isRoot)('appends nothing more (one CaseExecuted), and keeps the digested bundle where it was written', async () => {
    const w = await world();
    const evidence = join(ledgerPaths(w.dir).root, 'evidence');
    const target = join(evidence, w.runId);
    mkdirSync(target, { recursive: true });
    // a mount point: rm and rename of evidence/<run> fail with EBUSY, as a rename can with ENOSPC
    execFileSync('mount', ['-t', 'tmpfs', 'none', target]);
    try {
      await expect(w.execute()).rejects.toThrow(/executed and its evidence digested, but the bundle could not be put in place/);
      const types = (await w.events()).map((e) => e.type);
      expect(types.filter((t) => t === 'CaseExecuted')).toHaveLength(1);
      expect(types[types.length - 1]).toBe('EvidenceDigested');
      expect((await w.state()).status).not.toBe('failed-closed');
      const partial = readdirSync(evidence).find((n) => n.startsWith(`${w.runId}.partial-`));
      expect(partial).toBeDefined();
      expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: join(evidence, partial!), encoding: 'utf8' })).toMatch(/patch.diff: OK/);
    } finally {
      execFileSync('umount', [target]);
    }
  });
});
