import { accessSync, constants, copyFileSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { systemTempDir } from '../temp-dir.js';

/**
 * SQLite opens a WAL database, even read-only, through its `-shm` index, which it must create when a
 * cleanly closed file has none; in a dir the user cannot write (an archived ledger, a mounted backup)
 * it cannot. Such a file is read from a private copy (with its `-wal`, whose commits SQLite recovers),
 * removed when done. Null when the file can be opened where it is.
 */
export function readableCopy(file: string): { file: string; remove: () => void } | null {
  if (existsSync(`${file}-shm`) || canWrite(dirname(file))) return null;
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

/** Whether this process may create files in `dir` (root may, wherever the mode bits say otherwise). */
export function canWrite(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
