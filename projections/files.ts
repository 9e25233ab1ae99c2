import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Replaces a file whole or not at all: write a sibling, rename over. `durable` adds an fsync first,
 * kept for the checkpoint; the other projection files are derived and rebuilt by `cto-ledger rebuild`.
 */
export function writeAtomic(file: string, text: string, durable = false): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    try {
      writeSync(fd, text);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    // A full disk: the half-written sibling is not left behind to take space for ever.
    rmSync(tmp, { force: true });
    throw err;
  }
}
