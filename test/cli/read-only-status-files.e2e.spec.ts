import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `status RUN` on a ledger opened read-only writes no replay file, yet named the three under
// projections/runs/ as its replay files: in a fresh backup (whose projections are folded on first use)
// an auditor was sent to files that were not there. Only files that are there are named.
describe('status RUN on a ledger opened read-only', () => {
  const w = cliLedger('cto-ro-status-');
  const { tmp, run } = w;

  it('names only the replay files there are', () => {
    w.setUp();
    const runId = w.admit();
    const backup = join(tmp.dir, 'backup');
    expect(run('backup', backup).code).toBe(0);
    const ro = (...args: string[]) => w.run('--ledger', backup, '--read-only', ...args);
    const text = ro('status', runId);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toMatch(/projections\/runs/);
    const json = ro('status', runId, '--json');
    expect(json.code).toBe(0);
    const replay = JSON.parse(json.stdout).replay as Record<string, string>;
    expect(replay).toEqual({});
    // Where they were written, they are named, read-only or not.
    expect(run('status', runId).code).toBe(0);
    const own = JSON.parse(run('--read-only', 'status', runId, '--json').stdout).replay as Record<string, string>;
    expect(Object.keys(own).sort()).toEqual(['dir', 'normalizedEvents', 'runState', 'trace']);
    for (const path of Object.values(own)) expect(existsSync(join(w.L, path))).toBe(true);
  });
});
