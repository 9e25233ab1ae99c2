import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The throwaway world the demo runs in: a small git repository, a backend script, a contract.

const GIT_IDENTITY = ['-c', 'user.name=cto-ledger demo', '-c', 'user.email=demo@cto-ledger.invalid'];

export function makeDemoRepo(dir: string): string {
  const repo = join(dir, 'greeter');
  mkdirSync(join(repo, 'src'), { recursive: true });
  mkdirSync(join(repo, 'test'), { recursive: true });
  writeFileSync(join(repo, 'README.md'), '# greeter\n\nA tiny repository the cto-ledger demo delegates work on.\n');
  writeFileSync(join(repo, 'src', 'greet.mjs'), "export function greet(name) {\n  return 'hi ' + name;\n}\n");
  writeFileSync(
    join(repo, 'test', 'greet.test.mjs'),
    "import { greet } from '../src/greet.mjs';\nconst got = greet('ada');\nif (!got.startsWith('Hello, ')) { console.error('expected a Hello greeting, got: ' + got); process.exit(1); }\nconsole.log('ok: ' + got);\n",
  );
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  execFileSync('git', ['-C', repo, 'add', '-A']);
  execFileSync('git', ['-C', repo, ...GIT_IDENTITY, 'commit', '-q', '-m', 'greeter: initial']);
  return repo;
}

/** A backend that does the task well, and one that strays outside its allowed paths. */
export function writeDemoBackends(dir: string): { good: string; stray: string } {
  const good = join(dir, 'backend-good.mjs');
  writeFileSync(
    good,
    [
      "// A stand-in for an agent CLI: reads the contract, makes the change in its worktree.",
      "import { readFileSync, writeFileSync } from 'node:fs';",
      "const contract = JSON.parse(readFileSync(0, 'utf8'));",
      "console.log('working on: ' + contract.title);",
      "writeFileSync('src/greet.mjs', \"export function greet(name) {\\n  return `Hello, ${name}!`;\\n}\\n\");",
      "console.log('changed src/greet.mjs');",
      '',
    ].join('\n'),
  );
  const stray = join(dir, 'backend-stray.mjs');
  writeFileSync(
    stray,
    [
      "// A backend that also edits the CI workflow: outside the allowed paths, and an infrastructure file.",
      "import { mkdirSync, writeFileSync } from 'node:fs';",
      "writeFileSync('src/greet.mjs', \"export function greet(name) {\\n  return `Hello, ${name}!`;\\n}\\n\");",
      "mkdirSync('.github/workflows', { recursive: true });",
      "writeFileSync('.github/workflows/ci.yml', 'on: push\\njobs: {}\\n');",
      "console.log('changed src/greet.mjs and .github/workflows/ci.yml');",
      '',
    ].join('\n'),
  );
  return { good, stray };
}

export function demoContract(backend: string, isolation: 'required' | 'best-effort' = 'required'): string {
  return `---
title: Greet people with "Hello, NAME!"
workItem: CTO-WORK-049
target: greeter
backend: ${backend}
${isolation === 'required' ? '' : 'isolation: best-effort    # this machine has no bubblewrap: a real contract requires it\n'}references:
  - seed/cto-first-real-governed-workflow-prd.md
allowedPaths:
  - "src/**"
successCriteria:
  - greet('ada') returns "Hello, ada!"
validation:
  command: node test/greet.test.mjs
  timeoutSeconds: 60
rollback: Nothing to undo in the target; the patch is the product and is applied by a person.
limits:
  backendSeconds: 60
  outcomeDeadlineHours: 24
---
Change \`greet(name)\` in \`src/greet.mjs\` so that it returns \`Hello, NAME!\`.
Touch nothing outside \`src/\`.
`;
}
