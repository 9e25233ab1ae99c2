import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_PER_RUN, runEvent } from '../../bench/workload.js';
import { projectionRunner, rebuildProjections } from '../../projections/runner.js';
import { ChainBroken } from '../../src/errors.js';
import { seal, type NewEvent } from '../../src/events/envelope.js';
import { newId } from '../../src/ledger/new-event.js';
import { planShares, rebuildInParallel } from '../../src/ledger/parallel-rebuild.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { main } from '../../src/cli/main.js';
import { initLedger, ledgerPaths } from '../../src/ledger/ledger.js';
import { sampleEvent } from '../fixtures/events.js';
import { tempDir } from '../fixtures/tmp.js';
import { snapshotTree } from '../fixtures/tree.js';

/** A ledger of `runs` runs written by 8 interleaved writers, some left open, plus backend streams. */
async function ledgerWithRuns(runs: number) {
  const tmp = tempDir();
  const dir = join(tmp.dir, 'ledger');
  await initLedger(dir);
  const file = ledgerPaths(dir).db;
  const store = openSqliteStore({ file });
  const writer = async (w: number) => {
    for (let r = w; r < runs; r += 8) {
      const runId = newId();
      // Every third run stops before its outcome, so the rebuild also writes active runs' files.
      const length = r % 3 === 0 ? 3 : EVENTS_PER_RUN;
      for (let n = 0; n < length; n++) await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
      if (r % 10 === 0) await store.append(`backend-b${w}`, [sampleEvent(r)], 'any');
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
  return { tmp, dir, file, store, projections: ledgerPaths(dir).projections };
}

function projectionRows(dir: string) {
  const db = new Database(join(dir, 'projections.db'), { readonly: true });
  try {
    return {
      states: db.prepare('SELECT run_id, version, state FROM run_states ORDER BY run_id').all(),
      list: db.prepare('SELECT * FROM run_list ORDER BY run_id').all(),
      checkpoint: db.prepare('SELECT * FROM checkpoint').all(),
    };
  } finally {
    db.close();
  }
}

/** Re-seals a stored event at its place with another prevHash: its own hash is valid, its link is not. */
function relink(file: string, id: string, prevHash: string) {
  const db = new Database(file);
  db.exec('DROP TRIGGER events_no_update');
  const row = db.prepare('SELECT stream, version, body FROM events WHERE id = ?').get(id) as { stream: string; version: number; body: string };
  const env = JSON.parse(row.body) as NewEvent;
  const forged = seal(env, row.stream, row.version, prevHash);
  db.prepare('UPDATE events SET body = ?, hash = ? WHERE id = ?').run(forged.body, forged.hash, id);
  db.close();
}

describe('parallel rebuild: shares', () => {
  it('folds a small log in the calling thread alone, and gives the calling thread the larger share of a big one', () => {
    expect(planShares(5_000, 2)).toEqual([[0, 64]]);
    expect(planShares(5_000, 2, 'even')).toEqual([[0, 32], [32, 64]]);
    const big = planShares(1_000_000, 4);
    expect(big).toHaveLength(4);
    expect(big[0]![0]).toBe(0);
    expect(big[big.length - 1]![1]).toBe(64);
    for (let i = 1; i < big.length; i++) expect(big[i]![0]).toBe(big[i - 1]![1]);
    const width = ([from, to]: [number, number]) => to - from;
    expect(width(big[0]!)).toBeGreaterThanOrEqual(width(big[1]!));
    expect(planShares(1_000_000, 1)).toEqual([[0, 64]]);
    expect(planShares(1_000_000, 200).length).toBeLessThanOrEqual(64);
  });
});

describe('parallel rebuild', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('gives the same files and states as the single-threaded rebuild, whatever the number of workers', async () => {
    const made = await ledgerWithRuns(120);
    cleanups.push(() => made.store.close(), made.tmp.remove);
    const single = join(made.tmp.dir, 'single');
    const reference = await rebuildProjections(made.store, single);
    expect(reference.applied).toBe(await made.store.lastPosition());
    for (const [threads, shares] of [[1, 'auto'], [2, 'even'], [3, 'even'], [4, 'auto']] as const) {
      const parallel = join(made.tmp.dir, `parallel-${threads}-${shares}`);
      const result = await rebuildInParallel(made.store.locator!, parallel, { threads, shares });
      expect(result).toEqual(reference);
      expect(snapshotTree(parallel)).toEqual(snapshotTree(single));
      expect(projectionRows(parallel)).toEqual(projectionRows(single));
    }
    // No run's files were written (40 runs of 120 are still open), the list holds every run.
    expect(readdirSync(join(single, 'runs'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(single, 'runs.json'), 'utf8'))).toHaveLength(120);
  });

  it('rebuilds a consistent prefix while another writer appends, and a catch-up then folds the rest', async () => {
    const made = await ledgerWithRuns(80);
    const writer = openSqliteStore({ file: made.file });
    cleanups.push(() => made.store.close(), () => writer.close(), made.tmp.remove);
    const dir = join(made.tmp.dir, 'live');
    const before = await made.store.lastPosition();
    const appending = (async () => {
      for (let r = 0; r < 30; r++) {
        const runId = newId();
        for (let n = 0; n < 4; n++) await writer.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const rebuilt = await rebuildInParallel(made.store.locator!, dir, { threads: 2, shares: 'even' });
    await appending;
    // The rebuild stopped at the end it read first, every thread alike, and says so in its checkpoint.
    expect(rebuilt.position).toBeGreaterThanOrEqual(before);
    expect(projectionRows(dir).checkpoint).toEqual([{ id: 1, position: rebuilt.position, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // Some appends landed after the end the rebuild read: the catch-up below has work to do.
    expect(await made.store.lastPosition()).toBeGreaterThan(rebuilt.position);
    const caught = await projectionRunner(made.store, dir).catchUp();
    expect(caught.applied).toBeGreaterThan(0);
    const reference = join(made.tmp.dir, 'reference');
    await rebuildProjections(made.store, reference);
    expect(projectionRows(dir)).toEqual(projectionRows(reference));
    for (const file of ['runs.json', 'control-surface.json']) expect(readFileSync(join(dir, file), 'utf8')).toBe(readFileSync(join(reference, file), 'utf8'));
  });

  it('refuses a run event whose own hash is valid but whose link to its predecessor is not, naming it', async () => {
    const made = await ledgerWithRuns(16);
    cleanups.push(() => made.store.close(), made.tmp.remove);
    expect(await rebuildInParallel(made.store.locator!, made.projections, { threads: 2, shares: 'even' })).toMatchObject({ applied: expect.any(Number) });
    const before = snapshotTree(made.projections);
    const stream = (made.store.db.prepare(`SELECT stream FROM events WHERE stream LIKE 'run-%' LIMIT 1`).get() as { stream: string }).stream;
    const [first, , third] = await made.store.readStream(stream);
    relink(made.file, third!.id, first!.hash);
    // Each event alone still opens: only following the chain finds the break.
    await expect(made.store.readStream(stream)).rejects.toThrow(/prevHash does not link/);
    const err = await rebuildInParallel(made.store.locator!, made.projections, { threads: 2, shares: 'even' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainBroken);
    expect(err).toMatchObject({ stream, version: 2, eventId: third!.id });
    // Nothing half-written: the previous projections are untouched and no rebuild dir is left behind.
    expect(snapshotTree(made.projections)).toEqual(before);
    expect(readdirSync(dirname(made.projections)).filter((n) => n.includes('.rebuild-'))).toEqual([]);
  });

  it('checks the links of the other streams too, in the parallel and the single-threaded rebuild', async () => {
    const made = await ledgerWithRuns(30);
    cleanups.push(() => made.store.close(), made.tmp.remove);
    await made.store.append('backend-extra', [sampleEvent(1), sampleEvent(2), sampleEvent(3)], 'no-stream');
    const [first, second] = await made.store.readStream('backend-extra');
    relink(made.file, second!.id, 'f'.repeat(64));
    for (const rebuild of [
      () => rebuildInParallel(made.store.locator!, made.projections, { threads: 2, shares: 'even' }),
      () => rebuildProjections(made.store, made.projections),
    ]) {
      const err = await rebuild().catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'ChainBroken', stream: 'backend-extra', version: 1, eventId: second!.id });
    }
    expect(first).toBeDefined();
  });

  it("writes no run's files, open or closed; `status RUN` and the catch-up after a command write those of the runs they touch", async () => {
    const made = await ledgerWithRuns(24);
    cleanups.push(() => made.store.close(), made.tmp.remove);
    const io = { out: () => {}, err: () => {} };
    const runsDir = join(made.projections, 'runs');
    // A catch-up from the start touches every run and writes the files of each; the rebuild swaps them out.
    await projectionRunner(made.store, made.projections).catchUp();
    expect(readdirSync(runsDir)).toHaveLength(24);
    expect(await main(['--ledger', made.dir, 'rebuild'], io)).toBe(0);
    expect(readdirSync(runsDir)).toEqual([]);
    const rebuilt = snapshotTree(made.projections);
    const open = (JSON.parse(readFileSync(join(made.projections, 'runs.json'), 'utf8')) as Array<{ runId: string; status: string }>)
      .filter((r) => r.status !== 'rejected')
      .map((r) => r.runId);
    expect(open).toHaveLength(8);
    const [shown, touched] = open as [string, string];
    const replayed = async (runId: string) => {
      const out = join(made.tmp.dir, `replay-${runId}-${Math.random()}`);
      expect(await main(['--ledger', made.dir, 'replay', runId, '--out', out], io)).toBe(0);
      return snapshotTree(out);
    };
    // `status RUN` writes that run's files, byte-identical to `replay`.
    expect(await main(['--ledger', made.dir, 'status', shown], io)).toBe(0);
    expect(readdirSync(runsDir)).toEqual([shown]);
    expect(snapshotTree(join(runsDir, shown))).toEqual(await replayed(shown));
    // An event on another run, then a command's catch-up: that run's files are written, up to date.
    await made.store.append(`run-${touched}`, [runEvent(touched, 3, new Date())], 2);
    expect(await main(['--ledger', made.dir, 'status'], io)).toBe(0);
    expect(readdirSync(runsDir).sort()).toEqual([shown, touched].sort());
    expect(readFileSync(join(runsDir, touched, 'events.normalized.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(4);
    expect(snapshotTree(join(runsDir, touched))).toEqual(await replayed(touched));
    // Rebuilding again gives the same bytes as before, without any run's files (the new event aside).
    expect(await main(['--ledger', made.dir, 'rebuild'], io)).toBe(0);
    expect(readdirSync(runsDir)).toEqual([]);
    expect(Object.keys(snapshotTree(made.projections))).toEqual(Object.keys(rebuilt));
  });

  it('runs behind `cto-ledger rebuild`, which exits 3 and names the stream on a broken link', async () => {
    const made = await ledgerWithRuns(16);
    cleanups.push(made.tmp.remove);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    // What a rebuild killed mid-way leaves beside the projections is removed by the next one.
    const abandoned = [`${made.projections}.rebuild-99999`, `${made.projections}.old-88888`];
    for (const d of abandoned) mkdirSync(join(d, 'runs'), { recursive: true });
    expect(await main(['--ledger', made.dir, 'rebuild', '--json'], io)).toBe(0);
    for (const d of abandoned) expect(existsSync(d), d).toBe(false);
    const result = JSON.parse(lines.pop()!) as { applied: number; position: number; seconds: number; eventsPerSecond: number | null };
    expect(result.applied).toBe(await made.store.lastPosition());
    expect(result.seconds).toBeGreaterThan(0);
    expect(result.eventsPerSecond).toBe(Math.round(result.applied / result.seconds));
    expect(existsSync(join(made.projections, 'control-surface.json'))).toBe(true);
    const stream = (made.store.db.prepare(`SELECT stream FROM events WHERE stream LIKE 'run-%' LIMIT 1`).get() as { stream: string }).stream;
    const [first, second] = await made.store.readStream(stream);
    await made.store.close();
    relink(made.file, second!.id, 'a'.repeat(64));
    expect(await main(['--ledger', made.dir, 'rebuild'], io)).toBe(3);
    expect(lines.join('\n')).toContain(`stream ${stream} at version 1`);
    expect(first).toBeDefined();
  });
});
