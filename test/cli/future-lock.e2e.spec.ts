import { existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// A projections.lock dated ahead of this machine's clock (a clock stepped back, a lock copied from a
// host whose clock ran ahead) never grows 10 s old: proper-lockfile alone waited it out for ~41 s on
// every command, then failed. Past 30 s ahead no live holder here can have dated it: taken over.
describe('a projections.lock dated in the future', () => {
  const tmp = tempDir('cto-future-lock-');
  const L = join(tmp.dir, 'ledger');
  afterAll(() => tmp.remove());

  it('is taken over at once, with a notice saying why', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const lock = join(L, 'projections.lock');
    mkdirSync(lock);
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(lock, ahead, ahead);
    const start = Date.now();
    const r = cli(['--ledger', L, 'status']);
    expect(r.code, r.stderr).toBe(0);
    // not the ~41 s proper-lockfile alone waits (a bound far from the figure, so a loaded machine passes)
    expect(Date.now() - start).toBeLessThan(35_000);
    expect(r.stdout).toContain('no runs');
    expect(r.stderr).toContain(`taking over the projections lock (${lock}): its time, ${ahead.toISOString().slice(0, 19)}`);
    // 3600 s less the time the command took to start (a second or two on a loaded machine)
    expect(r.stderr).toMatch(/lies 3(600|5[5-9]\d) s ahead of this machine's clock/);
    expect(existsSync(lock)).toBe(false);
  }, 90_000);
});
