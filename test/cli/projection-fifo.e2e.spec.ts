import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A FIFO where projections/runs.json goes (the ledger's dir changed behind its back) made `status` and
// `health`, the auditor's check, block for good on reading it. They are exit 3 now, naming the file and
// the rebuild that puts it right.
describe('a FIFO where a projection file goes', () => {
  const w = cliLedger('cto-projection-fifo-');

  it('is exit 3 naming it, for status and health, and rebuild puts it right', () => {
    w.setUp();
    w.admit();
    const runs = join(w.L, 'projections', 'runs.json');
    rmSync(runs);
    execFileSync('mkfifo', [runs]);
    const status = w.run('status');
    expect(status.code).toBe(3);
    expect(status.stderr).toBe(`cto-ledger: ${runs}: not a regular file (a FIFO): the run list is read from a file; cto-ledger rebuild puts it right\n`);
    const health = w.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.stdout)).toMatchObject({ ok: false, error: `${runs}: not a regular file (a FIFO): a projection is read from a file; cto-ledger rebuild puts the projections right` });
    expect(w.run('rebuild').code).toBe(0);
    expect(w.run('health').code).toBe(0);
  });
});
