import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../fixtures/cli.js';
import { cliLedger } from '../fixtures/cli-ledger.js';

// A ledger in a dir the user cannot write (an auditor's copy) is read from a private copy in the system
// temp dir. A TMPDIR naming no dir was reported as "/nonexistent/cto-ledger-read-XXXXXX: no such file or
// directory", a path the user never typed. A user namespace (`unshare --user --map-user`) makes this
// process a user other than root, whom a dir's mode bits then bind.
const asOtherUser = (args: string[], env: Record<string, string>) =>
  spawnSync('unshare', ['--user', '--map-user=54321', '--map-group=54321', process.execPath, ...args], { env: { ...process.env, CTO_OPERATOR: 'jp', ...env }, encoding: 'utf8', timeout: 60_000 });
const available = asOtherUser(['-e', 'process.exit(process.getuid() === 54321 ? 0 : 1)'], {}).status === 0;

describe.skipIf(!available)('a read-only ledger with TMPDIR naming no dir', () => {
  const w = cliLedger('cto-read-copy-tmp-');

  it('names TMPDIR and what it is for, exit 2', () => {
    w.setUp();
    chmodSync(w.L, 0o555);
    try {
      const noTemp = join(w.tmp.dir, 'no-such-tmp');
      const r = asOtherUser([CLI, '--ledger', w.L, 'status', '--json'], { TMPDIR: noTemp });
      expect(r.stderr).toBe(`cto-ledger: the system temp dir (TMPDIR) ${noTemp} cannot hold the private copy a ledger in a dir you cannot write is read from (ENOENT): name an existing, writable dir\n`);
      expect(r.status).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
      expect(asOtherUser([CLI, '--ledger', w.L, 'status'], {}).status).toBe(0);
    } finally {
      chmodSync(w.L, 0o755);
    }
  });
});
