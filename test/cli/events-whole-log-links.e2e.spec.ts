import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_PER_RUN, runEvent } from '../../bench/workload.js';
import { canonicalize, sha256Hex } from '../../src/events/hashing.js';
import { initLedger, ledgerPaths } from '../../src/ledger/ledger.js';
import { newId } from '../../src/ledger/new-event.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// `events` (the whole log) opened each event on its own: its hash, its columns. A body edited with its
// hash recomputed opens as well, so the log was printed with the forged event as if recorded, exit 0,
// where `events --stream`, `status RUN`, `replay`, `health` and `rebuild` all stop at the next event's
// link (exit 3); an event removed from the middle of the log (a stream's last, a target's revocation
// say) left a gap in the positions that only health and rebuild told. Each is exit 3 now, named.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function ledger() {
  const tmp = tempDir('cto-events-links-');
  cleanups.push(tmp.remove);
  const dir = join(tmp.dir, 'ledger');
  await initLedger(dir);
  const store = openSqliteStore({ file: ledgerPaths(dir).db });
  const runs = [newId(), newId()];
  // Interleaved, as a ledger in use is: each run's events spread over the log.
  for (let n = 0; n < EVENTS_PER_RUN; n++) {
    for (const runId of runs) await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
  }
  await store.close();
  const file = ledgerPaths(dir).db;
  const tamper = (work: (db: Database.Database) => void) => {
    const db = new Database(file);
    db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete');
    work(db);
    db.close();
  };
  const positionOf = (stream: string, version: number) =>
    (new Database(file, { readonly: true }).prepare('SELECT position FROM events WHERE stream = ? AND version = ?').get(stream, version) as { position: number }).position;
  return { dir, streams: runs.map((r) => `run-${r}`), tamper, positionOf, events: (...args: string[]) => cli(['--ledger', dir, 'events', ...args]) };
}

describe('events, the whole log, on a ledger changed outside cto-ledger', () => {
  it('prints an untouched log whole, exit 0', async () => {
    const l = await ledger();
    const r = l.events('--json');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(2 * EVENTS_PER_RUN);
    // From a position on, streams met there first link to nothing printed: not taken for breaks.
    expect(l.events('--after', '7').code).toBe(0);
  });

  it('a body edited and its hash recomputed: exit 3 at the next event of its stream, named', async () => {
    const l = await ledger();
    const stream = l.streams[0]!;
    const edited = l.positionOf(stream, 3);
    l.tamper((db) => {
      const row = db.prepare('SELECT body FROM events WHERE position = ?').get(edited) as { body: string };
      const event = JSON.parse(row.body) as { data: { operator: string } };
      event.data.operator = 'mallory';
      const body = canonicalize(event);
      db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, sha256Hex(body), edited);
    });
    const next = l.positionOf(stream, 4);
    for (const args of [[], ['--json']]) {
      const r = l.events(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(`hash chain broken in stream ${stream} at version 4 (event `);
      expect(r.stderr).toMatch(`position ${next}): does not link to version 3 of its stream`);
      // Nothing after the break is printed as if it were the log.
      expect(r.stdout).not.toMatch(new RegExp(`^${next}\\t`, 'm'));
    }
  });

  it("a stream's last event removed from the middle of the log: exit 3 naming the missing position", async () => {
    const l = await ledger();
    const removed = l.positionOf(l.streams[0]!, EVENTS_PER_RUN - 1);
    l.tamper((db) => db.prepare('DELETE FROM events WHERE position = ?').run(removed));
    const r = l.events();
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(`the log is missing events: position ${removed} is gone`);
    expect(l.events('--after', String(removed - 1)).code).toBe(3);
  });
});
