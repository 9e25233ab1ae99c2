import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreUnavailable } from '../../src/errors.js';
import { git } from '../../src/harness/git.js';
import { makeTargetRepo } from '../fixtures/repos.js';

describe("the harness's own git calls", () => {
  it('are killed past their time limit instead of leaving the run executing for ever', async () => {
    const repo = makeTargetRepo();
    try {
      // `cat-file --batch` waits on its stdin, which nothing ever closes: a git call that never returns.
      const hung = git(['cat-file', '--batch'], { gitDir: join(repo.path, '.git'), timeoutMs: 300 });
      await expect(hung).rejects.toThrow(StoreUnavailable);
      await expect(hung).rejects.toThrow(/git cat-file --batch did not finish within 0\.3 s and was killed/);
      // A call that finishes in time still answers.
      expect((await git(['rev-parse', 'HEAD'], { gitDir: join(repo.path, '.git'), timeoutMs: 30_000 })).stdout.toString().trim()).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      repo.remove();
    }
  });
});
