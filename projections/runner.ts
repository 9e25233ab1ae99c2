import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { evolveRun, initialRunState, runStream, type RunState } from '../src/domain/run.js';
import type { RecordedEvent } from '../src/events/envelope.js';
import type { EventStore } from '../src/store/types.js';
import { ChainBroken, LedgerDamaged } from '../src/errors.js';
import { writeAtomic } from './files.js';
import { openProjectionDb, runRow, type Checkpoint, type ProjectionDb } from './projection-db.js';
import { writeRunFiles } from './run-files.js';
import { ACTIVE_STATUSES, listEntry, renderControlSurface } from './run-list.js';

export const PROJECTION_FILES = {
  db: 'projections.db',
  runs: 'runs.json',
  controlSurface: 'control-surface.json',
  runsDir: 'runs',
} as const;

/** Events read per page, and folded per projection transaction (see runFolder). */
export const READ_PAGE = 100;
export const FLUSH_EVERY = 1_000;
/** Also flush once this much event text was folded: the states held in memory stay small whatever the events. */
const FLUSH_BYTES = 4 << 20;

export type CatchUpResult = { position: number; applied: number };
export type Progress = (done: number, position: number) => void;
export type RunnerOptions = {
  batchSize?: number;
  onProgress?: Progress;
  /**
   * Which runs get their files under runs/<id>/ written: those the catch-up touched (the default,
   * one or two per command), or none (a full rebuild: a run's files are written when a command next
   * touches it, or by `status RUN`; see materializeRun).
   */
  materialize?: 'touched' | 'none';
  /** Writing into a fresh dir that is discarded on failure: skip the projection store's journal. */
  bulk?: boolean;
  /** Fold no further than this position (a fold to compare with projections that stopped there). */
  until?: number;
};

/** Writes a run's three files under runs/<id>/ from its stream (chain-checked on the way). */
export async function materializeRun(store: EventStore, dir: string, runId: string): Promise<number> {
  const events = await store.readStream(runStream(runId));
  if (events.length > 0) writeRunFiles(join(dir, PROJECTION_FILES.runsDir, runId), runId, events);
  return events.length;
}

/** runs.json written in chunks: a ledger of a million runs is never one string in memory. */
function writeRunList(pdb: ProjectionDb, file: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let renamed = false;
  try {
    let chunk = '[';
    let first = true;
    for (const entry of pdb.entryTexts()) {
      chunk += `${first ? '\n' : ',\n'}  ${entry}`;
      first = false;
      if (chunk.length > 1 << 16) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk + (first ? ']\n' : '\n]\n'));
    closeSync(fd);
    renameSync(tmp, file);
    renamed = true;
  } finally {
    if (!renamed) {
      // A full disk: the half-written sibling is not left behind to take space for ever.
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      rmSync(tmp, { force: true });
    }
  }
}

/**
 * Folds pages of the log into run states held in memory until `flush` writes them and the checkpoint
 * in one transaction. Reading in small pages and flushing in large batches lets each event die young
 * (cheap to collect) while a run's state is written once per batch. Events come in global order; each
 * run event must link to the state folded so far (version and prevHash), and so must the events of
 * the other streams, so a rebuild checks every chain end to end, not only each event's own hash.
 */
export function runFolder(pdb: ProjectionDb, touched: Set<string> | null, options: { fromStart: boolean }) {
  let states = new Map<string, RunState>();
  let { position, hash: lastHash } = pdb.checkpoint();
  let pending = 0;
  let pendingBytes = 0;
  // The other streams (targets, backends: few) are not folded, but their links are checked too. From
  // the start of the log each must begin at version 0; after a checkpoint, from the first one seen.
  const checkLink = streamLinks(options.fromStart);
  return {
    fold(page: readonly RecordedEvent[]): void {
      for (const { event, position: at } of page) {
        if (!event.stream.startsWith('run-')) {
          checkLink(event, at);
          continue;
        }
        const runId = event.stream.slice(4);
        // A run's first event needs no lookup: everything after the checkpoint is replayed in order.
        const state = states.get(runId) ?? (event.version === 0 ? null : pdb.runState(runId)) ?? initialRunState(runId);
        if (event.version !== state.version + 1 || event.prevHash !== state.lastHash) {
          throw new ChainBroken(event.stream, event.version, event.id, `does not link to version ${state.version} of its stream`, at);
        }
        states.set(runId, evolveRun(state, event));
        touched?.add(runId);
      }
      const last = page[page.length - 1];
      if (last) ({ position, event: { hash: lastHash } } = last);
      pending += page.length;
      for (const { body } of page) pendingBytes += body.length;
    },
    /** True once enough was folded since the last flush to write it out. */
    due: (events = FLUSH_EVERY) => pending >= events || pendingBytes >= FLUSH_BYTES,
    flush(): void {
      if (pending === 0) return;
      const rows = Array.from(states.values(), (state) => runRow(state, listEntry(state)));
      pdb.transaction(() => {
        for (const row of rows) pdb.putRun(row);
        pdb.setPosition(position, lastHash);
      });
      states = new Map();
      pending = 0;
      pendingBytes = 0;
    },
  };
}

/** A store with dense positions numbers its events 1, 2, 3...: a gap is a removed event. */
export function missingPositions(from: number, before: number): LedgerDamaged {
  const which = before - from === 1 ? `position ${from} is` : `positions ${from} to ${before - 1} are`;
  return new LedgerDamaged(`the log is missing events: ${which} gone (removed from the store outside cto-ledger)`);
}

/**
 * For a reader of the global log in order from `after`, on a store that numbers its events 1, 2, 3...:
 * each position must follow the one before, or events were removed (named by position).
 */
export function positionsFollowOn(after: number): (position: number) => void {
  let next = after + 1;
  return (position) => {
    if (position !== next) throw missingPositions(next, position);
    next = position + 1;
  };
}

/**
 * For a reader of the global log in order: each event must link to the last one read of its stream
 * (version and prevHash), as a stream read checks. Read from the start of the log, a stream must begin
 * at version 0; read from a later position, a stream first met there has nothing read to link to.
 */
export function streamLinks(fromStart: boolean): (event: RecordedEvent['event'], position: number) => void {
  const tails = new Map<string, { version: number; hash: string }>();
  return (event, position) => {
    const tail = tails.get(event.stream);
    const linked = tail ? event.version === tail.version + 1 && event.prevHash === tail.hash : !fromStart || (event.version === 0 && event.prevHash === null);
    if (!linked) throw new ChainBroken(event.stream, event.version, event.id, `does not link to version ${tail ? tail.version : 'none'} of its stream`, position);
    tails.set(event.stream, { version: event.version, hash: event.hash });
  };
}

/**
 * The projections name the last event they folded (position and hash); the log must still hold it.
 * If not, they were folded from a log that lost events (a truncated or restored file) or from another
 * ledger, and folding on from there would hide whatever now stands at those positions.
 */
export async function checkCheckpoint(store: EventStore, { position, hash }: Checkpoint): Promise<void> {
  if (position === 0) return;
  let found: RecordedEvent | undefined;
  for await (const page of store.readAllPages({ after: position - 1, pageSize: 1 })) {
    found = page[0];
    break;
  }
  if (found?.position === position && (hash === null || found.event.hash === hash)) return;
  const last = await store.lastPosition();
  throw new LedgerDamaged(
    found?.position === position
      ? `the projections were folded up to position ${position}, but the event there is not the one they folded (hash ${hash?.slice(0, 16)}, now ${found.event.hash.slice(0, 16)}): the ledger was replaced or rewritten; run \`cto-ledger rebuild\` to fold it as it is now, and find out what happened to it`
      : `the projections were folded up to position ${position}, but the log ends at ${last}: the ledger lost acknowledged events (a truncated or restored file, or a copy of ledger.db taken while in use without its -wal); run \`cto-ledger rebuild\` to fold it as it is now, and find out what happened to it`,
  );
}

/**
 * Writes the list, the control surface and the files of the given runs. A full rebuild gives none:
 * rendering every open run's three files costs a stream read, a dir and three files per run (about
 * 300 µs each, most of it in the kernel), which would bound a rebuild of many open runs to a few
 * thousand events per second. Files are never stale instead: a rebuild swaps in a dir without any,
 * and every catch-up rewrites those of each run it folded.
 */
export async function writeViews(store: EventStore, dir: string, pdb: ProjectionDb, runs: Iterable<string>): Promise<void> {
  const active = [...pdb.entries(ACTIVE_STATUSES)];
  writeRunList(pdb, join(dir, PROJECTION_FILES.runs));
  writeAtomic(join(dir, PROJECTION_FILES.controlSurface), renderControlSurface(active, pdb.statusCounts(), pdb.position()));
  for (const runId of runs) await materializeRun(store, dir, runId);
}

/**
 * The checkpointed projection runner, written once: folds the events after the checkpoint into the
 * projection store (states, lines and checkpoint in one transaction per batch), then writes the list,
 * the control surface and the files of the runs it touched.
 */
export function projectionRunner(store: EventStore, dir: string, options: RunnerOptions = {}) {
  const batchSize = options.batchSize ?? FLUSH_EVERY;
  const materialize = options.materialize ?? 'touched';

  function withDb<T>(work: (pdb: ProjectionDb) => Promise<T>): Promise<T> {
    mkdirSync(join(dir, PROJECTION_FILES.runsDir), { recursive: true });
    const pdb = openProjectionDb(join(dir, PROJECTION_FILES.db), { bulk: options.bulk === true });
    return work(pdb).finally(() => pdb.close());
  }

  async function catchUpWith(pdb: ProjectionDb): Promise<CatchUpResult> {
    await checkCheckpoint(store, pdb.checkpoint());
    const touched = materialize === 'touched' ? new Set<string>() : null;
    const folder = runFolder(pdb, touched, { fromStart: pdb.position() === 0 });
    let applied = 0;
    const follows = positionsFollowOn(pdb.position());
    for await (const page of store.readAllPages({ after: pdb.position(), pageSize: READ_PAGE, until: options.until })) {
      if (store.densePositions) for (const { position } of page) follows(position);
      folder.fold(page);
      applied += page.length;
      if (folder.due(batchSize)) {
        folder.flush();
        options.onProgress?.(applied, pdb.position());
      }
    }
    folder.flush();
    if (applied > 0 || !existsSync(join(dir, PROJECTION_FILES.runs))) await writeViews(store, dir, pdb, touched ?? []);
    return { position: pdb.position(), applied };
  }

  return {
    catchUp: () => withDb(catchUpWith),

    /** Catch up, then follow the live log until `signal` aborts. */
    follow: (signal: AbortSignal, onEvent?: (position: number) => void) =>
      withDb(async (pdb) => {
        await catchUpWith(pdb);
        const sub = store.subscribe({ after: pdb.position() });
        signal.addEventListener('abort', () => sub.close(), { once: true });
        for await (const recorded of sub) {
          const touched = new Set<string>();
          const folder = runFolder(pdb, touched, { fromStart: false });
          folder.fold([recorded]);
          folder.flush();
          await writeViews(store, dir, pdb, touched);
          onEvent?.(recorded.position);
        }
      }),
  };
}

/** Rebuilds every projection from position 0 into a fresh dir, then swaps it in whole (no run's files: see writeViews). */
export async function rebuildProjections(store: EventStore, dir: string, onProgress?: Progress): Promise<CatchUpResult> {
  const fresh = `${dir}.rebuild-${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  const result = await projectionRunner(store, fresh, { onProgress, materialize: 'none', bulk: true }).catchUp();
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(fresh, dir);
  rmSync(old, { recursive: true, force: true });
  return result;
}
