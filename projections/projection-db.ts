import Database from 'better-sqlite3';
import { initialRunState, type RunState } from '../src/domain/run.js';
import type { RunListEntry } from './run-list.js';

// The projections' own store: run states, list entries and the checkpoint, committed together, so a
// crash anywhere leaves them consistent. Derived data: rebuilt from the ledger, never the source.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL);
-- A rowid table: states are kilobytes, which a WITHOUT ROWID table stores at twice the cost per write.
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL, entry TEXT NOT NULL
);
`;

/** `bulk`: a rebuild into a fresh dir that is thrown away on failure, so no journal and no syncs. */
export function openProjectionDb(file: string, options: { bulk?: boolean; cacheKiB?: number } = {}) {
  const db = new Database(file);
  db.pragma('busy_timeout = 15000');
  if (options.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(64, Math.floor(options.cacheKiB))}`);
  db.pragma(options.bulk ? 'journal_mode = OFF' : 'journal_mode = WAL');
  db.pragma(options.bulk ? 'synchronous = OFF' : 'synchronous = NORMAL');
  db.exec(SCHEMA);
  const getCheckpoint = db.prepare(`SELECT position FROM checkpoint WHERE id = 1`);
  const setCheckpoint = db.prepare(`INSERT INTO checkpoint (id, position) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET position = excluded.position`);
  const getState = db.prepare(`SELECT state FROM runs WHERE run_id = ?`);
  const putRun = db.prepare(
    `INSERT INTO runs (run_id, version, status, state, entry) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET version = excluded.version, status = excluded.status, state = excluded.state, entry = excluded.entry`,
  );
  const entries = db.prepare(`SELECT entry FROM runs ORDER BY run_id`);
  const entriesWith = db.prepare(`SELECT entry FROM runs WHERE status IN (SELECT value FROM json_each(?)) ORDER BY run_id`);
  const counts = db.prepare(`SELECT status, count(*) AS n FROM runs GROUP BY status`);

  return {
    db,
    position: () => (getCheckpoint.get() as { position: number } | undefined)?.position ?? 0,
    setPosition: (position: number) => setCheckpoint.run(position),
    runState(runId: string): RunState | null {
      const row = getState.get(runId) as { state: string } | undefined;
      return row ? { ...initialRunState(runId), ...(JSON.parse(row.state) as RunState) } : null;
    },
    putRun(state: RunState, entry: RunListEntry) {
      putRun.run(state.runId, state.version, state.status, JSON.stringify(state), JSON.stringify(entry));
    },
    *entries(statuses?: readonly string[]): Generator<RunListEntry> {
      for (const text of this.entryTexts(statuses)) yield JSON.parse(text) as RunListEntry;
    },
    /** The entries as stored: JSON.stringify of each, ready to be written out without a round trip. */
    *entryTexts(statuses?: readonly string[]): Generator<string> {
      const rows = statuses ? entriesWith.iterate(JSON.stringify(statuses)) : entries.iterate();
      for (const row of rows as Iterable<{ entry: string }>) yield row.entry;
    },
    statusCounts: () => Object.fromEntries((counts.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
    transaction: <T>(work: () => T): T => db.transaction(work).immediate(),
    close: () => db.close(),
  };
}

export type ProjectionDb = ReturnType<typeof openProjectionDb>;
