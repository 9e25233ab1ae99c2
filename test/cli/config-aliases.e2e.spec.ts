import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

/** Nine levels of ten aliases each: a billion values once expanded. */
function aliasBomb(indent: string): string {
  let s = `${indent}- &a0 [x, x, x, x, x, x, x, x, x, x]\n`;
  for (let i = 1; i < 9; i++) s += `${indent}- &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  return s;
}

// An alias bomb in config.yaml (or an alias to no anchor) escaped as yaml's bare ReferenceError: exit 3,
// read as a store failure, "cto-ledger: Excessive alias count indicates a resource exhaustion attack"
// without the file. A contract said the same without the line.
describe('aliases yaml will not expand in config.yaml', () => {
  const l = cliLedger('cto-config-alias-');
  const events = () => l.run('events', '--json').stdout;

  it('are exit 2 naming the file and the line of the alias, nothing appended', () => {
    l.setUp();
    const contract = l.contractFile();
    const config = join(l.L, 'config.yaml');
    const before = events();
    writeFileSync(config, `backends:\n  - id: demo\n    command: [node, backend.js]\n    readOnlyPaths:\n${aliasBomb('      ')}`);
    const list = l.run('backend', 'list', '--json');
    expect(list.code).toBe(2);
    expect(list.stderr).toBe(`cto-ledger: ${config}:6:14: malformed YAML: Excessive alias count indicates a resource exhaustion attack\n`);
    expect(JSON.parse(list.stdout)).toMatchObject({ ok: false, exitCode: 2 });
    const admit = l.run('contract', 'admit', contract);
    expect(admit.code).toBe(2);
    expect(admit.stderr).toMatch(/^cto-ledger: .*config\.yaml:6:14: malformed YAML: Excessive alias count[^\n]*\n$/);

    writeFileSync(config, `backends:\n  - id: demo\n    command: *agent\n`);
    const unresolved = l.run('backend', 'list');
    expect(unresolved.code).toBe(2);
    expect(unresolved.stderr).toBe(`cto-ledger: ${config}:3:14: malformed YAML: Unresolved alias (the anchor must be set before the alias): agent\n`);
    expect(events()).toBe(before);
  });

  it('in a contract name its line', () => {
    const file = join(l.tmp.dir, 'bomb.yaml');
    writeFileSync(file, readFileSync(l.contractFile(), 'utf8').replace(/^references:.*\n(  - .*\n)*/m, `references:\n${aliasBomb('  ')}`));
    const r = l.run('contract', 'validate', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cto-ledger: contract-invalid: .*bomb\.yaml:\d+:10: malformed YAML: Excessive alias count[^\n]*\n$/);
  });
});

// Each alias costs yaml a scan of every anchor and alias before it: a config.yaml of thousands took
// every command reading it tens of seconds.
describe('a config.yaml with more than 100 aliases', () => {
  const l = cliLedger('cto-config-many-alias-');

  it('is exit 2 naming the first alias past them', () => {
    l.setUp();
    const config = join(l.L, 'config.yaml');
    const anchors = Array.from({ length: 101 }, (_, i) => `      - &p${i} /opt/p${i}\n`).join('');
    const aliases = Array.from({ length: 101 }, (_, i) => `      - *p${i}\n`).join('');
    writeFileSync(config, `backends:\n  - id: demo\n    command: [node, backend.js]\n    readOnlyPaths:\n${anchors}  - id: other\n    command: [node, backend.js]\n    readOnlyPaths:\n${aliases}`);
    const r = l.run('backend', 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cto-ledger: ${config}:${4 + 101 + 3 + 101}:9: malformed YAML: more than 100 aliases (*name), the first past them here: write the values out\n`);
  });
});
