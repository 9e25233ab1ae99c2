import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { contractYaml } from '../fixtures/ledgers.js';
import { tempDir } from '../fixtures/tmp.js';

describe('a contract that is not UTF-8', () => {
  const tmp = tempDir('cto-contract-enc-');
  afterAll(() => tmp.remove());

  it('is refused naming file and line, not admitted with U+FFFD in place of its bytes', () => {
    const file = join(tmp.dir, 'latin1.yaml');
    // "café" in Latin-1: 0xE9 is no UTF-8 sequence.
    writeFileSync(file, Buffer.concat([Buffer.from(contractYaml().replace(/^title: .*$/m, 'title: caf')), Buffer.from([0xe9, 0x0a])]));
    const r = cli(['contract', 'validate', file, '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:`);
    expect(r.stderr).toMatch(/not UTF-8/);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 2 });
  });

  it('still takes UTF-8 with a byte order mark', () => {
    const file = join(tmp.dir, 'bom.yaml');
    writeFileSync(file, '\uFEFF' + contractYaml({ title: 'café ünï' }));
    const r = cli(['contract', 'validate', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('café ünï');
  });
});
