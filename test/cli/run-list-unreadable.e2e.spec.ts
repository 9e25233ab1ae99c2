import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `status` reads the run list from projections/runs.json. Changed outside cto-ledger (cut short, or a
// directory where the file goes), it said only "EISDIR: illegal operation on a directory, read" or
// "Expected property name or '}' in JSON at position 3": no file named, nothing to do about it.
describe('status when the run list cannot be read', () => {
  const w = cliLedger('cto-run-list-');
  const { L, run } = w;

  it('names runs.json and what puts it right (exit 3), and a rebuild does', () => {
    w.setUp();
    const runId = w.admit();
    const file = join(L, 'projections', 'runs.json');
    for (const spoil of [() => mkdirSync(file), () => writeFileSync(file, '[{'), () => writeFileSync(file, '{}')]) {
      rmSync(file, { recursive: true, force: true });
      spoil();
      const text = run('status');
      expect(text.stderr).toContain(`${file}: the run list is `);
      expect(text.stderr).toMatch(/`cto-ledger rebuild` folds them afresh/);
      expect(text.code).toBe(3);
      const json = run('status', '--json');
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, exitCode: 3, error: expect.stringContaining(file) });
    }
    expect(run('rebuild').code).toBe(0);
    const after = run('status');
    expect(after.code).toBe(0);
    expect(after.stdout).toContain(runId);
  });
});
