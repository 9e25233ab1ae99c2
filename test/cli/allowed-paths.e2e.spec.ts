import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { tempDir } from '../fixtures/tmp.js';

// An allowedPaths entry no repository-relative path can match (absolute, with a .. segment, empty, a
// Windows path) would admit a contract whose every change is then disallowed: refused as bad input.
describe('contract validate|admit: allowedPaths that can never match', () => {
  const tmp = tempDir('cto-allowed-paths-');
  const L = join(tmp.dir, 'ledger');
  afterAll(() => tmp.remove());

  it('exit 2 naming the file, the field and the entry; admit appends nothing', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const before = cli(['--ledger', L, 'events', '--json']).stdout;
    for (const entry of ['/etc/**', '../**', 'src/../x', '', 'src\\**']) {
      const file = join(tmp.dir, 'c.yaml');
      writeFileSync(file, contractYaml({ allowedPaths: ['src/**', entry] }));
      for (const command of ['validate', 'admit']) {
        const r = cli(['--ledger', L, 'contract', command, file, '--json']);
        expect(r.code, `${command} ${entry}`).toBe(2);
        expect(r.stderr).toContain(`contract-invalid: ${file}:`);
        expect(r.stderr).toContain(`allowedPaths.1: ${JSON.stringify(entry)}`);
        expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
      }
    }
    expect(cli(['--ledger', L, 'events', '--json']).stdout).toBe(before);
  });
});
