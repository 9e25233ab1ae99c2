import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CLI, cli } from '../fixtures/cli.js';
import { tempDir } from '../fixtures/tmp.js';

// The demo prints each step "as the command a person would type". An argument with a space or a quote
// was wrapped in '...' as it was: a dir named `it's` printed '/tmp/.../it's/greeter', which a shell
// reads as another path, and `$HOME` or `*` outside such quotes were left for the shell to expand.
// Each printed command is read back here by a real shell, and must give the arguments the demo ran.
it('prints commands that a POSIX shell reads back as the arguments the demo ran', () => {
  const tmp = tempDir('cto-demo-quoting-');
  try {
    const dir = join(tmp.dir, "it's $HOME *");
    const r = cli(['demo', '--dir', dir]);
    expect(r.stderr).not.toMatch(/demo step failed/);
    expect(r.code).toBe(0);
    const typed = (verb: string) => {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`$ cto-ledger ${verb} `))!;
      const shell = spawnSync('sh', ['-c', `set -- ${line.slice('$ cto-ledger '.length)}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
      expect(shell.status).toBe(0);
      return shell.stdout.split('\0').slice(0, -1);
    };
    expect(typed('target admit')).toEqual(['target', 'admit', join(dir, 'greeter'), '--owner', 'jp', '--by', 'jp']);
    expect(typed('contract validate')).toEqual(['contract', 'validate', join(dir, 'CTO-WORK-049.md')]);
    expect(typed('approve').slice(2)).toEqual(['--by', 'jp', '--note', 'go ahead']);
  } finally {
    tmp.remove();
  }
}, 90_000);

// The printed commands ran with --ledger but were printed without it: typed in a shell, `cto-ledger
// status RUN` met ./.cto-ledger ("no ledger at ..."). The demo names its ledger once, as an export.
it('prints the ledger once, so that its commands typed in a shell, in another dir, reach the same ledger', () => {
  const tmp = tempDir('cto-demo-ledger-');
  try {
    const dir = join(tmp.dir, "it's");
    const r = cli(['demo', '--dir', dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2));
    const exported = lines.find((l) => l.startsWith('export CTO_LEDGER_DIR='))!;
    const status = lines.find((l) => /^cto-ledger status [0-9A-Z]{26}$/.test(l))!;
    // `cto-ledger` on PATH, as `npm install -g` puts it
    const bin = join(tmp.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'cto-ledger'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    const shell = spawnSync('sh', ['-c', `${exported}; ${status}`], {
      cwd: tmp.dir,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CTO_LEDGER_DIR: undefined, CTO_OPERATOR: 'jp' },
      encoding: 'utf8',
    });
    expect(shell.stderr).toBe('');
    expect(shell.status).toBe(0);
    expect(shell.stdout).toMatch(/status +accepted/);
  } finally {
    tmp.remove();
  }
}, 90_000);
