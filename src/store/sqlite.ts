import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ulid } from 'ulid';
import { BadInput, ChainBroken, Conflict, LedgerDamaged, StoreUnavailable } from '../errors.js';
import { openSealed, seal, type LedgerEvent, type NewEvent, type RecordedEvent } from '../events/envelope.js';
import { admitAppend, checkExpected } from './append-rules.js';
import { duplicateOf, type RecordedRow } from './idempotency.js';
import { streamPartitionSql, type Partition } from './partition.js';
import { checkReadOptions } from './read-rules.js';
import { failedForReadOnlyDir, readableCopy } from './readable-copy.js';
import { inSnapshotScope } from './snapshot-scope.js';
import { changeSignal, pollingSubscription } from './subscription.js';
import type { AppendResult, EventStore, ExpectedVersion, ReadAllOptions } from './types.js';

/**
 * Version of the table layout below; a ledger written by a newer layout is refused, never guessed.
 * v2: `meta` refuses UPDATE as well as DELETE (v1 let its schema version and ledger id be rewritten).
 */
export const STORE_SCHEMA_VERSION = 2;

/** Added by v2; also what a v1 ledger gets when opened for writing (see upgrade). */
const META_NO_UPDATE = `CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
  BEGIN SELECT RAISE(ABORT, 'cto-ledger meta is append-only: UPDATE refused'); END;`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY, -- no AUTOINCREMENT: rows are never deleted, so rowids only grow (one page less per commit)
  id TEXT NOT NULL UNIQUE,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (stream, version)
) STRICT;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'cto-ledger events are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'cto-ledger events are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
  BEGIN SELECT RAISE(ABORT, 'cto-ledger meta is append-only: DELETE refused'); END;
${META_NO_UPDATE}
`;

/** The schema version each append-only trigger came with: a v1 file read as it is lacks the later ones. */
const TRIGGER_SINCE: Readonly<Record<string, number>> = { events_no_update: 1, events_no_delete: 1, meta_no_delete: 1, meta_no_update: 2 };

/**
 * Brings a v1 ledger to v2 when it is opened for writing: one transaction (taken before any other
 * writer, and looked at again inside it, so two processes opening it at once upgrade it once) that
 * records the schema version, the time of the upgrade, and adds the trigger. A read-only open leaves
 * the file as it is and reads it as v1.
 */
function upgrade(db: Database.Database): void {
  db.transaction(() => {
    const now = db.prepare(`SELECT value FROM meta WHERE key = 'schemaVersion'`).pluck().get();
    if (now !== '1') return;
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'schemaVersion'`).run(String(STORE_SCHEMA_VERSION));
    db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`).run('upgradedToV2At', new Date().toISOString());
    // That trigger alone: v1 triggers someone removed stay removed, for health to report (init restores them).
    db.exec(META_NO_UPDATE);
  }).immediate();
}

/** The store schema version the file's meta names (validated when the file was opened). */
function fileVersion(db: Database.Database): number {
  return Number(db.prepare(`SELECT value FROM meta WHERE key = 'schemaVersion'`).pluck().get());
}


export type SqliteStoreOptions = {
  file: string;
  /** Create the file and schema when missing (init); otherwise a missing file is bad input. */
  create?: boolean;
  /** How often a live subscription looks for commits made by other processes. */
  pollMs?: number;
  /** SQLite page cache of this connection; a reader that scans the log once needs little. */
  cacheKiB?: number;
  /** Opens the file read-only (an archived or mounted copy, an auditor's): appends are refused. */
  readOnly?: boolean;
};

type Pending = {
  stream: string;
  events: readonly NewEvent[];
  expected: ExpectedVersion;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
};

type Row = { position: number; id: string; stream: string; version: number; type: string; body: string; hash: string };
/** A page row as an array: cheaper to build than an object when a whole log is read. */
type PageRow = [position: number, id: string, stream: string, version: number, type: string, body: string, hash: string];

function openDatabase(file: string, create: boolean, cacheKiB?: number, readOnly = false): Database.Database {
  if (!create && !existsSync(file)) throw new BadInput(`no ledger at ${file} (run: cto-ledger init)`);
  // `file/.` exists only when file is a directory: told as such, as a file that is no SQLite database is.
  if (existsSync(`${file}/.`)) throw new BadInput(`${file} is a directory, not a ledger file: cto-ledger keeps its log in a SQLite file of that name`);
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: !create, readonly: readOnly && !create });
  } catch (err) {
    throw new StoreUnavailable(`cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma('busy_timeout = 15000');
    if (cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(64, Math.floor(cacheKiB))}`);
    // Looked at before anything is written: a file that is no ledger is left exactly as it was.
    const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'`).get();
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number };
    if (!hasMeta && (!create || tables.n > 0)) throw new BadInput(`${file} is not a cto-ledger ledger (no ledger schema in it)`);
    if (!readOnly) {
      db.pragma('journal_mode = WAL');
      // FULL: an acknowledged append is on disk before its promise resolves, power loss included.
      db.pragma('synchronous = FULL');
    }
    if (!hasMeta) {
      // One transaction: a schema cut short (a full disk) leaves no table behind, so init can start over.
      db.transaction(() => {
        db.exec(SCHEMA);
        const put = db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`);
        put.run('format', 'cto-ledger');
        put.run('schemaVersion', String(STORE_SCHEMA_VERSION));
        put.run('ledgerId', ulid());
        put.run('createdAt', new Date().toISOString());
      })();
    }
    const meta = Object.fromEntries(
      (db.prepare(`SELECT key, value FROM meta`).all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
    );
    if (meta.format !== 'cto-ledger') throw new BadInput(`${file} is not a cto-ledger ledger (meta.format is ${meta.format})`);
    const version = Number(meta.schemaVersion);
    if (!Number.isSafeInteger(version) || version < 1) throw new BadInput(`${file} has no valid store schema version (meta.schemaVersion is ${JSON.stringify(meta.schemaVersion ?? null)})`);
    if (!(version <= STORE_SCHEMA_VERSION)) {
      throw new BadInput(
        `${file} was written by a newer cto-ledger (store schema v${meta.schemaVersion}; this one reads up to v${STORE_SCHEMA_VERSION})`,
      );
    }
    // A view (or anything else) standing in for the events table would decide what every read sees.
    const events = db.prepare(`SELECT type FROM sqlite_master WHERE name = 'events'`).pluck().get();
    if (events !== 'table') {
      throw new LedgerDamaged(`${file} was altered outside cto-ledger: its events are ${events ? `a ${String(events)}` : 'gone'}, not the table cto-ledger writes; nothing is read or appended (\`sqlite3 ${file} .schema\` shows what it holds)`);
    }
    if (!readOnly && version < STORE_SCHEMA_VERSION) upgrade(db);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof LedgerDamaged) throw err;
    if (err instanceof BadInput) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB') throw new BadInput(`${file} is not a cto-ledger ledger (not a SQLite database)`);
    throw new StoreUnavailable(`cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The SQLite connection behind a store, for the file-level operations only this adapter has; null for others. */
function sqliteDb(store: EventStore): Database.Database | null {
  return (store as { db?: Database.Database }).db ?? null;
}

const TRIGGERS = Object.keys(TRIGGER_SINCE);

/** Each append-only trigger as SQLite keeps its text in sqlite_master (without IF NOT EXISTS), spaces collapsed. */
const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();
const TRIGGER_SQL = new Map(
  [...SCHEMA.matchAll(/CREATE TRIGGER IF NOT EXISTS (\w+)([\s\S]*?END);/g)].map((m) => [m[1]!, oneLine(`CREATE TRIGGER ${m[1]}${m[2]}`)]),
);
/** Every object a ledger's schema holds; `sqlite_stat*` (ANALYZE's statistics) change plans, never results. */
const EXPECTED_OBJECTS = new Set(['table meta', 'table events', 'index sqlite_autoindex_meta_1', 'index sqlite_autoindex_events_1', 'index sqlite_autoindex_events_2', ...TRIGGERS.map((t) => `trigger ${t}`)]);

/**
 * How the file's schema differs from the one cto-ledger writes: append-only triggers gone, or present
 * under their names with another body (one that never fires), and objects it never makes (a trigger
 * that rewrites or silently drops inserts, a view standing in for the events table, an index...).
 */
export type SchemaChanges = { missingTriggers: string[]; alteredTriggers: string[]; foreignObjects: string[] };

function schemaChanges(db: Database.Database): SchemaChanges {
  const objects = db.prepare(`SELECT type, name, sql FROM sqlite_master`).all() as Array<{ type: string; name: string; sql: string | null }>;
  const triggers = new Map(objects.filter((o) => o.type === 'trigger').map((o) => [o.name, o.sql ?? '']));
  const version = fileVersion(db);
  return {
    missingTriggers: TRIGGERS.filter((name) => TRIGGER_SINCE[name]! <= version && !triggers.has(name)),
    alteredTriggers: TRIGGERS.filter((name) => triggers.has(name) && oneLine(triggers.get(name)!) !== TRIGGER_SQL.get(name)),
    foreignObjects: objects
      .map((o) => `${o.type} ${o.name}`)
      .filter((o) => !EXPECTED_OBJECTS.has(o) && !/^table sqlite_stat\d$/.test(o)),
  };
}

/** What is wrong with the schema, one phrase each; empty when it is the one cto-ledger writes. */
function schemaProblems(changes: SchemaChanges): string[] {
  return [
    ...(changes.missingTriggers.length ? [`append-only triggers removed: ${changes.missingTriggers.join(', ')}`] : []),
    ...(changes.alteredTriggers.length ? [`append-only triggers replaced by others of the same name: ${changes.alteredTriggers.join(', ')}`] : []),
    ...(changes.foreignObjects.length ? [`schema objects cto-ledger never makes: ${changes.foreignObjects.join(', ')}`] : []),
  ];
}

/**
 * What `health` checks of the file itself, beyond the chains: SQLite's own integrity check (every
 * page, every index entry against its row) and the schema (the append-only triggers as written, and
 * nothing added that could change what is read or appended).
 */
export function inspectStoreFile(store: EventStore): ({ integrity: string[]; schema: string[] } & SchemaChanges) | null {
  const db = sqliteDb(store);
  if (!db) return null;
  const integrity = (db.prepare('PRAGMA integrity_check').pluck().all() as string[]).filter((line) => line !== 'ok');
  const changes = schemaChanges(db);
  return { integrity, ...changes, schema: schemaProblems(changes) };
}

/** Puts back append-only triggers someone removed (init, once the operator knows: health reports it). */
export function restoreTriggers(store: EventStore): string[] {
  const db = sqliteDb(store);
  if (!db) return [];
  const { missingTriggers: missing, alteredTriggers: altered } = schemaChanges(db);
  // A trigger of the same name that does not refuse is replaced by the real one; objects cto-ledger
  // never makes are left for the operator to look at (health names them; appends stay refused).
  db.transaction(() => {
    for (const name of altered) db.exec(`DROP TRIGGER "${name}"`);
    if (missing.length + altered.length > 0) db.exec(SCHEMA);
  })();
  return [...missing, ...altered];
}

/**
 * Copies the log to `file` as one consistent state (SQLite's online backup: writers may go on), and
 * returns how far it goes. A copy of ledger.db taken with `cp` while in use can miss the commits
 * still in its -wal.
 */
export async function backupStore(store: EventStore, file: string): Promise<{ lastPosition: number }> {
  const db = sqliteDb(store);
  if (!db) throw new StoreUnavailable(`a ${store.kind} store has no file to back up`);
  await db.backup(file);
  const copy = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return { lastPosition: (copy.prepare(`SELECT coalesce(max(position), 0) AS p FROM events`).get() as { p: number }).p };
  } finally {
    copy.close();
  }
}

/** Reads the ledger's identity (id, schema version, creation time). */
export function readLedgerMeta(store: EventStore): Record<string, string> {
  const db = sqliteDb(store);
  if (!db) return {};
  return Object.fromEntries(
    (db.prepare(`SELECT key, value FROM meta`).all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
  );
}

/** The embedded default store: one SQLite file, WAL, durable group commit, several processes at once. */
export function openSqliteStore(options: SqliteStoreOptions): EventStore & { db: Database.Database } {
  const { file, create = false, pollMs = 50 } = options;
  let copy = options.readOnly && !create ? readableCopy(file) : null;
  let db: Database.Database;
  try {
    db = openDatabase(copy?.file ?? file, create, options.cacheKiB, options.readOnly);
  } catch (err) {
    copy?.remove();
    if (copy || !options.readOnly || create || !failedForReadOnlyDir(err, file)) throw err;
    copy = readableCopy(file, true)!;
    try {
      db = openDatabase(copy.file, false, options.cacheKiB, true);
    } catch (again) {
      copy.remove();
      throw again;
    }
  }

  const tailOf = db.prepare(`SELECT version, hash FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`);
  const byId = db.prepare(`SELECT position, stream, version, body FROM events WHERE id = ?`);
  const insert = db.prepare(`INSERT INTO events (id, stream, version, type, body, hash) VALUES (?, ?, ?, ?, ?, ?)`);
  // One page query per partition count; the partition filter runs inside SQLite, so a reader never
  // builds strings for rows another reader folds.
  const pageQueries = new Map<number, Database.Statement>();
  function pageQuery(of: number): Database.Statement {
    let query = pageQueries.get(of);
    if (!query) {
      const filter = of > 1 ? ` AND ${streamPartitionSql(of)} BETWEEN ? AND ?` : '';
      query = db.prepare(`SELECT position, id, stream, version, type, body, hash FROM events WHERE position > ? AND position <= ?${filter} ORDER BY position LIMIT ?`).raw(true);
      pageQueries.set(of, query);
    }
    return query;
  }
  const streamRows = db.prepare(`SELECT position, id, stream, version, type, body, hash FROM events WHERE stream = ? ORDER BY version`);
  const maxPosition = db.prepare(`SELECT coalesce(max(position), 0) AS p FROM events`);
  const tails = db.prepare(
    `SELECT e.stream, e.version, e.hash FROM events e
       JOIN (SELECT stream, max(version) AS v FROM events GROUP BY stream) t ON e.stream = t.stream AND e.version = t.v
     ORDER BY e.stream`,
  );

  // Appending to a ledger whose protections were removed would extend whatever was done to it. The
  // triggers are looked at again whenever the schema cookie moves (any DROP or CREATE, by any
  // process), and inside the write transaction, so none can go unnoticed between two appends.
  const schemaCookie = db.prepare('PRAGMA schema_version').pluck();
  let cookieSeen = schemaCookie.get();
  let unprotected = schemaChanges(db);
  function protectionsGone(): SchemaChanges | null {
    const cookie = schemaCookie.get();
    if (cookie !== cookieSeen) {
      unprotected = schemaChanges(db);
      cookieSeen = cookie;
    }
    const { missingTriggers: m, alteredTriggers: a, foreignObjects: f } = unprotected;
    return m.length + a.length + f.length > 0 ? unprotected : null;
  }
  const unprotectedError = (changes: SchemaChanges) =>
    changes.alteredTriggers.length + changes.foreignObjects.length === 0
      ? new LedgerDamaged(
          `${file} lost its append-only triggers (${changes.missingTriggers.join(', ')}): it was altered outside cto-ledger, so nothing more is appended; check it with \`cto-ledger health\`, then \`cto-ledger init\` puts them back`,
        )
      : new LedgerDamaged(
          `${file} was altered outside cto-ledger (${schemaProblems(changes).join('; ')}), so nothing more is appended; check it with \`cto-ledger health\`${changes.foreignObjects.length ? ', remove what cto-ledger never made with sqlite3' : ''}, then \`cto-ledger init\` puts the triggers back`,
        );
  const changed = changeSignal(pollMs);
  let queue: Pending[] = [];
  let scheduled = false;
  let closed = false;
  // Once closed, every append and read is refused as such (better-sqlite3's own "The database connection is not open" is a TypeError).
  const ensureOpen = () => {
    if (closed) throw new StoreUnavailable('store is closed');
  };
  // Group commit waits a turn of the event loop to gather concurrent appends; a lone sequential
  // writer would only pay that wait, so it flushes on a microtask until a batch shows concurrency.
  let lastBatchSize = 1;
  // Snapshots open on this connection (inSnapshot, nested or concurrent, share one read transaction).
  // A batch committed inside it would only be a savepoint of that transaction: acknowledged, yet
  // neither durable nor seen by other connections until the snapshot ends, and lost if the process
  // died first. Appends queued meanwhile wait for the snapshot's end.
  let snapshotDepth = 0;

  function appendOneInTransaction(p: Pending): AppendResult {
    const dup = duplicateOf(p.stream, p.events, (id) => byId.get(id) as RecordedRow | undefined);
    if (dup) return dup;
    const tail = tailOf.get(p.stream) as { version: number; hash: string } | undefined;
    checkExpected(p.stream, p.expected, tail ? tail.version : -1);
    let prev = tail ? tail.hash : null;
    let version = tail ? tail.version : -1;
    let position = 0;
    const sealedEvents: LedgerEvent[] = [];
    for (const e of p.events) {
      version += 1;
      const sealed = seal(e, p.stream, version, prev);
      sealedEvents.push(sealed.event);
      const inserted = insert.run(e.id, p.stream, version, e.type, sealed.body, sealed.hash);
      // A row not stored (a trigger's RAISE(IGNORE)) must never be acknowledged: the whole batch aborts.
      if (inserted.changes !== 1) throw new LedgerDamaged(`${file} did not store ${e.type} v${version} of ${p.stream}: something in the file altered the insert; check it with \`cto-ledger health\``);
      position = Number(inserted.lastInsertRowid);
      prev = sealed.hash;
    }
    return { version, position, duplicate: false, events: sealedEvents };
  }
  type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };
  // One transaction, one fsync, for every append queued since the last flush: group commit.
  // A refusal (Conflict, BadInput) is thrown before its append inserts anything, so no savepoint is
  // needed; any other error aborts the whole batch.
  const commitBatch = db.transaction((batch: Pending[]): Outcome[] => {
    const changes = protectionsGone();
    if (changes) throw unprotectedError(changes);
    return batch.map((p) => {
      try {
        return { ok: true, result: appendOneInTransaction(p) };
      } catch (error) {
        if (error instanceof Conflict || error instanceof BadInput) return { ok: false, error };
        throw error;
      }
    });
  });
  function flush(): void {
    scheduled = false;
    if (snapshotDepth > 0) return; // flushed when the snapshot ends
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    lastBatchSize = batch.length;
    let outcomes: Outcome[];
    try {
      outcomes = commitBatch.immediate(batch);
    } catch (err) {
      const wrapped = err instanceof LedgerDamaged ? err : new StoreUnavailable(`append to ${file} failed: ${(err as Error).message}`, { cause: err });
      for (const p of batch) p.reject(wrapped);
      return;
    }
    outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.result) : batch[i]!.reject(o.error)));
    changed.notify();
  }

  function endSnapshot(): void {
    if (snapshotDepth === 0) return; // ended by close()
    snapshotDepth -= 1;
    if (snapshotDepth > 0) return;
    db.exec('COMMIT');
    if (queue.length > 0 && !scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  }

  function readPage(after: number, size: number, until = Number.MAX_SAFE_INTEGER, partition?: Partition): RecordedEvent[] {
    const whole = !partition || (partition.from === 0 && partition.to === partition.of);
    const params = whole ? [after, until, size] : [after, until, partition.from, partition.to - 1, size];
    return (pageQuery(whole ? 1 : partition.of).all(...params) as PageRow[]).map(([position, id, stream, version, type, body, hash]) => ({
      position,
      event: openSealed(body, hash, { position, id, stream, version, type }),
      body,
    }));
  }

  const store: EventStore & { db: Database.Database } = {
    kind: 'sqlite',
    densePositions: true,
    locator: { kind: 'sqlite', file },
    db,
    append(stream, given, expected) {
      let events: readonly NewEvent[];
      try {
        ensureOpen();
        if (options.readOnly) throw new StoreUnavailable(`${file} is open read-only: this command appends, and nothing was appended`);
        // Sealed at the flush, a turn later: a copy taken now, so what is validated is what is sealed,
        // whatever the caller does to its objects meanwhile (reuses one for the next append, say).
        events = admitAppend(store, stream, given, expected);
      } catch (err) {
        return Promise.reject(err);
      }
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ stream, events, expected, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          if (lastBatchSize > 1) setImmediate(flush);
          else queueMicrotask(flush);
        }
      });
    },
    async readStream(stream: string): Promise<LedgerEvent[]> {
      return (await this.readStreamRecorded(stream)).map((r) => r.event);
    },
    async readStreamRecorded(stream: string): Promise<RecordedEvent[]> {
      ensureOpen();
      let prev: string | null = null;
      let position = 0;
      return (streamRows.all(stream) as Row[]).map((row, index) => {
        if (row.version !== index) throw new ChainBroken(stream, index, row.id, `version ${index} is missing`, row.position);
        if (row.position <= position) throw new ChainBroken(stream, index, row.id, `stored at position ${row.position}, before version ${index - 1} (position ${position})`, row.position);
        const event = openSealed(row.body, row.hash, row, prev, true);
        prev = row.hash;
        position = row.position;
        return { position: row.position, event, body: row.body };
      });
    },
    async *readAllPages(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent[]> {
      checkReadOptions(options);
      const size = options.pageSize ?? 1_000;
      let after = options.after ?? 0;
      for (;;) {
        ensureOpen();
        const rows = readPage(after, size, options.until, options.partition);
        if (rows.length === 0) return;
        yield rows;
        after = rows[rows.length - 1]!.position;
      }
    },
    async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
      for await (const page of this.readAllPages(options)) yield* page;
    },
    subscribe(options = {}) {
      return pollingSubscription(
        options.after ?? 0,
        async (after) => (closed ? null : readPage(after, 500)),
        (signal) => changed.wait(signal),
      );
    },
    async lastPosition() {
      ensureOpen();
      return (maxPosition.get() as { p: number }).p;
    },
    async streamTails() {
      ensureOpen();
      return tails.all() as Array<{ stream: string; version: number; hash: string }>;
    },
    async inSnapshot(work) {
      ensureOpen();
      // BEGIN is deferred: the first read takes the snapshot, and every read until COMMIT sees it.
      if (snapshotDepth === 0) db.exec('BEGIN');
      snapshotDepth += 1;
      try {
        return await inSnapshotScope(store, work);
      } finally {
        endSnapshot();
      }
    },
    async close() {
      if (closed) return;
      if (snapshotDepth > 0) {
        snapshotDepth = 1;
        endSnapshot();
      }
      if (queue.length > 0) flush();
      closed = true;
      changed.notify();
      db.close();
      copy?.remove();
    },
  };
  return store;
}
