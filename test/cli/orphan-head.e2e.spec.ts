import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';
import { git } from '../fixtures/repos.js';

// An admitted target whose HEAD was on an orphan branch (`git checkout --orphan x`, no commit yet) had
// approve refused as "no git repository with commits at PATH now (moved or deleted?)", though the
// repository was where it was admitted. Still refused (there is no HEAD commit to bind), it now says why.
describe('approve with the target on a branch with no commits yet', () => {
  const w = cliLedger('cto-orphan-head-');
  const { run, repo } = w;

  it('is refused target-admission-stale naming the branch, and approves once a branch with commits is out', () => {
    w.setUp();
    const runId = w.admit();
    git(repo.path, 'checkout', '-q', '--orphan', 'scratch');
    const r = run('approve', runId);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `cto-ledger: refused by gate target-admission-stale: the git repository at ${repo.path} has HEAD on branch scratch, which has no commits yet: approve binds the target's HEAD commit; check out a branch with commits first\n`,
    );
    expect(r.stderr).not.toMatch(/moved or deleted/);

    git(repo.path, 'checkout', '-q', 'main');
    expect(run('approve', runId).code).toBe(0);
  });
});

// contract admit and execute look at the target's repository too, and said "moved or deleted?" there.
describe('contract admit and execute with the target on a branch with no commits yet', () => {
  const w = cliLedger('cto-orphan-head-admit-');
  const { run, repo } = w;
  const unborn = (why: string) =>
    `cto-ledger: refused by gate target-admission-stale: the git repository at ${repo.path} has HEAD on branch scratch, which has no commits yet: ${why}; check out a branch with commits first\n`;

  it('contract admit is refused target-admission-stale naming the branch, nothing appended', () => {
    w.setUp();
    const contract = w.contractFile();
    const before = run('events', '--json').stdout;
    git(repo.path, 'checkout', '-q', '--orphan', 'scratch');
    const r = run('contract', 'admit', contract);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(unborn("contract admit reads the repository's root commit, its identity, from HEAD"));
    expect(r.stderr).not.toMatch(/moved or deleted/);
    expect(run('events', '--json').stdout).toBe(before);

    git(repo.path, 'checkout', '-q', 'main');
    expect(run('contract', 'admit', contract).code).toBe(0);
  });

  it('execute is refused target-admission-stale naming the branch, the refusal recorded on the run', () => {
    git(repo.path, 'checkout', '-q', 'main'); // whatever the test above left
    const runId = w.admit();
    expect(run('approve', runId).code).toBe(0);
    git(repo.path, 'checkout', '-q', '--orphan', 'scratch2');
    const r = run('execute', runId);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(unborn("execute starts the backend from the target's HEAD commit, the one the approval bound").replace('scratch,', 'scratch2,'));
    expect(r.stderr).not.toMatch(/moved or deleted/);
    const events = run('events', '--stream', `run-${runId}`, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ type: 'ExecutionRefused', data: { gate: 'target-admission-stale', detail: expect.stringMatching(/HEAD on branch scratch2, which has no commits yet/) } });
    expect(JSON.parse(run('status', runId, '--json').stdout).status).toBe('approved');
  });
});
