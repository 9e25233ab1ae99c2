import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';
import { contractYaml } from '../fixtures/ledgers.js';

// `status RUN` lists the paths to replay a run from: evidence/<run> only once there is one.
describe('status RUN: the evidence replay path', () => {
  const w = cliLedger('cto-status-evidence-', { id: 'demo', command: [process.execPath, '-e', '0'], eligibleRisks: ['low'] });
  const { tmp, L, run } = w;

  it('is listed only when evidence/<run> exists', () => {
    w.setUp();
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml({ backend: 'demo' }));
    const runId = JSON.parse(run('contract', 'admit', contract, '--json').stdout).runId as string;

    const text = run('status', runId);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^replay +projections/runs/${runId}/run\\.json$`, 'm'));
    expect(text.stdout).not.toContain(`evidence/${runId}`);
    const doc = JSON.parse(run('status', runId, '--json').stdout);
    expect(doc.replay).toEqual({ dir: `projections/runs/${runId}`, runState: `projections/runs/${runId}/run.json`, normalizedEvents: `projections/runs/${runId}/events.normalized.jsonl`, trace: `projections/runs/${runId}/trace.jsonl` });

    mkdirSync(join(L, 'evidence', runId), { recursive: true });
    expect(run('status', runId).stdout).toMatch(new RegExp(`^ +evidence/${runId}$`, 'm'));
    expect(JSON.parse(run('status', runId, '--json').stdout).replay.evidence).toBe(`evidence/${runId}`);
  }, 60_000);
});
