import type { LedgerEvent, NewEvent, RecordedEvent } from '../events/envelope.js';
import type { Partition } from './partition.js';

/**
 * Expected version of a stream before an append, as EventStoreDB's expected revision:
 * 'no-stream' (must not exist), 'any', or the version of the stream's last event (an integer from 0);
 * anything else (-1, 1.5, NaN, '3') is refused as BadInput, never told as a Conflict.
 */
export type ExpectedVersion = 'no-stream' | 'any' | number;

export type AppendResult = {
  /** Version of the last event of the stream after the append. */
  version: number;
  /** Global position of the last appended event. */
  position: number;
  /** True when every event id was already recorded: an idempotent re-append, nothing new written. */
  duplicate: boolean;
  /** The events as sealed in the chain by this append (empty for a duplicate). */
  events: LedgerEvent[];
};

/** Positions (`after`, `until`) are integers from 0 and `pageSize` one from 1; anything else is BadInput. */
export type ReadAllOptions = {
  /** Start after this global position (0: from the beginning). */
  after?: number;
  pageSize?: number;
  /** Stop at this global position, inclusive: parallel readers share one end. */
  until?: number;
  /** Only the streams of this partition (streamPartition): one reader per core in a full rebuild. */
  partition?: Partition;
};

export interface Subscription extends AsyncIterable<RecordedEvent> {
  /** Ends the iteration; a pending `next()` resolves done. */
  close(): void;
}

/**
 * Where a store lives, so another thread or process can open its own connection to it (a parallel
 * rebuild gives each worker one). The server stores will add their connection strings here.
 */
export type StoreLocator = { kind: 'sqlite'; file: string };

/** The one interface every store adapter implements; the conformance suite in test/ checks it. */
export interface EventStore {
  readonly kind: 'sqlite' | 'memory';
  /**
   * Positions are 1, 2, 3... with no gap (SQLite, memory): a gap can only be an event removed outside
   * the store, and readers check for it. A server store's positions need not be dense.
   */
  readonly densePositions: boolean;
  /** Set when other threads can open the same store; absent for the in-memory store. */
  readonly locator?: StoreLocator;
  /** Appends atomically after checking the expected version; the store places each event in the hash chain. */
  append(stream: string, events: readonly NewEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  /** Every event of a stream in version order; the chain is checked from version 0. */
  readStream(stream: string): Promise<LedgerEvent[]>;
  /** The same, each with its global position (EventStoreDB: the resolved event's commit position). */
  readStreamRecorded(stream: string): Promise<RecordedEvent[]>;
  /** Events with global position greater than `after`, in global order, streamed in pages. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** The same, a page at a time: one await per page, for folds over the whole log. */
  readAllPages(options?: ReadAllOptions): AsyncIterable<RecordedEvent[]>;
  /** Catch-up from `after`, then live, with no gap and no duplicate; across processes where the store allows. */
  subscribe(options?: { after?: number }): Subscription;
  /** Position of the last event in the global log, 0 when empty. */
  lastPosition(): Promise<number>;
  /** Names of all streams with their last version and hash (health checks every tail). */
  streamTails(): Promise<Array<{ stream: string; version: number; hash: string }>>;
  /**
   * Runs `work`'s reads against one state of the log, whatever other writers append meanwhile (SQLite:
   * one read transaction on a WAL snapshot; a server store reads up to one position). For checks that
   * compare several reads, as `health` does. Nested or concurrent calls share that state. No append
   * may be made inside (refused, BadInput); appends made elsewhere meanwhile are made, and resolve,
   * once it ends.
   */
  inSnapshot<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
