import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// `rebuild` folds the log into projections.rebuild-PID beside the projections and swaps it in whole.
// Ctrl-C (or a TERM) halfway ended the process by the signal's default action and left that dir, as
// large as the projections, until the next rebuild. It is removed, as on any other failure, the
// projections in use are as they were, and the exit is the shell's for the signal.
describe('a rebuild interrupted by a signal', () => {
  // 44,000 events: the rebuild takes long enough to be caught halfway.
  const { L } = openRunsLedger('cto-rebuild-sig-', 20000, 400);
  execFileSync(process.execPath, [CLI, '--ledger', L, 'rebuild'], { stdio: 'ignore' });
  const runsJson = readFileSync(join(L, 'projections', 'runs.json'));

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`leaves no fresh copy on ${signal}, the projections as they were`, async () => {
      const child = spawn(process.execPath, [CLI, '--ledger', L, 'rebuild'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const fresh = join(L, `projections.rebuild-${child.pid}`);
      // Signalled once the fresh copy is there: the fold is under way.
      while (!existsSync(fresh) && child.exitCode === null) await new Promise((r) => setImmediate(r));
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toContain(`rebuild interrupted (${signal}): the projections are as they were`);
      expect(readdirSync(L).filter((f) => f.startsWith('projections.'))).toEqual([]);
      expect(readFileSync(join(L, 'projections', 'runs.json')).equals(runsJson)).toBe(true);
    }, 60_000);
  }
});
