import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GOOD_BACKEND, makeWorld } from '../fixtures/harness.js';
import { tempDir } from '../fixtures/tmp.js';

type World = Awaited<ReturnType<typeof makeWorld>>;
const worlds: World[] = [];
const temps: Array<{ remove(): void }> = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.cleanup();
  for (const t of temps.splice(0)) t.remove();
});

/** A world whose backend runs where the repository's git dir is writable (unshare), or null when unshare is not available. */
async function unshareWorld(body: string): Promise<{ w: World; result: Awaited<ReturnType<World['execute']>> } | null> {
  const saved = process.env.CTO_ISOLATION;
  process.env.CTO_ISOLATION = 'unshare';
  try {
    const w = await makeWorld({ body, contract: { isolation: 'best-effort' } });
    worlds.push(w);
    const result = await w.execute();
    if (result.isolation !== 'unshare') {
      console.log(`skipped: unshare is not available here (${result.isolation})`);
      return null;
    }
    return { w, result };
  } finally {
    if (saved === undefined) delete process.env.CTO_ISOLATION;
    else process.env.CTO_ISOLATION = saved;
  }
}

const commonDir = "cp.execFileSync('/usr/bin/git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { encoding: 'utf8' }).trim()";

describe('a repository whose git state the backend changed (its git dir writable: unshare, none)', () => {
  it('forbidden-action, and the harness runs no more git on it: a clean filter planted in its config never runs outside the sandbox', async () => {
    const marker = tempDir('cto-filter-marker-');
    temps.push(marker);
    const ran = join(marker.dir, 'filter-ran');
    const run = await unshareWorld(`${GOOD_BACKEND}
      const common = ${commonDir};
      fs.appendFileSync(common + '/config', '[filter "x"]\\n\\tclean = "sh -c \\'cat; touch ${ran}\\'"\\n');
      fs.writeFileSync(common + '/info/attributes', '* filter=x\\n');`);
    if (!run) return;
    expect(run.result.failedGate).toBe('forbidden-action');
    const gates = (await run.w.state()).execution!.gateResults;
    expect(gates.find((g) => g.gate === 'forbidden-action')!.detail).toMatch(/git state changed: repo\/config, repo\/info/);
    expect(existsSync(join(run.result.evidenceDir, 'report.json'))).toBe(true);
    // The filter would have run in the harness's own git status and add, outside the network and PID namespaces.
    expect(existsSync(ran)).toBe(false);
  });

  it('an include.path naming a FIFO, which git reading the config would block on, does not hang the harness', async () => {
    const run = await unshareWorld(`${GOOD_BACKEND}
      const common = ${commonDir};
      cp.execFileSync('mkfifo', [common + '/planted']);
      fs.appendFileSync(common + '/config', '[include]\\n\\tpath = ' + common + '/planted\\n');`);
    if (!run) return;
    expect(run.result.failedGate).toBe('forbidden-action');
    expect((await run.w.state()).execution!.gateResults.find((g) => g.gate === 'forbidden-action')!.detail).toMatch(/git state changed: repo\/config/);
    expect(existsSync(join(run.result.evidenceDir, 'report.json'))).toBe(true);
  });
});
