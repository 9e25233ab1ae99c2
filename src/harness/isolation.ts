import { spawnSync } from 'node:child_process';
import { BadInput } from '../errors.js';

export type IsolationKind = 'bubblewrap' | 'unshare' | 'none';

const STRENGTH: Record<IsolationKind, number> = { none: 0, unshare: 1, bubblewrap: 2 };
let probed: { kind: IsolationKind; detail: string } | null = null;

function probe(): { kind: IsolationKind; detail: string } {
  const bwrap = spawnSync('bwrap', ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'], {
    stdio: 'pipe',
    timeout: 5_000,
  });
  if (bwrap.status === 0) return { kind: 'bubblewrap', detail: 'bwrap: no network, own PID namespace, read-only root' };
  const unshare = spawnSync('unshare', ['--net', '--pid', '--fork', '--kill-child', 'true'], { stdio: 'pipe', timeout: 5_000 });
  if (unshare.status === 0) return { kind: 'unshare', detail: 'unshare: no network, own PID namespace (bwrap unavailable; the filesystem is not read-only)' };
  const why = bwrap.error ? bwrap.error.message : String(bwrap.stderr).trim();
  return { kind: 'none', detail: `neither bwrap nor unshare works here (${why})` };
}

/**
 * Which isolation this machine can give right now: tried for real once per process, not guessed from
 * the PATH. `CTO_ISOLATION` may lower it (never raise it), for machines where a sandbox misbehaves.
 */
export function detectIsolation(): { kind: IsolationKind; detail: string } {
  probed ??= probe();
  const wanted = (process.env.CTO_ISOLATION || undefined) as IsolationKind | undefined;
  if (wanted !== undefined && !(wanted in STRENGTH)) {
    throw new BadInput(`CTO_ISOLATION must be one of ${Object.keys(STRENGTH).join(', ')}, got ${JSON.stringify(wanted)}`);
  }
  if (wanted && wanted in STRENGTH && STRENGTH[wanted] < STRENGTH[probed.kind]) {
    return { kind: wanted, detail: `lowered to ${wanted} by CTO_ISOLATION (the machine offers ${probed.kind})` };
  }
  return probed;
}
