import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// `status RUN` lists the paths to replay a run from: evidence/<run> only once there is one.
describe('status RUN: the evidence replay path', () => {
  const tmp = tempDir('cto-status-evidence-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('is listed only when evidence/<run> exists', () => {
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [{ id: 'demo', command: [process.execPath, '-e', '0'], eligibleRisks: ['low'] }] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'demo').code).toBe(0);
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
