import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInput } from './errors.js';

/**
 * A new dir in the system temp dir, for `purpose`. A TMPDIR naming no usable dir is bad input naming
 * TMPDIR and what the dir was for: the bare "/nonexistent/cto-...-XXXXXX: no such file or directory"
 * was a path the user never typed.
 */
export function systemTempDir(prefix: string, purpose: string): string {
  try {
    return mkdtempSync(join(tmpdir(), prefix));
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException;
    throw new BadInput(`the system temp dir (TMPDIR) ${tmpdir()} cannot hold ${purpose} (${code ?? (err as Error).message}): name an existing, writable dir`);
  }
}
