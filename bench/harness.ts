// Harness overhead: execute time minus the backend's own time, on a target repository of 5,000 files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { admitContract } from '../commands/admit-contract.js';
import { admitTarget } from '../commands/admit-target.js';
import { recordApproval } from '../commands/record-approval.js';
import { setBackend } from '../commands/set-backend.js';
import { loadContract } from '../src/contract/load.js';
import { foldRun, runStream } from '../src/domain/run.js';
import { executeRun } from '../src/harness/execute.js';
import { initLedger, ledgerPaths, openLedger } from '../src/ledger/ledger.js';

const FILES = Number(process.env.BENCH_REPO_FILES ?? 5_000);
const RUNS = Number(process.env.BENCH_HARNESS_RUNS ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'cto-bench-harness-'));
const repo = join(dir, 'repo');
for (let i = 0; i < FILES; i++) {
  const sub = join(repo, 'src', `m${i % 50}`);
  mkdirSync(sub, { recursive: true });
  writeFileSync(join(sub, `f${i}.js`), `export const v${i} = ${i};\n`);
}
execFileSync('git', ['init', '-q', '-b', 'main', repo]);
execFileSync('git', ['-C', repo, 'add', '-A']);
execFileSync('git', ['-C', repo, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'init']);

const ledgerDir = join(dir, 'ledger');
await initLedger(ledgerDir);
const backend = join(dir, 'backend.mjs');
writeFileSync(backend, "import fs from 'node:fs';\nfs.writeFileSync('src/m0/f0.js', 'export const v0 = 42;\\n');\n");
writeFileSync(ledgerPaths(ledgerDir).config, stringify({ backends: [{ id: 'bench', command: [process.execPath, backend] }] }));
const ledger = openLedger(ledgerDir);
await admitTarget(ledger, { path: repo, targetId: 'bench', owner: 'bench', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 1, admittedBy: 'bench' });
await setBackend(ledger, { backendId: 'bench', enable: true, by: 'bench', note: '' });
const contractFile = join(dir, 'c.yaml');
writeFileSync(
  contractFile,
  stringify({ title: 'bench', target: 'bench', backend: 'bench', brief: 'b', references: ['r'], allowedPaths: ['src/**'], successCriteria: ['s'], noTestRationale: 'benchmark', rollback: 'none' }),
);

const overheads: number[] = [];
/** Each run starts on an idle disk: the previous worktree's background deletion has finished. */
async function idleDisk(): Promise<void> {
  const { readdirSync } = await import('node:fs');
  for (let i = 0; i < 600 && readdirSync(tmpdir()).some((n) => n.startsWith('cto-run-') && n.endsWith('.removed')); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  execFileSync('sync');
}

for (let i = 0; i < RUNS; i++) {
  await idleDisk();
  const e = await admitContract(ledger, { file: contractFile, loaded: loadContract(contractFile), admittedBy: 'bench' });
  const runId = e.type === 'ContractAdmitted' ? e.data.runId : '';
  await recordApproval(ledger, { runId, decision: 'approved', operator: 'bench', expiresInHours: 1, note: '' });
  const started = performance.now();
  const result = await executeRun(ledger, runId, { by: 'bench' });
  const total = performance.now() - started;
  const run = foldRun(runId, await ledger.store.readStream(runStream(runId)));
  const backendMs = Date.parse(run.execution!.endedAt) - Date.parse(run.execution!.startedAt);
  overheads.push(total - backendMs);
  if (process.env.BENCH_TRACE) {
    const { readFileSync } = await import('node:fs');
    for (const line of readFileSync(join(result.evidenceDir, 'trace.jsonl'), 'utf8').trim().split('\n')) {
      const span = JSON.parse(line) as { name: string; start: string; end: string };
      process.stdout.write(`            ${span.name} ${Date.parse(span.end) - Date.parse(span.start)} ms\n`);
    }
  }
  process.stdout.write(`harness     run ${i + 1}: ${result.status}, execute ${(total / 1000).toFixed(2)} s, backend ${(backendMs / 1000).toFixed(2)} s, overhead ${((total - backendMs) / 1000).toFixed(2)} s\n`);
}
overheads.sort((a, b) => a - b);
process.stdout.write(`harness     overhead (median of ${RUNS}) on ${FILES.toLocaleString('en-US')} files: ${(overheads[Math.floor(RUNS / 2)]! / 1000).toFixed(2)} s   target < 1.5 s\n`);
await ledger.close();
rmSync(dir, { recursive: true, force: true });
