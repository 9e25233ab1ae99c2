import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { GateId } from './events/gates.js';

// One small family of typed errors, thrown at the edges; the CLI maps each to an exit code in one place.

export class BadInput extends Error {
  override readonly name = 'BadInput';
}

export class Refused extends Error {
  override readonly name = 'Refused';
  constructor(
    readonly gate: GateId,
    readonly detail: string,
  ) {
    super(`refused by gate ${gate}: ${detail}`);
  }
}

export class Conflict extends Error {
  override readonly name = 'Conflict';
  constructor(
    readonly stream: string,
    readonly expected: string,
    readonly actual: number,
  ) {
    super(`stream ${stream}: expected version ${expected}, but it is at ${actual < 0 ? 'no-stream' : actual}`);
  }
}

export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

export class ChainBroken extends Error {
  override readonly name = 'ChainBroken';
  constructor(
    readonly stream: string,
    readonly version: number,
    readonly eventId: string,
    readonly reason: string,
    /** The event's place in the global log, when the store knows it. */
    readonly position?: number,
  ) {
    super(`hash chain broken in stream ${stream} at version ${version} (event ${eventId}${position === undefined ? '' : `, position ${position}`}): ${reason}`);
  }
}

/** The log itself is damaged: positions missing, projections ahead of it, its protections removed. */
export class LedgerDamaged extends Error {
  override readonly name = 'LedgerDamaged';
}

export const EXIT = { ok: 0, refused: 1, badInput: 2, store: 3 } as const;

/**
 * When `err` (or an error it wraps as its `cause`) says the disk is full, the plain words for it,
 * naming the disk by `path` (a file or dir on it): `the disk holding PATH is full (SQLITE_FULL)`.
 * SQLite's SQLITE_FULL and errno ENOSPC say so outright; SQLite's "disk I/O error" (SQLITE_IOERR_*,
 * what opening a WAL database whose -shm cannot grow gives) only when the disk has under 1 MiB free.
 * Null for every other error.
 */
export function diskFullNote(err: unknown, path: string): string | null {
  let io: string | null = null;
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | null, depth = 0; e && typeof e === 'object' && depth < 8; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (code === 'SQLITE_FULL' || /database or disk is full/.test(message)) return `the disk holding ${path} is full (SQLITE_FULL)`;
    if (code === 'ENOSPC' || /\bENOSPC\b|no space left on device/i.test(message)) return `the disk holding ${path} is full (ENOSPC)`;
    // SQLite's own code where the error carries it (a wrapper's message only says "disk I/O error").
    if (code.startsWith('SQLITE_IOERR')) io = code;
    else if (/disk I\/O error/.test(message)) io ??= 'SQLITE_IOERR';
  }
  if (!io) return null;
  const free = freeBytes(path);
  return free !== null && free < 1 << 20 ? `the disk holding ${path} is full (${io}, ${free} bytes free)` : null;
}

/** Bytes free to an unprivileged writer on the disk holding `path` (or its nearest existing parent); null when unknown. */
function freeBytes(path: string): number | null {
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      const s = statfsSync(p);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}
