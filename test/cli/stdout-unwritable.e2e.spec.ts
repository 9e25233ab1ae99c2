import { spawnSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `cto-ledger approve RUN > /dev/full` recorded the approval, then died on the write with a stack
// trace and exit 1, which reads as a gate's refusal. Output that cannot be written is an I/O
// failure: exit 3, one line on stderr; what was recorded stands.
describe('stdout that cannot be written', () => {
  const w = cliLedger('cto-stdout-full-');

  /** The CLI with its stdout (or stderr) on /dev/full (every write: ENOSPC). */
  function toFull(...args: string[]) {
    return toFullOn('stdout', ...args);
  }
  function toFullOn(which: 'stdout' | 'stderr', ...args: string[]) {
    const fd = openSync('/dev/full', 'w');
    try {
      const stdio: Array<'ignore' | 'pipe' | number> = which === 'stdout' ? ['ignore', fd, 'pipe'] : ['ignore', 'pipe', fd];
      const r = spawnSync(process.execPath, [CLI, '--ledger', w.L, ...args], { stdio, env: { ...process.env, CTO_OPERATOR: 'jp' }, encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stderr: r.stderr, stdout: r.stdout };
    } finally {
      closeSync(fd);
    }
  }

  it('is exit 3 in one line, for a read and for an append, which stands', () => {
    w.setUp();
    const runId = w.admit();
    const line = 'cto-ledger: cannot write to stdout: ENOSPC: no space left on device, write; the output is lost (what the command recorded, if anything, stands)\n';
    for (const args of [['events'], ['status', '--json'], ['approve', runId]]) {
      const r = toFull(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 3, stderr: line });
    }
    expect(JSON.parse(w.run('status', runId, '--json').stdout)).toMatchObject({ status: 'approved' });
  });

  // With stderr on /dev/full, its unhandled error made every failure exit 1 (a gate's refusal).
  it('stderr that cannot be written leaves the exit code as it was', () => {
    const r = toFullOn('stderr', 'approve', 'NOPE', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
  });
});
