import { describe, expect, it } from 'vitest';
import { decideApproval, type ApprovalFacts } from '../../commands/record-approval.js';
import { initialRunState, type RunState } from '../../src/domain/run.js';

// A closed run: bad input, nothing recorded. A run executed and not closed: still refused (its
// approval is spent), recorded on the run as before.
describe('decideApproval on a run past its approval', () => {
  const facts = { now: new Date('2026-11-25T00:00:00Z'), target: { status: 'admitted' }, repo: null } as unknown as ApprovalFacts;
  const cmd = { runId: 'R', decision: 'approved' as const, operator: 'jp', expiresInHours: 24, note: '' };
  const base: RunState = { ...initialRunState('R'), status: 'executed', contractDigest: 'd', targetId: 't' };
  const execution = { status: 'succeeded' } as unknown as RunState['execution'];

  it('a closed run (rejected, or swept by outcome-missing) is bad input naming how it closed', () => {
    const outcome = { decision: 'rejected', operator: 'cto-ledger', reason: 'late', bundleDigest: null, gate: 'outcome-missing', recordedAt: '2026-11-24T00:00:00.000Z' } as const;
    const closed = { ...base, status: 'rejected' as const, execution, outcome };
    expect(decideApproval(closed, cmd, facts)).toEqual({
      kind: 'invalid',
      detail: 'run R is closed (rejected by cto-ledger, gate outcome-missing at 2026-11-24T00:00:00.000Z): nothing to approve',
    });
    expect(decideApproval(closed, { ...cmd, decision: 'denied' }, facts)).toMatchObject({ kind: 'invalid', detail: expect.stringMatching(/nothing to deny$/) });
  });

  it('an executed run without an outcome is still refused approval-consumed', () => {
    expect(decideApproval({ ...base, execution }, cmd, facts)).toMatchObject({ kind: 'refuse', gate: 'approval-consumed' });
  });
});

// The outcome deadline runs from the approval: approving again after it passed would set a new one,
// and execute (refused outcome-missing a moment before) would start the backend after all.
describe('decideApproval on a run past its outcome deadline', () => {
  const facts = { now: new Date('2026-11-25T00:00:00Z'), target: { status: 'admitted', admission: { head: 'a'.repeat(40), eventId: 'E' } }, repo: null } as unknown as ApprovalFacts;
  const cmd = { runId: 'R', decision: 'approved' as const, operator: 'jp', expiresInHours: 24, note: '' };
  const late: RunState = { ...initialRunState('R'), status: 'approved', contractDigest: 'd', targetId: 't', outcomeDeadline: '2026-11-24T23:59:59.000Z' };

  it('refuses a new approval outcome-missing: the run can only be rejected', () => {
    expect(decideApproval(late, cmd, facts)).toMatchObject({ kind: 'refuse', gate: 'outcome-missing', detail: expect.stringMatching(/it can only be rejected$/) });
  });

  it('still takes a denial, which sets no deadline', () => {
    expect(decideApproval(late, { ...cmd, decision: 'denied' }, facts)).toMatchObject({ kind: 'accept' });
  });
});
