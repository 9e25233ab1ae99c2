import fs, { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { projectionDigests, readCheckpoint, type Checkpoint } from '../../projections/projection-db.js';
import { renderRunFiles } from '../../projections/run-files.js';
import { checkCheckpoint, materializeRun, PROJECTION_FILES, projectionRunner, rebuildProjections, type CatchUpResult, type Progress } from '../../projections/runner.js';
import { runStream } from '../domain/run.js';
import { sha256Hex } from '../events/hashing.js';
import { ChainBroken, diskFullNote, LedgerDamaged, StoreUnavailable } from '../errors.js';
import { systemTempDir } from '../temp-dir.js';
import { readUpTo } from '../read-file.js';
import { rebuildInParallel } from './parallel-rebuild.js';
import { ledgerPaths, type Ledger } from './ledger.js';

/**
 * How far a lock's time may lie ahead of this machine's clock and still be a live holder's (which
 * refreshes it to its own now every 5 s): past this, a clock stepped back or a lock copied from a host
 * whose clock ran ahead left it, and proper-lockfile, which takes over only locks older than `stale`,
 * would wait for it for good.
 */
export const LOCK_FUTURE_SLACK_MS = 30_000;

/**
 * node:fs for proper-lockfile, whose `stat` shows a lock dated more than LOCK_FUTURE_SLACK_MS ahead as
 * long stale, so its own takeover (remove, try again) handles it. Only while acquiring: a lock this
 * process holds is never shown so (after a clock step its holder would think it compromised).
 */
function lockFs(notice: ((text: string) => void) | undefined, held: () => boolean): typeof fs {
  let told = false;
  const stat = (path: fs.PathLike, callback: (err: NodeJS.ErrnoException | null, stats: fs.Stats) => void) =>
    fs.stat(path, (err, stats) => {
      const ahead = err || held() ? 0 : stats.mtime.getTime() - Date.now();
      if (ahead <= LOCK_FUTURE_SLACK_MS) return callback(err, stats);
      if (!told) {
        told = true;
        notice?.(`taking over the projections lock (${String(path)}): its time, ${stats.mtime.toISOString()}, lies ${Math.round(ahead / 1000)} s ahead of this machine's clock, so no live cto-ledger command here holds it (a clock stepped back, or a lock copied from another host)`);
      }
      callback(null, Object.assign(Object.create(Object.getPrototypeOf(stats) as object) as fs.Stats, stats, { mtime: new Date(0), mtimeMs: 0 }));
    });
  return Object.assign({}, fs, { stat }) as unknown as typeof fs;
}

/** One projection writer at a time per ledger dir, across processes. */
async function withProjectionLock<T>(ledger: Ledger, work: () => Promise<T>): Promise<T> {
  const { root } = ledgerPaths(ledger.dir);
  mkdirSync(root, { recursive: true });
  let held = false;
  const lockfilePath = join(root, 'projections.lock');
  // A holder stopped or starved past the stale time (a suspended laptop, SIGSTOP, a machine swapping)
  // finds on waking that another command took the lock over: proper-lockfile's default threw from its
  // timer, a stack trace and exit 1, a rebuild's fresh copy left behind. It still stops at once (the
  // projections have another writer now), its own rebuild copy removed, and says why.
  const onCompromised = (err: Error): void => {
    rmSync(`${ledgerPaths(ledger.dir).projections}.rebuild-${process.pid}`, { recursive: true, force: true });
    const message = `the projections lock ${lockfilePath} was taken over while this command held it (${err.message}): it was stopped or starved for over 10 s and another command writes the projections now; stopped here. What it recorded stands; the next command (or cto-ledger rebuild) folds the projections`;
    if (ledger.lockLost) ledger.lockLost(message);
    throw new StoreUnavailable(message);
  };
  const options = { lockfilePath, stale: 10_000, fs: lockFs(ledger.notice, () => held), onCompromised };
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
      held = true;
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
    // A full disk is no damage: rebuilding would need more room, not less.
    const full = diskFullNote(err, (err as NodeJS.ErrnoException).path ?? file);
    if (full) return `the projections at ${file} cannot be read (${(err as Error).message}): ${full}; free some space on it and run the command again`;
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

/**
 * Removes the fresh copy this process's rebuild is writing (`projections.rebuild-PID`): for Ctrl-C or a
 * TERM halfway, whose default action left it, as large as the projections, until the next rebuild. The
 * projections in use are untouched until the synchronous swap at the end, which no signal handler splits.
 */
export function removeOwnRebuild(ledger: Ledger): void {
  rmSync(`${ledgerPaths(ledger.dir).projections}.rebuild-${process.pid}`, { recursive: true, force: true });
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

/**
 * What changes whenever a writer folds: the checkpoint, and each projection file's inode, size and
 * time (every file is replaced whole by a rename). Read without the lock, for a reader that cannot take it.
 */
export function projectionsFingerprint(dir: string): string {
  let checkpoint: string;
  try {
    checkpoint = JSON.stringify(readCheckpoint(join(dir, PROJECTION_FILES.db)));
  } catch (err) {
    checkpoint = (err as Error).message;
  }
  const stat = (rel: string) => {
    const st = fs.statSync(join(dir, rel), { throwIfNoEntry: false });
    return st ? `${rel} ${st.ino} ${st.size} ${st.mtimeMs}` : `${rel} -`;
  };
  const list = (rel: string): string[] => {
    try {
      return readdirSync(join(dir, rel)).sort();
    } catch {
      return [];
    }
  };
  const lines = [checkpoint, stat(PROJECTION_FILES.runs), stat(PROJECTION_FILES.controlSurface)];
  for (const runId of list(PROJECTION_FILES.runsDir)) {
    for (const name of list(join(PROJECTION_FILES.runsDir, runId))) lines.push(stat(join(PROJECTION_FILES.runsDir, runId, name)));
  }
  return lines.join('\n');
}

/** `unreadable`: what stands where a projection file (or a run's dir of them) goes and is none, with why. */
type Snapshot = { content: ReturnType<typeof projectionDigests>; files: Map<string, string>; unreadable: Map<string, string> };

/**
 * The projection store's content and every projection file, read whole under the lock (no writer
 * halfway), each kept as its digest: what is compared, in memory that does not grow with the runs' size.
 */
function readProjections(dir: string): Snapshot {
  const files = new Map<string, string>();
  // Not blocking on a FIFO planted where a projection file goes (health hung on it for good), nor
  // stopping at it (health was exit 3 with that alone): it is one of the differences, the rest compared.
  const unreadable = new Map<string, string>();
  const rebuild = 'cto-ledger rebuild puts the projections right';
  const read = (rel: string) => {
    const file = join(dir, rel);
    if (!existsSync(file)) return;
    const got = readUpTo(file, Number.MAX_SAFE_INTEGER);
    if (got.kind) unreadable.set(rel, `${file}: not a regular file (${got.kind}): a projection is read from a file; ${rebuild}`);
    else files.set(rel, sha256Hex(got.bytes));
  };
  // runs/ and each run's dir in it: the names in a dir, or none when it is missing or no dir.
  const list = (rel: string, what: string): string[] => {
    try {
      return readdirSync(join(dir, rel));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      if (code !== 'ENOTDIR') throw err;
      unreadable.set(rel, `${join(dir, rel)}: not a directory: ${what} are kept in one; ${rebuild}`);
      return [];
    }
  };
  read(PROJECTION_FILES.runs);
  read(PROJECTION_FILES.controlSurface);
  for (const runId of list(PROJECTION_FILES.runsDir, "the runs' projection files")) {
    const rel = join(PROJECTION_FILES.runsDir, runId);
    for (const name of list(rel, `run ${runId}'s projection files`)) read(join(rel, name));
  }
  return { content: projectionDigests(join(dir, PROJECTION_FILES.db)), files, unreadable };
}

/**
 * Whether the projections say what the log says. They are what Hermes and \`status\` read, and a file
 * that is no event is not hash-chained: edited (a run shown accepted, say), nothing else would tell.
 * The log is folded afresh, up to the projections' own checkpoint, into a scratch dir, and the store,
 * runs.json and control-surface.json compared; each run's files under runs/<id>/ are rendered from its
 * stream and compared (unless the stream goes past the checkpoint: then they may rightly differ).
 * Returns each difference found; none when they agree or there are no projections yet.
 */
export async function projectionDifferences(ledger: Ledger): Promise<string[]> {
  const dir = ledgerPaths(ledger.dir).projections;
  if (!existsSync(join(dir, PROJECTION_FILES.db))) return [];
  // Read-only, the lock cannot be taken: a writer may replace files meanwhile. health's check is made
  // again while the projections move (whileProjectionsMove), so the read here is not repeated.
  const live = ledger.readOnly ? readProjections(dir) : await withProjectionLock(ledger, async () => readProjections(dir));
  if (!live.content) return []; // another layout: the next command folds it afresh
  const { checkpoint } = live.content;
  const fresh = systemTempDir('cto-health-', 'the scratch copy health folds the log into');
  try {
    await projectionRunner(ledger.store, fresh, { materialize: 'none', bulk: true, until: checkpoint.position }).catchUp();
    const differences = [...live.unreadable.values()];
    const expected = projectionDigests(join(fresh, PROJECTION_FILES.db))?.rows ?? new Map<string, string>();
    const have = live.content.rows;
    // Each row that differs, is missing or is extra, by its run (`state RUN` and `entry RUN` are one run).
    const runs = [...new Set([...have.keys(), ...expected.keys()].filter((key) => have.get(key) !== expected.get(key)).map((key) => key.split(' ')[1]))];
    if (runs.length) {
      differences.push(`${join(dir, PROJECTION_FILES.db)} differs from the log folded afresh to position ${checkpoint.position} (${runs.slice(0, 3).join(', ')}${runs.length > 3 ? ', ...' : ''})`);
    }
    for (const rel of [PROJECTION_FILES.runs, PROJECTION_FILES.controlSurface]) {
      const have = live.files.get(rel);
      if (have && have !== sha256Hex(readFileSync(join(fresh, rel)))) differences.push(`${join(dir, rel)} differs from the log folded afresh to position ${checkpoint.position}`);
    }
    // each run's files, grouped once (a filter of every file per run was quadratic: 86 s of health on 10,000 runs)
    const runFiles = new Map<string, string[]>();
    for (const rel of live.files.keys()) {
      if (!rel.startsWith(`${PROJECTION_FILES.runsDir}/`)) continue;
      const runId = rel.split('/')[1]!;
      runFiles.set(runId, [...(runFiles.get(runId) ?? []), rel]);
    }
    for (const [runId, files] of runFiles) {
      const recorded = await ledger.store.readStreamRecorded(runStream(runId));
      if (recorded.some((r) => r.position > checkpoint.position)) continue;
      const rendered = new Map(
        Object.entries(recorded.length ? renderRunFiles(runId, recorded.map((r) => r.event)) : {}).map(([name, text]) => [join(PROJECTION_FILES.runsDir, runId, name), sha256Hex(text)]),
      );
      for (const rel of new Set([...rendered.keys(), ...files])) {
        if (live.unreadable.has(rel)) continue; // said above
        const have = live.files.get(rel);
        const want = rendered.get(rel);
        if (!have || !want || have !== want) differences.push(`${join(dir, rel)} differs from run ${runId}'s stream`);
      }
    }
    return differences;
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}
