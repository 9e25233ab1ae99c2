import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// With --json, "a command that fails also prints one JSON document on stdout". One interrupted by Ctrl-C
// or a TERM (backup, rebuild, execute) said so on stderr and exited 130 or 143 with stdout empty: a
// script parsing it met no document at all.
describe('a --json command interrupted by a signal', () => {
  const { tmp, L } = openRunsLedger('cto-int-json-', 20000, 1000);

  const interrupt = async (args: string[], underWay: (pid: number) => string) => {
    const child = spawn(process.execPath, [CLI, '--ledger', L, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const marker = underWay(child.pid!);
    while (!existsSync(marker) && child.exitCode === null) await new Promise((r) => setImmediate(r));
    child.kill('SIGTERM');
    return { code: await exited, stdout };
  };

  it('prints one JSON document for backup', async () => {
    const dest = join(tmp.dir, 'backup');
    const r = await interrupt(['backup', dest], (pid) => `${dest}.partial-${pid}`);
    expect(r.code).toBe(143);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, exitCode: 143, error: `backup interrupted (SIGTERM): nothing was left at ${dest}` });
  }, 60_000);

  it('prints one JSON document for rebuild', async () => {
    const r = await interrupt(['rebuild'], (pid) => join(L, `projections.rebuild-${pid}`));
    expect(r.code).toBe(143);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, exitCode: 143, error: 'rebuild interrupted (SIGTERM): the projections are as they were' });
  }, 60_000);
});
