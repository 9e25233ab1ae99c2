import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

const rebuildSays = 'a projection is read from a file; cto-ledger rebuild puts the projections right';

/** Replaces `file` with a FIFO (nothing ever writes to it: a reader that opened it blocking would wait for good). */
function fifoFor(file: string): void {
  rmSync(file);
  execFileSync('mkfifo', [file]);
}

// A FIFO where projections/runs.json goes (the ledger's dir changed behind its back) made `status` and
// `health`, the auditor's check, block for good on reading it. `status` is exit 3 naming the file and
// the rebuild that puts it right; `health` lists it among its report's problems, as it does any other
// damaged projection (it was exit 3 with that error alone, no report), exit 3.
describe('a FIFO where a projection file goes', () => {
  const w = cliLedger('cto-projection-fifo-');

  it('is exit 3 naming it for status, a problem in health\'s report, and rebuild puts it right', () => {
    w.setUp();
    w.admit();
    const runs = join(w.L, 'projections', 'runs.json');
    fifoFor(runs);
    const status = w.run('status');
    expect(status.code).toBe(3);
    expect(status.stderr).toBe(`cto-ledger: ${runs}: not a regular file (a FIFO): the run list is read from a file; cto-ledger rebuild puts it right\n`);

    const health = w.run('health', '--json');
    expect(health.code).toBe(3);
    const report = JSON.parse(health.stdout);
    expect(report).toMatchObject({ ok: false, store: { reachable: true }, chains: { broken: [] } });
    expect(report.problems).toEqual([`${runs}: not a regular file (a FIFO): ${rebuildSays}`]);
    const human = w.run('health');
    expect(human.code).toBe(3);
    expect(human.stdout).toContain(`\nPROBLEM     ${runs}: not a regular file (a FIFO): ${rebuildSays}\n`);
    expect(human.stdout).toMatch(/^backends {4}demo\n?$/m);
    expect(human.stderr).toBe('cto-ledger: health check failed: 1 problem(s)\n');

    expect(w.run('rebuild').code).toBe(0);
    expect(w.run('health').code).toBe(0);
  });
});

// The same for control-surface.json and a run's own files under projections/runs/<run>/, each listed
// with whatever else differs (here runs.json edited), every other file still compared.
describe('FIFOs where control-surface.json and a run\'s files go', () => {
  const w = cliLedger('cto-projection-fifo-more-');

  it('are each a problem in health\'s report, beside the other differences', () => {
    w.setUp();
    const a = w.admit();
    const b = w.admit();
    expect(w.run('status', a).code).toBe(0); // writes run a's files
    expect(w.run('status', b).code).toBe(0);
    const projections = join(w.L, 'projections');
    const surface = join(projections, 'control-surface.json');
    const runFile = join(projections, 'runs', a, 'run.json');
    expect(readdirSync(join(projections, 'runs', a))).toContain('run.json');
    fifoFor(surface);
    fifoFor(runFile);
    const bDir = join(projections, 'runs', b);
    rmSync(bDir, { recursive: true });
    execFileSync('mkfifo', [bDir]);
    const runs = join(projections, 'runs.json');
    appendFileSync(runs, ' ');

    const health = w.run('health', '--json');
    expect(health.code).toBe(3);
    const problems: string[] = JSON.parse(health.stdout).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        `${surface}: not a regular file (a FIFO): ${rebuildSays}`,
        `${runFile}: not a regular file (a FIFO): ${rebuildSays}`,
        `${bDir}: not a directory: run ${b}'s projection files are kept in one; cto-ledger rebuild puts the projections right`,
      ]),
    );
    expect(problems.filter((p) => p.startsWith(`${runs} differs from the log folded afresh to position `))).toHaveLength(1);
    expect(problems).toHaveLength(4);
    const human = w.run('health');
    expect(human.code).toBe(3);
    expect(human.stdout).toContain(`PROBLEM     ${surface}: not a regular file (a FIFO)`);
    expect(human.stdout).toContain(`PROBLEM     ${runFile}: not a regular file (a FIFO)`);
    expect(human.stderr).toBe('cto-ledger: health check failed: 4 problem(s)\n');
  });
});
