import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { sha256Hex } from '../events/hashing.js';
import { git, gitText } from './git.js';
import type { Worktree } from './worktree.js';

// Facts gathered after the backend exited, without executing or following anything it wrote.

/** What must not move during a run: refs, HEADs, config, hooks and attribute files of the repository. */
export type GitStateSnapshot = Record<string, string>;

function digestOfPath(path: string): string {
  if (!existsSync(path)) return 'absent';
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return `link:${readlinkSync(path)}`;
  if (st.isDirectory()) {
    return sha256Hex(
      readdirSync(path)
        .sort()
        .map((name) => `${name}=${digestOfPath(join(path, name))}`)
        .join('\n'),
    );
  }
  return `${st.mode.toString(8)}:${sha256Hex(readFileSync(path))}`;
}

export async function snapshotGitState(wt: Worktree): Promise<GitStateSnapshot> {
  const refs = await gitText(['for-each-ref', '--format=%(refname) %(objectname)'], { gitDir: wt.commonDir });
  const snapshot: GitStateSnapshot = { refs: sha256Hex(refs) };
  for (const name of ['HEAD', 'config', 'config.worktree', 'hooks', 'info', 'packed-refs', 'modules', 'commondir']) {
    snapshot[`repo/${name}`] = digestOfPath(join(wt.commonDir, name));
  }
  for (const name of ['HEAD', 'config.worktree', 'commondir', 'gitdir']) {
    snapshot[`worktree/${name}`] = digestOfPath(join(wt.gitDir, name));
  }
  snapshot['worktree/.git'] = digestOfPath(join(wt.path, '.git'));
  return snapshot;
}

export function changedGitState(before: GitStateSnapshot, after: GitStateSnapshot): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort();
}

export type ChangedPath = {
  path: string;
  change: 'modified' | 'added' | 'deleted' | 'type-changed' | 'ignored';
  /** A symlink's target when the path is one, and whether it leaves the worktree. */
  link?: { target: string; outside: boolean };
};

/** Every path that differs from the base commit, untracked and ignored included, by exact bytes. */
export async function changedPaths(wt: Worktree): Promise<ChangedPath[]> {
  const out = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored=matching', '--no-renames'], {
    gitDir: wt.gitDir,
    workTree: wt.path,
  });
  const entries = out.stdout.toString('utf8').split('\0').filter(Boolean);
  const paths: ChangedPath[] = [];
  for (const entry of entries) {
    const code = entry.slice(0, 2);
    const path = entry.slice(3);
    const change: ChangedPath['change'] =
      code === '!!' ? 'ignored' : code === '??' || code.includes('A') ? 'added' : code.includes('D') ? 'deleted' : code.includes('T') ? 'type-changed' : 'modified';
    const item: ChangedPath = { path, change };
    const abs = join(wt.path, path);
    {
      const st = lstatSafe(abs);
      if (st?.isSymbolicLink()) {
        const target = readlinkSync(abs);
        const resolved = isAbsolute(target) ? target : resolve(dirname(abs), target);
        const rel = relative(wt.path, resolved);
        item.link = { target, outside: isAbsolute(target) || rel.startsWith('..') || rel === '.git' || rel.startsWith('.git/') };
      }
    }
    paths.push(item);
  }
  return paths.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function looksBinary(bytes: Buffer): boolean {
  return bytes.subarray(0, 8000).includes(0);
}

/**
 * The patch: every tracked and untracked change against the base, binary-safe, staged in a private
 * index and object dir so the repository is not written. Text files are diffed as text whatever the
 * tree's attributes say (a `-diff` attribute cannot hide a change from review).
 */
export async function makePatch(wt: Worktree, baseCommit: string): Promise<Buffer> {
  const scratch = join(wt.scratch, 'patch-index');
  mkdirSync(join(scratch, 'objects'), { recursive: true });
  const env = {
    GIT_INDEX_FILE: join(scratch, 'index'),
    GIT_OBJECT_DIRECTORY: join(scratch, 'objects'),
    GIT_ALTERNATE_OBJECT_DIRECTORIES: join(wt.commonDir, 'objects'),
  };
  const opts = { gitDir: wt.gitDir, workTree: wt.path, env };
  await git(['read-tree', baseCommit], opts);
  await git(['add', '-A', '--', '.'], { ...opts, env: { ...env, GIT_LITERAL_PATHSPECS: '0' } });
  const names = (await git(['diff', '--cached', '--name-only', '-z', '--no-renames', baseCommit], opts)).stdout
    .toString('utf8')
    .split('\0')
    .filter(Boolean);
  const text: string[] = [];
  const binary: string[] = [];
  for (const name of names) {
    const abs = join(wt.path, name);
    const st = lstatSafe(abs);
    // A deleted file goes with the binary set: --binary still shows text deletions as text.
    const isBinary = st === null || (st.isFile() && looksBinary(readFileSync(abs)));
    (isBinary ? binary : text).push(name);
  }
  const common = ['diff', '--cached', '--full-index', '--no-renames', '--no-ext-diff', '--no-textconv', '--no-color', baseCommit];
  const parts: Buffer[] = [];
  if (text.length) parts.push((await git([...common.slice(0, 1), '--text', ...common.slice(1), '--', ...text], opts)).stdout);
  if (binary.length) parts.push((await git([...common.slice(0, 1), '--binary', ...common.slice(1), '--', ...binary], opts)).stdout);
  return Buffer.concat(parts);
}
