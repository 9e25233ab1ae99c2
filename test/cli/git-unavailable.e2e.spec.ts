import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// git not on PATH (a cron job's or a service's bare environment): every reading of the target was taken
// for "no repository there". `approve` recorded on the run a refusal that is not true, target-admission-stale
// "there is no git repository with commits at ... now (moved or deleted?)", `contract admit` was refused
// the same way and `target admit` said "not a git repository". git that cannot be run is said as such,
// exit 3, and nothing is recorded.
describe('git not on PATH', () => {
  const w = cliLedger('cto-no-git-');
  const { tmp, L, run } = w;

  it('is said as such by every command that reads the target, exit 3, nothing recorded', () => {
    w.setUp();
    const runId = w.admit();
    const events = () => run('events').stdout;
    const before = events();
    // node is started by its absolute path; git is looked up on PATH, an empty dir here.
    const noGit = (...args: string[]) => cli(['--ledger', L, ...args], { env: { PATH: tmp.dir } });
    for (const args of [['approve', runId], ['contract', 'admit', w.contractFile()], ['target', 'admit', w.repo.path, '--id', 'again', '--owner', 'jp'], ['execute', runId]]) {
      const r = noGit(...args, '--json');
      expect(r.stderr, args.join(' ')).toBe('cto-ledger: git cannot be run (spawn git ENOENT): cto-ledger reads target repositories with git; put it on PATH. Nothing was recorded\n');
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 3 });
      expect(events()).toBe(before);
    }
    expect(run('approve', runId).code).toBe(0);
  }, 60_000);
});
