import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// What an `init` cut short by a full disk leaves (measured on a 2 MiB tmpfs): an empty ledger.db, or
// a SQLite header with no table, and a config.yaml of 0 bytes. Running `init` again once there is
// space must finish the ledger, not refuse the dir for ever nor keep the empty config.
describe('init after an init cut short', () => {
  const tmp = tempDir('cto-init-cut-');
  afterAll(() => tmp.remove());

  it('finishes a ledger whose ledger.db is empty (0 bytes) and whose config.yaml is empty', () => {
    const L = join(tmp.dir, 'zero');
    mkdirSync(L);
    writeFileSync(join(L, 'ledger.db'), '');
    writeFileSync(join(L, 'config.yaml'), '');
    const init = cli(['--ledger', L, 'init']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(cli(['--ledger', L, 'health']).code).toBe(0);
    expect(readFileSync(join(L, 'config.yaml'), 'utf8')).toMatch(/^# /);
  });

  it('finishes a ledger whose ledger.db is a SQLite file without any table', () => {
    const L = join(tmp.dir, 'header');
    mkdirSync(L);
    const db = new Database(join(L, 'ledger.db'));
    db.pragma('journal_mode = WAL');
    db.close();
    const init = cli(['--ledger', L, 'init']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(cli(['--ledger', L, 'health']).code).toBe(0);
  });

  it('still refuses a SQLite file that holds someone else\'s tables, and leaves it as it was', () => {
    const L = join(tmp.dir, 'other');
    mkdirSync(L);
    const db = new Database(join(L, 'ledger.db'));
    db.exec('CREATE TABLE t (x)');
    db.close();
    const init = cli(['--ledger', L, 'init']);
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/not a cto-ledger ledger/);
  });
});
