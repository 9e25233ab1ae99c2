import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * Replaces a file whole or not at all: write a sibling, rename over. `durable` adds an fsync first,
 * kept for the checkpoint; the other projection files are derived and rebuilt by `cto-ledger rebuild`.
 */
export function writeAtomic(file: string, text: string, durable = false): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
