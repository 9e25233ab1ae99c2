import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// An empty string (an unset variable in a script) names nothing: `events --stream ''` printed the
// whole log, as if no --stream were given. Every string argument or option refuses it, exit 2, naming
// it, with nothing appended.
describe('an empty argument or option', () => {
  const w = cliLedger('cto-empty-args-');
  const { run } = w;

  it('is exit 2 naming it, never read as absent, and appends nothing', () => {
    w.setUp();
    const runId = w.admit();
    const before = run('events').stdout;
    expect(before.trim().split('\n').length).toBeGreaterThan(2);
    const cases: Array<[string[], RegExp]> = [
      [['events', '--stream', ''], /--stream must name a stream, got an empty string/],
      [['events', '--stream', '  '], /--stream must name a stream, got a blank one/],
      [['replay', '', '--out', `${w.tmp.dir}/replayed`], /"" is not a run id/],
      [['approve', ''], /"" is not a run id/],
      [['deny', ''], /"" is not a run id/],
      [['outcome', '', '--reject', '--reason', 'r'], /"" is not a run id/],
      [['target', 'revoke', '', '--reason', 'r'], /the target id must not be empty/],
      [['target', 'admit', '', '--owner', 'jp'], /the repository path must not be empty/],
      [['backend', 'enable', ''], /the backend id must not be empty/],
      [['backend', 'disable', ''], /the backend id must not be empty/],
      [['contract', 'validate', ''], /the contract file must not be empty/],
      [['contract', 'admit', ''], /the contract file must not be empty/],
      [['approve', runId, '--by', ''], /--by must not be empty/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toMatch(message);
    }
    expect(run('events').stdout).toBe(before);
  });
});
