import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linkLeaves } from '../../src/harness/inspect.js';
import { tempDir } from '../fixtures/tmp.js';

describe('linkLeaves: a symlink followed as the filesystem follows it', () => {
  const tmp = tempDir('cto-links-');
  afterAll(() => tmp.remove());
  const root = join(tmp.dir, 'wt');
  mkdirSync(join(root, 'src/d/d'), { recursive: true });
  mkdirSync(join(root, '.git'), { recursive: true });
  const link = (path: string, target: string) => {
    symlinkSync(target, join(root, path));
    return linkLeaves(root, join(root, path));
  };

  it('keeps links that stay inside, through other links too', () => {
    expect(link('src/same', 'd/d')).toBe(false);
    expect(link('src/d/d/toSrc', '../..')).toBe(false);
    expect(link('src/viaLink', 'd/d/toSrc/d')).toBe(false);
    expect(link('src/dangling', 'd/nothing/here')).toBe(false);
  });

  it('finds the ones that step out, into .git, or never end', () => {
    expect(link('src/abs', '/etc/passwd')).toBe(true);
    expect(link('src/up', '../../x')).toBe(true);
    expect(link('src/git', '../.git/config')).toBe(true);
    // d/d/toSrc is src: its `..` is the root, and one more is out, though text says src/d/...
    expect(link('src/trick', 'd/d/toSrc/../../x')).toBe(true);
    // Out and back in by the root's own name is out: applied elsewhere it would not come back.
    expect(link('src/outAndBack', '../../wt/src')).toBe(true);
    link('src/loopA', 'loopB');
    expect(link('src/loopB', 'loopA')).toBe(true);
  });
});
