import { describe, expect, it } from 'vitest';
import { judgeExecution, MAX_CHANGED_PATH_BYTES, MAX_CHANGED_PATHS, recordedPaths, type ExecutionObservations } from '../../commands/execute.js';
import { judgePaths, TOO_LARGE, UNREADABLE } from '../../src/harness/policy.js';
import { textForReview } from '../../src/harness/inspect.js';

const clean: ExecutionObservations = {
  exit: { code: 0, signal: null, timedOut: false },
  startError: null,
  survivors: 0,
  shimAttempts: [],
  secretsInChange: [],
  gitStateChanged: [],
  operatorCheckoutChanged: [],
  patchError: null,
  paths: [{ path: 'src/a.js', change: 'modified', verdict: 'allowed', why: '' }],
  validation: { ran: true, code: 0, timedOut: false },
};

describe('judgeExecution: each observation fails its own gate, and the first failure is the verdict', () => {
  const table: Array<[string, Partial<ExecutionObservations>, string]> = [
    ['timeout', { exit: { code: null, signal: 'SIGKILL', timedOut: true } }, 'timeout'],
    ['non-zero exit', { exit: { code: 2, signal: null, timedOut: false } }, 'provider-failure'],
    ['killed by a signal', { exit: { code: null, signal: 'SIGSEGV', timedOut: false } }, 'provider-failure'],
    ['could not start', { startError: 'ENOENT' }, 'provider-failure'],
    ['a shim recorded a push', { shimAttempts: ['git push'] }, 'forbidden-action'],
    ['a ref moved', { gitStateChanged: ['refs'] }, 'forbidden-action'],
    ['a secret value written into the change', { secretsInChange: ['API_TOKEN'] }, 'forbidden-action'],
    ['a forbidden path', { paths: [{ path: '.env', change: 'added', verdict: 'forbidden', why: 'credential' }] }, 'forbidden-action'],
    ['a disallowed path', { paths: [{ path: 'README.md', change: 'modified', verdict: 'disallowed', why: 'outside' }] }, 'path-disallowed'],
    ['an ignored file', { paths: [{ path: 'x.log', change: 'ignored', verdict: 'not-captured', why: 'ignored' }] }, 'end-tree-dirty'],
    ["the operator's checkout changed", { operatorCheckoutChanged: ['HEAD moved'] }, 'end-tree-dirty'],
    ['a process survived', { survivors: 1 }, 'end-tree-dirty'],
    ['the patch could not be made', { patchError: 'git add failed' }, 'end-tree-dirty'],
    ['validation failed', { validation: { ran: true, code: 1, timedOut: false } }, 'validation-failed'],
    ['validation timed out', { validation: { ran: true, code: null, timedOut: true } }, 'validation-failed'],
    [
      'more paths changed than a run may change, every one allowed',
      { paths: Array.from({ length: MAX_CHANGED_PATHS + 1 }, (_, i) => ({ path: `src/f${i}.js`, change: 'added', verdict: 'allowed' as const, why: '' })) },
      'path-disallowed',
    ],
    [
      'more bytes of path names than a run may change, each name allowed',
      { paths: Array.from({ length: 300 }, (_, i) => ({ path: `src/${'d'.repeat(4000)}/f${i}.js`, change: 'added', verdict: 'allowed' as const, why: '' })) },
      'path-disallowed',
    ],
  ];
  it.each(table)('%s', (_, change, gate) => {
    expect(judgeExecution({ ...clean, ...change }).failedGate).toBe(gate);
  });
  it('passes a clean run, and one with a no-test rationale', () => {
    expect(judgeExecution(clean).failedGate).toBeNull();
    expect(judgeExecution({ ...clean, validation: { ran: false, reason: 'no-test rationale: docs only' } }).failedGate).toBeNull();
  });
  it('forbidden wins over disallowed when both happen', () => {
    const paths = [
      { path: 'README.md', change: 'modified', verdict: 'disallowed' as const, why: '' },
      { path: '.github/workflows/ci.yml', change: 'added', verdict: 'forbidden' as const, why: '' },
    ];
    expect(judgeExecution({ ...clean, paths }).failedGate).toBe('forbidden-action');
  });
});

describe('recordedPaths: what CaseExecuted keeps of the changed paths', () => {
  it('the first 10,000, or fewer when their names pass 1 MiB in all; every one when both caps hold', () => {
    const short = Array.from({ length: MAX_CHANGED_PATHS + 1 }, (_, i) => ({ path: `src/f${i}.js` }));
    expect(recordedPaths(short)).toEqual(short.slice(0, MAX_CHANGED_PATHS));
    const long = Array.from({ length: 300 }, (_, i) => ({ path: `src/${'é'.repeat(1995)}/f${String(i).padStart(3, '0')}` }));
    const kept = recordedPaths(long);
    const bytes = (paths: Array<{ path: string }>) => paths.reduce((n, p) => n + Buffer.byteLength(p.path), 0);
    expect(kept).toEqual(long.slice(0, kept.length));
    expect(bytes(kept)).toBeLessThanOrEqual(MAX_CHANGED_PATH_BYTES);
    expect(bytes(long.slice(0, kept.length + 1))).toBeGreaterThan(MAX_CHANGED_PATH_BYTES);
    expect(recordedPaths(long.slice(0, 100))).toHaveLength(100);
    expect(judgeExecution({ ...clean, paths: long.map((p) => ({ ...p, change: 'added', verdict: 'allowed' as const, why: '' })) }).gateResults.find((g) => g.gate === 'path-disallowed')!.detail).toMatch(
      new RegExp(`300 paths changed \\(${bytes(long)} bytes of names\\), more than a run may change .*the ledger records the first ${kept.length}`),
    );
  });
});

describe('judgePaths', () => {
  const none = () => null;
  const verdict = (path: string, allowed: string[], extra: Partial<{ change: 'added'; link: { target: string; outside: boolean } }> = {}, content: string | null | typeof TOO_LARGE | typeof UNREADABLE = null) =>
    judgePaths([{ path, change: 'added', ...extra }], allowed, () => content)[0]!.verdict;
  it.each([
    ['src/a.ts', ['src/**'], 'allowed'],
    ['src/deep/er/a.ts', ['src/**'], 'allowed'],
    ['src/.hidden', ['src/**'], 'allowed'],
    ['README.md', ['src/**'], 'disallowed'],
    ['SRC/a.ts', ['src/**'], 'disallowed'],
    ['src/.env', ['src/**'], 'forbidden'],
    ['src/.ENV.local', ['src/**'], 'forbidden'],
    ['src/server.pem', ['src/**'], 'forbidden'],
    ['deploy/id_ed25519', ['**'], 'forbidden'],
    ['.npmrc', ['**'], 'forbidden'],
    ['.github/workflows/ci.yml', ['.github/**'], 'forbidden'],
    ['infra/main.tf', ['infra/**'], 'forbidden'],
    ['.gitattributes', ['**'], 'forbidden'],
    // one file to a case-insensitive (macOS) file system, another name to an ASCII-only comparison
    ['src/.gitattribute\u017f', ['src/**'], 'forbidden'],
    ['src/.gitmodule\u017f', ['src/**'], 'forbidden'],
    ['src/server.\u212aey', ['src/**'], 'forbidden'],
    ['src/id_r\u017fa', ['src/**'], 'forbidden'],
    ['src/.en\u200cv', ['src/**'], 'forbidden'],
    ['.github/workflow\u017f/ci.yml', ['.github/**'], 'forbidden'],
    ['src/caf\u00e9.ts', ['src/**'], 'allowed'],
    // run on the operator's machine at the next commit, open or cd; or decide who reviews
    ['.husky/pre-commit', ['**'], 'forbidden'],
    ['.pre-commit-config.yaml', ['**'], 'forbidden'],
    ['lefthook.yml', ['**'], 'forbidden'],
    ['.lfsconfig', ['**'], 'forbidden'],
    ['.github/CODEOWNERS', ['.github/**'], 'forbidden'],
    ['.github/settings.yml', ['.github/**'], 'forbidden'],
    ['.vscode/tasks.json', ['**'], 'forbidden'],
    ['.devcontainer/devcontainer.json', ['**'], 'forbidden'],
    ['src/.envrc', ['src/**'], 'forbidden'],
    ['.github/ISSUE_TEMPLATE/bug.md', ['.github/**'], 'allowed'],
  ])('%s with %j is %s', (path, allowed, expected) => {
    expect(verdict(path, allowed)).toBe(expected);
  });
  it('finds a Kubernetes manifest by its content, and a symlink out of the tree by its target', () => {
    expect(verdict('src/app.yaml', ['src/**'], {}, 'apiVersion: apps/v1\nkind: Deployment\n')).toBe('forbidden');
    expect(verdict('src/app.yaml', ['src/**'], {}, 'name: just config\n')).toBe('allowed');
    expect(verdict('src/secret.json', ['src/**'], {}, '{ "apiVersion": "v1", "kind": "Secret" }')).toBe('forbidden');
    expect(verdict('src/app.yml', ['src/**'], {}, '# padding\n  apiVersion: v1\n  kind: Secret\n')).toBe('forbidden');
    expect(verdict('src/data.json', ['src/**'], {}, '{ "kind": "fruit" }')).toBe('allowed');
    expect(verdict('src/huge.yaml', ['src/**'], {}, TOO_LARGE)).toBe('disallowed');
    expect(verdict('src/a.js', ['src/**'], {}, UNREADABLE)).toBe('disallowed');
    // too large to read for the content checks: refused, a source file as a manifest
    expect(verdict('src/huge.js', ['src/**'], {}, TOO_LARGE)).toBe('disallowed');
    expect(verdict('src/etc', ['src/**'], { link: { target: '/etc', outside: true } })).toBe('disallowed');
    expect(verdict('src/sibling', ['src/**'], { link: { target: 'a.ts', outside: false } })).toBe('allowed');
    // what a link inside the tree reaches is judged as the file it names
    expect(verdict('src/env.txt', ['src/**'], { link: { target: '../.env', outside: false } })).toBe('forbidden');
    expect(verdict('src/ci.yml', ['src/**'], { link: { target: '../.github/workflows/ci.yml', outside: false } })).toBe('forbidden');
    expect(verdict('src/deep/key', ['src/**'], { link: { target: './../../deploy/server.pem', outside: false } })).toBe('forbidden');
    expect(none()).toBeNull();
  });
  it('refuses content that hides code from a reader: a lone CR, an escape sequence, bidi controls (not CRLF)', () => {
    expect(verdict('src/a.js', ['src/**'], {}, 'evil();\r// harmless comment\n')).toBe('disallowed');
    expect(verdict('src/a.js', ['src/**'], {}, 'log("\u001b[2Khidden");\n')).toBe('disallowed');
    expect(verdict('src/a.js', ['src/**'], {}, 'if (role != "user\u202e \u2066// admin\u2069 \u2066") {}\n')).toBe('disallowed');
    expect(verdict('src/a.js', ['src/**'], {}, 'windows();\r\nline();\r\n')).toBe('allowed');
    expect(verdict('src/a.js', ['src/**'], {}, 'const s = "\u05e9\u05dc\u05d5\u05dd";\n')).toBe('allowed');
  });
});

describe('content read for review: UTF-16 with a byte-order mark', () => {
  const bom16 = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
  const bom16be = (s: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(s, 'utf16le').swap16()]);
  const judge = (files: Record<string, Buffer>) =>
    judgePaths(Object.keys(files).map((path) => ({ path, change: 'added' as const })), ['**'], (p) => textForReview(p, files[p]!)).map((v) => v.verdict);

  it('a UTF-16 PowerShell script or resource file with CRLF line ends is allowed (its CRs end lines)', () => {
    expect(judge({ 'scripts/setup.ps1': bom16('Write-Host "hi"\r\nexit 0\r\n'), 'src/App.rc.txt': bom16be('BEGIN\r\nEND\r\n') })).toEqual(['allowed', 'allowed']);
  });

  it('a bidi override or an escape in a UTF-16 source file is found (Trojan Source in C#)', () => {
    expect(judge({ 'src/Access.cs': bom16('bool isAdmin = false;\n/*\u202e } \u2066if (isAdmin)\u2069 */\n'), 'src/a.ps1': bom16be('x\u001b[2Ky\n') })).toEqual(['disallowed', 'disallowed']);
  });

  it('a mark put before UTF-8 text hides nothing of it', () => {
    expect(judge({ 'run.sh': Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('echo ok\u001b[1A\u001b[2Kecho fine\n')]) })).toEqual(['disallowed']);
  });
});
