import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A user id with no entry in the user database (`docker run --user 1000`, an OpenShift uid), no --by and
// no CTO_OPERATOR: the login name lookup threw, and `contract admit` ended exit 3, "ERR_SYSTEM_ERROR: A
// system error occurred: uv_os_get_passwd returned ENOENT", as if the store had failed. A user
// namespace (`unshare --user --map-user`) gives this process such a uid, root or not.
const UID = 54321;
const asUnknownUser = (args: string[], env: Record<string, string | undefined> = {}) =>
  spawnSync('unshare', ['--user', `--map-user=${UID}`, `--map-group=${UID}`, process.execPath, ...args], {
    env: { ...process.env, CTO_OPERATOR: undefined, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
const unknownUserAvailable =
  asUnknownUser(['-e', 'try { require("node:os").userInfo(); process.exit(1) } catch { process.exit(0) }']).status === 0;

describe.skipIf(!unknownUserAvailable)('a user with no login name', () => {
  const w = cliLedger('cto-no-login-');

  it('is told to pass --by or set CTO_OPERATOR, exit 2, nothing appended; --by still works', () => {
    w.setUp();
    const file = w.contractFile();
    const events = () => w.run('events').stdout;
    const before = events();
    const r = asUnknownUser([CLI, '--ledger', w.L, 'contract', 'admit', file, '--json']);
    expect(r.stderr).toBe(`cto-ledger: no operator name: user id ${UID} has no login name (no entry in the user database); pass --by NAME or set CTO_OPERATOR\n`);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    expect(events()).toBe(before);

    const by = asUnknownUser([CLI, '--ledger', w.L, 'contract', 'admit', file, '--by', 'jp']);
    expect(by.stderr).toBe('');
    expect(by.status).toBe(0);
    const byEnv = asUnknownUser([CLI, '--ledger', w.L, 'contract', 'admit', file], { CTO_OPERATOR: 'jp' });
    expect(byEnv.status).toBe(0);
  });
});
