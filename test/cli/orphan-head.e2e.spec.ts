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
