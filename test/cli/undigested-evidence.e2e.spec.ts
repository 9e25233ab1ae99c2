import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cli } from '../fixtures/cli.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { tempDir } from '../fixtures/tmp.js';

// The harness fails after writing evidence/<run>/ but before EvidenceDigested is on the ledger (a full
// disk: ENOSPC in the artifact store or at the append; here the artifact store cannot be made). The run
// is recorded failed closed (provider-failure); a bundle whose report.json says "succeeded" and that
// the ledger never digested must not be left beside it.
describe('evidence the ledger never digested', () => {
  const tmp = tempDir('cto-undigested-');
  const repo = makeTargetRepo();
  const L = join(tmp.dir, 'ledger');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    tmp.remove();
    repo.remove();
  });

  it('is removed when the harness fails while sealing it', () => {
    const backend = join(tmp.dir, 'backend.mjs');
    writeFileSync(backend, `import { writeFileSync } from 'node:fs';\nwriteFileSync('src/greet.js', 'export const greet = () => "hello";\\n');\n`);
    expect(run('init').code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), stringify({ backends: [{ id: 'b', command: [process.execPath, backend], eligibleRisks: ['low'] }] }));
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
    expect(run('backend', 'enable', 'b').code).toBe(0);
    const contract = join(tmp.dir, 'c.yaml');
    writeFileSync(contract, contractYaml({ backend: 'b', isolation: 'best-effort' }));
    const runId = JSON.parse(run('contract', 'admit', contract, '--json').stdout).runId as string;
    expect(run('approve', runId).code).toBe(0);
    rmSync(join(L, 'artifacts'), { recursive: true, force: true });
    writeFileSync(join(L, 'artifacts'), '');

    const executed = run('execute', runId);
    expect(executed.code).toBe(3);
    expect(JSON.parse(run('status', runId, '--json').stdout)).toMatchObject({ status: 'failed-closed', evidence: null });
    expect(existsSync(join(L, 'evidence', runId, 'report.json'))).toBe(false);
  }, 60_000);
});
