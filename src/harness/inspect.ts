import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { dirname, isAbsolute, join } from 'node:path';
import { sha256Hex } from '../events/hashing.js';
import { git, gitText } from './git.js';
import type { Worktree } from './worktree.js';

// Facts gathered after the backend exited, without executing or following anything it wrote.

/** What must not move during a run: refs, HEADs, config, hooks and attribute files of the repository. */
export type GitStateSnapshot = Record<string, string>;

/**
 * A digest of what is at a path, a tree by its entries' digests; links are digested as links, never
 * followed. A FIFO, socket or device node is digested by its type and mode, never opened: reading a
 * FIFO the backend planted (in a hook dir or a setup output, where only bubblewrap stops it) would
 * block the harness forever, and a device node could never end.
 */
export function digestOfPath(path: string): string {
  if (!existsSync(path)) return 'absent';
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return `link:${readlinkSync(path)}`;
  if (!st.isDirectory() && !st.isFile()) return `special:${st.mode.toString(8)}:${st.rdev}`;
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

/**
 * The git state, its files digested without git. Given the snapshot taken before the backend ran,
 * git itself is asked (for the refs) only when those files are unchanged: a config the backend
 * rewrote (only possible where the git dir is writable: unshare, none) is not read by the harness's
 * git, which would block on an `include.path` naming a FIFO. The loose refs and packed-refs are
 * digested as files either way.
 */
export async function snapshotGitState(wt: Worktree, before?: GitStateSnapshot): Promise<GitStateSnapshot> {
  const snapshot: GitStateSnapshot = {};
  for (const name of ['HEAD', 'config', 'config.worktree', 'hooks', 'info', 'refs', 'packed-refs', 'modules', 'commondir']) {
    snapshot[`repo/${name}`] = digestOfPath(join(wt.commonDir, name));
  }
  for (const name of ['HEAD', 'config.worktree', 'commondir', 'gitdir']) {
    snapshot[`worktree/${name}`] = digestOfPath(join(wt.gitDir, name));
  }
  snapshot['worktree/.git'] = digestOfPath(join(wt.path, '.git'));
  if (before && changedGitState(before, snapshot).some((key) => key !== 'refs')) {
    snapshot.refs = before.refs!; // not read again; what changed is named already
  } else {
    snapshot.refs = sha256Hex(await gitText(['for-each-ref', '--format=%(refname) %(objectname)'], { gitDir: wt.commonDir }));
  }
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
  /**
   * Why the change cannot be reviewed from its path: a name that is not UTF-8 (every later look by
   * name would miss it), or a directory git does not descend into (a nested repository).
   */
  unreviewable?: string;
};

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A git path as text, or null when its bytes are not UTF-8. */
function utf8(bytes: Buffer): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/** A name that is not UTF-8, shown with its bytes escaped. */
function escapedName(bytes: Buffer): string {
  return JSON.stringify(bytes.toString('latin1')).slice(1, -1).replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

/** Splits git's -z output into entries, keeping each entry's bytes. */
function zEntries(out: Buffer): Buffer[] {
  const entries: Buffer[] = [];
  let start = 0;
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, start)) {
    if (i > start) entries.push(out.subarray(start, i));
    start = i + 1;
  }
  if (start < out.length) entries.push(out.subarray(start));
  return entries;
}

/**
 * Whether a symlink, followed as the filesystem would follow it (every link on the way included),
 * ever steps out of the worktree or into its .git. Text alone cannot say: in `up/../..`, `up` may
 * itself be a link. A step out that comes back in is still out: applied in a checkout of another
 * name, it would not come back. Too many links on the way counts as out.
 */
export function linkLeaves(root: string, linkPath: string): boolean {
  let hops = 0;
  // Follows `target` from `dir` (inside root) as the kernel would: where it lands, or null once a
  // step leaves root, enters a .git (the top one or a deeper one, whose files git neither lists nor
  // patches), or the links on the way go on too long.
  const follow = (dir: string, target: string): string | null => {
    if (++hops > 40 || isAbsolute(target)) return null;
    let here = dir;
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (here === root) return null;
        here = dirname(here);
      } else if (part.toLowerCase() === '.git') {
        return null;
      } else {
        const next = join(here, part);
        const landed = lstatSafe(next)?.isSymbolicLink() ? follow(here, readlinkSync(next)) : next;
        if (landed === null) return null;
        here = landed;
      }
    }
    return here;
  };
  return follow(dirname(linkPath), readlinkSync(linkPath)) === null;
}

/** Files in the tree git reads whole on `status` and `add`, and the largest the harness lets it read. */
const GIT_PATTERN_FILES = new Set(['.gitignore', '.gitattributes', '.gitmodules']);
export const GIT_PATTERN_FILE_CAP = 1 << 20;

/** A file that is neither regular, a directory nor a symlink, found in the tree by specialFiles. */
export type SpecialFile = { path: string; kind: string; bytes: Buffer };

function specialKind(entry: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string | null {
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isSocket()) return 'unix socket';
  if (entry.isCharacterDevice()) return 'character device';
  if (entry.isBlockDevice()) return 'block device';
  return null;
}

/**
 * Every FIFO, socket and device node in the tree, the top `.git` aside, stray `.git` dirs included
 * (`skip`: dirs not to walk, what the setup left). git can carry none of them in a patch, and git
 * itself opens some paths without looking at their type first: a FIFO named `.gitignore` (or
 * `.gitattributes`, `.gitmodules`, or the HEAD of a nested repository) blocks the harness's own
 * `git status` forever. So are the `.gitignore`, `.gitattributes` and `.gitmodules` files over 1 MiB,
 * which git reads whole into its memory, outside the backend's caps. Found by exact bytes (`bytes`: the path relative to root), so the caller can
 * remove them before any git call looks at the tree; `path` is for showing.
 */
export function specialFiles(root: string, skip: readonly string[] = []): SpecialFile[] {
  const found: SpecialFile[] = [];
  const skipped = new Set(skip.map((p) => Buffer.from(p).toString('latin1')));
  const walk = (dir: Buffer, rel: Buffer | null) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      return; // named by strayGitEntries
    }
    for (const entry of entries) {
      const name = entry.name as unknown as Buffer;
      if (rel === null && name.equals(Buffer.from('.git'))) continue;
      const abs = Buffer.concat([dir, Buffer.from('/'), name]);
      const path = rel === null ? name : Buffer.concat([rel, Buffer.from('/'), name]);
      let kind = specialKind(entry);
      if (!kind && entry.isFile() && GIT_PATTERN_FILES.has(name.toString('latin1'))) {
        // git reads these whole into memory, outside the backend's caps: a sparse one of 20 GB costs
        // the backend nothing and the harness's git 20 GB
        let size = 0;
        try {
          size = lstatSync(abs).size;
        } catch {
          // gone: nothing for git to read
        }
        if (size > GIT_PATTERN_FILE_CAP) kind = `${name.toString('latin1')} of ${size} bytes (over ${GIT_PATTERN_FILE_CAP}), which git would read whole`;
      }
      if (kind) found.push({ path: utf8(path) ?? escapedName(path), kind, bytes: path });
      else if (entry.isDirectory() && !skipped.has(abs.toString('latin1'))) walk(abs, path);
    }
  };
  walk(Buffer.from(root), null);
  return found;
}

/** What the walk below finds that git neither lists nor patches, or that the harness could not look into. */
export type StrayEntry = { path: string; kind: 'git' | 'unwalkable'; why: string };

/**
 * Every `.git` below the worktree's own, whatever its case and whether it is a directory or a file:
 * git neither lists nor patches what is under one, so a backend could keep files there that the
 * validation uses and the patch never carries. A directory the walk cannot read (nested past
 * PATH_MAX, say) is named too, never thrown: a throw here would leave the run without evidence.
 * `skip`: dirs not to walk (what the setup left).
 */
export function strayGitEntries(root: string, skip: readonly string[] = []): StrayEntry[] {
  const found: StrayEntry[] = [];
  const skipped = new Set(skip);
  const walk = (dir: string, rel: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      found.push({ path: rel, kind: 'unwalkable', why: `a directory the harness could not look into (${(err as NodeJS.ErrnoException).code ?? 'error'}): what is under it is neither judged nor known to be in the patch` });
      return;
    }
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && entry.name === '.git') continue;
      if (entry.name.toLowerCase() === '.git') found.push({ path, kind: 'git', why: 'a .git inside the tree: git neither lists nor patches what is under it' });
      else if (entry.isDirectory() && !skipped.has(join(dir, entry.name))) walk(join(dir, entry.name), path);
    }
  };
  walk(root, '');
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Submodule paths (gitlinks, mode 160000) of the base that hold anything in the worktree. A fresh
 * worktree leaves them empty; what a backend puts there is listed by neither `git status` nor
 * `git add` (it is the submodule's), so the validation could use files the patch never carries.
 */
export async function filledSubmodulePaths(wt: Worktree, baseCommit: string): Promise<string[]> {
  // From the base commit's tree, not the worktree's index, which a backend could edit where it is writable.
  const out = (await git(['ls-tree', '-r', '-z', '--full-tree', baseCommit], { gitDir: wt.gitDir, workTree: wt.path })).stdout;
  const filled: string[] = [];
  for (const entry of zEntries(out)) {
    const tab = entry.indexOf(9);
    if (tab < 0 || !entry.subarray(0, 7).equals(Buffer.from('160000 '))) continue;
    const name = entry.subarray(tab + 1).toString('utf8');
    const st = lstatSafe(join(wt.path, name));
    let holds = false;
    try {
      holds = !!st?.isDirectory() && readdirSync(join(wt.path, name)).length > 0;
    } catch {
      holds = true;
    }
    if (holds) filled.push(name);
  }
  return filled;
}

/**
 * Every path that differs from the base commit, untracked and ignored included, by exact bytes.
 * Compared against a private index read from the base, never the worktree's own: where the git dir is
 * writable (unshare, none), a backend could mark a file `--skip-worktree` or `--assume-unchanged` in
 * that index, and its change would go unlisted and unjudged while `git add -A` still put it in the patch.
 */
export async function changedPaths(wt: Worktree, baseCommit: string): Promise<ChangedPath[]> {
  const scratch = join(wt.scratch, 'status-index');
  mkdirSync(scratch, { recursive: true });
  const index = join(scratch, 'index');
  rmSync(index, { force: true });
  const opts = { gitDir: wt.gitDir, workTree: wt.path, env: { GIT_INDEX_FILE: index } };
  await git(['read-tree', baseCommit], opts);
  const out = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored=matching', '--no-renames'], opts);
  const paths: ChangedPath[] = [];
  for (const raw of zEntries(out.stdout)) {
    const code = raw.subarray(0, 2).toString('latin1');
    const name = utf8(raw.subarray(3));
    const change: ChangedPath['change'] =
      code === '!!' ? 'ignored' : code === '??' || code.includes('A') ? 'added' : code.includes('D') ? 'deleted' : code.includes('T') ? 'type-changed' : 'modified';
    if (name === null) {
      // Shown with its bytes escaped; never looked up by name, which would find another file or none.
      paths.push({ path: escapedName(raw.subarray(3)), change, unreviewable: 'a file name that is not UTF-8' });
      continue;
    }
    const item: ChangedPath = { path: name, change };
    if (/[\u0000-\u001f\u007f]/.test(name)) item.unreviewable = 'a file name with control characters (a line break, an escape sequence)';
    const abs = join(wt.path, name);
    const st = lstatSafe(abs);
    if (st?.isSymbolicLink()) {
      item.link = { target: readlinkSync(abs), outside: linkLeaves(wt.path, abs) };
    } else if (!item.unreviewable && change !== 'ignored' && (name.endsWith('/') || st?.isDirectory())) {
      // With --untracked-files=all git lists a directory, not its files, only when it holds a
      // repository of its own (a gitlink). Ignored dirs are listed whole: not-captured, not this.
      item.unreviewable = 'a nested git repository: its files are neither judged nor carried by the patch';
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

/** Names a reviewer reads as text (source, scripts, configuration, documents). */
const TEXT_NAME = /(^|\/)(Makefile|Dockerfile|Gemfile|Rakefile|Vagrantfile|Procfile|Jenkinsfile)$|\.(c|cc|cpp|cxx|h|hh|hpp|cs|css|scss|less|js|cjs|mjs|jsx|ts|cts|mts|tsx|vue|svelte|go|java|kt|kts|scala|groovy|gradle|clj|cljs|ex|exs|erl|hs|ml|fs|dart|swift|m|mm|rs|rb|py|pyi|pyx|pl|pm|php|lua|r|jl|sh|bash|zsh|fish|ps1|psm1|bat|cmd|sql|html?|xml|svg|json|jsonc|ya?ml|toml|ini|cfg|conf|properties|env|md|rst|txt|csv|tsv|tf|nix|proto|graphql|lock)$/i;

/**
 * Binary as git would call it (a NUL in the first 8000 bytes), unless a reviewer would take it for
 * text: valid UTF-8, a name of a source or text kind, or a script's `#!`. A source file with one NUL
 * in a comment still runs (Node takes NULs and invalid bytes in comments alike), and shown as a
 * base85 "GIT binary patch" its code would never be read. `git apply` takes a text patch of any bytes.
 */
export function looksBinary(name: string, bytes: Buffer): boolean {
  if (!bytes.subarray(0, 8000).includes(0)) return false;
  return !(isUtf8(bytes) || TEXT_NAME.test(name) || (bytes[0] === 0x23 && bytes[1] === 0x21));
}

/**
 * A changed file's text as the checks on content read it, null when it looks binary. A file opening
 * with a UTF-16 byte-order mark (what PowerShell 5, Visual Studio and Windows editors write, and what
 * C# and PowerShell read) is read as UTF-16 too: as UTF-8 alone its CRLF line ends were lone CRs, and
 * its bidi controls (Trojan Source) were no bidi controls at all. The UTF-8 reading, NULs left out, is
 * kept beside it, so a mark put before other bytes hides nothing either.
 */
export function textForReview(name: string, bytes: Buffer): string | null {
  if (looksBinary(name, bytes)) return null;
  const le = bytes[0] === 0xff && bytes[1] === 0xfe;
  const be = bytes[0] === 0xfe && bytes[1] === 0xff;
  if (!le && !be) return bytes.toString('utf8');
  const units = Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1)));
  if (be) units.swap16();
  return `${units.toString('utf16le')}\n${bytes.toString('utf8').replace(/\0/g, '')}`;
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
    const isBinary = st === null || (st.isFile() && looksBinary(name, readFileSync(abs)));
    (isBinary ? binary : text).push(name);
  }
  const common = ['diff', '--cached', '--full-index', '--no-renames', '--no-ext-diff', '--no-textconv', '--no-color', baseCommit];
  const parts: Buffer[] = [];
  if (text.length) parts.push((await git([...common.slice(0, 1), '--text', ...common.slice(1), '--', ...text], opts)).stdout);
  if (binary.length) parts.push((await git([...common.slice(0, 1), '--binary', ...common.slice(1), '--', ...binary], opts)).stdout);
  return Buffer.concat(parts);
}
