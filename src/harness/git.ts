import { execFile } from 'node:child_process';
import { StoreUnavailable } from '../errors.js';

// Every git call the harness makes on a tree an agent has touched: repository config cannot run code
// (hooks, fsmonitor, external diff, pager, attributes file off), no global or system config, no prompts.
const HARDENING = [
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'core.untrackedCache=false',
  '-c', 'core.pager=cat',
  '-c', 'core.attributesFile=/dev/null',
  '-c', 'core.sshCommand=false',
  '-c', 'diff.external=',
  '-c', 'credential.helper=',
  '-c', 'protocol.allow=never',
];

const BASE_ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/nonexistent',
  LANG: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
  GIT_LITERAL_PATHSPECS: '1',
};

export type GitOptions = {
  /** The real git dir, named explicitly: a `.git` file in the tree is never trusted. */
  gitDir: string;
  workTree?: string;
  env?: Record<string, string>;
  /** Exit codes that are answers, not failures (e.g. 1 from `diff --quiet`). */
  okCodes?: number[];
  /** Killed past this (default GIT_TIMEOUT_MS): a git call that never returns would leave the run executing. */
  timeoutMs?: number;
};

/** Far beyond any git call on a tree the harness takes (a 5,000-file status is under a second). */
export const GIT_TIMEOUT_MS = 10 * 60_000;

export function git(args: string[], options: GitOptions): Promise<{ stdout: Buffer; code: number }> {
  const timeout = options.timeoutMs ?? GIT_TIMEOUT_MS;
  const argv = [...HARDENING, `--git-dir=${options.gitDir}`, ...(options.workTree ? [`--work-tree=${options.workTree}`] : []), ...args];
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      argv,
      { env: { ...BASE_ENV, ...options.env }, encoding: 'buffer', maxBuffer: 1 << 30, cwd: options.workTree ?? options.gitDir, timeout, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (error?.killed && error.signal === 'SIGKILL') {
          reject(new StoreUnavailable(`git ${args.slice(0, 2).join(' ')} did not finish within ${timeout / 1000} s and was killed`));
        } else if (code !== 0 && !(options.okCodes ?? []).includes(code)) {
          reject(new StoreUnavailable(`git ${args.slice(0, 2).join(' ')} failed (${code}): ${stderr.toString().trim().split('\n')[0]}`));
        } else resolve({ stdout, code });
      },
    );
  });
}

export async function gitText(args: string[], options: GitOptions): Promise<string> {
  return (await git(args, options)).stdout.toString('utf8').trim();
}
