import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// A projection file written as a sibling then renamed over: when the write or the rename fails (a full
// disk, measured on a tmpfs: `runs.json.tmp-PID` stayed for good, as did `artifacts/.../<sha>.tmp-PID`),
// the half-written sibling must go too. Here the rename fails: runs.json is a directory.
describe('a projection write that fails', () => {
  const tmp = tempDir('cto-tmp-siblings-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('leaves no .tmp- sibling behind', () => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [DEMO_BACKEND] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
    const projections = join(L, 'projections');
    rmSync(join(projections, 'runs.json'), { force: true });
    mkdirSync(join(projections, 'runs.json', 'x'), { recursive: true });
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml());
    const admitted = run('contract', 'admit', contract);
    expect(admitted.code).toBe(0);
    expect(admitted.stderr).toMatch(/projections were not brought up to date/);
    expect(readdirSync(projections).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
