import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// `events` lists the whole log; written to a pipe faster than the reader takes it, every line used to
// be queued in the process's memory (510 MB for 120,000 events piped to wc). It now waits for the
// pipe, so the log's size does not bound what a reader may list.

describe('events on a pipe read slowly', () => {
  const { L } = openRunsLedger('cto-events-pipe-', 0, 10_000);

  it('waits for the reader instead of holding the log in memory: the whole log, with a heap far smaller than it', async () => {
    // 100,000 events, about 80 MB of JSON lines, through a heap capped at 64 MB (what the CLI holds
    // besides is about 20 MB; a tighter cap fails now and then on a busy machine, fix or not).
    const child = spawn(process.execPath, ['--max-old-space-size=64', CLI, '--ledger', L, 'events', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Nothing is read for two seconds: the pipe fills at once, and everything after it has to wait.
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    let bytes = 0;
    let lines = 0;
    let last = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      const text = last + d.toString();
      const parts = text.split('\n');
      last = parts.pop()!;
      lines += parts.length;
    });
    child.stdout.resume();
    // Holding the log, the capped heap either dies or collects garbage without end: stopped at 30 s.
    const stop = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(stop);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(last).toBe('');
    expect(lines).toBe(100_000);
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
  }, 60_000);
});
