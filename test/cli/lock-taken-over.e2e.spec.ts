import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, cli } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// A command holding the projections lock, stopped past the lock's 10 s stale time (a suspended laptop, a
// SIGSTOP, a machine swapping): the next command takes the lock over, and on waking the first one died
// in proper-lockfile's timer, a stack trace ("ECOMPROMISED") and exit 1, which reads as a gate's
// refusal, leaving a rebuild's fresh copy behind. It still stops at once, but in one line, exit 3.
describe('a projections lock taken over from a stopped holder', () => {
  // 30,000 events of 3,000 closed runs: the rebuild is still folding when it is stopped, and the list
  // the next command folds and reads is short.
  const { L } = openRunsLedger('cto-lock-over-', 0, 3000);
  // folded once, so that the command taking the lock over has nothing to fold but waits
  execFileSync(process.execPath, [CLI, '--ledger', L, 'rebuild'], { stdio: 'ignore' });

  it('ends the holder on waking in one line, exit 3, one JSON document, its fresh copy removed', async () => {
    const child = spawn(process.execPath, [CLI, '--ledger', L, 'rebuild', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const fresh = join(L, `projections.rebuild-${child.pid}`);
    // Stopped once the fold is under way, writing its fresh copy.
    const folding = () => (statSync(join(fresh, 'projections.db'), { throwIfNoEntry: false })?.size ?? 0) > 256 * 1024;
    while (!folding() && child.exitCode === null) await new Promise((r) => setImmediate(r));
    child.kill('SIGSTOP');
    try {
      // waits the stopped holder out (10 s) and takes the lock over (output ignored: the list of 3,000
      // runs is more than spawnSync's 1 MiB buffer)
      const status = spawn(process.execPath, [CLI, '--ledger', L, 'status', '--json'], { stdio: 'ignore' });
      expect(await new Promise((resolve) => status.on('exit', resolve))).toBe(0);
    } finally {
      child.kill('SIGCONT');
    }
    expect(await exited).toBe(3);
    expect(stderr).not.toMatch(/ECOMPROMISED|\n\s+at |node_modules/);
    expect(stderr).toMatch(/^cto-ledger: the projections lock .*projections\.lock was taken over while this command held it \(.*\): it was stopped or starved for over 10 s/m);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, exitCode: 3 });
    expect(readdirSync(L).filter((f) => f.startsWith('projections.'))).toEqual([]);
    expect(cli(['--ledger', L, 'health']).code).toBe(0);
  }, 90_000);
});
