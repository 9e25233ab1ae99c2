import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// `backup LINK`, LINK a symbolic link to an empty dir, failed exit 2 naming `LINK.partial-PID: a file
// where a directory is needed`: the partial dir was renamed over the link. The backup now goes into
// the dir the link names; a dangling link is refused naming it, with no partial dir left.
describe('backup to a symbolic link', () => {
  const tmp = tempDir('cto-backup-link-');
  afterAll(() => tmp.remove());
  const L = join(tmp.dir, 'ledger');

  it('goes into the empty dir the link names', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const target = join(tmp.dir, 'empty');
    mkdirSync(target);
    const link = join(tmp.dir, 'link');
    symlinkSync(target, link);
    const r = cli(['--ledger', L, 'backup', link, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ backup: target });
    expect(readdirSync(target)).toContain('ledger.db');
    expect(cli(['--ledger', link, 'health']).code).toBe(0);
  });

  it('a dangling link is refused naming it, nothing left beside it', () => {
    const link = join(tmp.dir, 'dangling');
    symlinkSync('missing', link);
    const r = cli(['--ledger', L, 'backup', link]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${link} is a symbolic link to missing, which does not exist: a backup goes to a new dir\n`);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('.partial'))).toEqual([]);
    expect(existsSync(join(tmp.dir, 'missing'))).toBe(false);
  });
});
