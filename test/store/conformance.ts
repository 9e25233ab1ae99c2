import { expect, it, describe, afterEach } from 'vitest';
import type { EventStore } from '../../src/store/types.js';
import { BadInput, Conflict, StoreUnavailable } from '../../src/errors.js';
import type { RecordedEvent } from '../../src/events/envelope.js';
import { sampleEvent } from '../fixtures/events.js';
import { newId } from '../../src/ledger/new-event.js';
import { streamPartition } from '../../src/store/partition.js';

export type StoreHarness = { store: EventStore; cleanup: () => Promise<void> };

/** The one suite every EventStore adapter runs (memory, SQLite; EventStoreDB and PostgreSQL next). */
export function storeConformance(name: string, make: () => Promise<StoreHarness>): void {
  describe(`${name} store conformance`, () => {
    let current: StoreHarness | undefined;
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });
    const open = async () => (current = await make()).store;

    it('reads a stream back in version order with a linked hash chain', async () => {
      const store = await open();
      const first = await store.append('run-a', [sampleEvent(0), sampleEvent(1)], 'no-stream');
      expect(first).toMatchObject({ version: 1, duplicate: false });
      await store.append('run-a', [sampleEvent(2)], 1);
      const events = await store.readStream('run-a');
      expect(events.map((e) => e.version)).toEqual([0, 1, 2]);
      expect(events[0]!.prevHash).toBeNull();
      expect(events[1]!.prevHash).toBe(events[0]!.hash);
      expect(events[2]!.prevHash).toBe(events[1]!.hash);
      expect(first.events).toEqual(events.slice(0, 2));
      expect(new Set(events.map((e) => e.hash)).size).toBe(3);
      expect(await store.readStream('run-none')).toEqual([]);
    });

    it('keeps one global order across streams, readable from any position', async () => {
      const store = await open();
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const e = sampleEvent(i);
        ids.push(e.id);
        await store.append(`run-${i % 3}`, [e], 'any');
      }
      const all: RecordedEvent[] = [];
      for await (const r of store.readAll({ pageSize: 7 })) all.push(r);
      expect(all.map((r) => r.event.id)).toEqual(ids);
      expect(all.map((r) => r.position)).toEqual([...all.map((r) => r.position)].sort((a, b) => a - b));
      const tail: string[] = [];
      for await (const r of store.readAll({ after: all[19]!.position })) tail.push(r.event.id);
      expect(tail).toEqual(ids.slice(20));
      expect(await store.lastPosition()).toBe(all[29]!.position);
      expect((await store.streamTails()).map((t) => [t.stream, t.version])).toEqual([
        ['run-0', 9],
        ['run-1', 9],
        ['run-2', 9],
      ]);
      // In code-unit order, as SQLite's ORDER BY gives them, whatever the locale would say.
      for (const [i, stream] of ['run-a', 'run-B', 'run-_', 'run-A-b', 'run-a.b'].entries()) await store.append(stream, [sampleEvent(100 + i)], 'any');
      expect((await store.streamTails()).map((t) => t.stream)).toEqual(['run-0', 'run-1', 'run-2', 'run-A-b', 'run-B', 'run-_', 'run-a', 'run-a.b']);
      // A stream read with positions gives each event the place the global log gives it.
      const recorded = await store.readStreamRecorded('run-1');
      expect(recorded.map((r) => [r.position, r.event.id, r.body])).toEqual(all.filter((r) => r.event.stream === 'run-1').map((r) => [r.position, r.event.id, r.body]));
      expect(recorded.map((r) => r.event)).toEqual(await store.readStream('run-1'));
    });

    it('reads, page by page, events appended while a reader is at work, up to its end when it names one', async () => {
      const store = await open();
      for (let i = 0; i < 5; i++) await store.append('run-r', [sampleEvent(i)], 'any');
      let next = 5;
      const seen: number[] = [];
      for await (const r of store.readAll({ pageSize: 2 })) {
        seen.push(r.position);
        if (next < 8) await store.append('run-r', [sampleEvent(next++)], 'any');
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const pages: number[][] = [];
      for await (const page of store.readAllPages({ after: 6 })) {
        pages.push(page.map((r) => r.position));
        if (next < 10) await store.append('run-r', [sampleEvent(next++)], 'any');
      }
      expect(pages).toEqual([[7, 8], [9], [10]]);
      const bounded: number[] = [];
      for await (const r of store.readAll({ after: 8, until: 11, pageSize: 1 })) {
        bounded.push(r.position);
        await store.append('run-r', [sampleEvent(next++)], 'any');
      }
      expect(bounded).toEqual([9, 10, 11]);
    });

    it('splits the log into disjoint partitions by stream, each in global order, up to a shared end', async () => {
      const store = await open();
      const streams = ['a', 'run-01J0000000000000000000000Z', 'target-demo', 'backend-x', ...Array.from({ length: 12 }, (_, i) => `run-${newId()}${i}`)];
      for (let i = 0; i < 60; i++) await store.append(streams[i % streams.length]!, [sampleEvent(i)], 'any');
      const all: RecordedEvent[] = [];
      for await (const r of store.readAll()) all.push(r);
      const until = all[49]!.position;
      const splits: Array<Array<[number, number]>> = [[[0, 1]], [[0, 1], [1, 2]], [[0, 1], [1, 2], [2, 3]], [[0, 5], [5, 7], [7, 8]]];
      for (const ranges of splits) {
        const of = ranges[ranges.length - 1]![1];
        const seen: RecordedEvent[] = [];
        for (const [from, to] of ranges) {
          const part: RecordedEvent[] = [];
          for await (const page of store.readAllPages({ partition: { of, from, to }, until, pageSize: 4 })) part.push(...page);
          expect(part.every((r) => streamPartition(r.event.stream, of) >= from && streamPartition(r.event.stream, of) < to)).toBe(true);
          expect(part.map((r) => r.position)).toEqual([...part.map((r) => r.position)].sort((a, b) => a - b));
          seen.push(...part);
        }
        // Every event up to `until` exactly once, whichever reader got it.
        expect(seen.map((r) => r.event.id).sort()).toEqual(all.slice(0, 50).map((r) => r.event.id).sort());
      }
      const shares = [0, 1].map((index) => streams.filter((s) => streamPartition(s, 2) === index).length);
      expect(Math.min(...shares)).toBeGreaterThan(0);
      await expect(async () => {
        for await (const page of store.readAllPages({ partition: { of: 2, from: 2, to: 3 } })) void page;
      }).rejects.toThrow(/invalid partition \[2, 3\) of 2/);
    });

    it('refuses a read or subscription from a position that is none (negative, fractional, NaN, a string) alike, and reads nothing past the end', async () => {
      const store = await open();
      for (let i = 0; i < 5; i++) await store.append(`run-${i % 2}`, [sampleEvent(i)], 'any');
      const positions = async (options: Parameters<EventStore['readAll']>[0]) => {
        const seen: number[] = [];
        for await (const r of store.readAll(options)) seen.push(r.position);
        return seen;
      };
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ after: -1 }, /after must be a global position .* got -1/],
        [{ after: 1.5 }, /got 1\.5/],
        [{ after: Number.NaN }, /got NaN/],
        [{ after: '2' }, /got "2"/],
        [{ until: -1 }, /until must be a global position/],
        [{ until: 2.5 }, /until must be a global position/],
        [{ pageSize: 0 }, /pageSize must be an integer from 1, got 0/],
        [{ pageSize: 2.5 }, /pageSize must be an integer from 1/],
        [{ pageSize: -1 }, /pageSize must be an integer from 1/],
      ];
      for (const [options, message] of bad) {
        await expect(positions(options)).rejects.toBeInstanceOf(BadInput);
        await expect(positions(options)).rejects.toThrow(message);
      }
      for (const after of [-2, 0.5, Number.NaN]) expect(() => store.subscribe({ after })).toThrow(BadInput);
      expect(await positions({ after: 10 })).toEqual([]);
      expect(await positions({ after: 5 })).toEqual([]);
      expect(await positions({ after: 2, until: 4, pageSize: 1 })).toEqual([3, 4]);
      expect(await positions({ until: 0 })).toEqual([]);
    });

    it('refuses an append whose expected version is wrong, with a typed Conflict', async () => {
      const store = await open();
      await store.append('run-x', [sampleEvent(0)], 'no-stream');
      await expect(store.append('run-x', [sampleEvent(1)], 'no-stream')).rejects.toBeInstanceOf(Conflict);
      await expect(store.append('run-x', [sampleEvent(1)], 5)).rejects.toBeInstanceOf(Conflict);
      await expect(store.append('run-y', [sampleEvent(1)], 0)).rejects.toBeInstanceOf(Conflict);
      await expect(store.append('run-x', [sampleEvent(1)], 0)).resolves.toMatchObject({ version: 1 });
      await expect(store.append('run-x', [sampleEvent(2)], 'any')).resolves.toMatchObject({ version: 2 });
      expect((await store.readStream('run-x')).length).toBe(3);
      expect((await store.readStream('run-y')).length).toBe(0);
    });

    it('refuses an expected version that is no version as bad input, not as a Conflict a writer would retry', async () => {
      const store = await open();
      const first = sampleEvent(0);
      await store.append('run-x', [first], 'no-stream');
      const invalid: unknown[] = [-1, -2, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, '0', 'NO-STREAM', null, undefined, {}];
      for (const expected of invalid) {
        for (const stream of ['run-x', 'run-new']) {
          const attempt = store.append(stream, [sampleEvent(1)], expected as number);
          await expect(attempt).rejects.toBeInstanceOf(BadInput);
          await expect(attempt).rejects.toThrow(/invalid expected version/);
        }
      }
      // Also for a re-append of ids already recorded.
      await expect(store.append('run-x', [first], -1)).rejects.toThrow(/invalid expected version -1/);
      expect(await store.lastPosition()).toBe(1);
      await expect(store.append('run-x', [sampleEvent(1)], -0)).resolves.toMatchObject({ version: 1 });
    });

    it('lets exactly one of two concurrent appends with the same expected version win', async () => {
      const store = await open();
      await store.append('run-c', [sampleEvent(0)], 'no-stream');
      const results = await Promise.allSettled([
        store.append('run-c', [sampleEvent(1)], 0),
        store.append('run-c', [sampleEvent(2)], 0),
        store.append('run-other', [sampleEvent(3)], 'no-stream'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(Conflict);
      expect((await store.readStream('run-c')).length).toBe(2);
    });

    it('treats a re-append of the same event ids as idempotent, and other content under a used id as bad input', async () => {
      const store = await open();
      const batch = [sampleEvent(0), sampleEvent(1)];
      await store.append('run-i', batch, 'no-stream');
      const again = await store.append('run-i', batch, 'no-stream');
      expect(again).toMatchObject({ version: 1, duplicate: true });
      expect((await store.readStream('run-i')).length).toBe(2);
      const forged = { ...sampleEvent(9), id: batch[0]!.id };
      await expect(store.append('run-i', [forged], 'any')).rejects.toBeInstanceOf(BadInput);
      expect(await store.lastPosition()).toBe(2);
      // A batch only partly recorded, reordered, or moved to another stream: told as what it is.
      const next = sampleEvent(5);
      await expect(store.append('run-i', [batch[1]!, next], 1)).rejects.toThrow(
        new RegExp(`partly a re-append: event ${batch[1]!.id} is already recorded, ${next.id} is not`),
      );
      await expect(store.append('run-i', [batch[1]!, batch[0]!], 'any')).rejects.toThrow(/not in this order or not one after another/);
      await expect(store.append('run-k', [batch[0]!], 'no-stream')).rejects.toThrow(new RegExp(`${batch[0]!.id} is already recorded in another stream \\(run-i\\), not in run-k`));
      await expect(store.append('run-i', [forged], 'any')).rejects.toThrow(new RegExp(`event ${forged.id} is already recorded in run-i with other content`));
      expect(await store.lastPosition()).toBe(2);
      // One id twice in one append: the log holds each id once.
      const twice = sampleEvent(3);
      await expect(store.append('run-j', [twice, twice], 'no-stream')).rejects.toThrow(/the same event id twice in one append to run-j/);
      await expect(store.append('run-j', [twice, { ...sampleEvent(4), id: twice.id }], 'no-stream')).rejects.toBeInstanceOf(BadInput);
      expect(await store.lastPosition()).toBe(2);
      expect(await store.readStream('run-j')).toEqual([]);
    });

    it('refuses invalid events and stream names without writing anything', async () => {
      const store = await open();
      const bad = { ...sampleEvent(0), data: { backendId: 'x' } } as unknown as ReturnType<typeof sampleEvent>;
      await expect(store.append('run-v', [bad], 'any')).rejects.toBeInstanceOf(BadInput);
      const unknown = { ...sampleEvent(0), type: 'Nope' } as unknown as ReturnType<typeof sampleEvent>;
      await expect(store.append('run-v', [unknown], 'any')).rejects.toThrow(/unknown event type/);
      await expect(store.append('../etc', [sampleEvent(1)], 'any')).rejects.toBeInstanceOf(BadInput);
      // An envelope that every later read would refuse: once in, it would break its stream for good.
      const envelopes: Array<[Record<string, unknown>, RegExp]> = [
        [{ actor: { kind: 'operator', id: '' } }, /actor\.id: empty/],
        [{ id: 'not-a-ulid' }, /id: not a ULID/],
        [{ recordedAt: 'yesterday' }, /recordedAt: not an ISO 8601/],
        [{ correlationId: '' }, /correlationId: empty/],
      ];
      for (const [change, message] of envelopes) {
        await expect(store.append('run-v', [Object.assign(sampleEvent(2), change)], 'any')).rejects.toThrow(message);
      }
      expect(await store.lastPosition()).toBe(0);
    });

    it('seals what append was handed when it was called, whatever the caller does to its objects before the append resolves', async () => {
      const store = await open();
      // One object reused for the next append, its id changed each time, none awaited yet.
      const reused = sampleEvent(0);
      const ids: string[] = [];
      const pending: Array<Promise<unknown>> = [];
      for (let i = 0; i < 3; i++) {
        reused.id = newId();
        ids.push(reused.id);
        pending.push(store.append('run-m', [reused], 'any'));
      }
      expect((await Promise.all(pending)).map((r) => (r as { duplicate: boolean }).duplicate)).toEqual([false, false, false]);
      expect((await store.readStream('run-m')).map((e) => e.id)).toEqual(ids);
      // Changed into something no read accepts, or added to the batch unvalidated, after the call.
      const changed = sampleEvent(1);
      const batch = [changed];
      const appended = store.append('run-n', batch, 'no-stream');
      (changed.data as { reason: unknown }).reason = 42;
      batch.push({ ...sampleEvent(2), data: { nope: 1 } } as unknown as ReturnType<typeof sampleEvent>);
      await expect(appended).resolves.toMatchObject({ version: 0 });
      const [read] = await store.readStream('run-n');
      expect((read!.data as { reason: string }).reason).toMatch(/^event 1 /);
      expect(await store.lastPosition()).toBe(4);
      // An event behind a transparent Proxy (a UI framework's reactive object) is appended as it reads.
      const proxied = new Proxy(sampleEvent(3), {});
      await expect(store.append('run-n', [proxied], 0)).resolves.toMatchObject({ version: 1 });
      expect((await store.readStream('run-n'))[1]!.id).toBe(proxied.id);
    });

    it('seals the data an event holds, read once: not what a prototype toJSON or a getter says on another read', async () => {
      const store = await open();
      class SystemActor {
        kind = 'system' as const;
        id = 'test';
        toJSON() {
          return { kind: 'system', id: '' };
        }
      }
      const withClass = Object.assign(sampleEvent(0), { actor: new SystemActor() });
      const withGetter = sampleEvent(1);
      let reads = 0;
      Object.defineProperty(withGetter.data, 'reason', { enumerable: true, get: () => (reads++ === 0 ? 'read once' : 42) });
      await store.append('run-g', [withClass], 'no-stream');
      await store.append('run-g', [withGetter], 0);
      const events = await store.readStream('run-g');
      expect(events.map((e) => e.actor.id)).toEqual(['test', 'test']);
      expect((events[1]!.data as { reason: string }).reason).toBe('read once');
    });

    it('refuses every append and read once closed, as StoreUnavailable, and ends its subscriptions', async () => {
      const store = await open();
      for (let i = 0; i < 3; i++) await store.append('run-z', [sampleEvent(i)], 'any');
      const pages = store.readAllPages({ pageSize: 1 })[Symbol.asyncIterator]();
      expect((await pages.next()).value).toHaveLength(1);
      const sub = store.subscribe({ after: 3 });
      const waiting = sub[Symbol.asyncIterator]().next();
      await store.close();
      await store.close();
      await expect(waiting).resolves.toMatchObject({ done: true });
      await expect(pages.next()).rejects.toBeInstanceOf(StoreUnavailable);
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['append', () => store.append('run-z', [sampleEvent(9)], 'any')],
        ['readStream', () => store.readStream('run-z')],
        ['readStreamRecorded', () => store.readStreamRecorded('run-z')],
        ['lastPosition', () => store.lastPosition()],
        ['streamTails', () => store.streamTails()],
        ['inSnapshot', () => store.inSnapshot(async () => 1)],
        ['readAll', async () => {
          for await (const r of store.readAll()) void r;
        }],
      ];
      for (const [name, call] of refused) {
        const err = await call().then(() => null, (e: unknown) => e);
        expect([name, err]).toEqual([name, expect.any(StoreUnavailable)]);
        expect((err as Error).message).toBe('store is closed');
      }
    });

    it('refuses a lone UTF-16 surrogate anywhere in an event (RFC 8785 has no form for it), and keeps pairs, U+2028 and NUL as they are', async () => {
      const store = await open();
      const withReason = (n: number, reason: string) => {
        const e = sampleEvent(n);
        (e.data as { reason: string }).reason = reason;
        return e;
      };
      for (const reason of ['a\ud800b', '\udc00', 'x\udbff']) {
        await expect(store.append('run-u', [withReason(0, reason)], 'any')).rejects.toThrow(/data\.reason: a lone UTF-16 surrogate/);
      }
      const actor = Object.assign(sampleEvent(1), { actor: { kind: 'system', id: 'op\ud83d' } });
      await expect(store.append('run-u', [sampleEvent(2), actor], 'any')).rejects.toThrow(/actor\.id: a lone UTF-16 surrogate/);
      expect(await store.lastPosition()).toBe(0);
      const kept = '\ud83d\ude00 \u2028\u2029 \u0000 \\ud800 é';
      await store.append('run-u', [withReason(3, kept)], 'no-stream');
      const [read] = await store.readStream('run-u');
      expect((read!.data as { reason: string }).reason).toBe(kept);
    });

    it('reads one state in inSnapshot, nested or concurrent ones too, while appends from elsewhere wait for its end; one inside it is refused', async () => {
      const store = await open();
      await store.append('run-s', [sampleEvent(0)], 'no-stream');
      let appended = false;
      let append: Promise<unknown> = Promise.resolve();
      const seen = await store.inSnapshot(async () => {
        const before = await store.lastPosition();
        append = store.append('run-s', [sampleEvent(1)], 0).then((r) => ((appended = true), r), (err: unknown) => err);
        await new Promise((r) => setTimeout(r, 30));
        const nested = await store.inSnapshot(async () => (await store.readStream('run-s')).length);
        await expect(store.append('run-s', [sampleEvent(2)], 'any')).rejects.toThrow(/no append may be made inside inSnapshot/);
        return [before, nested, await store.lastPosition(), appended];
      }).catch((err: unknown) => err);
      // The append was not awaited inside: started from the snapshot's work, it is refused too.
      expect(seen).toEqual([1, 1, 1, false]);
      expect(await append).toBeInstanceOf(BadInput);
      expect(((await append) as Error).message).toMatch(/no append may be made inside inSnapshot/);
      const outside = store.inSnapshot(async () => {
        const before = await store.lastPosition();
        await new Promise((r) => setTimeout(r, 30));
        return [before, await store.lastPosition()];
      });
      const concurrent = store.inSnapshot(async () => store.lastPosition());
      const late = store.append('run-s', [sampleEvent(3)], 0);
      expect(await Promise.all([outside, concurrent])).toEqual([[1, 1], 1]);
      await expect(late).resolves.toMatchObject({ version: 1, position: 2 });
      expect(await store.lastPosition()).toBe(2);
      // A timer the work left behind runs after the snapshot ended: its append is made.
      let later: Promise<unknown> = Promise.resolve();
      const armed = new Promise<void>((resolve) => {
        void store.inSnapshot(async () => {
          setTimeout(() => resolve(void (later = store.append('run-s', [sampleEvent(4)], 1))), 20);
        });
      });
      await armed;
      await expect(later).resolves.toMatchObject({ version: 2, position: 3 });
    });

    it('subscribes with catch-up then live, with no gap and no duplicate', async () => {
      const store = await open();
      for (let i = 0; i < 40; i++) await store.append(`run-s${i % 4}`, [sampleEvent(i)], 'any');
      const sub = store.subscribe({ after: 10 });
      const seen: number[] = [];
      const writer = (async () => {
        for (let i = 40; i < 80; i++) {
          await store.append(`run-s${i % 4}`, [sampleEvent(i)], 'any');
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      for await (const r of sub) {
        seen.push(r.position);
        if (seen.length === 70) sub.close();
      }
      await writer;
      const all: number[] = [];
      for await (const r of store.readAll({ after: 10 })) all.push(r.position);
      expect(seen).toEqual(all);
      expect(new Set(seen).size).toBe(70);
    });
  });
}
