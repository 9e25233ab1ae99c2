import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// A config.yaml saved in Latin-1 was read with U+FFFD in place of its bytes: a backend's command path
// (and the digest its enablement binds) silently became another one.
describe('a config.yaml that is not UTF-8', () => {
  const tmp = tempDir('cto-config-enc-');
  const L = join(tmp.dir, 'ledger');
  afterAll(() => tmp.remove());

  it('is refused, exit 2, naming the file', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    const config = join(L, 'config.yaml');
    writeFileSync(
      config,
      Buffer.concat([Buffer.from('backends:\n  - id: b\n    command: [/opt/caf'), Buffer.from([0xe9]), Buffer.from('/agent]\n    eligibleRisks: [low]\n')]),
    );
    const r = cli(['--ledger', L, 'backend', 'list', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${config}: not UTF-8 text (save it as UTF-8)\n`);
    expect(cli(['--ledger', L, 'backend', 'enable', 'b']).code).toBe(2);
  });
});
