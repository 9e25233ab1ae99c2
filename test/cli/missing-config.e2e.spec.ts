import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// No config.yaml at all: "backend b is not declared in config.yaml" sends a person looking for a typo
// in a file that is not there. Said as it is.
describe('a ledger without config.yaml', () => {
  const tmp = tempDir('cto-missing-config-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('backend enable|disable and contract admit say config.yaml does not exist, and where', () => {
    expect(run('init').code).toBe(0);
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    const config = join(L, 'config.yaml');
    rmSync(config);
    const missing = `backend b is not declared: config.yaml does not exist at ${config}`;

    const enable = run('backend', 'enable', 'b');
    expect(enable.code).toBe(2);
    expect(enable.stderr).toContain(missing);
    const disable = run('backend', 'disable', 'b');
    expect(disable.code).toBe(2);
    expect(disable.stderr).toContain(`${missing} (\`cto-ledger init\` writes a commented one; declare the backend there) and was never on this ledger`);

    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml({ backend: 'b' }));
    const admit = run('contract', 'admit', contract);
    expect(admit.code).toBe(1);
    expect(admit.stderr).toContain(`refused by gate backend-ineligible: ${missing}`);

    // With the file there, a backend it does not declare is told as before.
    expect(run('init').code).toBe(0);
    expect(run('backend', 'enable', 'b').stderr).toContain('backend b is not declared in config.yaml');
  }, 60_000);
});
