import { StoreUnavailable } from '../errors.js';
import { openSealed, seal, type LedgerEvent, type NewEvent, type RecordedEvent } from '../events/envelope.js';
import { admitAppend, checkExpected } from './append-rules.js';
import { duplicateOf } from './idempotency.js';
import { inPartition } from './partition.js';
import { checkReadOptions } from './read-rules.js';
import { inSnapshotScope } from './snapshot-scope.js';
import { changeSignal, pollingSubscription } from './subscription.js';
import type { AppendResult, EventStore, ExpectedVersion, ReadAllOptions } from './types.js';

type Row = { position: number; stream: string; version: number; id: string; type: string; body: string; hash: string };

/** In-memory store for unit tests: the same sealing and checks as SQLite, nothing durable. */
export function createMemoryStore(): EventStore {
  const log: Row[] = [];
  const streams = new Map<string, Row[]>();
  const byId = new Map<string, Row>();
  const changed = changeSignal(1_000);
  let closed = false;
  let snapshotDepth = 0;
  let snapshotEnded: Promise<void> = Promise.resolve();
  let endSnapshot: () => void = () => {};
  // As the SQLite store: once closed, every append and read is refused the same way.
  const ensureOpen = () => {
    if (closed) throw new StoreUnavailable('store is closed');
  };

  function open(row: Row, prev?: string | null, canonical = false): RecordedEvent {
    return { position: row.position, event: openSealed(row.body, row.hash, row, prev, canonical), body: row.body };
  }

  const store: EventStore = {
    kind: 'memory',
    densePositions: true,
    async append(stream: string, given: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult> {
      ensureOpen();
      const events = admitAppend(store, stream, given, expected);
      // As SQLite: an append made while a snapshot is open is made once it ends.
      while (snapshotDepth > 0) await snapshotEnded;
      const rows = streams.get(stream) ?? [];
      const tail = rows[rows.length - 1];
      const dup = duplicateOf(stream, events, (id) => byId.get(id));
      if (dup) return dup;
      checkExpected(stream, expected, tail ? tail.version : -1);
      let prev = tail ? tail.hash : null;
      let version = tail ? tail.version : -1;
      const sealedEvents: LedgerEvent[] = [];
      for (const e of events) {
        version += 1;
        const sealed = seal(e, stream, version, prev);
        sealedEvents.push(sealed.event);
        const row: Row = { position: log.length + 1, stream, version, id: e.id, type: e.type, body: sealed.body, hash: sealed.hash };
        log.push(row);
        rows.push(row);
        byId.set(e.id, row);
        prev = sealed.hash;
      }
      streams.set(stream, rows);
      changed.notify();
      return { version, position: log.length, duplicate: false, events: sealedEvents };
    },
    async readStream(stream: string): Promise<LedgerEvent[]> {
      return (await this.readStreamRecorded(stream)).map((r) => r.event);
    },
    async readStreamRecorded(stream: string): Promise<RecordedEvent[]> {
      ensureOpen();
      let prev: string | null = null;
      return (streams.get(stream) ?? []).map((row) => {
        const opened = open(row, prev, true);
        prev = row.hash;
        return opened;
      });
    },
    async *readAllPages(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent[]> {
      checkReadOptions(options);
      const size = options.pageSize ?? 1_000;
      const { partition } = options;
      const until = options.until ?? Number.MAX_SAFE_INTEGER;
      // Page by page, each from the log as it is then, as SQLite queries it: events appended while
      // the reader is at work are read too (up to `until`), and a page ends short only at the end.
      let i = options.after ?? 0;
      for (;;) {
        ensureOpen();
        const end = Math.min(log.length, until);
        const page: RecordedEvent[] = [];
        while (i < end && page.length < size) {
          const row = log[i++]!;
          if (partition && !inPartition(row.stream, partition)) continue;
          page.push(open(row));
        }
        if (page.length === 0) return;
        yield page;
      }
    },
    async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
      for await (const page of this.readAllPages(options)) yield* page;
    },
    subscribe(options = {}) {
      return pollingSubscription(
        options.after ?? 0,
        async (after) => (closed ? null : log.slice(after, after + 500).map((row) => open(row))),
        (signal) => changed.wait(signal),
      );
    },
    async lastPosition() {
      ensureOpen();
      return log.length;
    },
    async streamTails() {
      ensureOpen();
      return [...streams.entries()]
        .map(([stream, rows]) => ({ stream, version: rows.length - 1, hash: rows[rows.length - 1]!.hash }))
        // SQLite's ORDER BY: by code unit (stream names are ASCII), not by the locale's collation.
        .sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
    },
    // The log as it is is one state while appends wait for the snapshot's end, as on SQLite.
    async inSnapshot(work) {
      ensureOpen();
      if (snapshotDepth === 0) snapshotEnded = new Promise((resolve) => (endSnapshot = resolve));
      snapshotDepth += 1;
      try {
        return await inSnapshotScope(store, work);
      } finally {
        snapshotDepth = Math.max(0, snapshotDepth - 1);
        if (snapshotDepth === 0) endSnapshot();
      }
    },
    async close() {
      // As SQLite: appends waiting for a snapshot are made before the store closes.
      snapshotDepth = 0;
      endSnapshot();
      closed = true;
      changed.notify();
    },
  };
  return store;
}
