import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GOOD_BACKEND, makeWorld } from '../fixtures/harness.js';
import { tempDir } from '../fixtures/tmp.js';

type World = Awaited<ReturnType<typeof makeWorld>>;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.cleanup();
  delete process.env.AGENT_BIN_TOKEN;
});

/** Every file under a dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

describe('a secret written into a binary file of the change', () => {
  it('forbidden-action, and no patch is kept: git shows the file compressed and base85-encoded, where the value is never seen', async () => {
    const value = 'sk-live-binary-7070707070';
    process.env.AGENT_BIN_TOKEN = value;
    const w = await makeWorld({
      backend: { secrets: ['AGENT_BIN_TOKEN'] },
      body: `${GOOD_BACKEND} fs.writeFileSync('src/logo.bin', Buffer.concat([Buffer.from([0, 0xff, 0xfe]), Buffer.from(process.env.AGENT_BIN_TOKEN), Buffer.alloc(16)]));`,
    });
    worlds.push(w);
    const result = await w.execute();
    expect(result.failedGate).toBe('forbidden-action');
    const gates = (await w.state()).execution!.gateResults;
    expect(gates.find((g) => g.gate === 'forbidden-action')!.detail).toMatch(/carries the value of secret AGENT_BIN_TOKEN/);
    // The patch, applied, would give the value back: none is kept, in the bundle or the artifact store.
    expect(readFileSync(join(result.evidenceDir, 'patch.diff'))).toHaveLength(0);
    const tmp = tempDir('cto-apply-');
    try {
      execFileSync('git', ['clone', '-q', w.repo.path, join(tmp.dir, 'c')]);
      for (const file of filesUnder(join(w.dir))) {
        const text = readFileSync(file, 'latin1');
        if (!text.startsWith('diff --git')) continue;
        execFileSync('git', ['-C', join(tmp.dir, 'c'), 'apply', file]);
      }
      for (const file of filesUnder(join(tmp.dir, 'c', 'src'))) expect(readFileSync(file, 'latin1'), file).not.toContain(value);
    } finally {
      tmp.remove();
    }
  });

  it('forbidden-action, and no patch is kept: the value in UTF-16 (a text file the patch shows with NULs between its letters)', async () => {
    process.env.AGENT_BIN_TOKEN = 'sk-live-utf16-7171717171';
    const w = await makeWorld({
      backend: { secrets: ['AGENT_BIN_TOKEN'] },
      body: `${GOOD_BACKEND}
        fs.writeFileSync('src/notes.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('token: ' + process.env.AGENT_BIN_TOKEN + '\\r\\n', 'utf16le')]));
        fs.writeFileSync('src/plain.txt', Buffer.from('token: ' + process.env.AGENT_BIN_TOKEN + '\\n', 'utf16le'));`,
    });
    worlds.push(w);
    const result = await w.execute();
    expect(result.failedGate).toBe('forbidden-action');
    expect((await w.state()).execution!.gateResults.find((g) => g.gate === 'forbidden-action')!.detail).toMatch(/carries the value of secret AGENT_BIN_TOKEN/);
    expect(readFileSync(join(result.evidenceDir, 'patch.diff'))).toHaveLength(0);
  });
});
