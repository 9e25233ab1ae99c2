import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A projection file written as a sibling then renamed over: when the write or the rename fails (a full
// disk, measured on a tmpfs: `runs.json.tmp-PID` stayed for good, as did `artifacts/.../<sha>.tmp-PID`),
// the half-written sibling must go too. Here the rename fails: runs.json is a directory.
describe('a projection write that fails', () => {
  const w = cliLedger('cto-tmp-siblings-');
  const { tmp, L, run } = w;

  it('leaves no .tmp- sibling behind', () => {
    w.setUp();
    const projections = join(L, 'projections');
    rmSync(join(projections, 'runs.json'), { force: true });
    mkdirSync(join(projections, 'runs.json', 'x'), { recursive: true });
    const contract = w.contractFile();
    const admitted = run('contract', 'admit', contract);
    expect(admitted.code).toBe(0);
    expect(admitted.stderr).toMatch(/projections were not brought up to date/);
    expect(readdirSync(projections).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
