import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// An approval has a lifetime; a denial has none: `deny --help` listed --expires-hours ("approval lifetime").
describe('--expires-hours', () => {
  const w = cliLedger('cto-deny-expires-');
  const { run } = w;

  it('is listed and taken by approve, neither listed nor taken by deny', () => {
    w.setUp();
    expect(run('approve', '--help').stdout).toMatch(/--expires-hours <hours> +approval lifetime/);
    expect(run('deny', '--help').stdout).not.toMatch(/expires/);
    const runId = w.admit();
    const denied = run('deny', runId, '--expires-hours', '3');
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/--expires-hours is the lifetime of an approval: a denial has none/);
    expect(JSON.parse(run('status', runId, '--json').stdout).status).toBe('awaiting-approval');
    expect(run('deny', runId).code).toBe(0);
    expect(JSON.parse(run('status', runId, '--json').stdout).status).toBe('denied');
    const other = w.admit();
    expect(run('approve', other, '--expires-hours', '3').code).toBe(0);
  });
});
