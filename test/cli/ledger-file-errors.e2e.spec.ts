import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// Exit 2 is "a path you named that cannot be used"; a file of the ledger's own that cannot be written
// (projections on a read-only mount: `status RUN` failed with exit 2 naming run.json.tmp-PID) is the
// store's side, exit 3. Here projections/runs/<run> is a file where the run's dir goes.
describe('a file of the ledger that cannot be written', () => {
  const tmp = tempDir('cto-ledger-file-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('is exit 3, a store or I/O failure; a path the user named is still exit 2', () => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [DEMO_BACKEND] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml());
    const runId = JSON.parse(run('contract', 'admit', contract, '--json').stdout).runId as string;
    const runDir = join(L, 'projections', 'runs', runId);
    rmSync(runDir, { recursive: true, force: true });
    writeFileSync(runDir, '');
    const status = run('status', runId, '--json');
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ ok: false, exitCode: 3 });
    expect(status.stderr).toContain(runDir);

    const notADir = join(tmp.dir, 'a-file');
    writeFileSync(notADir, '');
    expect(run('backup', join(notADir, 'bk')).code).toBe(2);
  });
});
