import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliLedger } from '../fixtures/cli-ledger.js';

// The README: bad input is "malformed or unknown fields (named with file and line)". A contract's are;
// config.yaml's were named by field path alone ("config.yaml: backends.0.command.1: ..."), a backend
// declared twice by its id alone, which sent people counting list entries in a long config.
describe('a config.yaml field found wrong', () => {
  const w = cliLedger('cto-config-lines-');
  const { L, run } = w;
  const config = join(L, 'config.yaml');

  it('is named with its line and column, as a contract field is', () => {
    w.setUp();
    const cases: Array<[string, string]> = [
      ['# backends\nbackends:\n  - id: a\n    command: [node, a.js]\n    eligibleRisks: [low]\n    comand: [x]\n', `${config}:6:5: backends.0: Unrecognized key: "comand"`],
      ['backends:\n  - id: a\n    command: [node, 123]\n    eligibleRisks: [low]\n', `${config}:3:21: backends.0.command.1: Invalid input: expected string, received number`],
      ['backends:\n  - id: a\n    command: [node]\n    eligibleRisks: [low]\n  - id: a\n    command: [node]\n    eligibleRisks: [low]\n', `${config}:5:9: backend a is declared twice`],
    ];
    for (const [text, message] of cases) {
      writeFileSync(config, text);
      const r = run('backend', 'list');
      expect(r.stderr).toBe(`cto-ledger: ${message}\n`);
      expect(r.code).toBe(2);
    }
  });

  // yaml's own message ends "at line 2, column 1:" before an excerpt of the file, which the one line
  // cuts off: the place was said twice and the line ended on a dangling colon.
  it('gives a YAML syntax error once, at the front, with no dangling colon', () => {
    if (!existsSync(L)) w.setUp();
    writeFileSync(config, 'backends:\n\t- id: a\n');
    const r = run('backend', 'list');
    expect(r.stderr).toBe(`cto-ledger: ${config}:2:1: malformed YAML: Tabs are not allowed as indentation\n`);
    expect(r.code).toBe(2);
  });
});
