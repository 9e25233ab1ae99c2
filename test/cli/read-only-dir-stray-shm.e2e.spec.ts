import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENTS_PER_RUN, runEvent } from '../../bench/workload.js';
import { initLedger, ledgerPaths } from '../../src/ledger/ledger.js';
import { newId } from '../../src/ledger/new-event.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { CLI, cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';
import { chmodTree } from '../fixtures/tree.js';

// A ledger in a dir the user cannot write is read where it is when its `-shm` is there (SQLite reads a
// WAL file read-only through it), else from a private copy. A `-shm` with no `-wal` beside it (what a
// writer closing its connection leaves for an instant, as it removes both; an archive copied without
// its -wal) made SQLite want to create the -wal in that dir: every command, `events` and `status`
// included, failed with "cannot open .../ledger.db: attempt to write a readonly database", exit 3, and
// `health` reported the projections unreadable for the same reason. Such a file is read from a copy too.

describe('a ledger the user cannot write, holding a -shm but no -wal', () => {
  const tmp = tempDir('cto-stray-shm-');
  chmodSync(tmp.dir, 0o755);
  const archive = join(tmp.dir, 'archive');
  afterAll(() => {
    chmodTree(archive, 0o755, 0o644);
    tmp.remove();
  });
  // Needs another user than root (root writes anywhere): runuser, as root, to nobody.
  const probe = process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '--help'], { encoding: 'utf8' }) : null;
  const why = !probe ? 'not running as root, so no other user to read as' : probe.status !== 0 ? `runuser -u nobody cannot run the CLI here (${(probe.stderr || String(probe.error)).trim().slice(0, 80)})` : null;
  if (why) console.log(`skipped: a ledger read as another user: ${why}`);

  it.skipIf(why !== null)('is read from a private copy, every command answering as on the ledger itself', async () => {
    const dir = join(tmp.dir, 'ledger');
    await initLedger(dir);
    const store = openSqliteStore({ file: ledgerPaths(dir).db });
    const runId = newId();
    for (let n = 0; n < EVENTS_PER_RUN; n++) await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
    await store.close();
    expect(cli(['--ledger', dir, 'status', runId]).code).toBe(0);
    const own = cli(['--ledger', dir, '--read-only', 'events', '--json']);
    expect(own.code).toBe(0);

    cpSync(dir, archive, { recursive: true });
    for (const db of [join(archive, 'ledger.db'), join(archive, 'projections', 'projections.db')]) {
      rmSync(`${db}-wal`, { force: true });
      writeFileSync(`${db}-shm`, Buffer.alloc(32_768));
    }
    chmodTree(archive, 0o555, 0o444);
    const as = (...args: string[]) => spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '--ledger', archive, ...args], { encoding: 'utf8' });
    const events = as('events', '--json');
    expect({ code: events.status, err: events.stderr }).toEqual({ code: 0, err: '' });
    expect(events.stdout).toBe(own.stdout);
    for (const args of [['status', '--json'], ['status', runId], ['events', '--stream', `run-${runId}`]]) {
      const r = as(...args);
      expect({ args, code: r.status, err: r.stderr }).toEqual({ args, code: 0, err: '' });
    }
    const health = as('health', '--json');
    expect(JSON.parse(health.stdout)).toMatchObject({ ok: true, problems: [] });
    // Nothing written beside it: the copy was private, and is gone.
    expect(readdirSync(archive).sort()).toEqual(['config.yaml', 'ledger.db', 'ledger.db-shm', 'projections']);
  });
});
