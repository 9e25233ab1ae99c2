import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// The size cap was checked on stat alone: `contract validate /dev/zero` (size 0) read until the
// machine ran out of memory, and a FIFO given as the contract blocked the command forever. A file
// that is not a regular one is refused, exit 2, naming it, before a byte is read.
describe('a contract or config.yaml that is not a regular file', () => {
  const tmp = tempDir('cto-special-files-');
  afterAll(() => tmp.remove());

  it('a FIFO as the contract is refused at once, not waited on', () => {
    const fifo = join(tmp.dir, 'contract.yaml');
    execFileSync('mkfifo', [fifo]);
    const r = cli(['contract', 'validate', fifo, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: contract-invalid: ${fifo}: not a regular file (a FIFO): a contract is read from a file\n`);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
  });

  it('/dev/zero as the contract, directly or through a link, is refused, not read without end', () => {
    const link = join(tmp.dir, 'zero.md');
    symlinkSync('/dev/zero', link);
    for (const file of ['/dev/zero', link]) {
      const r = cli(['contract', 'validate', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`cto-ledger: contract-invalid: ${file}: not a regular file (a character device): a contract is read from a file\n`);
    }
  });

  it('a config.yaml linked to /dev/zero is refused naming it', () => {
    const L = join(tmp.dir, 'ledger');
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const config = join(L, 'config.yaml');
    rmSync(config);
    symlinkSync('/dev/zero', config);
    const r = cli(['--ledger', L, 'backend', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${config}: not a regular file (a character device): a config.yaml is read from a file\n`);
  });
});
