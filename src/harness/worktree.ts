import { accessSync, constants, mkdtempSync, readdirSync, realpathSync, renameSync, rmdirSync, statfsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { BadInput } from '../errors.js';
import { git, gitText } from './git.js';
import { markerLiveness, writeMarker } from './liveness.js';

export type Worktree = {
  /** The linked worktree: the only place the backend may write. */
  path: string;
  /** The operator's repository git dir (shared objects, refs, config, hooks). */
  commonDir: string;
  /** This worktree's own admin dir inside commonDir (HEAD, index). */
  gitDir: string;
  /** A private scratch dir beside the worktree for the harness (patch index, run files). */
  scratch: string;
};

/** The git dir of a repository's main checkout, found without trusting anything a backend wrote. */
export async function repoGitDir(repoPath: string): Promise<string> {
  return realpathSync(await gitText(['rev-parse', '--absolute-git-dir'], { gitDir: join(repoPath, '.git'), workTree: repoPath }));
}

/** Free space a RAM-backed scratch dir must have before a run's checkout goes there. */
const RAM_SCRATCH_MIN_FREE = 4 * 1024 ** 3;

/**
 * Where run scratch dirs (the worktree's checkout) go: `CTO_SCRATCH_DIR` when set; else /dev/shm when it
 * is a writable tmpfs with room to spare, since checking out thousands of files to a disk is most of
 * the harness's own time (0.76 s instead of 2.2 s for 5,000 files here, once the disk throttles); else
 * the system temp dir. Evidence goes to the ledger, on disk, either way.
 */
export function scratchBase(): string {
  const chosen = process.env.CTO_SCRATCH_DIR;
  if (chosen) return chosen;
  try {
    const shm = '/dev/shm';
    accessSync(shm, constants.W_OK);
    const fs = statfsSync(shm);
    const TMPFS_MAGIC = 0x01021994;
    if (statSync(shm).isDirectory() && fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= RAM_SCRATCH_MIN_FREE) return shm;
  } catch {
    // no usable /dev/shm
  }
  return tmpdir();
}

const SCRATCH_ERRORS = new Map([
  ['ENOENT', 'no such directory'],
  ['ENOTDIR', 'not a directory'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EROFS', 'a read-only file system'],
  ['ENOSPC', 'no space left'],
]);

/**
 * Checks, before the approval is spent, that a run's dirs can be made where they go: its worktree where
 * scratchBase() says, the backend's stdin copy and network proxy socket in the system temp dir. A
 * CTO_SCRATCH_DIR or TMPDIR naming no writable dir, a typo say, failed at mkdtemp after the claim, and a
 * run failed closed so can only be rejected. One of each is made and removed: what any run would do.
 */
export function checkScratchDirs(): void {
  const base = scratchBase();
  const temp = 'the system temp dir (TMPDIR)';
  const dirs: Array<[string, string, string]> = [[base, process.env.CTO_SCRATCH_DIR ? 'CTO_SCRATCH_DIR' : temp, "the run's worktree"]];
  if (tmpdir() !== base) dirs.push([tmpdir(), temp, "the backend's stdin and network proxy"]);
  for (const [dir, from, what] of dirs) {
    try {
      rmdirSync(mkdtempSync(join(dir, 'cto-scratch-check-')));
    } catch (err) {
      const { code } = err as NodeJS.ErrnoException;
      const why = (code && SCRATCH_ERRORS.get(code)) ?? (err as Error).message;
      throw new BadInput(`${from} ${dir} cannot hold ${what} (${why}): name an existing, writable dir; nothing was recorded`);
    }
  }
}

/** Adds a detached linked worktree at `baseCommit` in a fresh temp dir; hooks cannot run (hardened git). */
export async function createWorktree(repoPath: string, baseCommit: string, runId: string): Promise<Worktree> {
  const commonDir = await repoGitDir(repoPath);
  const base = scratchBase();
  sweepAbandoned(base);
  const scratch = realpathSync(mkdtempSync(join(base, `cto-run-${runId}-`)));
  writeMarker(join(scratch, OWNER));
  // git names the admin dir after the worktree's basename: a per-run name keeps concurrent runs apart.
  const path = join(scratch, `cto-${runId}`);
  // Parallel checkout: on a large target the checkout is most of the harness's own time.
  await git(['-c', 'checkout.workers=0', 'worktree', 'add', '--detach', path, baseCommit], { gitDir: commonDir, workTree: repoPath });
  // Asked once, now, while the worktree's .git file is still the one git just wrote.
  const gitDir = realpathSync(await gitText(['rev-parse', '--absolute-git-dir'], { gitDir: join(path, '.git'), workTree: path }));
  return { path, commonDir, gitDir, scratch };
}

/**
 * Deletes a tree in the background. Node's rm walks by full path and gives up (ENAMETOOLONG) on a
 * tree a backend nested past PATH_MAX, or (not as root) on a directory it made unreadable, which
 * would then hold /dev/shm until a reboot, every later sweep failing on it too: chmod(1) and rm(1)
 * walk by descriptor and handle any depth.
 */
function removeTree(path: string): Promise<void> {
  const run = (argv: string[]) => new Promise<void>((resolve) => execFile(argv[0]!, argv.slice(1), () => resolve()));
  // A directory the backend made unreadable (chmod 000) stops both for a non-root harness: opened up first.
  return rm(path, { recursive: true, force: true }).catch(async () => {
    await run(['chmod', '-R', 'u+rwX', '--', path]);
    await run(['rm', '-rf', '--one-file-system', '--', path]);
  });
}

/** The marker naming the harness process a scratch dir belongs to. */
const OWNER = 'owner.json';

/**
 * Deletes, in the background, scratch dirs no live harness owns: worktrees moved aside for deletion by
 * a process that ended first (a test runner's worker), and those of a harness that was killed. On
 * /dev/shm they would hold memory until a reboot. (Their registration in the repository goes with
 * the next `git worktree prune` there.)
 */
function sweepAbandoned(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base).filter((name) => name.startsWith('cto-run-'));
  } catch {
    return;
  }
  for (const name of names) {
    const abandoned = name.endsWith('.removed') || markerLiveness(join(base, name, OWNER)) === 'gone';
    if (abandoned) void removeTree(join(base, name));
  }
}

/**
 * Unregisters and deletes the worktree. The files are moved aside at once (a rename) and deleted in the
 * background: the run's result does not wait on the disk, and the process still finishes the deletion.
 */
export async function removeWorktree(repoPath: string, wt: Worktree, options: { prune?: boolean; wait?: boolean } = {}): Promise<void> {
  const trash = `${wt.scratch}.removed`;
  let moved = true;
  try {
    renameSync(wt.scratch, trash);
  } catch {
    moved = false;
    await removeTree(wt.scratch);
  }
  // Not on a repository whose git state the run changed (its config could block or run code on git's read).
  if (options.prune !== false) await git(['worktree', 'prune'], { gitDir: wt.commonDir, workTree: repoPath }).catch(() => undefined);
  // `wait`: the process is about to exit (the operator's Ctrl-C), which would cut the deletion short.
  if (moved) {
    if (options.wait) await removeTree(trash);
    else void removeTree(trash);
  }
}
