import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { BadInput } from './errors.js';

/**
 * A regular file's bytes, at most `max` of them, else BadInput (`prefix: why`). A size check on
 * `stat` alone let a character device (`/dev/zero`: size 0, endless) be read until memory ran out,
 * and a FIFO block the command forever; the file is opened without blocking and judged by the
 * descriptor actually opened, and the read itself stops past `max` (a file growing meanwhile).
 */
export function readRegularFile(file: string, max: number, prefix: string, what: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' });
    if (!st.isFile()) throw new BadInput(`${prefix}: not a regular file (${kindOf(st)}): ${what} is read from a file`);
    if (st.size > max) throw new BadInput(`${prefix}: ${st.size} bytes, more than the ${max} ${what} may have`);
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > max) throw new BadInput(`${prefix}: more than the ${max} bytes ${what} may have`);
    return buf.subarray(0, n);
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
