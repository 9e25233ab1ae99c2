import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `status RUN` of a denied run showed `approval    denied by jp, base ..., until <a day later>`: a
// denial has no lifetime (deny refuses --expires-hours), but its event carries the default's date, and
// the line read as a denial that lapses. It now says who denied it and their note.
describe('status of a denied run', () => {
  const w = cliLedger('cto-status-denied-');

  it('names who denied it and why, with no date it would lapse at', () => {
    w.setUp();
    const runId = w.admit();
    expect(w.run('deny', runId, '--note', 'not now').code).toBe(0);
    const r = w.run('status', runId);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^approval {4}denied by jp: not now$/m);
    expect(r.stdout).not.toMatch(/^approval .*until/m);
  });
});
