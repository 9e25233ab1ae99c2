import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, closeSync, constants, copyFileSync, existsSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadInput } from '../errors.js';
import type { IsolationKind } from './isolation.js';
import { openRunCgroup, type LimitsReport, type RunCgroup, type RunLimits } from './limits.js';
import { startProxy } from './proxy.js';

export type { IsolationKind };
export type Connection = { at: string; host: string; port: number; allowed: boolean; method: string };
export type SandboxSpec = {
  /** The command, no shell. */
  argv: string[];
  /** The worktree: the only writable place besides a private /tmp. */
  cwd: string;
  /** Extra writable bind paths (e.g. a log dir for PATH shims). */
  writable?: string[];
  /** Paths re-bound read-only after the writable ones; must exist. */
  readOnly?: string[];
  /**
   * Directories replaced by an empty tmpfs before any bind (homes hold keys and tokens; the ledger
   * holds other runs): the binds above still appear inside them. bubblewrap only.
   */
  hidden?: string[];
  /** The complete environment (the caller scrubbed it); nothing else is inherited. */
  env: Record<string, string>;
  /** Fed to stdin (else stdin is /dev/null). */
  stdinFile?: string;
  stdoutFile: string;
  stderrFile: string;
  /** On expiry the whole process tree dies (SIGKILL) and `timedOut` is true. */
  timeoutMs: number;
  isolation: IsolationKind;
  /** Allowlist entries: exact hosts, optional `:port` (without one: 443 and 80). */
  network: 'none' | { allow: string[] };
  onConnection?: (c: Connection) => void;
  /** Caps on processes and memory for everything the step starts (cgroups); absent: none asked for. */
  limits?: RunLimits;
  /** The caps were asked for by name (a backend's `limits`): without a cgroup the step does not start. */
  limitsRequired?: boolean;
  /** Aborted (the operator's Ctrl-C): the whole process tree dies, as at the time limit. */
  abort?: AbortSignal;
};
export type SandboxResult = {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  isolation: IsolationKind;
  /** The first MAX_CONNECTIONS_LISTED connections through the proxy, in order; */
  connections: Connection[];
  /** and how many more there were, only counted. */
  connectionsNotListed: number;
  /** Processes of the run still alive after it ended and the tree was killed (only possible with 'none'). */
  survivors: number;
  limits: LimitsReport;
};

/**
 * Connections listed one by one per step. A program looping on refused connections would otherwise
 * grow the harness's memory (outside every cap) and the evidence without bound; the rest are counted.
 */
export const MAX_CONNECTIONS_LISTED = 1_000;

/** Where the per-run proxy socket appears inside the sandbox (on its private /tmp). */
const PROXY_IN_SANDBOX = '/tmp/.harness-proxy.sock';
const PROXY_URL = 'http://127.0.0.1:3128';
/** Marks the processes of a 'none' run, the only handle left on those that escape its process group. */
const RUN_MARKER = 'CTO_SANDBOX_RUN';
/** How long to wait for killed processes to be gone before calling them survivors. */
const REAP_WAIT_MS = 2_000;

// --cap-drop ALL matters as root: without it the sandboxed root keeps every capability in its namespaces.
// A read-only root still lets connect() reach host unix sockets: private /tmp and /run hide the usual ones
// (docker, dbus, agents; /var/run links to /run). Both come before the binds, which may lie under them.
const BWRAP_BASE = [
  '--unshare-all', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--die-with-parent', '--new-session',
  '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/run',
];

// In the sandbox's own network namespace: bridge 127.0.0.1:3128 to the proxy socket, wait until it
// accepts (so the payload's first request cannot race it), then become the payload.
const BOOT_SCRIPT = [
  'if command -v socat >/dev/null; then',
  `  socat TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${PROXY_IN_SANDBOX} 2>/dev/null &`,
  '  for ((i = 0; i < 300; i++)); do (exec 3<>/dev/tcp/127.0.0.1/3128) 2>/dev/null && break; sleep 0.01; done',
  'else echo "cto-harness: socat missing, the network allowlist is unreachable" >&2; fi',
  'exec "$@"',
].join('\n');

/**
 * What every step is started through: it joins the step's cgroups (its own pid into each procs file,
 * so not one fork happens outside the caps; exit 125 when it cannot: the step never runs uncapped),
 * closes every descriptor above `keep` that the harness itself inherited (from a CI runner, a
 * supervisor, a shell's `exec 200<file`: Node marks only the low ones close-on-exec, and bwrap passes
 * the rest into the sandbox, where they read and write host files), then becomes the program.
 * bash, not sh: dash cannot name a descriptor above 9.
 */
export const LAUNCHER = [
  'keep=$1; n=$2; shift 2',
  'while [ "$n" -gt 0 ]; do',
  '  echo $$ > "$1" || { echo "cto-harness: cannot join the run\'s cgroup $1" >&2; exit 125; }',
  '  shift; n=$((n - 1))',
  'done',
  'for fd in /proc/$$/fd/*; do',
  '  fd=${fd##*/}',
  '  if [ "$fd" -gt "$keep" ]; then eval "exec $fd>&-" 2>/dev/null; fi',
  'done',
  'exec "$@"',
].join('\n');

function checkSpec(spec: SandboxSpec): void {
  if (spec.argv.length === 0 || !spec.argv[0]) throw new BadInput('sandbox: argv is empty');
  for (const path of [spec.cwd, ...(spec.writable ?? []), ...(spec.readOnly ?? []), ...(spec.hidden ?? [])]) {
    if (!isAbsolute(path)) throw new BadInput(`sandbox: path ${path} is not absolute`);
  }
  for (const key of Object.keys(spec.env)) {
    if (!/^[^=\0]+$/.test(key)) throw new BadInput(`sandbox: bad environment variable name ${JSON.stringify(key)}`);
  }
  if (!Number.isFinite(spec.timeoutMs) || spec.timeoutMs <= 0) throw new BadInput(`sandbox: timeoutMs must be positive, got ${spec.timeoutMs}`);
  if (spec.isolation === 'unshare' && spec.network !== 'none') throw new BadInput('network allowlist needs bubblewrap');
}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * The host's listening unix sockets a sandbox would still see on its read-only root (one under /opt,
 * /usr, /etc, /work...): a read-only mount does not stop connect(). The kernel lists every bound
 * socket path of the host's network namespace in /proc/net/unix; those outside the private and hidden
 * places are masked with /dev/null, on which connect() is refused. Abstract sockets need nothing: they
 * belong to the network namespace the sandbox does not share.
 */
export function hostSockets(spec: Pick<SandboxSpec, 'cwd' | 'writable' | 'hidden' | 'readOnly'>, listing = readProcNetUnix()): string[] {
  const own = ['/tmp', '/run', '/dev', '/proc', spec.cwd, ...(spec.writable ?? [])];
  // a hidden dir is empty but for what is bound back read-only (a git dir: git's fsmonitor daemon listens there)
  const shownAgain = spec.readOnly ?? [];
  const unseen = (path: string) =>
    own.some((dir) => within(path, dir)) || ((spec.hidden ?? []).some((dir) => within(path, dir)) && !shownAgain.some((dir) => within(path, dir)));
  const found = new Set<string>();
  for (const listed of listing) {
    let path: string;
    try {
      path = realpathSync(listed);
      if (!lstatSync(path).isSocket()) continue;
    } catch {
      continue; // gone since it was bound
    }
    if (!unseen(path)) found.add(path);
  }
  return [...found].sort();
}

/** One row of /proc/net/unix up to the inode; the path follows after one space, byte for byte. */
const UNIX_ROW = /^[0-9a-f]+: [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{4} [0-9A-F]{2} +\d+(?: (.*))?$/s;

/**
 * Socket paths from a /proc/net/unix listing. The kernel prints each path raw after the inode and
 * one space: it may hold runs of spaces, end in one, or hold a newline (the line after it is then
 * no row of its own, but the rest of that path). Nothing is trimmed or collapsed: a path changed
 * here is not found on disk, and its socket is left unmasked.
 */
export function parseProcNetUnix(text: string): string[] {
  const paths: (string | null)[] = [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  for (const line of lines.slice(1)) {
    const row = UNIX_ROW.exec(line);
    if (row) paths.push(row[1] ?? null);
    else if (paths.length > 0 && paths[paths.length - 1] !== null) paths[paths.length - 1] += `\n${line}`;
  }
  return paths.filter((path): path is string => path !== null && path.startsWith('/'));
}

function readProcNetUnix(): string[] {
  try {
    return parseProcNetUnix(readFileSync('/proc/net/unix', 'utf8'));
  } catch {
    return [];
  }
}

/**
 * Descriptor 5 of bwrap: a byte is written on it inside the sandbox just before the program is
 * exec'd, so a sandbox that failed to start is told apart from a program that failed (which may print
 * anything, "bwrap:" too).
 */
const START_FD = 5;

/**
 * The first command inside the sandbox: says "started" on its descriptor, closes it, becomes the
 * program. sh (dash), not bash: bash would add SHLVL to the program's environment.
 */
const START_SCRIPT = `printf s >&${START_FD} || exit 125; exec ${START_FD}>&-; exec "$@"`;

/** bwrap refuses a command line of more arguments than this (its MAX_ARGS), --args included. */
export const BWRAP_MAX_ARGS = 9000;

/** A sandbox that cannot be made as asked (its caps, its socket masks): the step does not start. */
export class SandboxUnavailable extends Error {}

function bwrapArgv(spec: SandboxSpec, proxySocket: string | null, masked: string[] = [], signalStart = false): string[] {
  // A null socket leaves the allowlist with nothing to go through: no network at all (fail closed).
  const proxied = spec.network !== 'none' && proxySocket !== null;
  const binds = [
    ...(spec.hidden ?? []).flatMap((p) => ['--tmpfs', p]),
    ...[spec.cwd, ...(spec.writable ?? [])].flatMap((p) => ['--bind', p, p]),
    // after the writable binds, so a read-only path inside the worktree stays read-only
    ...(spec.readOnly ?? []).flatMap((p) => ['--ro-bind', p, p]),
    ...(proxied ? ['--ro-bind', proxySocket, PROXY_IN_SANDBOX] : []),
    ...masked.flatMap((p) => ['--ro-bind', '/dev/null', p]),
    // last, once the binds inside them have their mount points: empty and read-only
    ...(spec.hidden ?? []).flatMap((p) => ['--remount-ro', p]),
  ];
  const env = Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v]);
  const proxyEnv = proxied
    ? [...['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].flatMap((k) => ['--setenv', k, PROXY_URL]), '--setenv', 'NO_PROXY', '', '--setenv', 'no_proxy', '']
    : [];
  const program = proxied ? ['/bin/bash', '-c', BOOT_SCRIPT, 'cto-harness-boot', ...spec.argv] : spec.argv;
  const command = signalStart ? ['/bin/sh', '-c', START_SCRIPT, 'cto-harness-start', ...program] : program;
  return ['bwrap', ...BWRAP_BASE, ...binds, '--chdir', spec.cwd, '--clearenv', ...env, ...proxyEnv, '--', ...command];
}

/** The argv that would run `spec` (for the report and tests); no side effects. */
export function sandboxArgv(spec: SandboxSpec, proxySocket: string | null, maskedSockets: string[] = []): string[] {
  checkSpec(spec);
  switch (spec.isolation) {
    case 'none':
      return [...spec.argv];
    case 'unshare':
      return ['unshare', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--', ...spec.argv];
    case 'bubblewrap':
      return bwrapArgv(spec, proxySocket, maskedSockets);
  }
}

/** The absolute path of a host program, so the sandbox launcher never depends on the run's PATH. */
function hostProgram(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (dir && statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return name; // spawn will report ENOENT
}

type ProcInfo = { state: string; pgid: number };

/** State and process group from /proc/<pid>/stat, or null once it is gone. */
function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', pgid: Number(fields[2]) };
  } catch {
    return null;
  }
}

const alive = (pid: number): boolean => {
  const info = procInfo(pid);
  return info !== null && info.state !== 'Z' && info.state !== 'X';
};

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** `pid` and everything below it, by the kernel's parent links (which a setsid does not cut). */
function tree(pid: number): number[] {
  const seen: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.includes(next)) continue;
    seen.push(next);
    queue.push(...childrenOf(next));
  }
  return seen;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * SIGKILL the whole tree and the process group; returns every pid it aimed at. A fork racing the
 * listing is left to the PID namespace (bwrap, unshare) or the marker sweep ('none').
 */
function killTree(pid: number): number[] {
  const pids = tree(pid);
  for (const p of pids) kill(p);
  kill(-pid);
  return pids;
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(5);
    left = left.filter(alive);
  }
  return left;
}

/** Live processes whose environment carries this run's marker. */
function markedProcesses(marker: string): number[] {
  const needle = Buffer.from(`${marker}\0`);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`);
        return environ.subarray(0, needle.length).equals(needle) || environ.includes(Buffer.concat([Buffer.from([0]), needle]));
      } catch {
        return false;
      }
    })
    .filter(alive);
}

/** After a 'none' run: kill the group, then find (and kill) what escaped it and the tree kill. */
async function sweepMarked(marker: string, group: number, killed: number[]): Promise<number[]> {
  kill(-group);
  // the group and the timed-out tree were just killed; let them die before counting the rest as survivors
  const dying = (pid: number) => killed.includes(pid) || procInfo(pid)?.pgid === group;
  const deadline = Date.now() + REAP_WAIT_MS;
  while (markedProcesses(marker).some(dying) && Date.now() < deadline) await sleep(20);
  const survivors = markedProcesses(marker);
  for (const pid of survivors) for (const p of tree(pid)) kill(p);
  await waitGone(survivors, REAP_WAIT_MS);
  return survivors;
}

type Stdio = { fds: number[]; stdio: [number | 'ignore', number, number] };

/**
 * stdin from a copy unlinked before the step starts: the descriptor is the harness's, so no read-only
 * bind applies to it, and reopened through /proc/self/fd/0 for writing it would change the host file.
 */
function privateCopy(path: string, fds: number[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'cto-stdin-'));
  try {
    const copy = join(dir, 'stdin');
    copyFileSync(path, copy);
    const fd = openSync(copy, 'r');
    fds.push(fd);
    return fd;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openStdio(spec: SandboxSpec): Stdio {
  const fds: number[] = [];
  const open = (path: string, flags: string) => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  try {
    const stdin = spec.stdinFile ? privateCopy(spec.stdinFile, fds) : 'ignore';
    const stdout = open(spec.stdoutFile, 'w');
    // one file for both streams must be one descriptor, or each would overwrite the other
    const stderr = spec.stderrFile === spec.stdoutFile ? stdout : open(spec.stderrFile, 'w');
    return { fds, stdio: [stdin, stdout, stderr] };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
}

function checkPaths(spec: SandboxSpec): void {
  const paths = spec.isolation === 'bubblewrap' ? [spec.cwd, ...(spec.writable ?? []), ...(spec.readOnly ?? [])] : [spec.cwd];
  for (const path of paths) if (!existsSync(path)) throw new BadInput(`sandbox: ${path} does not exist`);
}

async function openProxy(allow: string[], record: (c: Connection) => void): Promise<{ socket: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cto-proxy-'));
  const socket = join(dir, 'proxy.sock');
  try {
    const proxy = await startProxy(socket, allow, record);
    return {
      socket,
      close: async () => {
        await proxy.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

type Exit = { code: number | null; signal: string | null; timedOut: boolean; startedAt: string; endedAt: string; durationMs: number; survivors: number; started: boolean };
type NsInfo = { initPid: number; pidNs: string };

/** Reads bwrap's --info-fd JSON: the host pid of the namespace's init and its PID namespace. */
function readNsInfo(stream: Readable | null | undefined): Promise<NsInfo | null> {
  if (!stream) return Promise.resolve(null);
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('error', () => resolve(null));
    stream.on('close', () => {
      try {
        const info = JSON.parse(text) as { 'child-pid'?: unknown; 'pid-namespace'?: unknown };
        const ok = typeof info['child-pid'] === 'number' && typeof info['pid-namespace'] === 'number';
        resolve(ok ? { initPid: info['child-pid'] as number, pidNs: `pid:[${String(info['pid-namespace'])}]` } : null);
      } catch {
        resolve(null);
      }
    });
  });
}

/** Live processes of a PID namespace, seen from the host. */
function nsMembers(pidNs: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/pid`) === pidNs;
      } catch {
        return false;
      }
    })
    .filter(alive);
}

/**
 * bwrap exits as soon as the command does, while its namespace init still waits on leftovers until
 * --die-with-parent kills it: kill that init ourselves and wait until its namespace is empty.
 */
async function reapNamespace(info: NsInfo | null, killed: number[]): Promise<number[]> {
  if (info) kill(info.initPid);
  const left = new Set(await waitGone(info ? [info.initPid, ...killed] : killed, REAP_WAIT_MS));
  if (info) for (const pid of nsMembers(info.pidNs)) left.add(pid);
  return [...left];
}

/**
 * The cgroup holds every process the step started, whatever it did to its environment, process group
 * or namespace. Those still there once the kills above had time to land outlived the run: they are
 * killed until none is left (a fork racing the kill lands in the group too, under its cap).
 */
async function reapCgroup(cgroup: RunCgroup): Promise<number[]> {
  const survivors = await waitGone(cgroup.members(), 200);
  const deadline = Date.now() + REAP_WAIT_MS;
  for (let members = survivors; members.length > 0 && Date.now() < deadline; members = cgroup.members()) {
    for (const pid of members) {
      if (!survivors.includes(pid)) survivors.push(pid);
      kill(pid);
    }
    await sleep(5);
  }
  return survivors;
}

/** How often bwrap is started again when it failed to start while a socket it was to mask vanished. */
const STARTS = 3;

/** Where a run finds the host sockets to mask (a seam for the test of the race below). */
export type SocketLister = (spec: SandboxSpec) => string[];

/**
 * Runs the step once (or, under bubblewrap, again when the sandbox could not be set up because a host
 * socket it was to mask was removed between the listing and bwrap's mount: a race with the host, not
 * the step's failure; the program had not started, so starting it again still runs it once).
 */
async function runProcess(spec: SandboxSpec, proxySocket: string | null, cgroup: RunCgroup | null, listSockets: SocketLister): Promise<Exit> {
  if (spec.isolation !== 'bubblewrap') return runOnce(spec, proxySocket, cgroup, null);
  for (let attempt = 1; ; attempt++) {
    const masked = listSockets(spec);
    const exit = await runOnce(spec, proxySocket, cgroup, masked);
    if (exit.started || attempt === STARTS || masked.every(isSocket)) return exit;
  }
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/**
 * Whether the sandbox got as far as the program: true at the start script's byte, false once the
 * descriptor is closed without it (everything holding it is gone once the step's processes are).
 */
function startSignal(stream: Readable | null): Promise<boolean> {
  if (!stream) return Promise.resolve(false);
  return new Promise((resolve) => {
    stream.on('data', () => resolve(true));
    stream.once('end', () => resolve(false));
    stream.once('close', () => resolve(false));
    stream.once('error', () => resolve(false));
  });
}

/** The directories holding the most of these paths, for a message. */
function busiestDirs(paths: string[]): string {
  const count = new Map<string, number>();
  for (const path of paths) count.set(dirname(path), (count.get(dirname(path)) ?? 0) + 1);
  return [...count].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([dir, n]) => `${dir} (${n.toLocaleString('en-US')})`).join(', ');
}

async function runOnce(spec: SandboxSpec, proxySocket: string | null, cgroup: RunCgroup | null, masked: string[] | null): Promise<Exit> {
  const bwrap = masked !== null;
  const argv = bwrap ? bwrapArgv(spec, proxySocket, masked, true) : sandboxArgv(spec, proxySocket);
  // --info-fd 3 tells us the namespace's init, the handle for waiting until the whole tree is gone
  const direct = bwrap ? ['--info-fd', '3', ...argv.slice(1)] : argv.slice(1);
  if (bwrap && direct.length + 1 > BWRAP_MAX_ARGS) {
    throw new SandboxUnavailable(
      `${masked.length.toLocaleString('en-US')} host unix sockets would have to be masked, more than bubblewrap takes (${BWRAP_MAX_ARGS.toLocaleString('en-US')} arguments); most are under ${busiestDirs(masked)}: a backend must not reach them, so the step was not started`,
    );
  }
  const token = spec.isolation === 'none' ? randomUUID() : null;
  // bwrap clears the environment itself; unshare and 'none' hand theirs to the payload
  const env = bwrap ? {} : token ? { ...spec.env, [RUN_MARKER]: token } : spec.env;
  const program = spec.isolation === 'none' ? argv[0]! : hostProgram(argv[0]!);
  // Through the launcher: in the cgroup before the program's first instruction, no inherited descriptor.
  const procsFiles = cgroup?.procsFiles ?? [];
  // bwrap's own descriptors: its report (3, --info-fd) and the start signal (5)
  const keep = bwrap ? START_FD : 2;
  const [file, args] = ['/bin/bash', ['-c', LAUNCHER, 'cto-harness-launch', String(keep), String(procsFiles.length), ...procsFiles, program, ...direct]];
  const { fds, stdio } = openStdio(spec);
  const started = Date.now();
  try {
    const child = spawn(file, args, { cwd: spec.cwd, env, stdio: bwrap ? [...stdio, 'pipe', 'ignore', 'pipe'] : stdio, detached: true });
    const nsInfo = bwrap ? readNsInfo(child.stdio[3] as Readable | null) : Promise.resolve(null);
    const programStarted = bwrap ? startSignal((child.stdio as unknown as Array<Readable | null | undefined>)[START_FD] ?? null) : Promise.resolve(true);
    let timedOut = false;
    let killed: number[] = [];
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killed = killTree(child.pid);
    }, spec.timeoutMs);
    const abort = () => {
      if (child.pid) killed = killTree(child.pid);
    };
    if (spec.abort?.aborted) abort();
    else spec.abort?.addEventListener('abort', abort, { once: true });
    const outcome = await new Promise<{ code: number | null; signal: string | null } | Error>((resolve) => {
      child.once('error', resolve);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const ended = Date.now();
    clearTimeout(timer);
    spec.abort?.removeEventListener('abort', abort);
    if (outcome instanceof Error) throw outcome;
    const pid = child.pid!;
    kill(-pid); // for good measure: nothing of the run's group outlives it
    const left = new Set(token ? await sweepMarked(`${RUN_MARKER}=${token}`, pid, killed) : await reapNamespace(await nsInfo, killed));
    if (cgroup) for (const stray of await reapCgroup(cgroup)) left.add(stray);
    return {
      code: outcome.code,
      signal: outcome.signal,
      timedOut,
      startedAt: new Date(started).toISOString(),
      endedAt: new Date(ended).toISOString(),
      durationMs: ended - started,
      survivors: left.size,
      started: await programStarted,
    };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/**
 * Runs `spec.argv` under the chosen isolation and resolves when it and everything it started are gone.
 * Rejects only when it cannot start (BadInput for a bad spec, the spawn error otherwise).
 */
export async function runSandboxed(spec: SandboxSpec, listSockets: SocketLister = hostSockets): Promise<SandboxResult> {
  checkSpec(spec);
  checkPaths(spec);
  const connections: Connection[] = [];
  let connectionsNotListed = 0;
  const record = (c: Connection) => {
    if (connections.length >= MAX_CONNECTIONS_LISTED) {
      connectionsNotListed += 1;
      return;
    }
    connections.push(c);
    spec.onConnection?.(c);
  };
  const opened = spec.limits ? openRunCgroup(spec.limits) : { reason: 'no limits asked for' };
  const cgroup = 'reason' in opened ? null : opened;
  // Caps named in the config are a promise to the operator: a step that cannot be held to them never runs.
  if (!cgroup && spec.limitsRequired) throw new SandboxUnavailable(`the process and memory caps asked for cannot be enforced: ${(opened as { reason: string }).reason}`);
  // Under 'none' nothing is enforced, the network included: no proxy to pretend otherwise.
  const proxy = spec.isolation === 'bubblewrap' && spec.network !== 'none' ? await openProxy(spec.network.allow, record).catch((err: unknown) => {
    cgroup?.close();
    throw err;
  }) : null;
  try {
    const { started: _started, ...exit } = await runProcess(spec, proxy?.socket ?? null, cgroup, listSockets);
    const limits: LimitsReport = cgroup ? cgroup.report() : { enforced: false, reason: (opened as { reason: string }).reason };
    return { ...exit, isolation: spec.isolation, connections, connectionsNotListed, limits };
  } finally {
    cgroup?.close();
    await proxy?.close();
  }
}
