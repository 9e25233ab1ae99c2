import { renameSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A target moved or deleted after admission was refused as "no longer the admitted one (root commit
// none, ...)", as if another repository stood there: the refusal says what happened.
describe('a target repository moved away after admission', () => {
  const w = cliLedger('cto-moved-target-');
  const { repo, run } = w;
  afterAll(() => {
    renameSync(`${repo.path}.moved`, repo.path);
  });

  it('is refused target-admission-stale, saying no repository is there now', () => {
    w.setUp();
    const contract = w.contractFile();
    renameSync(repo.path, `${repo.path}.moved`);
    const admitted = run('contract', 'admit', contract);
    expect(admitted.code).toBe(1);
    expect(admitted.stderr).toMatch(/target-admission-stale/);
    expect(admitted.stderr).toMatch(/no git repository with commits at .* now \(moved or deleted\?\)/);
    expect(admitted.stderr).not.toMatch(/root commit none/);
  });
});
