import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { readCheckpoint, type Checkpoint } from '../../projections/projection-db.js';
import { checkCheckpoint, materializeRun, PROJECTION_FILES, projectionRunner, rebuildProjections, type CatchUpResult, type Progress } from '../../projections/runner.js';
import { ChainBroken, LedgerDamaged, StoreUnavailable } from '../errors.js';
import { rebuildInParallel } from './parallel-rebuild.js';
import { ledgerPaths, type Ledger } from './ledger.js';

/** One projection writer at a time per ledger dir, across processes. */
async function withProjectionLock<T>(ledger: Ledger, work: () => Promise<T>): Promise<T> {
  const { root } = ledgerPaths(ledger.dir);
  mkdirSync(root, { recursive: true });
  const options = { lockfilePath: join(root, 'projections.lock'), stale: 10_000 };
  let release: () => Promise<void>;
  try {
    // Said once the wait is long enough to be noticed (another command's turn is milliseconds).
    const told = setTimeout(
      () => ledger.notice?.(`waiting for the projections lock (${options.lockfilePath}): another cto-ledger command holds it, or one killed while holding it left it, which is taken over once it is 10 s old`),
      1_000,
    );
    try {
      // A holder refreshes the lock every 5 s; one killed mid-write leaves it to go stale after 10 s.
      // The retries outlast that (about 40 s), so the next command waits the dead holder out.
      release = await lockfile.lock(root, { ...options, retries: { retries: 400, minTimeout: 20, maxTimeout: 100 } });
    } finally {
      clearTimeout(told);
    }
  } catch (err) {
    throw new StoreUnavailable(`cannot lock the projections of ${root}: ${(err as Error).message}`);
  }
  try {
    return await work();
  } finally {
    await release();
  }
}

/** Null when the projections' checkpoint still names an event of this log (or there are none yet); else why not. */
export async function projectionsMatch(ledger: Ledger): Promise<string | null> {
  const file = join(ledgerPaths(ledger.dir).projections, PROJECTION_FILES.db);
  let checkpoint: Checkpoint | null;
  try {
    checkpoint = readCheckpoint(file);
  } catch (err) {
    return `the projections at ${file} cannot be read (${(err as Error).message}); \`cto-ledger rebuild\` rebuilds them from the ledger`;
  }
  if (!checkpoint) return null;
  try {
    await checkCheckpoint(ledger.store, checkpoint);
    return null;
  } catch (err) {
    // The event at the checkpoint may itself be the damaged one: reported the same way.
    if (err instanceof LedgerDamaged || err instanceof ChainBroken) return err.message;
    throw err;
  }
}

/** Brings the projection files under the ledger dir up to the end of the log. */
export function refreshProjections(ledger: Ledger, onProgress?: Progress): Promise<CatchUpResult> {
  return withProjectionLock(ledger, () =>
    projectionRunner(ledger.store, ledgerPaths(ledger.dir).projections, { onProgress }).catchUp(),
  );
}

/**
 * Dirs a killed rebuild left beside the projections (its fresh copy, or the old one it was swapping
 * out). Only called under the projection lock, when no rebuild can be using them.
 */
function removeAbandonedRebuilds(dir: string): string[] {
  const prefix = `${basename(dir)}.`;
  const abandoned = readdirSync(dirname(dir)).filter((name) => name.startsWith(prefix) && /\.(rebuild|old)-\d+$/.test(name));
  for (const name of abandoned) rmSync(join(dirname(dir), name), { recursive: true, force: true });
  return abandoned;
}

/** A full rebuild: on every core when worker threads can open the store, in this thread otherwise. */
export function rebuildAllProjections(ledger: Ledger, onProgress?: Progress, options: { threads?: number } = {}): Promise<CatchUpResult> {
  const dir = ledgerPaths(ledger.dir).projections;
  const { locator } = ledger.store;
  return withProjectionLock(ledger, () => {
    removeAbandonedRebuilds(dir);
    return locator ? rebuildInParallel(locator, dir, { onProgress, threads: options.threads }) : rebuildProjections(ledger.store, dir, onProgress);
  });
}

/** Writes one run's projection files now (a rebuild writes none: they are rendered on demand or when a command touches the run). */
export function materializeRunFiles(ledger: Ledger, runId: string): Promise<number> {
  return withProjectionLock(ledger, () => materializeRun(ledger.store, ledgerPaths(ledger.dir).projections, runId));
}
