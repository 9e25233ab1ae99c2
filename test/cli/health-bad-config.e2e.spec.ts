import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// `health` is what an operator runs when something is wrong. A config.yaml typo made it print nothing
// but the YAML error (exit 2): the store, chains and file were not checked at all.
describe('health with a config.yaml that cannot be read', () => {
  const tmp = tempDir('cto-health-config-');
  const L = join(tmp.dir, 'ledger');
  afterAll(() => tmp.remove());

  it('still reports the store, names the config problem, and exits 2', () => {
    expect(cli(['--ledger', L, 'init']).code).toBe(0);
    writeFileSync(join(L, 'config.yaml'), 'backends: [\n');
    const text = cli(['--ledger', L, 'health']);
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/^chains\s+0 streams, every one intact$/m);
    expect(text.stdout).toMatch(/config\.yaml:\d+:\d+: malformed YAML/);
    const json = cli(['--ledger', L, 'health', '--json']);
    expect(json.code).toBe(2);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ ok: false, problems: [], chains: { broken: [] } });
    expect(report.config).toMatch(/config\.yaml:\d+:\d+: malformed YAML/);
  });
});
