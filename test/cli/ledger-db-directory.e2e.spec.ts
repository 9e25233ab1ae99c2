import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// A directory where ledger.db goes was told as SQLite's "unable to open database file" (exit 3), for
// every command. It is no ledger, as a file that is no SQLite database is not: exit 2, said plainly.
describe('a directory where ledger.db goes', () => {
  const tmp = tempDir('cto-db-dir-');
  afterAll(() => tmp.remove());

  it('is exit 2, named as a directory and not a ledger file, for every command', () => {
    const L = join(tmp.dir, 'ledger');
    mkdirSync(join(L, 'ledger.db'), { recursive: true });
    for (const args of [['status'], ['events'], ['health'], ['init']]) {
      const r = cli(['--ledger', L, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(`${join(L, 'ledger.db')} is a directory, not a ledger file`);
      expect(r.stderr).not.toMatch(/unable to open database file/);
    }
  });
});
