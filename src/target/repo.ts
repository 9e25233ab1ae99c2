import { existsSync, realpathSync, statSync } from 'node:fs';
import { simpleGit, type SimpleGit } from 'simple-git';
import { BadInput } from '../errors.js';

/** Facts about a git repository, read at the edge and handed to the pure deciders. */
export type RepoFacts = {
  /** Absolute, symlink-resolved top-level path of the working tree. */
  path: string;
  rootCommit: string;
  head: string;
  remoteUrl: string | null;
  /** `git status --porcelain` lines, untracked included; empty when clean. */
  dirty: string[];
  /** A shallow clone: its "root" is only the cut, and moves when it is deepened. */
  shallow?: boolean;
};

// Repository config can run code on our git calls (THREATS.md 1): switch off what git would execute.
const HARDENED_CONFIG = ['core.fsmonitor=false', 'core.hooksPath=/dev/null', 'core.pager=cat', 'diff.external=', 'core.untrackedCache=false'];

/** An allowlisted environment: no GIT_* overrides, editors, pagers or askpass helpers reach git. */
function cleanGitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/**
 * How long a git call reading a target may go silent before it is killed: a FIFO the repository's config
 * names (`include.path`, which a backend run under `unshare` or `none` can plant) or a hung mount
 * blocked git, and with it `status`, `approve` and `contract admit`, for good. `CTO_GIT_TIMEOUT_SECONDS`
 * gives a huge repository on a slow disk longer.
 */
function gitSilenceSeconds(): number {
  const fromEnv = Number(process.env.CTO_GIT_TIMEOUT_SECONDS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 60;
}

export function hardenedGit(dir: string): SimpleGit {
  // simple-git refuses these keys whatever their value; ours only switch the machinery off.
  const unsafe = { allowUnsafeFsMonitor: true, allowUnsafeHooksPath: true, allowUnsafePager: true, allowUnsafeDiffExternal: true };
  return simpleGit({ baseDir: dir, config: HARDENED_CONFIG, trimmed: true, unsafe, timeout: { block: gitSilenceSeconds() * 1000 } }).env(cleanGitEnv());
}

/** Whether git was killed for going silent past gitSilenceSeconds (simple-git's timeout plugin). */
function gitStalled(err: unknown): boolean {
  return /block timeout reached/.test(String((err as Error | null)?.message ?? ''));
}

/**
 * git itself cannot be started (not on PATH, not executable): nothing can be said about any repository.
 * Read as "no repository there", it was recorded on runs as a refusal (`target-admission-stale`: "moved
 * or deleted?") and admitting a target said "not a git repository".
 */
export class GitUnavailable extends Error {
  override readonly name = 'GitUnavailable';
}

/**
 * A repository git refuses to read as this user (`dubious ownership`: it belongs to another; permission
 * denied). It is there: read as "moved or deleted?", an approve by a second operator recorded that.
 */
export class RepoRefusedByGit extends BadInput {}

/**
 * For callers to whom a path with no usable repository is a fact (null): git that cannot run, or that
 * refuses this user the repository, says nothing of what is at the path.
 */
export function noRepository(err: unknown): null {
  if (err instanceof GitUnavailable || err instanceof RepoRefusedByGit) throw err;
  return null;
}

/** Reads a repository's identity and state; a path that is no git repository is bad input naming it. */
export async function inspectRepo(path: string): Promise<RepoFacts> {
  try {
    return await readRepo(path);
  } catch (err) {
    if (!gitStalled(err)) throw err;
    throw new GitUnavailable(
      `git gave no answer on ${path} for ${gitSilenceSeconds()} s and was stopped (a FIFO or a hung mount named in its config or git dir?); CTO_GIT_TIMEOUT_SECONDS gives it longer. Nothing was recorded`,
    );
  }
}

async function readRepo(path: string): Promise<RepoFacts> {
  if (!existsSync(path)) throw new BadInput(`${path}: no such directory`);
  if (!statSync(path).isDirectory()) throw new BadInput(`${path}: a file, not a repository directory`);
  const dir = realpathSync(path);
  // git prints paths one a line: a newline in one would be read as two (".../nl" for ".../nl\nx").
  if (/[\u0000-\u001f\u007f]/.test(dir)) throw new BadInput(`${JSON.stringify(dir)}: a repository path holding a newline or another control character cannot be admitted; rename it`);
  const git = hardenedGit(dir);
  let top: string;
  try {
    top = await git.revparse(['--show-toplevel']);
  } catch (err) {
    if (gitStalled(err)) throw err;
    const spawnFailed = /spawn (\S+) (ENOENT|EACCES)/.exec(String((err as Error).message ?? ''));
    if (spawnFailed) throw new GitUnavailable(`git cannot be run (spawn ${spawnFailed[1]} ${spawnFailed[2]}): cto-ledger reads target repositories with git; put it on PATH. Nothing was recorded`);
    // git's own reason when it is not the plain one (another user's repository, no permission).
    const why = String((err as Error).message ?? '').split('\n').find((l) => /dubious ownership|[Pp]ermission denied/.test(l));
    if (why) throw new RepoRefusedByGit(`${path} is not a git repository git can use here (${why.replace(/^fatal: /, '').trim()})`);
    // A bare repository, or a repository's own git dir, is a git repository: "not one" sent people looking elsewhere.
    const [bare, inGitDir] = (await git.revparse(['--is-bare-repository', '--is-inside-git-dir']).catch(() => '')).split('\n');
    if (bare === 'true') throw new BadInput(`${path} is a bare git repository: it has no working tree to work in; admit a clone of it`);
    if (inGitDir === 'true') throw new BadInput(`${path} lies in a git repository's git dir: admit its working tree, the directory that holds the .git`);
    throw new BadInput(`${path} is not a git repository`);
  }
  if (realpathSync(top) !== dir) throw new BadInput(`${path} is inside the git repository ${top}: give its top level`);
  // A linked worktree shares its repository's git dir: admitted under an id of its own, revoking the
  // repository would not stop work on it (and the harness's worktrees are made from the main one).
  const [gitDir, commonDir] = (await git.raw(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'])).split('\n').filter(Boolean);
  if (gitDir && commonDir && realpathSync(gitDir) !== realpathSync(commonDir)) {
    throw new BadInput(`${path} is a linked worktree of the repository whose git dir is ${commonDir}: admit that repository itself`);
  }
  let head: string;
  try {
    head = await git.revparse(['--verify', 'HEAD^{commit}']);
  } catch {
    throw new BadInput(`${path} has no commits yet`);
  }
  const roots = (await git.raw(['rev-list', '--max-parents=0', 'HEAD'])).split('\n').filter(Boolean).sort();
  const shallow = (await git.raw(['rev-parse', '--is-shallow-repository'])).trim() === 'true';
  const remotes = await git.getRemotes(true);
  const origin = remotes.find((r) => r.name === 'origin') ?? remotes[0];
  const status = await git.raw(['status', '--porcelain=v1', '--untracked-files=all', '--ignore-submodules=none']);
  return {
    path: dir,
    rootCommit: roots[0]!,
    head,
    remoteUrl: origin ? origin.refs.fetch || null : null,
    dirty: status.split('\n').filter(Boolean),
    shallow,
  };
}

/**
 * The branch HEAD names when that branch has no commits yet (`git checkout --orphan x`), for a
 * repository whose top level is `path`; null otherwise. inspectRepo fails there ("no commits"), which
 * read as no repository at the path at all.
 */
export async function unbornBranch(path: string): Promise<string | null> {
  try {
    const dir = realpathSync(path);
    const git = hardenedGit(dir);
    if (realpathSync(await git.revparse(['--show-toplevel'])) !== dir) return null;
    const ref = (await git.raw(['symbolic-ref', '-q', 'HEAD'])).trim();
    if (!ref.startsWith('refs/heads/')) return null;
    // git exits 1 printing nothing for a ref with no commit, which simple-git does not treat as failure.
    const commit = (await git.raw(['rev-parse', '--verify', '-q', `${ref}^{commit}`]).catch(() => '')).trim();
    return commit ? null : ref.slice('refs/heads/'.length);
  } catch {
    return null;
  }
}
