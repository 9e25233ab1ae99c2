import { spawnSync } from 'node:child_process';

export type IsolationKind = 'bubblewrap' | 'unshare' | 'none';

/** Which isolation this machine can give right now: tried for real, not guessed from the PATH. */
export function detectIsolation(): { kind: IsolationKind; detail: string } {
  const bwrap = spawnSync('bwrap', ['--unshare-all', '--die-with-parent', '--new-session', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'], {
    stdio: 'pipe',
    timeout: 5_000,
  });
  if (bwrap.status === 0) return { kind: 'bubblewrap', detail: 'bwrap: no network, own PID namespace, read-only root' };
  const unshare = spawnSync('unshare', ['--net', '--pid', '--fork', '--kill-child', 'true'], { stdio: 'pipe', timeout: 5_000 });
  if (unshare.status === 0) return { kind: 'unshare', detail: 'unshare: no network, own PID namespace (bwrap unavailable)' };
  const why = bwrap.error ? bwrap.error.message : String(bwrap.stderr).trim();
  return { kind: 'none', detail: `neither bwrap nor unshare works here (${why})` };
}
