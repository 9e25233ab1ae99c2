import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BadInput, ChainBroken, LedgerDamaged } from '../../src/errors.js';
import { inspectStoreFile, openSqliteStore, readLedgerMeta, STORE_SCHEMA_VERSION } from '../../src/store/sqlite.js';
import { sampleEvent } from '../fixtures/events.js';
import { lineChild, STORE_CHILD, UPGRADE_CHILD } from '../fixtures/child.js';
import { tempDir } from '../fixtures/tmp.js';
import { storeConformance } from './conformance.js';

storeConformance('sqlite', async () => {
  const tmp = tempDir();
  const store = openSqliteStore({ file: join(tmp.dir, 'ledger.db'), create: true, pollMs: 10 });
  return { store, cleanup: async () => (await store.close(), tmp.remove()) };
});

function withLedger() {
  const tmp = tempDir();
  const file = join(tmp.dir, 'ledger.db');
  return { file, tmp, store: openSqliteStore({ file, create: true, pollMs: 10 }) };
}

describe('sqlite store: append-only and tamper-evident', () => {
  it('refuses UPDATE and DELETE in the schema itself', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-t', [sampleEvent(0)], 'no-stream');
    const raw = new Database(file);
    expect(() => raw.prepare(`UPDATE events SET body = 'x'`).run()).toThrow(/append-only/);
    expect(() => raw.prepare(`DELETE FROM events`).run()).toThrow(/append-only/);
    raw.close();
    expect((await store.readStream('run-t')).length).toBe(1);
    await store.close();
    tmp.remove();
  });

  it('refuses appends once the triggers are dropped by another process, though they were there when it opened', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-t', [sampleEvent(0)], 'no-stream');
    const raw = new Database(file);
    const triggers = raw.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'events_no_delete'`).pluck().all() as string[];
    raw.exec('DROP TRIGGER events_no_delete');
    await expect(store.append('run-t', [sampleEvent(1)], 0)).rejects.toThrow(LedgerDamaged);
    await expect(store.append('run-t', [sampleEvent(1)], 0)).rejects.toThrow(/lost its append-only triggers \(events_no_delete\)/);
    expect((await store.readStream('run-t')).length).toBe(1);
    for (const sql of triggers) raw.exec(sql);
    raw.close();
    await store.append('run-t', [sampleEvent(1)], 0);
    expect((await store.readStream('run-t')).length).toBe(2);
    await store.close();
    tmp.remove();
  });

  it('names stream, version and event id when a stored event was altered behind its back', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-t', [sampleEvent(0), sampleEvent(1), sampleEvent(2)], 'no-stream');
    const [, second] = await store.readStream('run-t');
    const raw = new Database(file);
    raw.exec('DROP TRIGGER events_no_update');
    raw.prepare(`UPDATE events SET body = replace(body, 'event 1', 'event 7') WHERE id = ?`).run(second!.id);
    raw.close();
    const err = await store.readStream('run-t').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChainBroken);
    expect(err).toMatchObject({ stream: 'run-t', version: 1, eventId: second!.id });
    await store.close();
    tmp.remove();
  });

  it('finds an event removed from the middle of a stream', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-t', [sampleEvent(0), sampleEvent(1), sampleEvent(2)], 'no-stream');
    const raw = new Database(file);
    raw.exec('DROP TRIGGER events_no_delete');
    raw.prepare(`DELETE FROM events WHERE version = 1`).run();
    raw.close();
    await expect(store.readStream('run-t')).rejects.toThrow(/run-t at version 1/);
    await store.close();
    tmp.remove();
  });

  it('refuses a file that is not a ledger, a missing one, and one written by a newer schema', async () => {
    const tmp = tempDir();
    const text = join(tmp.dir, 'notes.db');
    writeFileSync(text, 'just some text, not SQLite at all '.repeat(200));
    expect(() => openSqliteStore({ file: text })).toThrow(/not a cto-ledger ledger \(not a SQLite database\)/);
    expect(readFileSync(text, 'utf8')).toMatch(/^just some text/);
    const other = join(tmp.dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => openSqliteStore({ file: other, create: true })).toThrow(BadInput);
    expect(() => openSqliteStore({ file: join(tmp.dir, 'missing.db') })).toThrow(/no ledger at/);
    const newer = join(tmp.dir, 'newer.db');
    await openSqliteStore({ file: newer, create: true }).close();
    const raw = new Database(newer);
    raw.exec('DROP TRIGGER meta_no_update');
    raw.prepare(`UPDATE meta SET value = '99' WHERE key = 'schemaVersion'`).run();
    raw.close();
    expect(() => openSqliteStore({ file: newer })).toThrow(/written by a newer cto-ledger \(store schema v99/);
    tmp.remove();
  });
});

/** Turns a current ledger file into what cto-ledger v1 wrote: no meta_no_update, schemaVersion 1. */
function asV1(file: string, more = '') {
  const raw = new Database(file);
  raw.exec(`DROP TRIGGER meta_no_update; UPDATE meta SET value = '1' WHERE key = 'schemaVersion'; ${more}`);
  raw.close();
}

describe('sqlite store: meta is append-only too (schema v2), and a v1 ledger is upgraded when opened for writing', () => {
  it('refuses UPDATE of the ledger id and schema version', async () => {
    const { file, tmp, store } = withLedger();
    const before = readLedgerMeta(store);
    expect(before.schemaVersion).toBe(String(STORE_SCHEMA_VERSION));
    const raw = new Database(file);
    expect(() => raw.prepare(`UPDATE meta SET value = 'forged' WHERE key = 'ledgerId'`).run()).toThrow(/meta is append-only: UPDATE refused/);
    expect(() => raw.prepare(`UPDATE meta SET value = '1' WHERE key = 'schemaVersion'`).run()).toThrow(/UPDATE refused/);
    raw.close();
    expect(readLedgerMeta(store)).toEqual(before);
    await store.close();
    tmp.remove();
  });

  it('upgrades a v1 file on a writable open, once, keeping its events; a read-only open leaves it as it is', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-old', [sampleEvent(0), sampleEvent(1)], 'no-stream');
    const ledgerId = readLedgerMeta(store).ledgerId;
    await store.close();
    asV1(file);

    const reader = openSqliteStore({ file, readOnly: true });
    expect(readLedgerMeta(reader).schemaVersion).toBe('1');
    // Read as v1, it lacks no trigger of its version.
    expect(inspectStoreFile(reader)).toMatchObject({ missingTriggers: [], schema: [] });
    await reader.close();
    const still = new Database(file, { readonly: true });
    expect(still.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'meta_no_update'`).pluck().get()).toBe(0);
    still.close();

    const writer = openSqliteStore({ file });
    const meta = readLedgerMeta(writer);
    expect(meta).toMatchObject({ schemaVersion: '2', ledgerId });
    expect(meta.upgradedToV2At).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(inspectStoreFile(writer)).toMatchObject({ missingTriggers: [], alteredTriggers: [], foreignObjects: [], schema: [] });
    expect((await writer.readStream('run-old')).length).toBe(2);
    await writer.append('run-old', [sampleEvent(2)], 1);
    await writer.close();
    const raw = new Database(file);
    expect(() => raw.prepare(`UPDATE meta SET value = '1' WHERE key = 'schemaVersion'`).run()).toThrow(/UPDATE refused/);
    raw.close();
    // Opened again: nothing more to do, the upgrade time stays the first one.
    const again = openSqliteStore({ file });
    expect(readLedgerMeta(again).upgradedToV2At).toBe(meta.upgradedToV2At);
    await again.close();
    tmp.remove();
  });

  it('does not put back v1 triggers someone removed while upgrading: they stay for health to name', async () => {
    const { file, tmp, store } = withLedger();
    await store.close();
    asV1(file, 'DROP TRIGGER events_no_update;');
    const writer = openSqliteStore({ file });
    expect(readLedgerMeta(writer).schemaVersion).toBe('2');
    expect(inspectStoreFile(writer)).toMatchObject({ missingTriggers: ['events_no_update'] });
    await expect(writer.append('run-x', [sampleEvent(0)], 'no-stream')).rejects.toThrow(/lost its append-only triggers \(events_no_update\)/);
    await writer.close();
    tmp.remove();
  });

  it('names meta_no_update when it is dropped from a v2 file, and refuses appends', async () => {
    const { file, tmp, store } = withLedger();
    const raw = new Database(file);
    raw.exec('DROP TRIGGER meta_no_update');
    raw.close();
    await expect(store.append('run-x', [sampleEvent(0)], 'no-stream')).rejects.toThrow(/lost its append-only triggers \(meta_no_update\)/);
    expect(inspectStoreFile(store)).toMatchObject({ missingTriggers: ['meta_no_update'] });
    await store.close();
    tmp.remove();
  });
});

describe('sqlite store: appends while a snapshot is open', () => {
  it('acknowledges an append made during inSnapshot only once it is committed, seen by another connection', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-t', [sampleEvent(0)], 'no-stream');
    const other = openSqliteStore({ file });
    let seenByOther = -1;
    const snapshot = store.inSnapshot(async () => {
      const before = await store.lastPosition();
      await new Promise((r) => setTimeout(r, 50));
      return [before, await store.lastPosition()];
    });
    // Another part of the same process appends meanwhile (a server answering a request during health).
    const appended = store.append('run-t', [sampleEvent(1)], 0).then(async (r) => ((seenByOther = await other.lastPosition()), r));
    await expect(appended).resolves.toMatchObject({ position: 2 });
    expect(seenByOther).toBe(2);
    expect(await snapshot).toEqual([1, 1]);
    await other.close();
    await store.close();
    const reopened = openSqliteStore({ file });
    expect(await reopened.lastPosition()).toBe(2);
    await reopened.close();
    tmp.remove();
  });
});

describe('sqlite store: several OS processes on one file', () => {
  // upgrade() takes the write lock first (BEGIN IMMEDIATE) and looks at the version again inside: a
  // process that read v1 before another's upgrade committed finds v2 there and does nothing (without
  // that look, its UPDATE of meta would hit the meta_no_update trigger the first one added).
  it('upgrades a v1 file once when several processes open it writable at the same moment', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-old', [sampleEvent(0), sampleEvent(1)], 'no-stream');
    const ledgerId = readLedgerMeta(store).ledgerId;
    await store.close();
    asV1(file);
    const start = join(tmp.dir, 'start');
    const children = Array.from({ length: 4 }, () => lineChild([UPGRADE_CHILD, file, start]));
    for (const c of children) expect(await c.next()).toBe('ready');
    writeFileSync(start, '');
    const answers = await Promise.all(children.map((c) => c.next()));
    await Promise.all(children.map((c) => c.exited));
    expect(answers).toEqual(['ok', 'ok', 'ok', 'ok']);

    const raw = new Database(file, { readonly: true });
    const meta = raw.prepare(`SELECT key, value FROM meta`).all() as Array<{ key: string; value: string }>;
    expect(meta.filter((r) => r.key === 'schemaVersion')).toEqual([{ key: 'schemaVersion', value: String(STORE_SCHEMA_VERSION) }]);
    expect(meta.filter((r) => r.key === 'upgradedToV2At')).toHaveLength(1);
    expect(raw.prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'meta_no_update'`).pluck().get()).toBe(1);
    // every process's append landed, after the events the v1 file held
    expect(raw.prepare(`SELECT count(*) FROM events WHERE stream LIKE 'backend-child-%'`).pluck().get()).toBe(4);
    raw.close();

    const writer = openSqliteStore({ file });
    expect(readLedgerMeta(writer)).toMatchObject({ schemaVersion: '2', ledgerId });
    expect(inspectStoreFile(writer)).toMatchObject({ integrity: [], schema: [] });
    expect((await writer.readStream('run-old')).length).toBe(2);
    await writer.append('run-old', [sampleEvent(2)], 1);
    expect((await writer.readStream('run-old')).map((e) => e.version)).toEqual([0, 1, 2]);
    await writer.close();
    tmp.remove();
  });

  it('lets exactly one of two processes win each race on the same expected version', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-race', [sampleEvent(0)], 'no-stream');
    const a = lineChild([STORE_CHILD, 'conflict', file, 'run-race']);
    const b = lineChild([STORE_CHILD, 'conflict', file, 'run-race']);
    expect([await a.next(), await b.next()]).toEqual(['ready', 'ready']);
    for (let round = 0; round < 20; round++) {
      a.send(String(round));
      b.send(String(round));
      const answers = [await a.next(), await b.next()].sort();
      expect(answers).toEqual(['conflict', 'ok']);
    }
    a.send('quit');
    b.send('quit');
    await Promise.all([a.exited, b.exited]);
    const events = await store.readStream('run-race');
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    await store.close();
    tmp.remove();
  }, 30_000);

  it('delivers another process\'s appends to a live subscription', async () => {
    const { file, tmp, store } = withLedger();
    await store.append('run-p', [sampleEvent(0)], 'no-stream');
    const sub = store.subscribe({ after: 0 });
    const child = lineChild([STORE_CHILD, 'append', file, 'run-q', '25']);
    const seen: string[] = [];
    for await (const r of sub) {
      seen.push(r.event.stream);
      if (seen.length === 26) sub.close();
    }
    expect(seen[0]).toBe('run-p');
    expect(seen.slice(1).every((s) => s === 'run-q')).toBe(true);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    await store.close();
    tmp.remove();
  }, 30_000);

  it('keeps every acknowledged event, and none half-written, when a writer is killed with SIGKILL mid-burst', async () => {
    const { file, tmp, store } = withLedger();
    const child = lineChild([STORE_CHILD, 'burst', file, 'run-k', '100000']);
    const acked: string[] = [];
    while (acked.length < 400) acked.push(await child.next());
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    acked.push(...child.lines);
    await store.close();
    const reopened = openSqliteStore({ file });
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    const found = new Set<string>();
    for await (const r of reopened.readAll()) found.add(r.event.id);
    for (const id of acked) expect(found.has(id)).toBe(true);
    for (const tail of await reopened.streamTails()) {
      const events = await reopened.readStream(tail.stream);
      expect(events.length).toBe(tail.version + 1);
    }
    await reopened.close();
    tmp.remove();
  }, 30_000);
});
