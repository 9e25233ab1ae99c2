import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';
import { git } from '../fixtures/repos.js';

// `approvalStanding` says whether an approval can still start its run. The approval binds the target's
// HEAD: once HEAD moves, execute refuses it (approval-mismatch), yet status said `usable`.
describe('an approval whose base the target has moved from', () => {
  const w = cliLedger('cto-base-moved-');
  const { repo, run } = w;

  it('is not shown usable by status, and is usable again once HEAD is back', () => {
    w.setUp();
    const runId = w.admit();
    expect(run('approve', runId).code).toBe(0);
    expect(JSON.parse(run('status', runId, '--json').stdout).approvalStanding).toBe('usable');

    repo.commit('src/other.js', 'export {};\n');
    expect(JSON.parse(run('status', runId, '--json').stdout).approvalStanding).toBe('base-moved');
    expect(JSON.parse(run('status', '--json').stdout).approvalBaseMoved).toEqual([runId]);
    expect(run('status').stdout).toMatch(new RegExp(`${runId}\\s+approved \\(base moved\\)`));
    const refused = run('execute', runId);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/approval-mismatch/);

    git(repo.path, 'reset', '-q', '--hard', 'HEAD~1');
    expect(JSON.parse(run('status', runId, '--json').stdout).approvalStanding).toBe('usable');
  });
});
