import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { makeTargetRepo } from '../fixtures/repos.js';

// A full disk, for real: a 1 MiB tmpfs (mounting needs root, or CAP_SYS_ADMIN; skipped otherwise)
// filled up to a few KiB. Every failure says the disk is full, and none sends the operator to
// `rebuild` (which needs more room, not less).
const mnt = mkdtempSync(join(tmpdir(), 'cto-disk-full-'));
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', mnt], { encoding: 'utf8' });
const mounted = mount.status === 0;
if (!mounted) console.log(`disk-full tests skipped: cannot mount a tmpfs at ${mnt} (${(mount.stderr || mount.error?.message || `exit ${mount.status}`).trim()})`);

describe.skipIf(!mounted)('a full disk', () => {
  const repo = makeTargetRepo();
  const L = join(mnt, 'L');
  const fill = join(mnt, 'fill');
  const run = (...args: string[]) => cli(['--ledger', L, ...args]);
  afterAll(() => {
    spawnSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    repo.remove();
  });
  /** Fills the tmpfs until `kib` KiB are left. */
  const leaveFree = (kib: number) => {
    rmSync(fill, { force: true });
    const { bavail, bsize } = statfsSync(mnt);
    const fd = openSync(fill, 'w');
    const chunk = Buffer.alloc(4096);
    try {
      for (let left = bavail * bsize - kib * 1024; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    } finally {
      closeSync(fd);
    }
  };

  it('sets up a ledger on the small disk', () => {
    expect(run('init').code).toBe(0);
    expect(run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp').code).toBe(0);
  });

  it('the projections unreadable for want of room: the disk is full, no `cto-ledger rebuild`', () => {
    leaveFree(48); // room for the ledger's -shm (32 KiB), not for the projections' as well
    const r = run('status', '--json');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`the projections at ${join(L, 'projections', 'projections.db')} cannot be read`);
    expect(r.stderr).toMatch(/the disk holding \S+ is full \(SQLITE_IOERR\w*, \d+ bytes free\); free some space on it/);
    expect(r.stderr).not.toMatch(/rebuild/);
    expect(JSON.parse(r.stdout).error).toMatch(/is full/);
  });

  it('no room left at all: every command says the disk holding the ledger is full', () => {
    leaveFree(0);
    for (const args of [['status'], ['events'], ['target', 'list']]) {
      const r = run(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`: the disk holding ${L.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is full \\(SQLITE_IOERR\\w*, 0 bytes free\\)`));
    }
  });

  it('an append that meets the full disk: SQLITE_FULL, said plainly', () => {
    leaveFree(64);
    const failures: string[] = [];
    for (let i = 0; i < 30 && failures.length === 0; i++) {
      const r = run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp');
      if (r.code !== 0) {
        expect(r.code, r.stderr).toBe(3);
        failures.push(r.stderr);
      }
    }
    expect(failures.length).toBe(1);
    expect(failures[0]).toContain(`the disk holding ${L} is full (SQLITE_FULL)`);
    // Room again: the ledger goes on, nothing half-written.
    rmSync(fill, { force: true });
    expect(run('health').code).toBe(0);
  }, 120_000);
});
