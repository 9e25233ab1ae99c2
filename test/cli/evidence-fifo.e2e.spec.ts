import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A FIFO put where a bundle file goes (evidence/<run>/report.md) made `outcome --accept` and `health`
// block for good on re-hashing it; a link to /dev/zero, read them without end. Such a file is no
// digested artifact: acceptance is refused evidence-stale, health names it.
describe('evidence replaced by a FIFO or a device', () => {
  const w = cliLedger('cto-evidence-fifo-', (dir) => ({ id: 'b', command: [process.execPath, join(dir, 'backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run } = w;

  it('is refused evidence-stale and named by health, not waited on', () => {
    writeFileSync(join(tmp.dir, 'backend.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`);
    w.setUp();
    const runId = w.admit({ backend: 'b', isolation: 'best-effort' });
    expect(run('approve', runId).code).toBe(0);
    expect(run('execute', runId).code).toBe(0);
    const report = join(L, 'evidence', runId, 'report.md');
    rmSync(report);
    execFileSync('mkfifo', [report]);
    const detail = `${report} is no regular file, not the digested report.md`;
    const accept = run('outcome', runId, '--accept', '--reason', 'looks right', '--json');
    expect(accept.code).toBe(1);
    expect(JSON.parse(accept.stdout)).toMatchObject({ gate: 'evidence-stale' });
    expect(accept.stderr).toContain(detail);
    const health = run('health');
    expect(health.code).toBe(3);
    expect(health.stdout).toContain(detail);

    rmSync(report);
    symlinkSync('/dev/zero', report);
    const again = run('outcome', runId, '--accept', '--reason', 'looks right');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(detail);
  }, 60_000);
});
