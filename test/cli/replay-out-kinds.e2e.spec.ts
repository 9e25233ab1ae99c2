import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `replay RUN --out DIR` into a dir replay wrote before, where trace.jsonl had become a directory:
// run.json and events.normalized.jsonl were replaced with this run's, then trace.jsonl failed (exit 2
// naming `trace.jsonl.tmp-PID`), leaving a dir of two runs' files. Refused now before anything is written.
describe('replay --out holding one of its names as no regular file', () => {
  const w = cliLedger('cto-replay-kinds-');

  it('is exit 2 naming it, every file left as it was', () => {
    w.setUp();
    const first = w.admit();
    const second = w.admit({ title: 'Another run' });
    const out = join(w.tmp.dir, 'replayed');
    expect(w.run('replay', first, '--out', out).code).toBe(0);
    const before = Object.fromEntries(['run.json', 'events.normalized.jsonl'].map((n) => [n, readFileSync(join(out, n), 'utf8')]));
    const trace = join(out, 'trace.jsonl');
    // a directory where the file goes
    rmSync(trace);
    mkdirSync(trace);
    const r = w.run('replay', second, '--out', out);
    expect(r.code).toBe(2);
    for (const [name, text] of Object.entries(before)) expect(readFileSync(join(out, name), 'utf8')).toBe(text);
    expect(r.stderr).toBe(`cto-ledger: --out ${out} holds other files (trace.jsonl (not a regular file)): replay writes into a new dir, or one it wrote before\n`);
  });
});
