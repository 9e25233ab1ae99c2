import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// Exit 2 is "a path you named that cannot be used"; a file of the ledger's own that cannot be written
// (projections on a read-only mount: `status RUN` failed with exit 2 naming run.json.tmp-PID) is the
// store's side, exit 3. Here projections/runs/<run> is a file where the run's dir goes.
describe('a file of the ledger that cannot be written', () => {
  const w = cliLedger('cto-ledger-file-');
  const { tmp, L, run } = w;

  it('is exit 3, a store or I/O failure; a path the user named is still exit 2', () => {
    w.setUp();
    const runId = w.admit();
    const runDir = join(L, 'projections', 'runs', runId);
    rmSync(runDir, { recursive: true, force: true });
    writeFileSync(runDir, '');
    const status = run('status', runId, '--json');
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ ok: false, exitCode: 3 });
    expect(status.stderr).toContain(runDir);

    const notADir = join(tmp.dir, 'a-file');
    writeFileSync(notADir, '');
    expect(run('backup', join(notADir, 'bk')).code).toBe(2);
  });
});
