import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A second operator, another user, on a target that belongs to the first: git refuses it ("detected
// dubious ownership"), and that was taken for "no repository there". `approve` recorded on the run a
// refusal that is not true, target-admission-stale "there is no git repository with commits at ... now
// (moved or deleted?)", and `contract admit` was refused so. git's reason is said, exit 2, nothing
// recorded. The repository is handed to another user with chown, which takes root.
const root = process.getuid?.() === 0;

describe.skipIf(!root)('a target git refuses to this user', () => {
  const w = cliLedger('cto-git-refuses-');
  const { run } = w;

  it("is named with git's reason by approve, contract admit and execute, exit 2, nothing recorded", () => {
    w.setUp();
    const runId = w.admit();
    const events = () => run('events').stdout;
    const before = events();
    execFileSync('chown', ['-R', '54321:54321', w.repo.path]);
    try {
      for (const args of [['approve', runId], ['contract', 'admit', w.contractFile()], ['execute', runId]]) {
        const r = run(...args, '--json');
        expect(r.stderr, args[0]).toBe(`cto-ledger: ${w.repo.path} is not a git repository git can use here (detected dubious ownership in repository at '${w.repo.path}')\n`);
        expect(r.code).toBe(2);
        expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
        expect(events()).toBe(before);
      }
    } finally {
      execFileSync('chown', ['-R', '0:0', w.repo.path]);
    }
    expect(run('approve', runId).code).toBe(0);
  }, 60_000);
});
