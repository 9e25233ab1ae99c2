import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
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
