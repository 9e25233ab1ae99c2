import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { git, makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// `approvalStanding` says whether an approval can still start its run. The approval binds the target's
// HEAD: once HEAD moves, execute refuses it (approval-mismatch), yet status said `usable`.
describe('an approval whose base the target has moved from', () => {
  const tmp = tempDir('cto-base-moved-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('is not shown usable by status, and is usable again once HEAD is back', () => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [DEMO_BACKEND] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml());
    const runId = JSON.parse(run('contract', 'admit', contract, '--json').stdout).runId as string;
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
