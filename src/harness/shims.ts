import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readCapped } from './evidence.js';
import { join } from 'node:path';

// PATH shims: a record of attempted forbidden actions, refused. Not the boundary (THREATS.md 17):
// the outcome checks after the run are; a shim only makes the attempt visible in the trace.

type ShimRule = { name: string; refuse: 'all' | string[] };

const RULES: ShimRule[] = [
  { name: 'git', refuse: ['push', 'merge', 'commit', 'tag', 'remote', 'rebase', 'am', 'cherry-pick', 'revert', 'reset', 'update-ref', 'filter-branch', 'filter-repo', 'send-email', 'request-pull', 'fetch', 'pull', 'clone', 'submodule', 'worktree', 'credential', 'notes', 'replace'] },
  { name: 'gh', refuse: 'all' },
  { name: 'hub', refuse: 'all' },
  { name: 'glab', refuse: 'all' },
  { name: 'npm', refuse: ['publish', 'unpublish', 'deprecate', 'dist-tag', 'owner', 'access', 'token', 'adduser', 'login', 'logout', 'team', 'org', 'star', 'hook'] },
  { name: 'yarn', refuse: ['publish', 'npm', 'login', 'logout', 'tag', 'owner', 'team'] },
  { name: 'pnpm', refuse: ['publish', 'login', 'logout', 'dist-tag'] },
  { name: 'twine', refuse: 'all' },
  { name: 'cargo', refuse: ['publish', 'login', 'owner', 'yank'] },
  { name: 'docker', refuse: ['push', 'login', 'logout', 'run', 'exec', 'compose', 'stack', 'service', 'swarm', 'context'] },
  { name: 'podman', refuse: ['push', 'login', 'run', 'exec'] },
  { name: 'kubectl', refuse: 'all' },
  { name: 'helm', refuse: 'all' },
  { name: 'terraform', refuse: 'all' },
  { name: 'tofu', refuse: 'all' },
  { name: 'pulumi', refuse: 'all' },
  { name: 'aws', refuse: 'all' },
  { name: 'gcloud', refuse: 'all' },
  { name: 'az', refuse: 'all' },
  { name: 'ssh', refuse: 'all' },
  { name: 'scp', refuse: 'all' },
  { name: 'rsync', refuse: 'all' },
];

export const SHIM_LOG = 'attempts.log';

function script(rule: ShimRule, real: string | null): string {
  const refuseAll = rule.refuse === 'all';
  const list = refuseAll ? '' : (rule.refuse as string[]).join('|');
  return `#!/bin/sh
# cto-ledger shim for ${rule.name}: records the call; refuses forbidden actions.
sub=""
skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in
    -c|-C|--git-dir|--work-tree|--namespace|--exec-path|--prefix|-f|--file|--context|--kubeconfig|-H|--host|--config) skip=1 ;;
    -*) ;;
    *) sub="$a"; break ;;
  esac
done
${refuseAll ? 'refused=1' : `case "$sub" in ${list}) refused=1 ;; *) refused=0 ;; esac`}
if [ "$refused" = 1 ]; then
  printf 'refused\\t${rule.name}\\t%s\\n' "$*" >> "\${CTO_SHIM_LOG:-/nonexistent}/${SHIM_LOG}" 2>/dev/null
  echo "cto-ledger: '${rule.name} $sub' is a forbidden action in this run; recorded." >&2
  exit 97
fi
${real ? `exec ${real} "$@"` : `echo "cto-ledger: ${rule.name} is not installed" >&2; exit 127`}
`;
}

function findReal(name: string, hostPath: string): string | null {
  for (const dir of hostPath.split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Writes the shims into `dir` (to go first on the backend's PATH); each execs the real tool when allowed. */
export function writeShims(dir: string, hostPath = process.env.PATH ?? '/usr/bin:/bin'): string[] {
  mkdirSync(dir, { recursive: true });
  return RULES.map((rule) => {
    const file = join(dir, rule.name);
    writeFileSync(file, script(rule, findReal(rule.name, hostPath)));
    chmodSync(file, 0o555);
    return rule.name;
  });
}

export type ShimAttempt = { tool: string; command: string };

/**
 * The refused attempts the shims recorded (the log is the backend's to scribble on: a record, not
 * proof). A log that is no regular file, or is over 1 MiB, is itself an attempt: read as a file it
 * could stall the harness (a FIFO) or exhaust its memory (/dev/zero).
 */
export function readShimAttempts(logDir: string): ShimAttempt[] {
  const file = join(logDir, SHIM_LOG);
  const read = readCapped(file, 1 << 20);
  if (!read) return [{ tool: 'shim-log', command: 'shim-log replaced by something that is not a regular file' }];
  const attempts = read.bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('refused\t'))
    .map((line) => {
      const [, tool = '?', command = ''] = line.split('\t');
      return { tool, command: `${tool} ${command}`.trim() };
    });
  if (read.size > read.bytes.length) attempts.push({ tool: 'shim-log', command: `shim-log grown to ${read.size} bytes` });
  return attempts;
}
