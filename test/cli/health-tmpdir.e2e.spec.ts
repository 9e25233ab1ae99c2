import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// `health` folds the log afresh into a scratch dir in the system temp dir to compare the projections.
// A TMPDIR naming no dir was reported as "/nonexistent/cto-health-XXXXXX: no such file or directory", a
// path the user never typed.
describe('health with TMPDIR naming no dir', () => {
  const w = cliLedger('cto-health-tmp-');

  it('names TMPDIR and what it is for, exit 2, in its JSON report too', () => {
    w.setUp();
    w.admit();
    const noTemp = join(w.tmp.dir, 'no-such-tmp');
    const message = `the system temp dir (TMPDIR) ${noTemp} cannot hold the scratch copy health folds the log into (ENOENT): name an existing, writable dir`;
    const r = cli(['--ledger', w.L, 'health', '--json'], { env: { TMPDIR: noTemp } });
    expect(r.stderr).toBe(`cto-ledger: ${message}\n`);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: message });
    expect(w.run('health').code).toBe(0);
  });
});

// demo without --dir makes its throwaway dir there too: the same bare mkdtemp error, before this.
describe('demo with TMPDIR naming no dir and no --dir', () => {
  const w = cliLedger('cto-demo-tmp-');

  it('names TMPDIR, what it is for and --dir, exit 2', () => {
    const noTemp = join(w.tmp.dir, 'no-such-tmp');
    const r = cli(['demo'], { env: { TMPDIR: noTemp } });
    expect(r.stderr).toBe(`cto-ledger: the system temp dir (TMPDIR) ${noTemp} cannot hold the demo's throwaway repository and ledger (or give --dir) (ENOENT): name an existing, writable dir\n`);
    expect(r.code).toBe(2);
  });
});
