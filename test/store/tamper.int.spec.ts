import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { CLI } from '../fixtures/cli.js';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_PER_RUN, runEvent } from '../../bench/workload.js';
import { main } from '../../src/cli/main.js';
import { canonicalize, sha256Hex } from '../../src/events/hashing.js';
import { initLedger, ledgerPaths } from '../../src/ledger/ledger.js';
import { newId } from '../../src/ledger/new-event.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { sampleEvent } from '../fixtures/events.js';
import { tempDir } from '../fixtures/tmp.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { contractYaml, DEMO_BACKEND } from '../fixtures/ledgers.js';
import { stringify } from 'yaml';
import { chmodTree, snapshotTree } from '../fixtures/tree.js';
import { lineChild, STORE_CHILD } from '../fixtures/child.js';

// Someone with write access to ledger.db changes it behind cto-ledger's back (the triggers dropped
// first). Each case names what a reader can find without outside anchors, and the commands that must
// find it: exit 3, with the place named. What no self-contained chain can find (the log's last events
// cut off, a stream re-linked from the change onwards) is left to signed checkpoints.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

/** Three runs of ten events and a backend stream, folded into projections by the CLI. */
async function ledger() {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const dir = join(tmp.dir, 'ledger');
  await initLedger(dir);
  const store = openSqliteStore({ file: ledgerPaths(dir).db });
  const runs = [newId(), newId(), newId()];
  for (const runId of runs) {
    for (let n = 0; n < EVENTS_PER_RUN; n++) await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
  }
  await store.append('backend-demo', [sampleEvent(1)], 'any');
  await store.close();
  // Declared, not enabled: `backend enable demo` is a command that appends (every run here is closed,
  // and a decision on a closed run appends nothing).
  writeFileSync(ledgerPaths(dir).config, 'backends:\n  - id: demo\n    command: [/bin/true]\n');
  const run = (...args: string[]) => {
    let out = '';
    let err = '';
    return main(['--ledger', dir, ...args], { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') }).then((code) => ({ code, out, err }));
  };
  expect((await run('status')).code).toBe(0);
  /** Runs SQL on the file with the append-only triggers out of the way (put back after, unless `keepDropped`). */
  const tamper = (sql: (db: Database.Database) => void, keepDropped = false) => {
    const db = new Database(ledgerPaths(dir).db);
    const triggers = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger'`).pluck().all() as string[];
    db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete');
    sql(db);
    if (!keepDropped) for (const t of triggers.filter((t) => t.includes('ON events'))) db.exec(t);
    db.close();
  };
  const position = (stream: string, version: number) =>
    (new Database(ledgerPaths(dir).db, { readonly: true }).prepare('SELECT position FROM events WHERE stream = ? AND version = ?').get(stream, version) as { position: number }).position;
  const count = () => (new Database(ledgerPaths(dir).db, { readonly: true }).prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  /** A command that appends one event (BackendEnabled) when the ledger takes it. */
  const append = () => run('backend', 'enable', 'demo', '--by', 'jp');
  return { dir, runs: runs.map((r) => `run-${r}`), runIds: runs, run, append, tamper, position, count };
}

describe('a ledger changed outside cto-ledger', () => {
  it('a run event copied under another stream: the columns disagree with the hashed body', async () => {
    const l = await ledger();
    const fake = `run-${newId()}`;
    l.tamper((db) => db.prepare(`INSERT INTO events (id, stream, version, type, body, hash) SELECT ?, ?, version, type, body, hash FROM events WHERE stream = ? AND version = 0`).run(newId(), fake, l.runs[0]));
    const at = l.position(fake, 0);
    for (const args of [['health'], ['events', '--stream', fake], ['status', fake.slice(4)], ['rebuild']]) {
      const r = await l.run(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.err + r.out, args.join(' ')).toMatch(new RegExp(`position ${at}\\).*stored as ContractAdmitted v0 of ${fake}, but its hashed body is ContractAdmitted v0 of ${l.runs[0]}`));
    }
  });

  it("a run's last event moved to another stream: the run reads shorter than the projections folded it", async () => {
    const l = await ledger();
    l.tamper((db) => db.prepare(`UPDATE events SET stream = ? WHERE stream = ? AND version = ?`).run(`run-${newId()}`, l.runs[1], EVENTS_PER_RUN - 1));
    const status = await l.run('status', l.runIds[1]!);
    expect(status.code).toBe(3);
    expect(status.err).toMatch(`run ${l.runIds[1]}: the ledger holds it up to version ${EVENTS_PER_RUN - 2}, but the projections folded it to version ${EVENTS_PER_RUN - 1}`);
    // Appending on top of it is refused too (the approval's command reads the run first).
    const before = l.count();
    expect((await l.run('deny', l.runIds[1]!, '--by', 'jp')).code).toBe(3);
    expect(l.count()).toBe(before);
    expect((await l.run('health')).code).toBe(3);
    expect((await l.run('rebuild')).err).toMatch(/stored as OutcomeRecorded v9 of run-\w+, but its hashed body is OutcomeRecorded v9 of/);
  });

  it("an approved run's approval rewritten, its hash recomputed: the run list finds it, as status RUN does", async () => {
    const l = await ledger();
    // Two open runs (admitted and approved): the list looks at every approved run's approval, and
    // reads how far the projections folded them all at once.
    const open = [newId(), newId()];
    const store = openSqliteStore({ file: ledgerPaths(l.dir).db });
    for (const runId of open) for (let n = 0; n < 2; n++) await store.append(`run-${runId}`, [runEvent(runId, n, new Date())], n === 0 ? 'no-stream' : n - 1);
    await store.close();
    const listed = await l.run('status');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`${open[1]}\\s+approved`));
    // The first run's last event, so every link still holds, and not the log's last (the projections'
    // checkpoint): only how far the projections folded that run can tell.
    l.tamper((db) => {
      const row = db.prepare('SELECT position, body FROM events WHERE stream = ? AND version = 1').get(`run-${open[0]}`) as { position: number; body: string };
      const event = JSON.parse(row.body) as { data: { note: string } };
      event.data.note = 'approved by nobody';
      const body = canonicalize(event);
      db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, sha256Hex(body), row.position);
    });
    expect((await l.run('events', '--stream', `run-${open[0]}`)).code).toBe(0);
    for (const args of [['status'], ['status', '--json']]) {
      const r = await l.run(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.err, args.join(' ')).toMatch(`run ${open[0]}: the ledger holds it up to version 1, but the projections folded it to version 1 with another last event`);
    }
  });

  it('an event in the middle of a run deleted', async () => {
    const l = await ledger();
    const at = l.position(l.runs[0]!, 4);
    l.tamper((db) => db.prepare(`DELETE FROM events WHERE stream = ? AND version = 4`).run(l.runs[0]));
    const stream = await l.run('events', '--stream', l.runs[0]!);
    expect(stream.code).toBe(3);
    expect(stream.err).toMatch(`hash chain broken in stream ${l.runs[0]} at version 4 (event`);
    expect(stream.err).toMatch('version 4 is missing');
    const rebuild = await l.run('rebuild');
    expect(rebuild.code).toBe(3);
    // The first break met: the next event's link, in the thread that folds that run, named by position too.
    expect(rebuild.err).toMatch(`hash chain broken in stream ${l.runs[0]} at version 5`);
    expect(rebuild.err).toMatch(`, position ${at + 1}): does not link to version 3 of its stream`);
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems.join('\n')).toMatch(`position ${at + 1}`);
  });

  it("the last event of a run deleted, not the log's last: a gap in the positions", async () => {
    const l = await ledger();
    const at = l.position(l.runs[0]!, EVENTS_PER_RUN - 1);
    l.tamper((db) => db.prepare(`DELETE FROM events WHERE position = ?`).run(at));
    // The stream alone reads as a valid shorter chain; the gap and the projections tell.
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    // Named by position: the stream it was in is gone with it.
    expect(JSON.parse(health.out).problems).toContain(`the log ends at position ${l.count() + 1} but holds ${l.count()} events: 1 removed outside cto-ledger (position ${at})`);
    expect((await l.run('status', l.runIds[0]!)).code).toBe(3);
    const rebuild = await l.run('rebuild');
    expect(rebuild.code).toBe(3);
    expect(rebuild.err).toMatch(`the log is missing events: position ${at} is gone`);
  });

  it("the log's last events cut off: the projections were folded further, and every command stops until a rebuild", async () => {
    const l = await ledger();
    const total = l.count();
    l.tamper((db) => db.prepare(`DELETE FROM events WHERE position > ?`).run(total - 2));
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems.join('\n')).toMatch(`the projections were folded up to position ${total}, but the log ends at ${total - 2}`);
    expect((await l.run('status')).code).toBe(3);
    const before = l.count();
    const disable = await l.run('backend', 'disable', 'demo', '--by', 'jp');
    expect(disable.code).toBe(3);
    expect(disable.err).toMatch('lost acknowledged events');
    expect(l.count()).toBe(before);
    // The operator has seen it; a rebuild folds the log as it now is, and work goes on.
    expect((await l.run('rebuild')).code).toBe(0);
    expect((await l.run('status')).code).toBe(0);
    expect((await l.run('health')).code).toBe(0);
  });

  it('a body re-serialised out of canonical order, its hash recomputed', async () => {
    const l = await ledger();
    const stream = l.runs[2]!;
    l.tamper((db) => {
      const row = db.prepare('SELECT position, body FROM events WHERE stream = ? AND version = ?').get(stream, EVENTS_PER_RUN - 1) as { position: number; body: string };
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(row.body) as object).reverse()));
      db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(reordered, sha256Hex(reordered), row.position);
    });
    for (const args of [['events', '--stream', stream], ['health']]) {
      const r = await l.run(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.err + r.out).toMatch('not in RFC 8785 canonical form');
    }
  });

  it('a run re-linked from an edited event to its end: health finds it as status RUN does, until a rebuild', async () => {
    const l = await ledger();
    const stream = l.runs[2]!;
    l.tamper((db) => {
      const rows = db.prepare('SELECT position, version, body FROM events WHERE stream = ? ORDER BY version').all(stream) as Array<{ position: number; version: number; body: string }>;
      let prev: string | null = null;
      for (const row of rows) {
        const event = JSON.parse(row.body) as { prevHash: string | null; recordedAt: string };
        if (row.version === 1) event.recordedAt = '2020-01-01T00:00:00.000Z';
        if (row.version > 0) event.prevHash = prev;
        const body = canonicalize(event);
        prev = sha256Hex(body);
        db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, prev, row.position);
      }
    });
    // Every link holds: the stream read alone cannot tell.
    expect((await l.run('events', '--stream', stream)).code).toBe(0);
    expect((await l.run('status', l.runIds[2]!)).code).toBe(3);
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems.join('\n')).toMatch(`run ${l.runIds[2]}: the ledger holds it up to version ${EVENTS_PER_RUN - 1}, but the projections folded it to version ${EVENTS_PER_RUN - 1} with another event there`);
  });

  it("a target's admission rewritten and its stream re-linked: the runs admitted under it still name the old hash, and health finds it", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const repo = makeTargetRepo();
    cleanups.push(repo.remove);
    const dir = join(tmp.dir, 'ledger');
    const run = (...args: string[]) => main(['--ledger', dir, ...args], { out: () => {}, err: () => {} });
    expect(await run('init')).toBe(0);
    writeFileSync(ledgerPaths(dir).config, stringify({ backends: [DEMO_BACKEND] }));
    expect(await run('target', 'admit', repo.path, '--id', 'fixture', '--owner', 'jp')).toBe(0);
    expect(await run('backend', 'enable', 'demo')).toBe(0);
    writeFileSync(join(tmp.dir, 'c.yaml'), contractYaml());
    expect(await run('contract', 'admit', join(tmp.dir, 'c.yaml'))).toBe(0);
    expect(await run('health')).toBe(0);
    // The admission's owner changed, its hash recomputed: the target stream (one event) links as before.
    const db = new Database(ledgerPaths(dir).db);
    db.exec('DROP TRIGGER events_no_update');
    const row = db.prepare(`SELECT position, body FROM events WHERE stream = 'target-fixture'`).get() as { position: number; body: string };
    const event = JSON.parse(row.body) as { data: { owner: string } };
    event.data.owner = 'mallory';
    const body = canonicalize(event);
    db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, sha256Hex(body), row.position);
    db.exec(`CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'cto-ledger events are append-only: UPDATE refused'); END`);
    db.close();
    expect(await run('events', '--stream', 'target-fixture')).toBe(0);
    let out = '';
    expect(await main(['--ledger', dir, 'health', '--json'], { out: (s) => (out += s), err: () => {} })).toBe(3);
    expect((JSON.parse(out) as { problems: string[] }).problems.join('\n')).toMatch(/was admitted under event \w+ of target-fixture with hash \w+, but that event now hashes to \w+: target-fixture was rewritten outside cto-ledger/);
  });

  it('a body holding a number too large for a double (1e400), its hash recomputed: the stream and position are named', async () => {
    const l = await ledger();
    const stream = l.runs[2]!;
    const at = l.position(stream, EVENTS_PER_RUN - 1);
    l.tamper((db) => {
      const row = db.prepare('SELECT body FROM events WHERE position = ?').get(at) as { body: string };
      const body = row.body.replace('"data":{', '"data":{"big":1e400,');
      db.prepare('UPDATE events SET body = ?, hash = ? WHERE position = ?').run(body, sha256Hex(body), at);
    });
    for (const args of [['events', '--stream', stream], ['health']]) {
      const r = await l.run(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.err + r.out, args.join(' ')).toMatch(`hash chain broken in stream ${stream} at version ${EVENTS_PER_RUN - 1}`);
      expect(r.err + r.out, args.join(' ')).toMatch(`position ${at}): stored body has no RFC 8785 canonical form`);
    }
  });

  it('two events of a run swapped in the global order', async () => {
    const l = await ledger();
    const [a, b] = [l.position(l.runs[0]!, 1), l.position(l.runs[0]!, 2)];
    l.tamper((db) => {
      db.prepare('UPDATE events SET position = -1 WHERE position = ?').run(a);
      db.prepare('UPDATE events SET position = ? WHERE position = ?').run(a, b);
      db.prepare('UPDATE events SET position = ? WHERE position = -1').run(b);
    });
    const stream = await l.run('events', '--stream', l.runs[0]!);
    expect(stream.code).toBe(3);
    expect(stream.err).toMatch(`stored at position ${a}, before version 1 (position ${b})`);
    expect((await l.run('health')).code).toBe(3);
    expect((await l.run('rebuild')).code).toBe(3);
  });

  it('the append-only triggers dropped: health names them, appends are refused, init puts them back', async () => {
    const l = await ledger();
    l.tamper(() => undefined, true);
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems).toContain('append-only triggers removed: events_no_update, events_no_delete');
    // A command that appends: here it cannot.
    const before = l.count();
    const enable = await l.append();
    expect(enable.code).toBe(3);
    expect(enable.err).toMatch('lost its append-only triggers (events_no_update, events_no_delete)');
    expect(l.count()).toBe(before);
    const init = await l.run('init');
    expect(init.code).toBe(0);
    expect(init.err).toMatch('put back the append-only triggers');
    expect((await l.run('health')).code).toBe(0);
    expect((await l.append()).code).toBe(0);
    expect(l.count()).toBe(before + 1);
  });

  it('a trigger added that silently drops inserts: the append is refused, never acknowledged; health names it', async () => {
    const l = await ledger();
    const db = new Database(ledgerPaths(l.dir).db);
    db.exec(`CREATE TRIGGER zz_swallow BEFORE INSERT ON events BEGIN SELECT RAISE(IGNORE); END`);
    db.close();
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems).toContain('schema objects cto-ledger never makes: trigger zz_swallow');
    // A command that appends: before, it said it had (exit 0) and nothing was stored.
    const before = l.count();
    const enable = await l.append();
    expect(enable.code).toBe(3);
    expect(enable.err).toMatch('schema objects cto-ledger never makes: trigger zz_swallow');
    expect(l.count()).toBe(before);
  });

  it('the append-only triggers replaced by others of the same name that never fire: health names them, init puts the real ones back', async () => {
    const l = await ledger();
    l.tamper((db) => db.exec(`CREATE TRIGGER events_no_update BEFORE UPDATE ON events WHEN 0 BEGIN SELECT 1; END;
      CREATE TRIGGER events_no_delete BEFORE DELETE ON events WHEN 0 BEGIN SELECT 1; END;`), true);
    const health = await l.run('health', '--json');
    expect(health.code).toBe(3);
    expect(JSON.parse(health.out).problems).toContain('append-only triggers replaced by others of the same name: events_no_update, events_no_delete');
    const before = l.count();
    expect((await l.append()).code).toBe(3);
    expect(l.count()).toBe(before);
    expect((await l.run('init')).code).toBe(0);
    expect((await l.run('health')).code).toBe(0);
    const db = new Database(ledgerPaths(l.dir).db);
    expect(() => db.exec('DELETE FROM events')).toThrow('append-only');
    db.close();
  });

  it('a view standing in for the events table: every command stops, naming it', async () => {
    const l = await ledger();
    l.tamper((db) => db.exec(`ALTER TABLE events RENAME TO events_all; CREATE VIEW events AS SELECT * FROM events_all WHERE stream <> '${l.runs[1]}'`), true);
    for (const args of [['health'], ['events'], ['status', l.runIds[0]!]]) {
      const r = await l.run(...args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.err, args.join(' ')).toMatch('its events are a view, not the table cto-ledger writes');
    }
  });

  it('a command killed while it held the projection lock: the next one waits the dead lock out', async () => {
    const l = await ledger();
    // What a SIGKILLed holder leaves: the lock dir, last refreshed a moment ago, never again. Before,
    // the next command gave up before the lock went stale, after its own append.
    mkdirSync(join(l.dir, 'projections.lock'));
    const started = Date.now();
    const status = await l.run('status', '--json');
    expect(Date.now() - started).toBeGreaterThan(5_000);
    expect(status.code).toBe(0);
    // Said at once, so the wait is not taken for a hang.
    expect(status.err).toMatch(/waiting for the projections lock .*taken over once it is 10 s old/);
    expect(JSON.parse(status.out).runs).toHaveLength(3);
    expect(existsSync(join(l.dir, 'projections.lock'))).toBe(false);
  }, 60_000);

  it('projections.db overwritten with garbage: commands stop before appending, naming the file and the rebuild', async () => {
    const l = await ledger();
    writeFileSync(join(l.dir, 'projections', 'projections.db'), 'certainly not sqlite '.repeat(200));
    const before = l.count();
    const deny = await l.run('deny', l.runIds[0]!, '--by', 'jp');
    expect(deny.code).toBe(3);
    expect(deny.err).toMatch(/the projections at .*projections\.db cannot be read .*`cto-ledger rebuild` rebuilds them/);
    expect(l.count()).toBe(before);
    expect((await l.run('rebuild')).code).toBe(0);
    expect((await l.run('status', '--json')).code).toBe(0);
  });

  it('the projections edited (runs.json, control-surface.json, the projection store, a run file): health folds the log afresh and names each; rebuild puts them right', async () => {
    const l = await ledger();
    expect((await l.run('status', l.runIds[1]!)).code).toBe(0); // writes that run's files
    expect((await l.run('health')).code).toBe(0);
    const projections = join(l.dir, 'projections');
    const edits: Array<[string, () => void]> = [
      ['runs.json', () => writeFileSync(join(projections, 'runs.json'), readFileSync(join(projections, 'runs.json'), 'utf8').replaceAll('"status":"rejected"', '"status":"accepted"'))],
      ['control-surface.json', () => writeFileSync(join(projections, 'control-surface.json'), readFileSync(join(projections, 'control-surface.json'), 'utf8').replace(/"accepted": 0/, '"accepted": 1'))],
      ['projections.db', () => {
        const db = new Database(join(projections, 'projections.db'));
        db.prepare(`UPDATE run_list SET status = 'accepted' WHERE run_id = ?`).run(l.runIds[2]);
        db.close();
      }],
      // A run's state gone from the store (a row missing, not changed): named by its run as well.
      ['projections.db', () => {
        const db = new Database(join(projections, 'projections.db'));
        db.prepare(`DELETE FROM run_states WHERE run_id = ?`).run(l.runIds[0]);
        db.close();
      }],
      [`runs/${l.runIds[1]}/run.json`, () => writeFileSync(join(projections, 'runs', l.runIds[1]!, 'run.json'), '{"status":"accepted"}\n')],
    ];
    for (const [file, edit] of edits) {
      edit();
      const health = await l.run('health', '--json');
      expect(health.code, file).toBe(3);
      const problems = (JSON.parse(health.out) as { problems: string[] }).problems.join('\n');
      expect(problems, file).toContain(join(projections, file));
      // The store's rows are compared run by run: the run edited is named, and only it.
      if (file === 'projections.db') expect(problems).toMatch(new RegExp(`differs from the log folded afresh to position \\d+ \\((${l.runIds[2]}|${l.runIds[0]})\\)`));
      expect((await l.run('rebuild')).code).toBe(0);
      expect((await l.run('status', l.runIds[1]!)).code).toBe(0);
      expect((await l.run('health')).code, `after rebuild, ${file}`).toBe(0);
    }
  });

  it('init refuses a ledger.db that is no ledger (an empty file) and leaves it as it was', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const dir = join(tmp.dir, 'ledger');
    await initLedger(dir);
    writeFileSync(ledgerPaths(dir).db, '');
    let err = '';
    expect(await main(['--ledger', dir, 'init'], { out: () => {}, err: (s) => (err += s) })).toBe(2);
    expect(err).toMatch('is not a cto-ledger ledger');
    expect(readFileSync(ledgerPaths(dir).db)).toHaveLength(0);
  });
});

describe('a read-only ledger (an auditor\'s copy)', () => {
  it('is read in full with --read-only, its list folded from the log, and nothing under it is written', async () => {
    const l = await ledger();
    const normal = JSON.parse((await l.run('status', '--json')).out) as { runs: unknown[] };
    // One more run appended after the projections were last written: the copy's projections are stale.
    const store = openSqliteStore({ file: ledgerPaths(l.dir).db });
    const late = newId();
    await store.append(`run-${late}`, [runEvent(late, 0, new Date())], 'no-stream');
    await store.close();
    // SQLite's coordination files aside (a reader creates them, empty, where it can), not a byte changes.
    const before = snapshotTree(l.dir, /-(shm|wal)$/);
    const list = await l.run('--read-only', 'status', '--json');
    expect(list.code).toBe(0);
    const runs = (JSON.parse(list.out) as { runs: Array<{ runId: string }> }).runs;
    expect(runs.slice(0, 3)).toEqual(normal.runs);
    expect(runs.map((r) => r.runId)).toContain(late);
    for (const args of [['status', l.runIds[0]!, '--json'], ['events', '--json'], ['events', '--stream', l.runs[1]!], ['target', 'list'], ['backend', 'list']]) {
      const r = await l.run('--read-only', ...args);
      expect(r.code, args.join(' ')).toBe(0);
    }
    const health = await l.run('--read-only', 'health', '--json');
    expect(health.code).toBe(0);
    expect(JSON.parse(health.out)).toMatchObject({ ok: true, events: l.count() });
    const enable = await l.run('--read-only', 'backend', 'enable', 'demo', '--by', 'jp');
    expect(enable.code).toBe(3);
    expect(enable.err).toMatch('is open read-only: this command appends, and nothing was appended');
    // Nor do the commands that write without appending.
    expect(await l.run('--read-only', 'rebuild')).toMatchObject({ code: 3, err: expect.stringMatching('is open read-only: rebuild writes the projections') });
    expect(await l.run('--read-only', 'init')).toMatchObject({ code: 3, err: expect.stringMatching('--read-only: init writes the ledger') });
    expect(snapshotTree(l.dir, /-(shm|wal)$/)).toEqual(before);
  });
});

describe('an archived ledger the user cannot write', () => {
  // Needs another user than root (root writes anywhere): runuser, as root, to nobody.
  const probe = process.getuid?.() === 0 ? spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '--help'], { encoding: 'utf8' }) : null;
  const why = !probe ? 'not running as root, so no other user to read as' : probe.status !== 0 ? `runuser -u nobody cannot run the CLI here (${(probe.stderr || String(probe.error)).trim().slice(0, 80)})` : null;
  if (why) console.log(`skipped: an archived ledger read as another user: ${why}`);
  it.skipIf(why !== null)('is read from a private copy when its -shm is gone and its dir cannot be written', async () => {
    const l = await ledger();
    const archive = join(dirname(l.dir), 'archive');
    cpSync(l.dir, archive, { recursive: true });
    for (const f of ['ledger.db-shm', 'ledger.db-wal']) rmSync(join(archive, f), { force: true });
    chmodTree(archive, 0o555, 0o444);
    cleanups.unshift(() => chmodTree(archive, 0o755, 0o644));
    chmodSync(dirname(l.dir), 0o755);
    const as = (...args: string[]) => spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, '--ledger', archive, ...args], { encoding: 'utf8' });
    for (const args of [['status', '--json'], ['events'], ['health']]) {
      const r = as(...args);
      expect({ args, code: r.status, err: r.stderr }).toEqual({ args, code: 0, err: '' });
    }
    expect(JSON.parse(as('status', '--json').stdout).runs).toHaveLength(3);
    expect(readdirSync(archive).filter((f) => f.endsWith('-shm') || f.endsWith('-wal'))).toEqual([]);
  });
});

describe('a ledger in use', () => {
  it('health finds nothing wrong while another process appends (one snapshot for every read it compares)', async () => {
    const l = await ledger();
    const writer = lineChild([STORE_CHILD, 'burst', ledgerPaths(l.dir).db, 'backend-load', '100000']);
    cleanups.push(() => writer.child.kill('SIGKILL'));
    await writer.next();
    const reports: Array<{ code: number; problems: string[] }> = [];
    for (let i = 0; i < 12; i++) {
      const r = await l.run('health', '--json');
      reports.push({ code: r.code, problems: (JSON.parse(r.out) as { problems: string[] }).problems });
    }
    expect(writer.child.exitCode).toBeNull(); // still appending throughout
    expect(reports).toEqual(reports.map(() => ({ code: 0, problems: [] })));
  }, 60_000);

  it('backup copies it while another process appends, to a ledger that checks whole', async () => {
    const l = await ledger();
    const writer = lineChild([STORE_CHILD, 'burst', ledgerPaths(l.dir).db, 'backend-load', '100000']);
    cleanups.push(() => writer.child.kill('SIGKILL'));
    await writer.next();
    const dest = join(dirname(l.dir), 'backup');
    const r = await l.run('backup', dest, '--json');
    expect(r.code).toBe(0);
    const { lastPosition } = JSON.parse(r.out) as { lastPosition: number };
    expect(lastPosition).toBeGreaterThan(31);
    writer.child.kill('SIGKILL');
    let out = '';
    expect(await main(['--ledger', dest, 'health', '--json'], { out: (s) => (out += s), err: () => {} })).toBe(0);
    const health = JSON.parse(out) as { ok: boolean; lastPosition: number };
    expect(health).toMatchObject({ ok: true, lastPosition });
    expect((await l.run('backup', dest)).err).toMatch('exists and is not empty');
  }, 60_000);
});
