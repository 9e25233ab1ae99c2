import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// A repository at ".../nl\nx" was refused as "/.../nl: no such file or directory": git prints the
// top level on one line, and the path was cut at the newline. The refusal names the real reason.
describe('a target path holding a newline', () => {
  const tmp = tempDir('cto-nl-target-');
  const repo = makeTargetRepo();
  const odd = join(repo.path, '..', 'nl\nx');
  afterAll(() => {
    renameSync(odd, repo.path);
    tmp.remove();
    repo.remove();
  });

  it('is refused, exit 2, for its control character, not as a missing directory', () => {
    renameSync(repo.path, odd);
    const L = join(tmp.dir, 'ledger');
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const r = cli(['--ledger', L, 'target', 'admit', odd, '--id', 'nl', '--owner', 'jp']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/newline or another control character/);
    expect(r.stderr).not.toMatch(/no such file or directory/);
  });
});
