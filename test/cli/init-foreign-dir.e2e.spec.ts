import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { git, makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// `init --ledger path/to/target-repo` put ledger.db and config.yaml into the git repository, leaving
// its tree dirty; a dangling symbolic link was told "no such file or directory". Init refuses a dir
// that holds other things and no ledger.db, and names a dangling link as one, exit 2, writing nothing.
describe('init into a dir that is not a ledger', () => {
  const tmp = tempDir('cto-init-foreign-');
  const repo = makeTargetRepo();
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('refuses a non-empty dir without ledger.db (exit 2, naming it), and writes nothing there', () => {
    const before = readdirSync(repo.path).sort();
    const r = cli(['--ledger', repo.path, 'init']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`cto-ledger: ${repo.path} exists and is not empty (.git, README.md, src), and holds no ledger.db: init makes a ledger in a new or empty dir\n`);
    expect(readdirSync(repo.path).sort()).toEqual(before);
    expect(git(repo.path, 'status', '--porcelain')).toBe('');
  });

  it('names a dangling symbolic link as one (exit 2)', () => {
    const link = join(tmp.dir, 'link');
    symlinkSync(join(tmp.dir, 'nowhere'), link);
    const r = cli(['--ledger', link, 'init']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${link} is a symbolic link to ${join(tmp.dir, 'nowhere')}, which does not exist: init makes the ledger in a new or empty dir\n`);
    expect(existsSync(join(tmp.dir, 'nowhere'))).toBe(false);
  });

  it('still makes a ledger in a missing or empty dir, and takes an existing ledger again', () => {
    const missing = join(tmp.dir, 'new', 'ledger');
    expect(cli(['--ledger', missing, 'init']).stdout).toBe(`created ${missing}\n`);
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    expect(cli(['--ledger', empty, 'init']).stdout).toBe(`created ${empty}\n`);
    rmSync(join(empty, 'config.yaml'));
    const again = cli(['--ledger', empty, 'init']);
    expect(again).toMatchObject({ code: 0, stdout: `already a ledger: ${empty}\n` });
    expect(existsSync(join(empty, 'config.yaml'))).toBe(true);
  });

  it('takes a dir holding only a config.yaml written ahead of init, and keeps that config', () => {
    const prepared = join(tmp.dir, 'prepared');
    mkdirSync(prepared);
    const config = 'backends:\n  - id: mine\n    command: [/bin/true]\n    eligibleRisks: [low]\n';
    writeFileSync(join(prepared, 'config.yaml'), config);
    expect(cli(['--ledger', prepared, 'init'])).toMatchObject({ code: 0, stdout: `created ${prepared}\n` });
    expect(readFileSync(join(prepared, 'config.yaml'), 'utf8')).toBe(config);
  });
});
