import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `outcome --reject` is always possible while the run has no outcome, a running execution included;
// the harness then appends CaseExecuted and EvidenceDigested after the outcome. The run is closed:
// its state must stay `rejected`, not turn `evidenced` and wait in the control surface for an outcome
// that `outcome` refuses (exit 2, already has one) and `sweep` never gives.
describe('a run rejected while its execution runs', () => {
  const w = cliLedger('cto-reject-running-', (dir) => ({ id: 'slow', command: [process.execPath, join(dir, 'slow-backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run } = w;

  it('stays rejected, out of awaitingOutcome, when the harness records its facts after the outcome', async () => {
    const backend = join(tmp.dir, 'slow-backend.mjs');
    writeFileSync(
      backend,
      `import { writeFileSync } from 'node:fs';\nawait new Promise((r) => setTimeout(r, 2500));\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`,
    );
    w.setUp();
    const runId = w.admit({ backend: 'slow', isolation: 'best-effort' });
    expect(run('approve', runId).code).toBe(0);

    const execute = new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [CLI, '--ledger', L, 'execute', runId], { stdio: 'ignore', env: { ...process.env, CTO_OPERATOR: 'jp' } });
      child.on('exit', (code) => resolve(code ?? -1));
    });
    for (let i = 0; i < 200 && JSON.parse(run('status', runId, '--json').stdout).status !== 'executing'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(run('status', runId, '--json').stdout).status).toBe('executing');
    expect(run('outcome', runId, '--reject', '--reason', 'changed my mind').code).toBe(0);
    await execute;

    const types = run('events', '--stream', `run-${runId}`, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l).type);
    expect(types.slice(-3)).toEqual(['OutcomeRecorded', 'CaseExecuted', 'EvidenceDigested']);
    expect(JSON.parse(run('status', runId, '--json').stdout)).toMatchObject({ status: 'rejected', outcome: { decision: 'rejected' } });
    expect(JSON.parse(run('status', '--json').stdout).runs[0]).toMatchObject({ runId, status: 'rejected' });
    expect(run('rebuild').code).toBe(0);
    const surface = JSON.parse(readFileSync(join(L, 'projections', 'control-surface.json'), 'utf8'));
    expect(surface.awaitingOutcome).toEqual([]);
    expect(surface.totals).toMatchObject({ rejected: 1 });
  }, 60_000);
});
