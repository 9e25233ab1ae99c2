import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// `init` with the ledger dir from CTO_LEDGER_DIR, not --ledger: a value it refuses was named as
// "--ledger must be one line of text ...", an option the user never typed.
describe('init refusing the dir CTO_LEDGER_DIR names', () => {
  const tmp = tempDir('cto-ledger-env-');
  afterAll(() => tmp.remove());

  it('names CTO_LEDGER_DIR, not --ledger; a --ledger given is named as such', () => {
    const newline = cli(['init'], { cwd: tmp.dir, env: { CTO_LEDGER_DIR: 'a\nb' } });
    expect(newline.stderr).toBe('cto-ledger: CTO_LEDGER_DIR must be one line of text without control characters, got "a\\nb"\n');
    expect(newline.code).toBe(2);
    const kernel = cli(['init'], { cwd: tmp.dir, env: { CTO_LEDGER_DIR: '/proc/cto-ledger' } });
    expect(kernel.stderr).toBe('cto-ledger: CTO_LEDGER_DIR /proc/cto-ledger is on a kernel file system (/proc, /sys): no directory can be made there\n');
    expect(kernel.code).toBe(2);
    const option = cli(['--ledger', 'a\nb', 'init'], { cwd: tmp.dir, env: { CTO_LEDGER_DIR: join(tmp.dir, 'l') } });
    expect(option.stderr).toMatch(/^cto-ledger: --ledger must be one line/);
    expect(existsSync(join(tmp.dir, 'l'))).toBe(false);
  });
});
