// Streams are split between parallel readers (a full rebuild on several cores) by a hash of the last
// two characters of their name: for run-<ULID> those are random. The same function exists as SQL, so a
// store can filter rows before handing them over, and as JS for stores that cannot.

/** Which of `count` partitions a stream belongs to. Stream names are ASCII (append-rules.ts). */
export function streamPartition(stream: string, count: number): number {
  const last = stream.charCodeAt(stream.length - 1);
  const before = stream.length > 1 ? stream.charCodeAt(stream.length - 2) : 0;
  return (last + 7 * before) % count;
}

/** The same as a SQLite expression over a `stream` column; `count` must be a positive integer. */
export function streamPartitionSql(count: number): string {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`partition count must be a positive integer, got ${count}`);
  return `((unicode(substr(stream, -1)) + 7 * coalesce(unicode(substr(stream, -2, 1)), 0)) % ${count})`;
}

/** The streams whose partition, out of `of`, is in [from, to): a share of the log for one reader. */
export type Partition = { of: number; from: number; to: number };

export function inPartition(stream: string, p: Partition): boolean {
  const bucket = streamPartition(stream, p.of);
  return bucket >= p.from && bucket < p.to;
}

export function checkPartition(partition: Partition | undefined): void {
  if (!partition) return;
  const { of, from, to } = partition;
  if (![of, from, to].every(Number.isInteger) || of < 1 || from < 0 || to > of || from >= to) {
    throw new RangeError(`invalid partition [${from}, ${to}) of ${of}`);
  }
}
