import { accessSync, constants, copyFileSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { systemTempDir } from '../temp-dir.js';

/**
 * SQLite opens a WAL database, even read-only, through its `-shm` index, which it must create when a
 * cleanly closed file has none; in a dir the user cannot write (an archived ledger, a mounted backup)
 * it cannot. Such a file is read from a private copy (with its `-wal`, whose commits SQLite recovers),
 * removed when done. Null when the file can be opened where it is.
 */
export function readableCopy(file: string, force = false): { file: string; remove: () => void } | null {
  if (!force && (existsSync(`${file}-shm`) || canWrite(dirname(file)))) return null;
  const dir = systemTempDir('cto-ledger-read-', 'the private copy a ledger in a dir you cannot write is read from');
  const copy = join(dir, basename(file));
  try {
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { file: copy, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Whether opening `file` where it is failed for want of writing beside it: a `-shm` was there, but no
 * `-wal` (a writer closing its connection, which removes both, or an archive copied without its -wal),
 * so SQLite had to create one in a dir this user cannot write. Such a file is read from a private copy.
 */
export function failedForReadOnlyDir(err: unknown, file: string): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^SQLITE_(READONLY|CANTOPEN)/.test(code)) return !canWrite(dirname(file));
  }
  return false;
}

/** Whether this process may create files in `dir` (root may, wherever the mode bits say otherwise). */
export function canWrite(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
