import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sha256Hex } from '../src/events/hashing.js';
import { failedForReadOnlyDir, readableCopy } from '../src/store/readable-copy.js';
import { initialRunState, type RunState } from '../src/domain/run.js';
import type { RunListEntry } from './run-list.js';

// The projections' own store: run states, list entries and the checkpoint, committed together, so a
// crash anywhere leaves them consistent. Derived data: rebuilt from the ledger, never the source.

/** Bumped whenever the tables below or the run states they hold change (4: states name their target admission): a projection file of another layout is emptied and refolded. */
export const PROJECTION_LAYOUT = 4;

const SCHEMA = `
-- The checkpoint names the last event folded by position and hash: the next catch-up finds it in the
-- log again, or knows the log it was folded from is not this one any more.
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, hash TEXT);
-- States are kilobytes and written often: a rowid table, which stores them at half the cost of a
-- WITHOUT ROWID one. The list is small rows read in run order: kept apart, clustered by run id.
CREATE TABLE IF NOT EXISTS run_states (run_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_list (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, entry TEXT NOT NULL) WITHOUT ROWID;
`;

/** `bulk`: a rebuild into a fresh dir that is thrown away on failure, so no journal and no syncs. */
export function openProjectionDb(file: string, options: { bulk?: boolean; cacheKiB?: number } = {}) {
  const db = new Database(file);
  db.pragma('busy_timeout = 15000');
  if (options.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(64, Math.floor(options.cacheKiB))}`);
  db.pragma(options.bulk ? 'journal_mode = OFF' : 'journal_mode = WAL');
  db.pragma(options.bulk ? 'synchronous = OFF' : 'synchronous = NORMAL');
  db.transaction(() => {
    if (db.pragma('user_version', { simple: true }) !== PROJECTION_LAYOUT) {
      // Derived data in another layout (an older cto-ledger): dropped, so the runner folds from 0.
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[];
      for (const table of tables) db.exec(`DROP TABLE "${table.replaceAll('"', '""')}"`);
      db.pragma(`user_version = ${PROJECTION_LAYOUT}`);
    }
    db.exec(SCHEMA);
  }).immediate();
  const getCheckpoint = db.prepare(`SELECT position, hash FROM checkpoint WHERE id = 1`);
  const setCheckpoint = db.prepare(
    `INSERT INTO checkpoint (id, position, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET position = excluded.position, hash = excluded.hash`,
  );
  const checkpoint = (): Checkpoint => (getCheckpoint.get() as Checkpoint | undefined) ?? { position: 0, hash: null };
  const getState = db.prepare(`SELECT state FROM run_states WHERE run_id = ?`);
  const putState = db.prepare(
    `INSERT INTO run_states (run_id, version, state) VALUES (?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET version = excluded.version, state = excluded.state`,
  );
  const putEntry = db.prepare(
    `INSERT INTO run_list (run_id, status, entry) VALUES (?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, entry = excluded.entry`,
  );
  const entries = db.prepare(`SELECT entry FROM run_list ORDER BY run_id`).pluck();
  const entriesWith = db.prepare(`SELECT entry FROM run_list WHERE status IN (SELECT value FROM json_each(?)) ORDER BY run_id`).pluck();
  const counts = db.prepare(`SELECT status, count(*) AS n FROM run_list GROUP BY status`);

  return {
    db,
    position: () => checkpoint().position,
    /** The last event folded: its position, and its hash (null at position 0). */
    checkpoint,
    setPosition: (position: number, hash: string | null) => setCheckpoint.run(position, hash),
    runState(runId: string): RunState | null {
      const row = getState.get(runId) as { state: string } | undefined;
      return row ? Object.assign(initialRunState(runId), JSON.parse(row.state) as RunState) : null;
    },
    putRun(row: RunRow) {
      putState.run(row.runId, row.version, row.state);
      putEntry.run(row.runId, row.status, row.entry);
    },
    *entries(statuses?: readonly string[]): Generator<RunListEntry> {
      for (const text of this.entryTexts(statuses)) yield JSON.parse(text) as RunListEntry;
    },
    /** The entries as stored: JSON.stringify of each, ready to be written out without a round trip. */
    *entryTexts(statuses?: readonly string[]): Generator<string> {
      yield* (statuses ? entriesWith.iterate(JSON.stringify(statuses)) : entries.iterate()) as Iterable<string>;
    },
    statusCounts: () => Object.fromEntries((counts.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
    transaction: <T>(work: () => T): T => db.transaction(work).immediate(),
    close: () => db.close(),
  };
}

export type ProjectionDb = ReturnType<typeof openProjectionDb>;

/** A run's state and list entry as putRun stores them. */
export type RunRow = { runId: string; version: number; status: string; state: string; entry: string };

/**
 * Serialises a run for putRun. Done before the write transaction, not inside it: a state is kilobytes
 * of JSON, most of a flush's time, and the threads of a parallel rebuild share the projection file,
 * so a thread holding its lock longer makes the others sleep in SQLite's busy handler.
 */
export function runRow(state: RunState, entry: RunListEntry): RunRow {
  return { runId: state.runId, version: state.version, status: state.status, state: JSON.stringify(state), entry: JSON.stringify(entry) };
}

/** Reads the projection file without the projection lock or any change to it; null when absent or of another layout. */
function readOnly<T>(file: string, read: (db: Database.Database) => T, force = false): T | null {
  if (!existsSync(file)) return null;
  const copy = readableCopy(file, force);
  let db: Database.Database | null = null;
  try {
    db = new Database(copy?.file ?? file, { readonly: true, fileMustExist: true });
    if (db.pragma('user_version', { simple: true }) !== PROJECTION_LAYOUT) return null;
    return read(db);
  } catch (err) {
    // A -shm there but no -wal (a writer closing just then), in a dir this user cannot write: read from a copy.
    if (copy || !failedForReadOnlyDir(err, file)) throw err;
    db?.close();
    db = null;
    return readOnly(file, read, true);
  } finally {
    db?.close();
    copy?.remove();
  }
}

/** How far the projections folded a run: the version and hash of its last event folded. */
export type FoldedRun = { version: number; lastHash: string | null };

/** How far the projections folded a run; null when there is no such file, run or layout. */
export function readFoldedRun(file: string, runId: string): FoldedRun | null {
  try {
    return readOnly(file, (db) => {
      const row = db.prepare(`SELECT state FROM run_states WHERE run_id = ?`).get(runId) as { state: string } | undefined;
      if (!row) return null;
      const state = JSON.parse(row.state) as Pick<RunState, 'version' | 'lastHash'>;
      return { version: state.version, lastHash: state.lastHash };
    });
  } catch {
    return null;
  }
}

/** How far the projections folded every run, by run id; empty when there is no such file or layout. */
export function readFoldedRuns(file: string): Map<string, FoldedRun> {
  return (
    readOnly(file, (db) => {
      const folded = new Map<string, FoldedRun>();
      const rows = db.prepare(`SELECT run_id, json_extract(state, '$.version') AS version, json_extract(state, '$.lastHash') AS lastHash FROM run_states`);
      for (const row of rows.iterate() as Iterable<{ run_id: string; version: number; lastHash: string | null }>) folded.set(row.run_id, { version: row.version, lastHash: row.lastHash });
      return folded;
    }) ?? new Map()
  );
}

/**
 * Everything the projection store holds, as a digest of each row keyed by what it is (`state RUN`,
 * `entry RUN`), with the checkpoint: two stores that fold the same log to the same place give the same
 * map. Digests, not the rows: run states are kilobytes each, and a store of 28,000 runs held as text
 * twice over took health past 600 MB.
 */
export function projectionDigests(file: string): { checkpoint: Checkpoint; rows: Map<string, string> } | null {
  return readOnly(file, (db) => {
    const checkpoint = (db.prepare(`SELECT position, hash FROM checkpoint WHERE id = 1`).get() as Checkpoint | undefined) ?? { position: 0, hash: null };
    const rows = new Map<string, string>();
    for (const [runId, version, state] of db.prepare(`SELECT run_id, version, state FROM run_states`).raw().iterate() as Iterable<[string, number, string]>) {
      rows.set(`state ${runId}`, sha256Hex(`${version} ${state}`));
    }
    for (const [runId, status, entry] of db.prepare(`SELECT run_id, status, entry FROM run_list`).raw().iterate() as Iterable<[string, string, string]>) {
      rows.set(`entry ${runId}`, sha256Hex(`${status} ${entry}`));
    }
    return { checkpoint, rows };
  });
}

/** The projections' checkpoint, read as readFoldedRun reads; a file that is no SQLite database throws. */
export function readCheckpoint(file: string): Checkpoint | null {
  return readOnly(file, (db) => (db.prepare(`SELECT position, hash FROM checkpoint WHERE id = 1`).get() as Checkpoint | undefined) ?? { position: 0, hash: null });
}

export type Checkpoint = { position: number; hash: string | null };
