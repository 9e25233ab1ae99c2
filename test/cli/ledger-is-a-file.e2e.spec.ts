import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// `--ledger DIR/ledger.db` (the database, not its dir) was told "no ledger at DIR/ledger.db/ledger.db
// (run: cto-ledger init)", which sent the user to init a ledger they had. A file given as the ledger
// dir is named as such, and for ledger.db the dir meant.
describe('--ledger naming a file', () => {
  const tmp = tempDir('cto-ledger-is-file-');
  afterAll(() => tmp.remove());

  it('is exit 2 saying it is a file, and which dir holds ledger.db', () => {
    const L = join(tmp.dir, 'ledger');
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const db = join(L, 'ledger.db');
    const r = cli(['--ledger', db, 'status', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${db} is a file, not a ledger dir: --ledger names the dir holding ledger.db (${L} here)\n`);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });

    const other = join(tmp.dir, 'notes.txt');
    writeFileSync(other, 'x');
    const e = cli(['--ledger', other, 'events']);
    expect(e.code).toBe(2);
    expect(e.stderr).toBe(`cto-ledger: ${other} is a file, not a ledger dir: --ledger names the dir holding ledger.db\n`);
  });
});
