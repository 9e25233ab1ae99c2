import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';
import { contractYaml } from '../fixtures/ledgers.js';

// `approve`/`deny` on a closed run (an outcome recorded, by an operator or by `sweep`) is bad input as a
// second `outcome` is: exit 2, nothing appended, so the run list's LAST GATE still tells how it closed.
describe('approve and deny on a closed run', () => {
  const w = cliLedger('cto-approve-closed-', { id: 'demo', command: [process.execPath, '-e', '0'], eligibleRisks: ['low'] });
  const { tmp, run } = w;
  const admit = (limits?: object) => {
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml({ backend: 'demo', isolation: 'best-effort', ...(limits ? { limits } : {}) }));
    const r = run('contract', 'admit', contract, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).runId as string;
  };
  const eventsOf = (runId: string) => run('events', '--stream', `run-${runId}`, '--json').stdout;
  const listed = (runId: string) => (JSON.parse(run('status', '--json').stdout).runs as { runId: string }[]).find((e) => e.runId === runId);

  it('exit 2, "run X is closed (...): nothing to approve", nothing appended', async () => {
    w.setUp();

    // Rejected by the operator.
    const rejected = admit();
    expect(run('approve', rejected).code).toBe(0);
    expect(run('outcome', rejected, '--reject', '--reason', 'not wanted').code).toBe(0);
    // Closed by sweep: an outcome deadline of about a second.
    const swept = admit({ backendSeconds: 60, outcomeDeadlineHours: 0.0003 });
    expect(run('approve', swept).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(run('sweep').code).toBe(0);

    for (const [runId, closed] of [
      [rejected, 'rejected by jp'],
      [swept, 'rejected by cto-ledger, gate outcome-missing'],
    ] as const) {
      const before = eventsOf(runId);
      const listedBefore = listed(runId);
      for (const [command, what] of [
        ['approve', 'approve'],
        ['deny', 'deny'],
      ]) {
        const r = run(command!, runId, '--json');
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain(`run ${runId} is closed (${closed} at `);
        expect(r.stderr).toContain(`): nothing to ${what}`);
        expect(JSON.parse(r.stdout)).toEqual({ ok: false, exitCode: 2, error: expect.stringContaining('is closed') });
      }
      expect(eventsOf(runId)).toBe(before);
      expect(listed(runId)).toEqual(listedBefore);
    }
  }, 90_000);
});
