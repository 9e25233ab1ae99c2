import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_TEMPLATE, loadConfig, type LedgerConfig } from '../config/config.js';
import { BadInput } from '../errors.js';
import { canWrite } from '../store/readable-copy.js';
import { openSqliteStore, restoreTriggers } from '../store/sqlite.js';
import type { EventStore } from '../store/types.js';
import { inspectRepo, type RepoFacts } from '../target/repo.js';
import { readFoldedRun } from '../../projections/projection-db.js';
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
  foldedRun?(runId: string): { version: number; lastHash: string | null } | null;
  /** Where a long wait is said (the CLI: stderr), so a command that waits is not taken for a hang. */
  notice?(text: string): void;
  close(): Promise<void>;
};

export type LedgerOptions = {
  store?: EventStore;
  readOnly?: boolean;
  now?: () => Date;
  inspectRepo?: (path: string) => Promise<RepoFacts>;
  notice?: (text: string) => void;
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
  const created = !existsSync(paths.db);
  mkdirSync(paths.root, { recursive: true });
  const store = openSqliteStore({ file: paths.db, create: created });
  const restoredTriggers = created ? [] : restoreTriggers(store);
  await store.close();
  if (!existsSync(paths.config)) writeFileSync(paths.config, CONFIG_TEMPLATE, { flag: 'wx' });
  return { created, root: paths.root, restoredTriggers };
}

export function openLedger(dir: string, options: LedgerOptions = {}): Ledger {
  const paths = ledgerPaths(dir);
  if (!options.store && !existsSync(paths.root)) {
    throw new BadInput(`no ledger at ${paths.root} (run: cto-ledger init, or pass --ledger DIR)`);
  }
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
    close: () => store.close(),
  };
}
