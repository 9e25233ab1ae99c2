import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A target whose git config names a FIFO (`include.path`: what a backend run under `unshare` or `none`,
// whose git dir is writable, can plant; the harness stops running git on it, the CLI did not): every git
// call reading it blocked for good, and with it `status` (the list reads each approved run's target
// HEAD), `approve` and `contract admit`. A git call silent past CTO_GIT_TIMEOUT_SECONDS is killed:
// `status` answers, a command that would record says why, exit 3, nothing recorded.
describe('a target whose git config names a FIFO', () => {
  const w = cliLedger('cto-git-stalled-');
  const { tmp, L, run, repo } = w;

  it('stops git past CTO_GIT_TIMEOUT_SECONDS: status answers, approve says why, nothing recorded', () => {
    w.setUp();
    const approved = w.admit();
    expect(run('approve', approved).code).toBe(0);
    const waiting = w.admit();
    const config = join(repo.path, '.git', 'config');
    const before = readFileSync(config);
    const fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    appendFileSync(config, `[include]\n\tpath = ${fifo}\n`);
    try {
      const events = () => run('events').stdout;
      const recorded = events();
      const quick = { env: { CTO_GIT_TIMEOUT_SECONDS: '1' } };
      const status = cli(['--ledger', L, 'status'], quick);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(approved);
      const approve = cli(['--ledger', L, 'approve', waiting, '--json'], quick);
      expect(approve.stderr).toBe(
        `cto-ledger: git gave no answer on ${repo.path} for 1 s and was stopped (a FIFO or a hung mount named in its config or git dir?); CTO_GIT_TIMEOUT_SECONDS gives it longer. Nothing was recorded\n`,
      );
      expect(approve.code).toBe(3);
      expect(JSON.parse(approve.stdout)).toMatchObject({ ok: false, exitCode: 3 });
      expect(events()).toBe(recorded);
    } finally {
      writeFileSync(config, before);
    }
    expect(run('approve', waiting).code).toBe(0);
  }, 150_000);
});
