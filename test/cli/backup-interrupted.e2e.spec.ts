import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// `backup DIR` writes DIR.partial-PID and renames it into place whole. Ctrl-C (or a TERM) while it
// copied a large ledger left the .partial-PID dir for good, a half-copied ledger.db in it. It is
// removed, as on any other failure, and the exit is the shell's for the signal.
describe('a backup interrupted by a signal', () => {
  // 60,000 events: the copy takes long enough to be caught halfway.
  const { tmp, L } = openRunsLedger('cto-backup-sig-', 20000, 2000);

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`leaves no partial dir on ${signal}`, async () => {
      const dest = join(tmp.dir, `backup-${signal}`);
      const child = spawn(process.execPath, [CLI, '--ledger', L, 'backup', dest], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      const partial = `${dest}.partial-${child.pid}`;
      // Signalled once the partial dir is there: the copy is under way.
      while (!existsSync(partial) && child.exitCode === null) await new Promise((r) => setImmediate(r));
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toContain(`backup interrupted (${signal}): nothing was left at ${dest}`);
      expect(readdirSync(tmp.dir).filter((f) => f.startsWith(`backup-${signal}`))).toEqual([]);
    });
  }
});
