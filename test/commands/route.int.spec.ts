import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { admitContract } from '../../commands/admit-contract.js';
import { admitTarget } from '../../commands/admit-target.js';
import { recordApproval } from '../../commands/record-approval.js';
import { recordOutcome } from '../../commands/record-outcome.js';
import { revokeTarget } from '../../commands/revoke-target.js';
import { setBackend } from '../../commands/set-backend.js';
import { loadContract } from '../../src/contract/load.js';
import { foldRun, runStream } from '../../src/domain/run.js';
import { BadInput } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { contractYaml, DEMO_BACKEND, makeLedger, type Adapter } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { refusedGate } from '../fixtures/refusals.js';

const DAY = 86_400_000;


for (const adapter of ['sqlite', 'memory'] as Adapter[]) {
  describe(`the governed route up to the harness (${adapter})`, () => {
    const cleanups: Array<() => unknown> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    async function setup() {
      const made = await makeLedger(adapter);
      const repo = makeTargetRepo();
      cleanups.push(made.cleanup, repo.remove);
      const ledger = made.ledger;
      const contractFile = join(made.dir, '..', 'contract.yaml');
      const writeContract = (overrides = {}) => {
        writeFileSync(contractFile, contractYaml(overrides));
        return loadContract(contractFile);
      };
      const admit = () =>
        admitTarget(ledger, { path: repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
      const enable = () => setBackend(ledger, { backendId: 'demo', enable: true, by: 'jp', note: '' });
      const admitRun = async (overrides = {}) => {
        const event = await admitContract(ledger, { file: contractFile, loaded: writeContract(overrides), admittedBy: 'jp' });
        return event.type === 'ContractAdmitted' ? event.data.runId : '';
      };
      const runState = async (runId: string) => foldRun(runId, await ledger.store.readStream(runStream(runId)));
      return { ...made, ledger, repo, admit, enable, admitRun, runState, writeContract, contractFile };
    }

    it('admits target, backend, contract and approval, binding the digest and HEAD; accept waits for evidence', async () => {
      const s = await setup();
      await s.admit();
      expect(await s.enable()).toBe(true);
      expect(await s.enable()).toBe(false);
      const runId = await s.admitRun();
      const admitted = await s.runState(runId);
      expect(admitted.status).toBe('awaiting-approval');
      expect(admitted.contract?.forbiddenActions).toEqual(expect.arrayContaining(['push', 'merge', 'deploy', 'publish', 'infra-mutation']));
      await recordApproval(s.ledger, { runId, decision: 'approved', operator: 'jp', expiresInHours: 24, note: '' });
      const approved = await s.runState(runId);
      expect(approved.status).toBe('approved');
      expect(approved.approval).toMatchObject({ contractDigest: admitted.contractDigest, baseCommit: s.repo.head(), operator: 'jp' });
      expect(await refusedGate(recordOutcome(s.ledger, { runId, decision: 'accepted', operator: 'jp', reason: 'looks fine' }))).toBe('evidence-missing');
      const refused = await s.runState(runId);
      expect(refused.lastRefusal).toMatchObject({ gate: 'evidence-missing', command: 'outcome' });
      await recordOutcome(s.ledger, { runId, decision: 'rejected', operator: 'jp', reason: 'changed my mind' });
      expect((await s.runState(runId)).status).toBe('rejected');
      await expect(recordOutcome(s.ledger, { runId, decision: 'rejected', operator: 'jp', reason: 'again' })).rejects.toBeInstanceOf(BadInput);
    });

    it('refuses admission of targets that are not owned, noncritical and low risk, appending nothing', async () => {
      const s = await setup();
      for (const bad of [{ ownership: 'vendor' }, { criticality: 'critical' }, { risk: 'medium' }]) {
        const gate = await refusedGate(
          admitTarget(s.ledger, { path: s.repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp', ...bad }),
        );
        expect(gate).toBe('target-admission-missing');
      }
      expect(await s.ledger.store.lastPosition()).toBe(0);
      await expect(
        admitTarget(s.ledger, { path: join(s.repo.path, '..'), targetId: 'x', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' }),
      ).rejects.toThrow(/is not a git repository/);
    });

    it('gates contract admission on a current target admission', async () => {
      const s = await setup();
      await s.enable();
      s.writeContract();
      expect(await refusedGate(s.admitRun())).toBe('target-admission-missing');
      await s.admit();
      s.advance(8 * DAY);
      expect(await refusedGate(s.admitRun())).toBe('target-admission-stale');
      await s.admit();
      await revokeTarget(s.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'handed over' });
      expect(await refusedGate(s.admitRun())).toBe('target-admission-stale');
      await s.admit();
      expect(await s.admitRun()).toMatch(/^[0-9A-Z]{26}$/);
    });

    it('admits one repository under one target id at a time', async () => {
      const s = await setup();
      await s.admit();
      const asOther = (targetId: string) =>
        admitTarget(s.ledger, { path: s.repo.path, targetId, owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
      await expect(asOther('twin')).rejects.toThrow(BadInput);
      await expect(asOther('twin')).rejects.toThrow(/already admitted as target fixture/);
      // Nor a linked worktree of it, whose git dir is the repository's own.
      const linked = join(s.dir, '..', 'linked');
      execFileSync('git', ['-C', s.repo.path, 'worktree', 'add', '-q', linked]);
      await expect(admitTarget(s.ledger, { path: linked, targetId: 'linked', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' })).rejects.toThrow(/is a linked worktree of the repository/);
      expect(await s.ledger.store.readStream('target-twin')).toEqual([]);
      // Renewing under its own id is fine; once that admission is revoked (or lapsed), another id may take it.
      await s.admit();
      await revokeTarget(s.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'renamed' });
      expect((await asOther('twin')).type).toBe('TargetAdmitted');
    });

    it('gates contract admission on a declared, enabled, unchanged, risk-eligible backend', async () => {
      const s = await setup();
      await s.admit();
      expect(await refusedGate(s.admitRun())).toBe('backend-ineligible'); // declared but never enabled
      await s.enable();
      expect(await refusedGate(s.admitRun({ backend: 'nobody' }))).toBe('backend-ineligible');
      s.setConfig({ backends: [{ ...DEMO_BACKEND, command: ['node', 'other.js'] }] });
      expect(await refusedGate(s.admitRun())).toBe('backend-ineligible'); // entry edited after enabling
      await s.enable();
      s.setConfig({ backends: [{ ...DEMO_BACKEND, command: ['node', 'other.js'], eligibleRisks: ['medium'] }] });
      await s.enable();
      expect(await refusedGate(s.admitRun())).toBe('backend-ineligible'); // not eligible for low risk
      s.setConfig({ backends: [{ ...DEMO_BACKEND, enabled: false }] });
      expect(await refusedGate(s.enable())).toBe('backend-ineligible'); // kill switch
      s.setConfig({ backends: [DEMO_BACKEND] });
      await s.enable();
      await setBackend(s.ledger, { backendId: 'demo', enable: false, by: 'jp', note: 'pause' });
      expect(await refusedGate(s.admitRun())).toBe('backend-ineligible');
      await s.enable();
      expect(await s.admitRun()).toMatch(/^[0-9A-Z]{26}$/);
    });

    it('gates approval on the digest shown, a current target, and an unspent run; refusals land on the run', async () => {
      const s = await setup();
      await s.admit();
      await s.enable();
      const runId = await s.admitRun();
      const approve = (extra = {}) => recordApproval(s.ledger, { runId, decision: 'approved', operator: 'jp', expiresInHours: 24, note: '', ...extra });
      expect(await refusedGate(approve({ contractDigest: 'f'.repeat(64) }))).toBe('approval-mismatch');
      await revokeTarget(s.ledger, { targetId: 'fixture', revokedBy: 'jp', reason: 'paused' });
      expect(await refusedGate(approve())).toBe('target-admission-stale');
      const state = await s.runState(runId);
      expect(state.status).toBe('awaiting-approval');
      expect(state.lastRefusal?.gate).toBe('target-admission-stale');
      await s.admit();
      await recordApproval(s.ledger, { runId, decision: 'denied', operator: 'jp', expiresInHours: 24, note: 'not now' });
      expect((await s.runState(runId)).status).toBe('denied');
      await approve();
      expect((await s.runState(runId)).status).toBe('approved');
      await expect(recordApproval(s.ledger, { runId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', decision: 'approved', operator: 'jp', expiresInHours: 1, note: '' })).rejects.toThrow(
        /unknown run/,
      );
    });
  });
}

export type { Ledger };
