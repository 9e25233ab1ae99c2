import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { BadInput } from './errors.js';

/**
 * Up to `cap` bytes of a file, opened without blocking (a FIFO would stall the reader for good) and
 * judged by the descriptor actually opened, never by a `stat` of the path. `kind` names what it is when
 * it is no regular file, and nothing is read then (`/dev/zero` has size 0 and no end). `bytes` may
 * hold one byte past `size`: the file grew while it was read. `noFollow`: a link is refused (ELOOP).
 */
export function readUpTo(file: string, cap: number, options: { noFollow?: boolean } = {}): { bytes: Buffer; size: number; kind: string | null } {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | (options.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { bytes: Buffer.alloc(0), size: st.size, kind: kindOf(st) };
    const bytes = Buffer.alloc(Math.min(st.size + 1, cap));
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { bytes: bytes.subarray(0, read), size: st.size, kind: null };
  } finally {
    closeSync(fd);
  }
}

/**
 * A regular file's bytes, at most `max` of them, else an error (BadInput unless `fail` makes another)
 * saying `prefix: why`. A size check on `stat` alone let a character device (`/dev/zero`) be read until
 * memory ran out, and a FIFO block the command forever (see readUpTo).
 */
export function readRegularFile(file: string, max: number, prefix: string, what: string, fail: (message: string) => Error = (m) => new BadInput(m)): Buffer {
  const read = readUpTo(file, max + 1);
  if (read.kind === 'a directory') throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read`), { code: 'EISDIR', path: file });
  if (read.kind) throw fail(`${prefix}: not a regular file (${read.kind}): ${what} is read from a file`);
  if (read.size > max) throw fail(`${prefix}: ${read.size} bytes, more than the ${max} ${what} may have`);
  if (read.bytes.length > max) throw fail(`${prefix}: more than the ${max} bytes ${what} may have`);
  return read.bytes;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
