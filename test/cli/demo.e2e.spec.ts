import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

it('runs the demo end to end from the built CLI and leaves a ledger that verifies', () => {
  const tmp = tempDir('cto-demo-');
  try {
    const r = cli(['demo', '--dir', tmp.dir]);
    expect(r.stderr).not.toMatch(/demo step failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/refused by gate backend-ineligible|backend demo enabled/);
    const runId = /\n([0-9A-HJKMNP-TV-Z]{26})\n/.exec(r.stdout)?.[1];
    expect(runId).toBeDefined();
    const ledger = join(tmp.dir, 'ledger');
    const health = JSON.parse(cli(['--ledger', ledger, 'health', '--json']).stdout);
    expect(health).toMatchObject({ ok: true, chains: { broken: [] } });
    expect(existsSync(join(ledger, 'projections', 'runs', runId!, 'events.normalized.jsonl'))).toBe(true);
    // Run again into the same dir: refused, nothing of the first run written over.
    const readme = readFileSync(join(tmp.dir, 'greeter', 'README.md'), 'utf8');
    const again = cli(['demo', '--dir', tmp.dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists and is not empty/);
    expect(readFileSync(join(tmp.dir, 'greeter', 'README.md'), 'utf8')).toBe(readme);
  } finally {
    tmp.remove();
  }
}, 60_000);

it('runs the demo where bubblewrap is not to be had: its contracts say best-effort, and it says why', () => {
  const tmp = tempDir('cto-demo-unshare-');
  try {
    const r = cli(['demo', '--dir', tmp.dir], { env: { CTO_ISOLATION: 'unshare' } });
    expect(r.stderr).not.toMatch(/demo step failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/note: .*the demo's contracts say isolation: best-effort, a real contract requires bubblewrap/);
    expect(readFileSync(join(tmp.dir, 'CTO-WORK-049.md'), 'utf8')).toMatch(/^isolation: best-effort/m);
  } finally {
    tmp.remove();
  }
}, 60_000);

// `demo --dir D`, D relative: config.yaml named the backend's script `D/backend-good.mjs`, which the
// backend, started in its worktree, could not find: execute failed closed (provider-failure) and the
// demo stopped, exit 1. The dir is made absolute first.
it('runs the demo in a dir given relative to the current one', () => {
  const tmp = tempDir('cto-demo-relative-');
  try {
    const r = cli(['demo', '--dir', 'rel'], { cwd: tmp.dir });
    expect(r.stderr).not.toMatch(/demo step failed/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Everything is kept in ${join(tmp.dir, 'rel')}.`);
    const health = JSON.parse(cli(['--ledger', join(tmp.dir, 'rel', 'ledger'), 'health', '--json']).stdout);
    expect(health).toMatchObject({ ok: true });
  } finally {
    tmp.remove();
  }
}, 60_000);
