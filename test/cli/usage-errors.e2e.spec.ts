import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// A usage error from commander came out as two lines, unlike every other error: `deny RUN --reason x`
// printed "error: unknown option '--reason'" then "(Did you mean --json?)". Each is now one line on
// stderr starting `cto-ledger: `, the suggestion on it, exit 2; help is as it was.
describe('a usage error', () => {
  const tmp = tempDir('cto-usage-errors-');
  afterAll(() => tmp.remove());
  const run = (...args: string[]) => cli(['--ledger', join(tmp.dir, 'ledger'), ...args]);
  const RUN = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

  it('is one cto-ledger: line on stderr, its suggestion on it, exit 2', () => {
    const cases: Array<[string[], string]> = [
      [['deny', RUN, '--reason', 'x'], "unknown option '--reason' (Did you mean one of --json, --version?)"],
      [['aprove', RUN], "unknown command 'aprove' (Did you mean approve?)"],
      [['target', 'admt'], "unknown command 'admt' (Did you mean admit?)"],
      [['frob'], "unknown command 'frob'"],
      [['approve'], "missing required argument 'run'"],
      [['approve', RUN, 'extra'], "too many arguments for 'approve'. Expected 1 argument but got 2."],
      [['target', 'admit', 'x'], "required option '--owner <owner>' not specified"],
      [['approve', RUN, '--expires-hours'], "option '--expires-hours <hours>' argument missing"],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 2, stdout: '', stderr: `cto-ledger: ${message}\n` });
    }
    const json = run('deny', RUN, '--json', '--reason', 'x');
    expect(json.code).toBe(2);
    expect(json.stderr).toBe("cto-ledger: unknown option '--reason' (Did you mean one of --json, --version?)\n");
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, exitCode: 2, error: "unknown option '--reason' (Did you mean one of --json, --version?)" });
  });

  it('leaves --help as it was: stdout, exit 0', () => {
    for (const args of [['--help'], ['deny', '--help'], ['target', 'admit', '--help']]) {
      const r = run(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Usage: cto-ledger /);
    }
  });

  it('answers --version and -V with the package version on stdout, exit 0 (it was an unknown option, exit 2)', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(cli([flag])).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
