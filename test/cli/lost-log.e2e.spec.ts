import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A ledger in use whose ledger.db was deleted or moved: every command said "no ledger at ...ledger.db
// (run: cto-ledger init)", and init then made a new, empty log beside the old runs' projections and
// evidence (a zero-byte ledger.db in the same dir is refused). The lost log is named, nothing is made.
describe('a ledger dir whose ledger.db is gone', () => {
  const w = cliLedger('cto-lost-log-');
  const { L, run } = w;

  it('is told as a lost log (exit 3), and init starts no new one beside the old runs', () => {
    w.setUp();
    w.admit();
    expect(existsSync(join(L, 'projections'))).toBe(true);
    for (const f of readdirSync(L).filter((f) => f.startsWith('ledger.db'))) rmSync(join(L, f));
    const lost = /ledger\.db is missing, but .* holds a ledger's projections.*: its log was moved or deleted outside cto-ledger; restore ledger\.db/;
    for (const args of [['status'], ['status', '--read-only'], ['health'], ['init']]) {
      const r = run(...args);
      expect(r.stderr).toMatch(lost);
      expect(r.stderr).not.toMatch(/run: cto-ledger init/);
      expect(r.code).toBe(3);
    }
    expect(existsSync(join(L, 'ledger.db'))).toBe(false);
  });

  it("takes a project's own projections/ or evidence/ dir for no lost ledger: init refuses the dir as not empty, exit 2", () => {
    const project = join(w.tmp.dir, 'project');
    mkdirSync(join(project, 'projections'), { recursive: true });
    mkdirSync(join(project, 'evidence'));
    writeFileSync(join(project, 'projections', 'run-state.ts'), 'export {};\n');
    const r = cli(['--ledger', project, 'init']);
    expect(r.stderr).not.toMatch(/moved or deleted/);
    expect(r.stderr).toMatch(/exists and is not empty \(evidence, projections\), and holds no ledger\.db/);
    expect(r.code).toBe(2);
    expect(existsSync(join(project, 'ledger.db'))).toBe(false);
  });
});
