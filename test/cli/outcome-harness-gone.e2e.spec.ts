import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A run whose harness was killed stays `executing` (status: harness gone); `outcome --accept` said it
// "is still executing", as if evidence might yet come. None will: it can only be rejected.
describe('outcome --accept on a run whose harness is gone', () => {
  const w = cliLedger('cto-accept-gone-', (dir) => ({ id: 'slow', command: [process.execPath, join(dir, 'slow-backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run } = w;

  it('is refused saying the harness is gone and the run can only be rejected', async () => {
    writeFileSync(join(tmp.dir, 'slow-backend.mjs'), `await new Promise((r) => setTimeout(r, 4000));\n`);
    const scratch = join(tmp.dir, 'scratch');
    mkdirSync(scratch);
    w.setUp();
    const runId = w.admit({ backend: 'slow', isolation: 'best-effort' });
    expect(run('approve', runId).code).toBe(0);
    const harness = spawn(process.execPath, [CLI, '--ledger', L, 'execute', runId], { stdio: 'ignore', env: { ...process.env, CTO_OPERATOR: 'jp', CTO_SCRATCH_DIR: scratch } });
    const exited = new Promise((resolve) => harness.on('exit', resolve));
    const status = () => JSON.parse(run('status', runId, '--json').stdout) as { status: string; harness?: string };
    try {
      for (let i = 0; i < 200 && status().harness !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(status()).toMatchObject({ status: 'executing', harness: 'running' });
      harness.kill('SIGKILL');
      await exited;
      expect(status()).toMatchObject({ status: 'executing', harness: 'gone' });

      const accepted = run('outcome', runId, '--accept', '--reason', 'looks fine');
      expect(accepted.code).toBe(1);
      expect(accepted.stderr).toMatch(/refused by gate evidence-missing: .*its harness is gone.*can only be rejected/);
      expect(accepted.stderr).not.toMatch(/still executing/);
      // Its marker removed too (a cleaned-up dir, a ledger copied from another machine): not "still executing" either.
      rmSync(join(L, 'executing', `${runId}.json`));
      expect(status()).toMatchObject({ status: 'executing', harness: 'unknown' });
      const unmarked = run('outcome', runId, '--accept', '--reason', 'looks fine');
      expect(unmarked.code).toBe(1);
      expect(unmarked.stderr).toMatch(/refused by gate evidence-missing: .*no harness on this machine marked it.*can only be rejected/);
      expect(unmarked.stderr).not.toMatch(/still executing/);
      expect(run('outcome', runId, '--reject', '--reason', 'harness killed').code).toBe(0);
      expect(status().status).toBe('rejected');
    } finally {
      harness.kill('SIGKILL');
    }
  }, 60_000);
});
