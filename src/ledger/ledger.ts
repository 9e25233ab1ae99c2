import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { basename, dirname, join, resolve } from 'node:path';
import { checkConfigLink, CONFIG_TEMPLATE, loadConfig, type LedgerConfig } from '../config/config.js';
import { BadInput, LedgerDamaged } from '../errors.js';
import { canWrite } from '../store/readable-copy.js';
import { openSqliteStore, restoreTriggers } from '../store/sqlite.js';
import type { EventStore } from '../store/types.js';
import { inspectRepo, type RepoFacts } from '../target/repo.js';
import { readFoldedRun, type FoldedRun } from '../../projections/projection-db.js';
import { PROJECTION_FILES } from '../../projections/runner.js';

/** Everything a command handler may touch: the store, the config, a clock and the repo inspector. */
export type Ledger = {
  dir: string;
  /** Opened read-only (asked for, or the dir cannot be written): nothing is appended or written under it. */
  readOnly: boolean;
  store: EventStore;
  configFile: string;
  config(): LedgerConfig;
  now(): Date;
  inspectRepo(path: string): Promise<RepoFacts>;
  /** How far the projections folded a run, if they did: a stream read shorter than that lost events. */
  foldedRun?(runId: string): FoldedRun | null;
  /** Where a long wait is said (the CLI: stderr), so a command that waits is not taken for a hang. */
  notice?(text: string): void;
  /**
   * Ends the process when its projections lock was taken over while it held it (the CLI: one line,
   * exit 3); without it a StoreUnavailable is thrown from the lock's timer.
   */
  lockLost?(message: string): never;
  close(): Promise<void>;
};

export type LedgerOptions = {
  store?: EventStore;
  readOnly?: boolean;
  now?: () => Date;
  inspectRepo?: (path: string) => Promise<RepoFacts>;
  notice?: (text: string) => void;
  lockLost?: (message: string) => never;
};

export const DEFAULT_LEDGER_DIR = '.cto-ledger';

export function ledgerPaths(dir: string) {
  const root = resolve(dir);
  return {
    root,
    db: join(root, 'ledger.db'),
    config: join(root, 'config.yaml'),
    projections: join(root, 'projections'),
    artifacts: join(root, 'artifacts'),
  };
}

/**
 * Creates the ledger dir, its store and a config template. An existing ledger is left as it is (its
 * append-only triggers put back if someone removed them); a file there that is no ledger is refused,
 * never overwritten.
 */
export async function initLedger(dir: string): Promise<{ created: boolean; root: string; restoredTriggers: string[] }> {
  const paths = ledgerPaths(dir);
  refuseLostLog(paths);
  refuseForeignDir(paths);
  // Before anything is written: a ledger.db made beside a config link to nowhere would be half an init.
  checkConfigLink(paths.config);
  // An init cut short (a full disk) leaves an empty file, or a SQLite header without any table: that
  // is no one's data, and this init finishes it rather than refusing the dir for ever.
  const created = !existsSync(paths.db) || (interruptedInit(paths) && isEmptyDatabase(paths.db));
  mkdirSync(paths.root, { recursive: true });
  const store = openSqliteStore({ file: paths.db, create: created });
  const restoredTriggers = created ? [] : restoreTriggers(store);
  await store.close();
  if (!existsSync(paths.config) || statSync(paths.config).size === 0) writeConfigTemplate(paths.config);
  return { created, root: paths.root, restoredTriggers };
}

/**
 * Init makes a ledger in a new or empty dir, or finishes one holding ledger.db. A dir holding other
 * things (a git repository named by mistake) was filled with ledger.db and config.yaml beside them,
 * leaving its tree dirty; a dangling symbolic link was told "no such file or directory" of a path that is there.
 */
function refuseForeignDir(paths: ReturnType<typeof ledgerPaths>): void {
  const link = lstatSync(paths.root, { throwIfNoEntry: false });
  if (link?.isSymbolicLink() && !existsSync(paths.root)) {
    throw new BadInput(`${paths.root} is a symbolic link to ${readlinkSync(paths.root)}, which does not exist: init makes the ledger in a new or empty dir`);
  }
  if (existsSync(paths.db) || !statSync(paths.root, { throwIfNoEntry: false })?.isDirectory()) return;
  // A config.yaml written ahead of init (its backends declared first) is the ledger's own: init keeps it.
  const entries = readdirSync(paths.root).sort().filter((name) => name !== basename(paths.config));
  if (entries.length === 0) return;
  const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, and ${entries.length - 3} more` : '');
  throw new BadInput(`${paths.root} exists and is not empty (${shown}), and holds no ledger.db: init makes a ledger in a new or empty dir`);
}

/** What only a ledger in use writes beside its log. */
const ULID_NAME = /^[0-9A-HJKMNP-TV-Z]{26}(\.json)?$/;
/**
 * Each by what only cto-ledger writes in it: a project's own `projections/` or `evidence/` dir (this
 * repository has one) is no trace of a ledger, and `init --ledger .` there was told its log was lost.
 */
const WRITTEN_IN_USE: ReadonlyArray<[name: string, isOurs: (dir: string) => boolean]> = [
  ['projections', (dir) => existsSync(join(dir, 'projections.db')) || existsSync(join(dir, 'runs.json'))],
  ['evidence', (dir) => readdirSync(dir).some((name) => ULID_NAME.test(name))],
  ['artifacts', (dir) => existsSync(join(dir, 'sha256'))],
  ['executing', (dir) => readdirSync(dir).some((name) => ULID_NAME.test(name))],
];

/**
 * A ledger dir that was in use (its projections, evidence, artifacts) whose ledger.db is gone lost its
 * log: told as such, not as "no ledger (run: cto-ledger init)", which would start a new, empty log
 * beside the old runs' evidence (and a `rebuild` then folds the projections, the last record of them, away).
 */
function refuseLostLog(paths: ReturnType<typeof ledgerPaths>): void {
  if (existsSync(paths.db)) return;
  const left = WRITTEN_IN_USE.filter(([name, isOurs]) => {
    const dir = join(paths.root, name);
    return statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true && isOurs(dir);
  }).map(([name]) => name);
  if (!left.length) return;
  throw new LedgerDamaged(
    `${paths.db} is missing, but ${paths.root} holds a ledger's ${left.join(', ')}: its log was moved or deleted outside cto-ledger; restore ledger.db (and its -wal) from a backup (init would start a new, empty log beside them)`,
  );
}

/**
 * Only what an init writes, and no config yet (it is written after the store): a ledger that was in use
 * (its config, projections, evidence) whose ledger.db is now empty lost its log, and is refused.
 */
function interruptedInit(paths: ReturnType<typeof ledgerPaths>): boolean {
  const ours = new Set(['ledger.db', 'ledger.db-wal', 'ledger.db-shm', 'ledger.db-journal', 'config.yaml']);
  if (readdirSync(paths.root).some((name) => !ours.has(name) && !name.startsWith('config.yaml.partial-'))) return false;
  return !existsSync(paths.config) || statSync(paths.config).size === 0;
}

/** A 0-byte file, or a SQLite file whose schema holds nothing: what an interrupted init leaves. */
function isEmptyDatabase(file: string): boolean {
  if (statSync(file).size === 0) return true;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return (db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number }).n === 0;
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

/** Written whole or not at all: a config cut short by a full disk is removed, not left empty. */
function writeConfigTemplate(file: string): void {
  const tmp = `${file}.partial-${process.pid}`;
  try {
    writeFileSync(tmp, CONFIG_TEMPLATE, { flag: 'wx' });
    // link, not rename: a config someone wrote meanwhile is never replaced.
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (statSync(file).size === 0) renameSync(tmp, file);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

export function openLedger(dir: string, options: LedgerOptions = {}): Ledger {
  const paths = ledgerPaths(dir);
  if (!options.store && !existsSync(paths.root)) {
    throw new BadInput(`no ledger at ${paths.root} (run: cto-ledger init, or pass --ledger DIR)`);
  }
  // `--ledger DIR/ledger.db` (the file, not its dir) was told "no ledger at DIR/ledger.db/ledger.db".
  if (!options.store && !statSync(paths.root).isDirectory()) {
    throw new BadInput(`${paths.root} is a file, not a ledger dir: --ledger names the dir holding ledger.db${basename(paths.root) === 'ledger.db' ? ` (${dirname(paths.root)} here)` : ''}`);
  }
  if (!options.store) refuseLostLog(paths);
  const readOnly = options.readOnly === true || (!options.store && !canWrite(paths.root));
  const store = options.store ?? openSqliteStore({ file: paths.db, readOnly });
  return {
    dir: paths.root,
    readOnly,
    store,
    configFile: paths.config,
    config: () => loadConfig(paths.config),
    now: options.now ?? (() => new Date()),
    inspectRepo: options.inspectRepo ?? inspectRepo,
    foldedRun: (runId) => readFoldedRun(join(paths.projections, PROJECTION_FILES.db), runId),
    ...(options.notice ? { notice: options.notice } : {}),
    ...(options.lockLost ? { lockLost: options.lockLost } : {}),
    close: () => store.close(),
  };
}
