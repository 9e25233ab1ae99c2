import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { EVENTS_PER_RUN, runEvent } from '../../bench/workload.js';
import { newId } from '../../src/ledger/new-event.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { CLI } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const cli = (dir: string, ...args: string[]) => spawnSync(process.execPath, [CLI, '--ledger', dir, ...args], { encoding: 'utf8', env: { ...process.env, CTO_OPERATOR: 'jp' }, timeout: 120_000 });

// Each run's projection files were matched to it by a filter over every run's files: quadratic in
// the runs, about 25 s of health at 5,000 runs and 90 s at 10,000, where the rest takes a few.
it('health compares every run file in time linear in the runs (4,000 runs, files all written)', () => {
  const { dir, remove } = tempDir('cto-health-scale-');
  cleanups.push(remove);
  const ledger = join(dir, 'ledger');
  expect(cli(ledger, 'init').status).toBe(0);
  return (async () => {
    const s = openSqliteStore({ file: join(ledger, 'ledger.db') });
    for (let r = 0; r < 4_000; r++) {
      const runId = newId();
      await s.append(`run-${runId}`, Array.from({ length: EVENTS_PER_RUN }, (_, n) => runEvent(runId, n, new Date())), 'no-stream');
    }
    s.db.close();
    expect(cli(ledger, 'status').status).toBe(0); // the first fold writes every run's files
    const started = performance.now();
    const health = cli(ledger, 'health');
    const took = performance.now() - started;
    expect(health.status, health.stderr).toBe(0);
    expect(took).toBeLessThan(8_000);
  })();
}, 180_000);
