import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData, Worker } from 'node:worker_threads';
import { openProjectionDb } from '../../projections/projection-db.js';
import { positionsFollowOn, PROJECTION_FILES, READ_PAGE, runFolder, writeViews, type CatchUpResult, type Progress } from '../../projections/runner.js';
import { BadInput, ChainBroken, LedgerDamaged, StoreUnavailable } from '../errors.js';
import { openStoreAt } from '../store/open.js';
import type { Partition } from '../store/partition.js';
import type { StoreLocator } from '../store/types.js';

// A full rebuild reads, verifies and folds the whole log. Runs are independent, so the streams are
// split between worker threads (one per core): each verifies and folds its share, up to the same end
// position, into the one fresh projection file (their run ids are disjoint; each write is a short
// transaction, so they seldom wait for each other); the coordinator then writes the checkpoint and the
// views and swaps the new dir in whole. Each worker's young generation is kept small, so
// garbage is collected early and the peak memory stays bounded whatever the ledger's size.

type PartJob = { kind: 'rebuild-part'; locator: StoreLocator; projectionFile: string; until: number; partition: Partition };
type WorkerError = { name: string; message: string; stream?: string; version?: number; eventId?: string; reason?: string; position?: number };
type Message = { kind: 'progress'; done: number } | { kind: 'done'; applied: number } | { kind: 'error'; error: WorkerError };

const YOUNG_GENERATION_MB = 8;
// Any old-generation limit makes V8 collect the old generation early (its first major GC otherwise
// waits for about 45 MB of garbage per worker); this one is far above what a worker keeps alive.
const OLD_GENERATION_MB = 256;
/** A reader that scans the log once gains nothing from a big page cache; memory is the budget. */
const CACHE_KIB = 2_048;

// Under vitest these sources run as TypeScript, which a worker thread cannot load: there the worker
// runs the compiled build of this same file (`npm test` compiles first).
const WORKER_SCRIPT = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/src/ledger/parallel-rebuild.js', import.meta.url)
  : new URL(import.meta.url);

export type RebuildOptions = {
  /** Threads folding, this one included (default: one per core). */
  threads?: number;
  /** 'auto' sizes each thread's share (see planShares); 'even' gives every thread the same (tests). */
  shares?: 'auto' | 'even';
  onProgress?: Progress;
};

/** Streams are hashed into this many buckets; each thread folds a range of them. */
const BUCKETS = 64;
// Measured on the 2-core machine this was tuned on: a worker needs about 150 ms to start and load its
// modules and runs cold for a while after (250 ms balanced best, A/B against 0 and 100), and a thread
// folds an event in 10 to 15 µs while the others run. Only the balance between the threads depends on
// these figures, never the result.
const WORKER_START_MS = 250;
const FOLD_MICROS_PER_EVENT = 15;

/**
 * The bucket ranges [from, to) of the calling thread (first) and of each worker. The calling thread
 * starts folding at once while a worker first boots, so it takes the larger share; a log too small
 * to repay a worker's start is folded by the calling thread alone.
 */
export function planShares(events: number, threads: number, shares: 'auto' | 'even' = 'auto'): Array<[number, number]> {
  const workers = Math.max(0, Math.min(threads, BUCKETS) - 1);
  const foldMs = (events * FOLD_MICROS_PER_EVENT) / 1000;
  // Equal finishing times: own·fold = start + (1 - own)·fold / workers.
  let own = shares === 'even' ? 1 / (workers + 1) : Math.min(1, (1 + (WORKER_START_MS * workers) / foldMs) / (workers + 1));
  if (workers === 0 || (shares === 'auto' && own > 0.9)) own = 1;
  const ownBuckets = Math.max(1, Math.round(own * BUCKETS));
  if (ownBuckets >= BUCKETS) return [[0, BUCKETS]];
  const ranges: Array<[number, number]> = [[0, ownBuckets]];
  const helpers = Math.min(workers, BUCKETS - ownBuckets);
  for (let w = 0; w < helpers; w++) {
    const from = ownBuckets + Math.floor(((BUCKETS - ownBuckets) * w) / helpers);
    const to = ownBuckets + Math.floor(((BUCKETS - ownBuckets) * (w + 1)) / helpers);
    ranges.push([from, to]);
  }
  return ranges;
}

export function defaultRebuildThreads(): number {
  const fromEnv = Number(process.env.CTO_REBUILD_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return Math.min(fromEnv, 16);
  return Math.max(1, Math.min(availableParallelism(), 8));
}

function revive(e: WorkerError): Error {
  if (e.name === 'ChainBroken') return new ChainBroken(e.stream ?? '?', e.version ?? -1, e.eventId ?? '?', e.reason ?? e.message, e.position);
  if (e.name === 'LedgerDamaged') return new LedgerDamaged(e.message);
  if (e.name === 'BadInput') return new BadInput(e.message);
  return new StoreUnavailable(`rebuild worker failed: ${e.message}`);
}

function runPart(job: PartJob, onDone: (done: number) => void): { promise: Promise<number>; stop: () => void } {
  const worker = new Worker(WORKER_SCRIPT, { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: OLD_GENERATION_MB } });
  const promise = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: Message) => {
      if (m.kind === 'progress') onDone(m.done);
      else if (m.kind === 'done') resolve(m.applied);
      else reject(revive(m.error));
    });
    worker.on('error', (err) => reject(new StoreUnavailable(`rebuild worker failed: ${err.message}`)));
    worker.on('exit', (code) => code !== 0 && reject(new StoreUnavailable(`rebuild worker exited with code ${code}`)));
  });
  return { promise, stop: () => void worker.terminate() };
}

/**
 * Rebuilds every projection from position 0 into a fresh dir with `threads` threads in parallel, then
 * swaps it in whole; gives the same bytes as the single-threaded rebuild of the same log.
 */
export async function rebuildInParallel(locator: StoreLocator, dir: string, options: RebuildOptions = {}): Promise<CatchUpResult> {
  const store = openStoreAt(locator, { cacheKiB: CACHE_KIB });
  const fresh = `${dir}.rebuild-${process.pid}`;
  try {
    const until = await store.lastPosition();
    rmSync(fresh, { recursive: true, force: true });
    mkdirSync(join(fresh, PROJECTION_FILES.runsDir), { recursive: true });
    const projectionFile = join(fresh, PROJECTION_FILES.db);
    // Created here, so the workers never race to create the schema.
    openProjectionDb(projectionFile, { bulk: true }).close();
    const ranges = planShares(until, options.threads ?? defaultRebuildThreads(), options.shares);
    const done: number[] = ranges.map(() => 0);
    const report = () => options.onProgress?.(done.reduce((a, b) => a + b, 0), until);
    const job = (index: number): PartJob => {
      const [from, to] = ranges[index]!;
      return { kind: 'rebuild-part', locator, projectionFile, until, partition: { of: BUCKETS, from, to } };
    };
    // The first share is folded here, from the start, while the workers boot; the others each in a
    // worker thread.
    let failed: unknown = null;
    const workers = done.slice(1).map((_, i) =>
      runPart(job(i + 1), (n) => {
        done[i + 1] = n;
        report();
      }),
    );
    const settled = workers.map((w) => w.promise.catch((err: unknown) => ((failed ??= err), -1)));
    let applied: number[];
    try {
      const own = await foldPart(job(0), (n) => {
        done[0] = n;
        report();
      }, () => failed);
      // A worker that failed while this thread folded ends the rebuild now; the others are stopped.
      if (failed) throw failed;
      applied = [own, ...(await Promise.all(settled))];
      if (failed) throw failed;
    } catch (err) {
      for (const w of workers) w.stop();
      throw err;
    }
    const total = applied.reduce((a, b) => a + b, 0);
    if (store.densePositions && total !== until) {
      // Named by position, as the single-threaded fold names it: the threads each saw only their streams.
      const follows = positionsFollowOn(0);
      for await (const page of store.readAllPages({ until, pageSize: 1_000 })) for (const { position } of page) follows(position);
      throw new LedgerDamaged(`the log is missing events: ${until - total} of positions 1 to ${until} are gone (removed from the store outside cto-ledger)`);
    }
    let lastHash: string | null = null;
    // An empty log has no last event (and no position -1 to read after).
    if (until > 0) for await (const page of store.readAllPages({ after: until - 1, pageSize: 1, until })) lastHash = page[0]?.event.hash ?? null;
    const pdb = openProjectionDb(projectionFile, { bulk: true });
    try {
      pdb.setPosition(until, lastHash);
      // No run's files: a command touching a run, or `status RUN`, writes them (see writeViews).
      await writeViews(store, fresh, pdb, []);
    } finally {
      pdb.close();
    }
    const old = `${dir}.old-${process.pid}`;
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(fresh, dir);
    rmSync(old, { recursive: true, force: true });
    return { position: until, applied: total };
  } catch (err) {
    rmSync(fresh, { recursive: true, force: true });
    throw err;
  } finally {
    await store.close();
  }
}

/** Folds one partition; `stopped` is polled between pages (a failure elsewhere ends the rebuild). */
async function foldPart(job: PartJob, progress: (done: number) => void, stopped: () => unknown = () => null): Promise<number> {
  const store = openStoreAt(job.locator, { cacheKiB: CACHE_KIB });
  const pdb = openProjectionDb(job.projectionFile, { bulk: true, cacheKiB: CACHE_KIB });
  try {
    const folder = runFolder(pdb, null, { fromStart: true });
    let applied = 0;
    for await (const page of store.readAllPages({ partition: job.partition, until: job.until, pageSize: READ_PAGE })) {
      folder.fold(page);
      applied += page.length;
      if (folder.due()) {
        folder.flush();
        progress(applied);
        // Lets this thread's event loop hear from the workers (progress, a failure) now and then.
        await new Promise((resolve) => setImmediate(resolve));
        if (stopped()) break;
      }
    }
    folder.flush();
    progress(applied);
    return applied;
  } finally {
    pdb.close();
    await store.close();
  }
}

if (parentPort && (workerData as PartJob | undefined)?.kind === 'rebuild-part') {
  const port = parentPort;
  const post = (m: Message) => port.postMessage(m);
  foldPart(workerData as PartJob, (done) => post({ kind: 'progress', done }))
    .then((applied) => post({ kind: 'done', applied }))
    .catch((err: unknown) => {
      const e = err as Partial<ChainBroken> & Error;
      post({ kind: 'error', error: { name: e.name, message: e.message, stream: e.stream, version: e.version, eventId: e.eventId, reason: e.reason, position: e.position } });
    });
}
