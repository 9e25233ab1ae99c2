import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { admitContract } from '../../commands/admit-contract.js';
import { admitTarget } from '../../commands/admit-target.js';
import { recordApproval } from '../../commands/record-approval.js';
import { recordOutcome } from '../../commands/record-outcome.js';
import { setBackend } from '../../commands/set-backend.js';
import { normalizedLine, RUN_FILES } from '../../projections/run-files.js';
import { canonicalize } from '../../src/events/hashing.js';
import { materializeRun, projectionRunner, rebuildProjections } from '../../projections/runner.js';
import { PROJECTION_LAYOUT } from '../../projections/projection-db.js';
import { loadContract } from '../../src/contract/load.js';
import { runStream } from '../../src/domain/run.js';
import { openSealed } from '../../src/events/envelope.js';
import { LedgerDamaged } from '../../src/errors.js';
import { sha256Hex } from '../../src/events/hashing.js';
import { ledgerPaths } from '../../src/ledger/ledger.js';
import { main } from '../../src/cli/main.js';
import { contractYaml, makeLedger, type Adapter } from '../fixtures/ledgers.js';
import { makeTargetRepo } from '../fixtures/repos.js';
import { snapshotTree } from '../fixtures/tree.js';

for (const adapter of ['sqlite', 'memory'] as Adapter[]) {
  describe(`projections (${adapter})`, () => {
    const cleanups: Array<() => unknown> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    /** Three runs in different states, the projections caught up after every command. */
    async function populated() {
      const made = await makeLedger(adapter);
      const repo = makeTargetRepo();
      cleanups.push(made.cleanup, repo.remove);
      const { ledger } = made;
      const dir = join(made.dir, 'projections');
      const runner = projectionRunner(ledger.store, dir, { batchSize: 3 });
      const step = async <T>(p: Promise<T>) => {
        const r = await p.catch((e: unknown) => e as T);
        await runner.catchUp();
        return r;
      };
      await step(admitTarget(ledger, { path: repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' }));
      await step(setBackend(ledger, { backendId: 'demo', enable: true, by: 'jp', note: '' }));
      const file = join(made.dir, '..', 'c.yaml');
      writeFileSync(file, contractYaml());
      const runs: string[] = [];
      for (let i = 0; i < 3; i++) {
        const e = await admitContract(ledger, { file, loaded: loadContract(file), admittedBy: 'jp' });
        if (e.type === 'ContractAdmitted') runs.push(e.data.runId);
        await runner.catchUp();
      }
      await step(recordApproval(ledger, { runId: runs[0]!, decision: 'approved', operator: 'jp', expiresInHours: 24, note: '' }));
      await step(recordOutcome(ledger, { runId: runs[0]!, decision: 'accepted', operator: 'jp', reason: 'x' }));
      await step(recordApproval(ledger, { runId: runs[1]!, decision: 'denied', operator: 'jp', expiresInHours: 24, note: 'no' }));
      await step(recordOutcome(ledger, { runId: runs[1]!, decision: 'rejected', operator: 'jp', reason: 'denied' }));
      return { ...made, dir, runs, runner };
    }

    it('rebuilds from scratch to the same bytes, twice, as the incremental runner wrote', async () => {
      const { ledger, dir, runs } = await populated();
      const incremental = snapshotTree(dir);
      const rebuilt = async () => {
        await rebuildProjections(ledger.store, dir);
        const active = snapshotTree(dir);
        for (const runId of runs) await materializeRun(ledger.store, dir, runId);
        return { active, all: snapshotTree(dir) };
      };
      const first = await rebuilt();
      const second = await rebuilt();
      expect(Object.keys(first.all).length).toBe(3 * 3 + 2);
      expect(second).toEqual(first);
      expect(first.all).toEqual(incremental);
      // A rebuild writes no run's files, open or closed: they are written on demand.
      expect(Object.keys(first.active).filter((f) => f.startsWith('runs/'))).toEqual([]);
      expect(Object.keys(first.active).sort()).toEqual(['control-surface.json', 'runs.json']);
    });

    it('writes one canonical line per run event whose hash re-verifies, and the states and queues', async () => {
      const { ledger, dir, runs } = await populated();
      const events = await ledger.store.readStream(runStream(runs[0]!));
      const lines = readFileSync(join(dir, 'runs', runs[0]!, RUN_FILES.normalized), 'utf8').split('\n').filter(Boolean);
      expect(lines).toEqual(events.map((e) => normalizedLine(e).trimEnd()));
      expect(lines).toEqual(events.map((e) => canonicalize(e)));
      for (const [index, line] of lines.entries()) {
        const { hash, ...body } = JSON.parse(line) as { hash: string };
        const place = { position: index + 1, id: events[index]!.id, stream: runStream(runs[0]!), version: index, type: events[index]!.type };
        expect(openSealed(JSON.stringify(Object.fromEntries(Object.entries(body).sort())), hash, place, undefined, true).hash).toBe(hash);
        expect(sha256Hex(JSON.stringify(Object.fromEntries(Object.entries(body).sort())))).toBe(hash);
      }
      const trace = readFileSync(join(dir, 'runs', runs[0]!, RUN_FILES.trace), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(trace.map((s) => s.name)).toEqual(['contract.admit', 'approval.record', 'command.refused']);
      expect(trace[2]).toMatchObject({ status: 'error', attributes: { gate: 'evidence-missing' } });
      const surface = JSON.parse(readFileSync(join(dir, 'control-surface.json'), 'utf8'));
      expect(surface.waitingForApproval.map((r: { runId: string }) => r.runId)).toEqual([runs[2]]);
      expect(surface.waitingForApproval[0].replay.normalizedEvents).toBe(`projections/runs/${runs[2]}/events.normalized.jsonl`);
      expect(surface.totals).toEqual({ runs: 3, accepted: 0, rejected: 1 });
      const list = JSON.parse(readFileSync(join(dir, 'runs.json'), 'utf8'));
      expect(list.map((r: { status: string }) => r.status)).toEqual(['approved', 'rejected', 'awaiting-approval']);
      expect(list[0].lastRefusalGate).toBe('evidence-missing');
    });

    it('refolds from the start a projection file written in another layout (an older cto-ledger)', async () => {
      const { dir, runner } = await populated();
      const clean = snapshotTree(dir);
      const file = join(dir, 'projections.db');
      const db = new Database(file);
      db.exec(`DROP TABLE run_states; DROP TABLE run_list; CREATE TABLE runs (run_id TEXT PRIMARY KEY, state TEXT) WITHOUT ROWID`);
      db.pragma('user_version = 1');
      db.close();
      const again = await runner.catchUp();
      expect(again.applied).toBe(again.position);
      expect(snapshotTree(dir)).toEqual(clean);
      const after = new Database(file, { readonly: true });
      expect(after.pragma('user_version', { simple: true })).toBe(PROJECTION_LAYOUT);
      expect(after.prepare(`SELECT name FROM sqlite_master WHERE name = 'runs'`).get()).toBeUndefined();
      after.close();
    });

    it.each([
      ['ahead of the log (the ledger lost its last events)', 'UPDATE checkpoint SET position = position + 3', /folded up to position \d+, but the log ends at \d+: the ledger lost acknowledged events/],
      ['at another event (the ledger was replaced)', `UPDATE checkpoint SET hash = '${'0'.repeat(64)}'`, /the event there is not the one they folded/],
    ])('refuses to fold on from a checkpoint %s, and a rebuild recovers', async (_, tamper, message) => {
      const { ledger, dir, runner } = await populated();
      const clean = snapshotTree(dir);
      const db = new Database(join(dir, 'projections.db'));
      db.prepare(tamper).run();
      db.close();
      const err = await runner.catchUp().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LedgerDamaged);
      expect((err as Error).message).toMatch(message);
      await rebuildProjections(ledger.store, dir);
      await runner.catchUp();
      expect(Object.keys(snapshotTree(dir)).every((f) => f in clean)).toBe(true);
      expect(snapshotTree(dir)['runs.json']).toBe(clean['runs.json']);
    });
  });
}

describe('replay', () => {
  it("writes a run's files byte-identical to the ledger's projection", async () => {
    const made = await makeLedger('sqlite');
    const repo = makeTargetRepo();
    try {
      await admitTarget(made.ledger, { path: repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
      await setBackend(made.ledger, { backendId: 'demo', enable: true, by: 'jp', note: '' });
      const file = join(made.dir, '..', 'c.yaml');
      writeFileSync(file, contractYaml());
      const e = await admitContract(made.ledger, { file, loaded: loadContract(file), admittedBy: 'jp' });
      const runId = e.type === 'ContractAdmitted' ? e.data.runId : '';
      await recordApproval(made.ledger, { runId, decision: 'approved', operator: 'jp', expiresInHours: 24, note: '' });
      await made.ledger.close();
      const out = join(made.dir, '..', 'replayed');
      const quiet = { out: () => {}, err: () => {} };
      expect(await main(['--ledger', made.dir, 'status'], quiet)).toBe(0);
      expect(await main(['--ledger', made.dir, 'replay', runId, '--out', out], quiet)).toBe(0);
      expect(snapshotTree(out)).toEqual(snapshotTree(join(ledgerPaths(made.dir).projections, 'runs', runId)));
    } finally {
      repo.remove();
      await made.cleanup().catch(() => {});
    }
  });
});

describe('projection runner: follow', () => {
  it('catches up, then applies live appends from another process as they land', async () => {
    const made = await makeLedger('sqlite');
    const repo = makeTargetRepo();
    try {
      const dir = join(made.dir, 'projections');
      const stop = new AbortController();
      const seen: number[] = [];
      await admitTarget(made.ledger, { path: repo.path, targetId: 'fixture', owner: 'jp', ownership: 'owned', criticality: 'noncritical', risk: 'low', expiresInDays: 7, admittedBy: 'jp' });
      await setBackend(made.ledger, { backendId: 'demo', enable: true, by: 'jp', note: '' });
      const following = projectionRunner(made.ledger.store, dir).follow(stop.signal, (p) => seen.push(p));
      const file = join(made.dir, '..', 'c.yaml');
      writeFileSync(file, contractYaml());
      const quiet = { out: () => {}, err: () => {} };
      // A second writer: the CLI in-process on its own store handle, as another process would be.
      expect(await main(['--ledger', made.dir, 'contract', 'admit', file], quiet)).toBe(0);
      for (let i = 0; i < 100 && !seen.includes(3); i++) await new Promise((r) => setTimeout(r, 20));
      stop.abort();
      await following;
      expect(seen).toContain(3);
      const surface = JSON.parse(readFileSync(join(dir, 'control-surface.json'), 'utf8'));
      expect(surface.waitingForApproval).toHaveLength(1);
    } finally {
      repo.remove();
      await made.cleanup().catch(() => {});
    }
  });
});
