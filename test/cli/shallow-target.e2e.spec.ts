import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// A shallow clone was admitted with the commit where it was cut as its "root commit"; once deepened
// (git fetch --unshallow) the same repository was refused as another one (target-admission-stale),
// and renewing it under its id too: only a revocation, voiding its approvals, got out of it.
describe('a shallow clone as a target', () => {
  const tmp = tempDir('cto-shallow-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('is refused at admission, exit 2, saying to unshallow it; once unshallowed it is admitted', () => {
    repo.commit('src/two.js', 'export {};\n');
    const shallow = join(tmp.dir, 'shallow');
    execFileSync('git', ['clone', '-q', '--depth', '1', `file://${repo.path}`, shallow]);
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const admitted = cli(['--ledger', L, 'target', 'admit', shallow, '--id', 'sh', '--owner', 'jp']);
    expect(admitted.code).toBe(2);
    expect(admitted.stderr).toMatch(/shallow clone.*git fetch --unshallow/);
    execFileSync('git', ['-C', shallow, 'fetch', '-q', '--unshallow']);
    expect(cli(['--ledger', L, 'target', 'admit', shallow, '--id', 'sh', '--owner', 'jp']).code).toBe(0);
  });
});
