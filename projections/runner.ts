import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { evolveRun, initialRunState, type RunState } from '../src/domain/run.js';
import { StoreUnavailable } from '../src/errors.js';
import type { RecordedEvent } from '../src/events/envelope.js';
import type { EventStore } from '../src/store/types.js';
import { appendText, completeLines, cutToLines, writeAtomic } from './files.js';
import { normalizedLine, parseRunState, renderRunState, RUN_FILES, traceLine } from './run-files.js';
import { listEntry, renderControlSurface, renderRunList, type RunListEntry } from './run-list.js';

export const PROJECTION_FILES = {
  checkpoint: 'checkpoint.json',
  runs: 'runs.json',
  controlSurface: 'control-surface.json',
  runsDir: 'runs',
} as const;

export type CatchUpResult = { position: number; applied: number };
export type Progress = (done: number, position: number) => void;

/**
 * The checkpointed projection runner, written once: folds events after the checkpoint into the run
 * files, then writes lists and checkpoint. Every write is idempotent (lines by version, states by
 * version), so a crash anywhere is mended by catching up again.
 */
export function projectionRunner(store: EventStore, dir: string, options: { batchSize?: number; onProgress?: Progress } = {}) {
  const batchSize = options.batchSize ?? 5_000;
  const runsDir = join(dir, PROJECTION_FILES.runsDir);
  let position = 0;
  let list = new Map<string, RunListEntry>();
  const linesWritten = new Map<string, number>();

  function load(): void {
    mkdirSync(runsDir, { recursive: true });
    linesWritten.clear(); // the files are the truth: re-count them at every catch-up
    const checkpoint = join(dir, PROJECTION_FILES.checkpoint);
    position = existsSync(checkpoint) ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { position: number }).position : 0;
    const runs = join(dir, PROJECTION_FILES.runs);
    const entries = existsSync(runs) ? (JSON.parse(readFileSync(runs, 'utf8')) as RunListEntry[]) : [];
    list = new Map(entries.map((e) => [e.runId, e]));
  }

  function runState(runId: string): RunState {
    const file = join(runsDir, runId, RUN_FILES.state);
    return existsSync(file) ? parseRunState(readFileSync(file, 'utf8'), runId) : initialRunState(runId);
  }

  function lineCount(runId: string): number {
    let n = linesWritten.get(runId);
    if (n === undefined) {
      const runDir = join(runsDir, runId);
      mkdirSync(runDir, { recursive: true });
      // Both files hold one line per event; after a crash between them both are cut back to the shorter.
      n = Math.min(completeLines(join(runDir, RUN_FILES.normalized)), completeLines(join(runDir, RUN_FILES.trace)));
      cutToLines(join(runDir, RUN_FILES.normalized), n);
      cutToLines(join(runDir, RUN_FILES.trace), n);
      linesWritten.set(runId, n);
    }
    return n;
  }

  function applyBatch(batch: RecordedEvent[]): void {
    const states = new Map<string, RunState>();
    const pending = new Map<string, { normalized: string; trace: string; from: number; count: number }>();
    for (const { event } of batch) {
      if (!event.stream.startsWith('run-')) continue;
      const runId = event.stream.slice(4);
      const state = states.get(runId) ?? runState(runId);
      states.set(runId, evolveRun(state, event));
      const written = lineCount(runId);
      const lines = pending.get(runId) ?? { normalized: '', trace: '', from: written, count: 0 };
      const nextVersion = lines.from + lines.count;
      if (event.version === nextVersion) {
        lines.normalized += normalizedLine(event);
        lines.trace += traceLine(event);
        lines.count++;
        pending.set(runId, lines);
      } else if (event.version > nextVersion) {
        throw new StoreUnavailable(`projection of run ${runId} misses versions ${nextVersion}..${event.version - 1}; rebuild the projections`);
      }
    }
    for (const [runId, lines] of pending) {
      const runDir = join(runsDir, runId);
      const written = lineCount(runId);
      if (lines.from === written) {
        appendText(join(runDir, RUN_FILES.trace), lines.trace);
        appendText(join(runDir, RUN_FILES.normalized), lines.normalized);
        linesWritten.set(runId, written + lines.count);
      }
    }
    for (const [runId, state] of states) {
      writeAtomic(join(runsDir, runId, RUN_FILES.state), renderRunState(state));
      list.set(runId, listEntry(state));
    }
  }

  function writeLists(at: number): void {
    const entries = [...list.values()].sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
    writeAtomic(join(dir, PROJECTION_FILES.runs), renderRunList(entries));
    writeAtomic(join(dir, PROJECTION_FILES.controlSurface), renderControlSurface(entries, at));
    writeAtomic(join(dir, PROJECTION_FILES.checkpoint), JSON.stringify({ position: at }) + '\n');
  }

  async function catchUp(): Promise<CatchUpResult> {
    load();
    const start = position;
    let applied = 0;
    let batch: RecordedEvent[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      applyBatch(batch);
      position = batch[batch.length - 1]!.position;
      applied += batch.length;
      writeLists(position);
      options.onProgress?.(applied, position);
      batch = [];
    };
    for await (const recorded of store.readAll({ after: position })) {
      batch.push(recorded);
      if (batch.length >= batchSize) flush();
    }
    flush();
    if (start === 0 && applied === 0) writeLists(0);
    return { position, applied };
  }

  /** Catch up, then follow the live log until `signal` aborts. */
  async function follow(signal: AbortSignal, onBatch?: (position: number) => void): Promise<void> {
    await catchUp();
    const sub = store.subscribe({ after: position });
    signal.addEventListener('abort', () => sub.close(), { once: true });
    for await (const recorded of sub) {
      applyBatch([recorded]);
      position = recorded.position;
      writeLists(position);
      onBatch?.(position);
    }
  }

  return { catchUp, follow };
}

/** Rebuilds every projection from position 0 into a fresh dir, then swaps it in whole. */
export async function rebuildProjections(store: EventStore, dir: string, onProgress?: Progress): Promise<CatchUpResult> {
  const fresh = `${dir}.rebuild-${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  const result = await projectionRunner(store, fresh, { onProgress }).catchUp();
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(fresh, dir);
  rmSync(old, { recursive: true, force: true });
  return result;
}
