import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// CTO_SCRATCH_DIR naming no dir (a typo) or a file: the worktree's mkdtemp failed after ExecutionStarted
// had spent the approval, so the run failed closed (exit 3, "harness error: ENOENT ... mkdtemp") and
// could only be rejected. It is bad input, found before the claim: exit 2 naming the variable, nothing
// appended, and the approval still starts the run once the variable is put right.
describe('execute with CTO_SCRATCH_DIR naming no usable dir', () => {
  const w = cliLedger('cto-scratch-dir-', (dir) => ({ id: 'b', command: [process.execPath, join(dir, 'backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run } = w;

  it('is exit 2 naming it, nothing appended; the approval stands', () => {
    writeFileSync(join(tmp.dir, 'backend.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`);
    w.setUp();
    const runId = w.admit({ backend: 'b', isolation: 'best-effort' });
    expect(run('approve', runId).code).toBe(0);
    const events = () => run('events').stdout;
    const before = events();
    const aFile = join(tmp.dir, 'a-file');
    writeFileSync(aFile, '');
    for (const [scratch, why] of [
      [join(tmp.dir, 'no-such-dir'), 'no such directory'],
      [aFile, 'not a directory'],
    ] as const) {
      const r = cli(['--ledger', L, 'execute', runId, '--json'], { env: { CTO_SCRATCH_DIR: scratch } });
      expect(r.stderr).toBe(`cto-ledger: CTO_SCRATCH_DIR ${scratch} cannot hold the run's worktree (${why}): name an existing, writable dir; nothing was recorded\n`);
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
      expect(events()).toBe(before);
    }
    expect(JSON.parse(run('status', runId, '--json').stdout)).toMatchObject({ status: 'approved', approvalStanding: 'usable' });

    // TMPDIR likewise, where the backend's stdin copy goes (the worktree elsewhere): it failed the run
    // closed at that mkdtemp, provider-failure "the backend could not start".
    const noTemp = join(tmp.dir, 'no-such-tmp');
    const r = cli(['--ledger', L, 'execute', runId], { env: { CTO_SCRATCH_DIR: tmp.dir, TMPDIR: noTemp } });
    expect(r.stderr).toBe(`cto-ledger: the system temp dir (TMPDIR) ${noTemp} cannot hold the backend's stdin and network proxy (no such directory): name an existing, writable dir; nothing was recorded\n`);
    expect(r.code).toBe(2);
    expect(events()).toBe(before);

    const good = cli(['--ledger', L, 'execute', runId], { env: { CTO_SCRATCH_DIR: tmp.dir } });
    expect(good.code).toBe(0);
    expect(JSON.parse(run('status', runId, '--json').stdout)).toMatchObject({ status: 'evidenced' });
  }, 60_000);
});
