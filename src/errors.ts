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
