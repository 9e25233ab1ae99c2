// npm run bench: durable append throughput (1 writer, 8 concurrent writers with group commit),
// full projection rebuild speed and peak memory, and a plain better-sqlite3 loop for reference.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { sha256Hex } from '../src/events/hashing.js';
import { defaultRebuildThreads } from '../src/ledger/parallel-rebuild.js';
import type { NewEvent } from '../src/events/envelope.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { EventStore, ExpectedVersion } from '../src/store/types.js';
import { EVENTS_PER_RUN, newId, runEvent } from './workload.js';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const SEQUENTIAL = Math.min(TOTAL, Number(process.env.BENCH_SEQUENTIAL ?? 20_000));
const WRITERS = 8;
const REBUILDS = Number(process.env.BENCH_REBUILDS ?? 5);

const dir = mkdtempSync(join(tmpdir(), 'cto-bench-'));
const file = join(dir, 'ledger.db');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = (line: string) => process.stdout.write(line + '\n');

type Append = { stream: string; event: NewEvent; expected: ExpectedVersion };

/** A writer's appends, runs of EVENTS_PER_RUN events each, made before the clock starts. */
function workFor(events: number): Append[] {
  const work: Append[] = [];
  let runId = newId();
  for (let i = 0; i < events; i++) {
    const n = i % EVENTS_PER_RUN;
    if (n === 0 && i > 0) runId = newId();
    work.push({ stream: `run-${runId}`, event: runEvent(runId, n, new Date()), expected: n === 0 ? 'no-stream' : n - 1 });
  }
  return work;
}

/** A writer as a command is one: it makes each event (ids, contract digest, clock), then appends it. */
async function writer(store: EventStore, events: number): Promise<void> {
  let runId = newId();
  for (let i = 0; i < events; i++) {
    const n = i % EVENTS_PER_RUN;
    if (n === 0 && i > 0) runId = newId();
    await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
  }
}

function plainSqliteBaseline(rows: number, round: number | string, synchronous = 'FULL'): number {
  const db = new Database(join(dir, `plain-${round}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const body = 'x'.repeat(600);
  const started = performance.now();
  for (let i = 0; i < rows; i++) insert.run(body);
  const rate = rows / ((performance.now() - started) / 1000);
  db.close();
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

log(`cto-ledger bench: ${fmt(TOTAL)} events into ${file} (WAL, synchronous=FULL)`);
const store = openSqliteStore({ file, create: true });
// This disk's fsync time drifts by half within minutes; the sequential writer is measured in rounds,
// each right after a round of the reference loop, so the figures (and their ratios) are of the same
// moment. Each round has two halves: the store's share alone, events made before the clock starts as
// the reference loop's rows are (the figure the target is for), then a writer that makes each event as
// a command does (ids, contract digest and normalisation, clock) between its appends.
const ROUNDS = 3;
const baselines: number[] = [];
const storeRates: number[] = [];
const makingRates: number[] = [];
let started = 0;
for (let round = 0; round < ROUNDS; round++) {
  const events = Math.floor(SEQUENTIAL / ROUNDS) + (round < SEQUENTIAL % ROUNDS ? 1 : 0);
  const ready = workFor(Math.ceil(events / 2));
  // Each phase starts with no dirty pages of the one before still being written back, which took
  // a quarter off whichever phase came first after the reference loop.
  execFileSync('sync');
  baselines.push(plainSqliteBaseline(5_000, round));
  execFileSync('sync');
  started = performance.now();
  for (const { stream, event, expected } of ready) await store.append(stream, [event], expected);
  storeRates.push(ready.length / ((performance.now() - started) / 1000));
  execFileSync('sync');
  started = performance.now();
  await writer(store, events - ready.length);
  makingRates.push((events - ready.length) / ((performance.now() - started) / 1000));
}
const ratio = (rates: number[]) => Math.round(100 * median(rates.map((r, i) => r / baselines[i]!)));
log(`reference   plain better-sqlite3 insert loop, one row per transaction, rows made beforehand: ${fmt(median(baselines))}/s median of ${ROUNDS} (each: ${baselines.map(fmt).join(', ')})`);
log(
  `append      1 sequential writer, events made beforehand: ${fmt(median(storeRates))} durable appends/s median of ${ROUNDS} rounds (each: ${storeRates.map(fmt).join(', ')}; ` +
    `${ratio(storeRates)}% of the reference loop run just before)   target >= 4,000/s`,
);
log(
  `append      1 sequential writer making each event as a command does: ${fmt(median(makingRates))}/s median of ${ROUNDS} (each: ${makingRates.map(fmt).join(', ')}; ` +
    `${ratio(makingRates)}% of the reference loop; ${fmt(SEQUENTIAL)} events in all, both halves)`,
);

{
  // Where the sequential writer's time goes: the same two loops with syncs off (the CPU alone, WAL
  // writes to the page cache included) against their durable figures above. The difference per append
  // is what waiting for the disk costs each; on this VM it is larger for the ledger than its CPU time
  // alone predicts, for the CPU comes back cold from each wait (see the README's benchmark notes).
  const events = 5_000;
  const own = openSqliteStore({ file: join(dir, 'sync-off.db'), create: true });
  own.db.pragma('synchronous = OFF');
  const work = workFor(events);
  const plainOff = plainSqliteBaseline(events, 'off', 'OFF');
  const t = performance.now();
  for (const { stream, event, expected } of work) await own.append(stream, [event], expected);
  const storeOff = events / ((performance.now() - t) / 1000);
  await own.close();
  const us = (rate: number) => (1e6 / rate).toFixed(0);
  log(
    `split       per append, syncs off (CPU) / durable: store ${us(storeOff)} / ${us(median(storeRates))} µs, reference loop ${us(plainOff)} / ${us(median(baselines))} µs`,
  );
}

const concurrent = TOTAL - SEQUENTIAL;
started = performance.now();
await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(store, Math.floor(concurrent / WRITERS) + (w < concurrent % WRITERS ? 1 : 0))));
const concurrentRate = concurrent / ((performance.now() - started) / 1000);
log(`append      ${WRITERS} concurrent writers: ${fmt(concurrentRate)} durable appends/s (${fmt(concurrent)} events, group commit)   target >= 15,000/s`);

let bytes = 0;
let count = 0;
for await (const r of store.readAll()) {
  bytes += Buffer.byteLength(JSON.stringify(r.event));
  count++;
}
await store.close();
log(`ledger      ${fmt(count)} events, ${fmt(bytes / count)} bytes per sealed event on average, file ${fmt(statSync(file).size / 1e6)} MB`);

/**
 * The least any verifying reader does, for reference: read each stored row, JSON.parse it and
 * sha256 it, in one thread. This machine's speed drifts by half between quiet and busy periods; the
 * ratio to this line says more than the rebuild figure alone.
 */
function parseAndHashBaseline(): number {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT body FROM events ORDER BY position').raw(true);
  const started = performance.now();
  let n = 0;
  for (const [body] of rows.iterate() as Iterable<[string]>) {
    JSON.parse(body);
    sha256Hex(body);
    n++;
  }
  const rate = n / ((performance.now() - started) / 1000);
  db.close();
  return rate;
}

// The appends above leave ~100 MB of dirty pages that the kernel writes back over the next seconds;
// flushed first, so the rebuild measures reading and folding, not the previous phase's writeback.
execFileSync('sync');
const child = fileURLToPath(new URL('./rebuild-child.js', import.meta.url));
type Rebuild = { events: number; seconds: number; eventsPerSecond: number; maxRssMB: number };
const rebuilds: Rebuild[] = [];
for (let i = 0; i < REBUILDS; i++) {
  rebuilds.push(JSON.parse(execFileSync(process.execPath, [child, file, join(dir, 'projections')], { encoding: 'utf8' })) as Rebuild);
}
log(`reference   read, JSON.parse and sha256 of every stored event, one thread: ${fmt(parseAndHashBaseline())} events/s`);
const byRate = [...rebuilds].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
const middle = byRate[Math.floor(byRate.length / 2)]!;
log(
  `rebuild     ${fmt(middle.eventsPerSecond)} events/s median of ${REBUILDS} (${fmt(middle.events)} events in ${middle.seconds.toFixed(2)} s; each: ${rebuilds.map((r) => fmt(r.eventsPerSecond)).join(', ')})   target >= 100,000/s`,
);
log(`rebuild     peak RSS ${fmt(Math.max(...rebuilds.map((r) => r.maxRssMB)))} MB (highest of the runs), threads: ${defaultRebuildThreads()}   target < 200 MB`);

{
  // health folds the log afresh and compares it with the projections, every run's files included:
  // written first for all 10,000 runs (a fold from scratch writes the files of every run it touches).
  const cli = fileURLToPath(new URL('../../bin/cto-ledger.js', import.meta.url));
  rmSync(join(dir, 'projections'), { recursive: true, force: true });
  execFileSync(process.execPath, [cli, '--ledger', dir, 'status', '--json'], { stdio: 'ignore' });
  const healthChild = fileURLToPath(new URL('./health-child.js', import.meta.url));
  const health = JSON.parse(execFileSync(process.execPath, [healthChild, dir], { encoding: 'utf8' })) as { code: number; seconds: number; maxRssMB: number };
  log(
    `health      ${health.seconds.toFixed(1)} s, peak RSS ${fmt(health.maxRssMB)} MB, on ${fmt(count)} events, every run's files written (chains, schema, bundles, projections folded afresh and compared)${health.code === 0 ? '' : `; EXIT ${health.code}`}`,
  );
}

rmSync(dir, { recursive: true, force: true });
