import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { BadInput } from './errors.js';

/**
 * A regular file's bytes, at most `max` of them, else an error (BadInput unless `fail` makes another)
 * saying `prefix: why`. A size check on `stat` alone let a character device (`/dev/zero`: size 0,
 * endless) be read until memory ran out, and a FIFO block the command forever; the file is opened
 * without blocking and judged by the descriptor actually opened, and the read itself stops past
 * `max` (a file growing meanwhile).
 */
export function readRegularFile(file: string, max: number, prefix: string, what: string, fail: (message: string) => Error = (m) => new BadInput(m)): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read`), { code: 'EISDIR', path: file });
    if (!st.isFile()) throw fail(`${prefix}: not a regular file (${kindOf(st)}): ${what} is read from a file`);
    if (st.size > max) throw fail(`${prefix}: ${st.size} bytes, more than the ${max} ${what} may have`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.max(65_536, Math.min(st.size - total, max - total) + 1));
      const got = readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      chunks.push(chunk.subarray(0, got));
      total += got;
      if (total > max) throw fail(`${prefix}: more than the ${max} bytes ${what} may have`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

function kindOf(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
