import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadInput } from '../../src/errors.js';
import { inspectRepo } from '../../src/target/repo.js';
import { makeTargetRepo } from '../fixtures/repos.js';

// `target admit` of a bare repository, or of a repository's .git dir, said "is not a git repository":
// both are, and the operator was left looking for the problem elsewhere. Told what it is and what to admit.
describe('inspectRepo on a git dir without a working tree', () => {
  const repo = makeTargetRepo();
  const bare = join(repo.path, '..', 'bare.git');
  execFileSync('git', ['clone', '-q', '--bare', repo.path, bare]);
  afterAll(() => repo.remove());

  it('names a bare repository as one, and says to admit a clone', async () => {
    await expect(inspectRepo(bare)).rejects.toThrow(new BadInput(`${bare} is a bare git repository: it has no working tree to work in; admit a clone of it`));
  });

  it("names a repository's git dir (or a dir in it) as such, and says to admit its working tree", async () => {
    for (const dir of [join(repo.path, '.git'), join(repo.path, '.git', 'objects')]) {
      await expect(inspectRepo(dir)).rejects.toThrow(new BadInput(`${dir} lies in a git repository's git dir: admit its working tree, the directory that holds the .git`));
    }
  });

  it('still calls a plain directory no git repository', async () => {
    const plain = join(repo.path, '..');
    await expect(inspectRepo(plain)).rejects.toThrow(`${plain} is not a git repository`);
  });
});
