import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';
import { stringify } from 'yaml';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';

// No config.yaml at all: "backend b is not declared in config.yaml" sends a person looking for a typo
// in a file that is not there. Said as it is.
describe('a ledger without config.yaml', () => {
  const w = cliLedger('cto-missing-config-');
  const { tmp, repo, L, run } = w;

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

    // A backend enabled and a run approved, then the file gone: backend list and execute say so too.
    writeFileSync(config, stringify({ backends: [DEMO_BACKEND] }));
    expect(run('backend', 'enable', 'demo').code).toBe(0);
    writeFileSync(contract, contractYaml());
    const runId = JSON.parse(run('contract', 'admit', contract, '--json').stdout).runId as string;
    expect(run('approve', runId).code).toBe(0);
    rmSync(config);
    const gone = `backend demo is not declared: config.yaml does not exist at ${config}`;
    expect(JSON.parse(run('backend', 'list', '--json').stdout)).toContainEqual(expect.objectContaining({ id: 'demo', active: false, reason: expect.stringContaining(gone) }));
    const execute = run('execute', runId);
    expect(execute.code).toBe(1);
    expect(execute.stderr).toContain(`refused by gate backend-ineligible: ${gone}`);
  }, 60_000);

  // A config.yaml that is a link to a missing file was read as no config at all (every backend
  // undeclared, contracts refused backend-ineligible), and init failed on it with a bare ENOENT, exit 3.
  it('is named when it is a symbolic link to a missing file: by init, backend list, contract admit and health, exit 2, nothing written', () => {
    const config = join(L, 'config.yaml');
    rmSync(config, { force: true });
    const target = join(tmp.dir, 'moved', 'config.yaml');
    symlinkSync(target, config);
    const named = `${config} is a symbolic link to ${target}, which does not exist`;
    const before = run('events', '--json').stdout;
    for (const argv of [['init'], ['backend', 'list'], ['health']]) {
      const r = run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toContain(named);
    }
    const contract = join(tmp.dir, 'c2.yaml');
    writeFileSync(contract, contractYaml());
    const admit = run('contract', 'admit', contract);
    expect(admit.code).toBe(2);
    expect(admit.stderr).toContain(named);
    expect(run('events', '--json').stdout).toBe(before);
    expect(existsSync(target)).toBe(false);

    // A fresh dir holding only such a link: init writes no ledger.db beside it.
    const fresh = join(tmp.dir, 'fresh');
    mkdirSync(fresh);
    symlinkSync(target, join(fresh, 'config.yaml'));
    const init = cli(['--ledger', fresh, 'init']);
    expect(init.code).toBe(2);
    expect(readdirSync(fresh)).toEqual(['config.yaml']);
  }, 60_000);
});
