import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOfPath } from '../../src/harness/inspect.js';
import { GOOD_BACKEND, makeWorld } from '../fixtures/harness.js';
import { tempDir } from '../fixtures/tmp.js';

type World = Awaited<ReturnType<typeof makeWorld>>;
const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.cleanup();
});

describe('FIFOs, sockets and device nodes a backend leaves', () => {
  it('path-disallowed, with evidence: a FIFO named .gitignore (git status would block on it forever), or as a nested HEAD', async () => {
    const w = await makeWorld({
      body: `${GOOD_BACKEND}
        cp.execFileSync('mkfifo', ['src/.gitignore']);
        fs.mkdirSync('src/sub/.git/objects', { recursive: true });
        fs.mkdirSync('src/sub/.git/refs');
        cp.execFileSync('mkfifo', ['src/sub/.git/HEAD']);
        cp.execSync("mkfifo src/$(printf '\\\\377').gitattributes", { shell: '/bin/bash' });`,
    });
    worlds.push(w);
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    const detail = (await w.state()).execution!.gateResults.find((g) => g.gate === 'path-disallowed')!.detail;
    expect(detail).toMatch(/src\/\.gitignore \(a FIFO/);
    expect(detail).toMatch(/src\/sub\/\.git\/HEAD \(a FIFO/);
    expect(detail).toMatch(/src\/\\xff\.gitattributes \(a FIFO/);
    expect(JSON.parse(readFileSync(join(result.evidenceDir, 'report.json'), 'utf8')).paths).toContainEqual(expect.objectContaining({ path: 'src/.gitignore', verdict: 'disallowed' }));
  });
});

describe('digestOfPath', () => {
  it('digests a FIFO by its type, never opening it (a planted one in a hook dir would block the harness)', async () => {
    const tmp = tempDir('cto-digest-');
    try {
      const dir = join(tmp.dir, 'hooks');
      mkdirSync(dir);
      writeFileSync(join(dir, 'pre-commit'), '#!/bin/sh\n');
      const before = digestOfPath(dir);
      const fifo = join(dir, 'post-checkout');
      execFileSync('mkfifo', [fifo]);
      // A writer waiting on it: were the FIFO opened, it would read what the writer sends, not block.
      const writer = spawn('/bin/sh', ['-c', `printf 'written' > '${fifo}'`], { stdio: 'ignore' });
      try {
        expect(digestOfPath(fifo)).toMatch(/^special:10/);
        expect(digestOfPath(dir)).not.toBe(before);
      } finally {
        writer.kill('SIGKILL');
      }
      expect(existsSync(fifo)).toBe(true);
    } finally {
      tmp.remove();
    }
  });
});

describe("the worktree's own index, writable without bubblewrap", () => {
  it('path-disallowed: a tracked file changed and marked --skip-worktree there is still listed and judged, as the patch carries it', async () => {
    const saved = process.env.CTO_ISOLATION;
    process.env.CTO_ISOLATION = 'unshare';
    try {
      const w = await makeWorld({
        contract: { isolation: 'best-effort' },
        body: `${GOOD_BACKEND}
          for (const [flag, file] of [['--skip-worktree', 'test/check.mjs'], ['--assume-unchanged', 'README.md']]) {
            cp.execFileSync('/usr/bin/git', ['update-index', flag, file]);
            fs.writeFileSync(file, 'process.exit(0);\\n');
          }`,
      });
      worlds.push(w);
      const result = await w.execute();
      if (result.isolation !== 'unshare') return void console.log(`skipped: unshare is not available here (${result.isolation})`);
      expect(result.failedGate).toBe('path-disallowed');
      const state = await w.state();
      expect(state.execution!.changedPaths).toEqual(
        expect.arrayContaining([
          { path: 'test/check.mjs', change: 'modified' },
          { path: 'README.md', change: 'modified' },
        ]),
      );
      expect(readFileSync(join(result.evidenceDir, 'patch.diff'), 'utf8')).toContain('+++ b/test/check.mjs');
    } finally {
      if (saved === undefined) delete process.env.CTO_ISOLATION;
      else process.env.CTO_ISOLATION = saved;
    }
  });
});

describe('content padded past the 16 MiB a manifest is read up to', () => {
  it('path-disallowed: a source file of 17 MiB still has its bidi controls found (Trojan Source)', async () => {
    const w = await makeWorld({
      body: `fs.writeFileSync('src/greet.js', 'export const greet = (n) => \`Hello, \${n}!\`;\\n/* \\u202e } \\u2066 if (isAdmin) \\u2069 */\\n' + ('// ' + 'x'.repeat(1000) + '\\n').repeat(17 * 1024));`,
    });
    worlds.push(w);
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    expect((await w.state()).execution!.gateResults.find((g) => g.gate === 'path-disallowed')!.detail).toMatch(/src\/greet\.js \(content with characters that hide code/);
  });
});

describe('a pattern file git reads whole, made huge and sparse (free to the backend)', () => {
  it('path-disallowed: a .gitignore over 1 MiB is refused and removed before the harness git reads it into memory', async () => {
    const w = await makeWorld({ body: `${GOOD_BACKEND} fs.truncateSync(fs.openSync('src/.gitignore', 'w'), 64 << 20);` });
    worlds.push(w);
    const result = await w.execute();
    expect(result.failedGate).toBe('path-disallowed');
    const detail = (await w.state()).execution!.gateResults.find((g) => g.gate === 'path-disallowed')!.detail;
    expect(detail).toMatch(/src\/\.gitignore \(a \.gitignore of 67108864 bytes \(over 1048576\), which git would read whole/);
  });
});
