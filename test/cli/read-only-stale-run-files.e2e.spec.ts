import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ledgerPaths } from '../../src/ledger/ledger.js';
import { newEvent } from '../../src/ledger/new-event.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A read-only `status RUN` folds the run from the log and names the replay files already under
// projections/runs/<id>/. When the projections were behind the log (a command killed between its
// append and its fold, or a copy taken of a ledger in use), those files were named all the same: the
// run shown rejected, its run.json saying approved. Only files that are what the stream renders now
// are named; `replay RUN --out DIR` renders the rest.
describe('status RUN on a ledger opened read-only whose projections are behind the log', () => {
  const w = cliLedger('cto-ro-stale-');
  const { run } = w;

  it('does not name replay files written before the run\'s later events', async () => {
    w.setUp();
    const runId = w.admit();
    expect(run('approve', runId).code).toBe(0);
    expect(run('status', runId).code).toBe(0); // writes its three files
    const runJson = join(w.L, 'projections', 'runs', runId, 'run.json');
    expect(JSON.parse(readFileSync(runJson, 'utf8')).status).toBe('approved');
    // Appended as a command does, but not folded: the command died before its projections were.
    const store = openSqliteStore({ file: ledgerPaths(w.L).db });
    const version = (await store.readStream(`run-${runId}`)).length - 1;
    const meta = { actor: { kind: 'operator' as const, id: 'jp' }, correlationId: runId, now: new Date() };
    await store.append(`run-${runId}`, [newEvent({ type: 'OutcomeRecorded', data: { decision: 'rejected', operator: 'jp', reason: 'not now', bundleDigest: null, gate: null } }, meta)], version);
    await store.close();

    const json = run('--read-only', 'status', runId, '--json');
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as { status: string; replay: Record<string, string> };
    expect(shown.status).toBe('rejected');
    expect(shown.replay).toEqual({});
    const text = run('--read-only', 'status', runId);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^status {6}rejected$/m);
    expect(text.stdout).not.toMatch(/projections\/runs/);
    // The file is as it was (nothing written read-only), and stays unnamed until a command folds it.
    expect(JSON.parse(readFileSync(runJson, 'utf8')).status).toBe('approved');
    expect(run('status', runId).code).toBe(0);
    const own = JSON.parse(run('--read-only', 'status', runId, '--json').stdout).replay as Record<string, string>;
    expect(Object.keys(own).sort()).toEqual(['dir', 'normalizedEvents', 'runState', 'trace']);
    expect(JSON.parse(readFileSync(runJson, 'utf8')).status).toBe('rejected');
  });
});
