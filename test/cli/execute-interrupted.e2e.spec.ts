import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchBase } from '../../src/harness/worktree.js';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// Ctrl-C in the middle of `execute` used to end the process there: the run stayed `executing` (a
// harness "gone"), the worktree stayed registered in the operator's repository and its scratch dir
// on /dev/shm. Now the backend is killed and the run recorded failed closed, evidenced, cleaned up.
// A HUP (the operator's terminal or ssh session gone) was left to its default action: the same dead end.
describe('execute interrupted by the operator (SIGINT), or by the session ending (SIGHUP)', () => {
  const w = cliLedger('cto-exec-int-', (dir) => ({ id: 'slow', command: [process.execPath, join(dir, 'slow-backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run, repo } = w;
  let setUp = false;

  for (const [signal, code] of [['SIGINT', 130], ['SIGHUP', 129]] as const) it(`on ${signal}: kills the backend, records the run failed closed with evidence, removes its worktree, exits ${code}`, async () => {
    const backend = join(tmp.dir, 'slow-backend.mjs');
    writeFileSync(backend, `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/partial.js', 'export const half = 1;\\n');\nconsole.log('cto-int-spec backend started');\nawait new Promise((r) => setTimeout(r, 60_000));\n`);
    if (!setUp) w.setUp();
    setUp = true;
    const runId = w.admit({ backend: 'slow' });
    expect(run('approve', runId).code).toBe(0);

    const child = spawn(process.execPath, [CLI, '--ledger', L, 'execute', runId], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CTO_OPERATOR: 'jp' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 400 && !stderr.includes('execute: backend...'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(stderr).toContain('execute: backend...');
    await new Promise((r) => setTimeout(r, 700));
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(stderr).toContain(`interrupted by ${signal}`);

    const state = JSON.parse(run('status', runId, '--json').stdout);
    expect(state.status).toBe('failed-closed');
    expect(state.execution.failedGate).toBe('provider-failure');
    expect(JSON.stringify(state.execution.gateResults)).toContain(`interrupted by ${signal}`);
    expect(existsSync(join(L, 'evidence', runId, 'report.json'))).toBe(true);
    // the backend's log up to the interruption is in the bundle
    expect(execFileSync('cat', [join(L, 'evidence', runId, 'backend.stdout.log')], { encoding: 'utf8' })).toContain('cto-int-spec backend started');
    const worktrees = execFileSync('git', ['-C', repo.path, 'worktree', 'list', '--porcelain'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('worktree '));
    expect(worktrees).toHaveLength(1);
    expect(readdirSync(scratchBase()).filter((name) => name.startsWith(`cto-run-${runId}-`))).toEqual([]);
    expect(run('health').code).toBe(0);
  }, 60_000);
});
