import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// An unknown run id is exit 2; an unknown target id was exit 1, "refused by gate
// target-admission-missing", as if a gate had weighed a target that is not there.
describe('target revoke', () => {
  const w = cliLedger('cto-revoke-unknown-');
  const { run } = w;

  it('of an id never admitted is exit 2, naming it, and appends nothing; of one already revoked, a gate refusal', () => {
    w.setUp();
    const position = () => run('events').stdout.trim().split('\n').length;
    const before = position();
    const unknown = run('target', 'revoke', 'no-such-target', '--reason', 'typo', '--json');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no target no-such-target on the ledger/);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    expect(JSON.parse(unknown.stdout).gate).toBeUndefined();
    expect(position()).toBe(before);

    expect(run('target', 'revoke', 'fixture', '--reason', 'handed over').code).toBe(0);
    const after = position();
    const again = run('target', 'revoke', 'fixture', '--reason', 'again');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refused by gate target-admission-stale: target fixture is already revoked/);
    expect(position()).toBe(after);
  });
});
