import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// A target moved or deleted after admission was refused as "no longer the admitted one (root commit
// none, ...)", as if another repository stood there: the refusal says what happened.
describe('a target repository moved away after admission', () => {
  const tmp = tempDir('cto-moved-target-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    renameSync(`${repo.path}.moved`, repo.path);
    tmp.remove();
    repo.remove();
  });

  it('is refused target-admission-stale, saying no repository is there now', () => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [DEMO_BACKEND] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml());
    renameSync(repo.path, `${repo.path}.moved`);
    const admitted = run('contract', 'admit', contract);
    expect(admitted.code).toBe(1);
    expect(admitted.stderr).toMatch(/target-admission-stale/);
    expect(admitted.stderr).toMatch(/no git repository with commits at .* now \(moved or deleted\?\)/);
    expect(admitted.stderr).not.toMatch(/root commit none/);
  });
});
