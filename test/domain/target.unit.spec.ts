import { describe, expect, it } from 'vitest';
import { foldTarget, survivesRevocations } from '../../src/domain/target.js';
import type { LedgerEvent } from '../../src/events/envelope.js';

// Only the fields the fold reads; the store's read path checks the rest.
const event = (type: string, id: string, version: number, recordedAt: string, data: object) =>
  ({ type, id, version, recordedAt, hash: 'h'.repeat(64), data }) as unknown as LedgerEvent;
const admitted = (id: string, version: number, at: string) => event('TargetAdmitted', id, version, at, { targetId: 't' });
const revoked = (id: string, version: number, at: string) => event('TargetAdmissionRevoked', id, version, at, { targetId: 't', revokedBy: 'jp', reason: 'r' });

describe('survivesRevocations', () => {
  const A = '01JA0000000000000000000001';
  const B = '01JA0000000000000000000003';
  const state = foldTarget('t', [admitted(A, 0, '2026-01-01T00:00:00.000Z'), revoked('01JA0000000000000000000002', 1, '2026-01-02T00:00:00.000Z'), admitted(B, 2, '2026-01-03T00:00:00.000Z')]);

  it('goes by stream order when the decision names its admission, whatever the clocks say', () => {
    expect(state.unrevokedAdmissions).toEqual([B]);
    expect(survivesRevocations(state, A, '2026-06-01T00:00:00.000Z')).toBe(false);
    expect(survivesRevocations(state, B, '2026-01-01T00:00:00.000Z')).toBe(true);
  });

  it('a renewal without a revocation keeps earlier admissions valid', () => {
    const renewed = foldTarget('t', [admitted(A, 0, '2026-01-01T00:00:00.000Z'), admitted(B, 1, '2026-01-02T00:00:00.000Z')]);
    expect(survivesRevocations(renewed, A, '2026-01-01T00:00:00.000Z')).toBe(true);
  });

  it('falls back to clock times for events written before decisions named their admission', () => {
    expect(survivesRevocations(state, undefined, '2026-01-01T12:00:00.000Z')).toBe(false);
    expect(survivesRevocations(state, undefined, '2026-01-02T00:00:00.000Z')).toBe(false);
    expect(survivesRevocations(state, undefined, '2026-01-02T00:00:00.001Z')).toBe(true);
  });
});
