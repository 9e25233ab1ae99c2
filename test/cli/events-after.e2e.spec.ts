import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// A script tails the log with `events --after "$LAST"`. An unset LAST gave the whole log again as if it
// were position 0 (Number('') is 0); 0x3 and 3e0 were taken as 3. status refuses an empty run id the
// same way ("an unset variable in a script").
describe('events --after', () => {
  const tmp = tempDir('cto-events-after-');
  const L = join(tmp.dir, 'ledger');
  afterAll(() => tmp.remove());

  it('takes digits only, exit 2 for an empty value or another notation', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    for (const bad of ['', '0x3', '3e0', ' 3', '99999999999999999999']) {
      const r = cli(['--ledger', L, 'events', '--after', bad, '--json']);
      expect(r.code, JSON.stringify(bad)).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    }
    expect(cli(['--ledger', L, 'events', '--after', '0']).code).toBe(0);
    expect(cli(['--ledger', L, 'events', '--after', '12']).code).toBe(0);
  });
});
