import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

// The same user with HOME unset: the harness looked up the home dir to hide from the backend, which
// threw after the approval was spent ("uv_os_homedir returned ENOENT"): the run failed closed, and could
// only be rejected.
describe.skipIf(!unknownUserAvailable)('execute by a user with no home dir', () => {
  const w = cliLedger('cto-no-home-', (dir) => ({ id: 'b', command: [process.execPath, join(dir, 'backend.mjs')], eligibleRisks: ['low'] }));

  it('runs the case, nothing of a home dir to hide', () => {
    writeFileSync(join(w.tmp.dir, 'backend.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`);
    w.setUp();
    const runId = w.admit({ backend: 'b', isolation: 'best-effort' });
    expect(w.run('approve', runId).code).toBe(0);
    const r = asUnknownUser([CLI, '--ledger', w.L, 'execute', runId], { HOME: undefined, CTO_OPERATOR: 'jp' });
    expect(r.stderr).not.toMatch(/uv_os_homedir|harness error/);
    expect(r.status).toBe(0);
    expect(JSON.parse(w.run('status', runId, '--json').stdout)).toMatchObject({ status: 'evidenced' });
    expect(w.run('outcome', runId, '--accept', '--reason', 'the change is right').code).toBe(0);
  }, 60_000);
});
