import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// The harness fails after writing evidence/<run>/ but before EvidenceDigested is on the ledger (a full
// disk: ENOSPC in the artifact store or at the append; here the artifact store cannot be made). The run
// is recorded failed closed (provider-failure); a bundle whose report.json says "succeeded" and that
// the ledger never digested must not be left beside it.
describe('evidence the ledger never digested', () => {
  const w = cliLedger('cto-undigested-', (dir) => ({ id: 'b', command: [process.execPath, join(dir, 'backend.mjs')], eligibleRisks: ['low'] }));
  const { tmp, L, run } = w;

  it('is removed when the harness fails while sealing it', () => {
    const backend = join(tmp.dir, 'backend.mjs');
    writeFileSync(backend, `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`);
    w.setUp();
    const runId = w.admit({ backend: 'b', isolation: 'best-effort' });
    expect(run('approve', runId).code).toBe(0);
    rmSync(join(L, 'artifacts'), { recursive: true, force: true });
    writeFileSync(join(L, 'artifacts'), '');

    const executed = run('execute', runId);
    expect(executed.code).toBe(3);
    expect(JSON.parse(run('status', runId, '--json').stdout)).toMatchObject({ status: 'failed-closed', evidence: null });
    expect(existsSync(join(L, 'evidence', runId, 'report.json'))).toBe(false);
  }, 60_000);
});
