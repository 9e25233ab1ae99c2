import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { BadInput } from '../errors.js';

// Process-count and memory caps for everything a run starts, from the kernel (cgroup v1 `pids` and
// `memory` controllers): a fork bomb meets `pids.max`, a backend filling RAM (the worktree's tmpfs
// included: its pages are charged to the writer) is OOM-killed inside its own group, and every
// process left in the group after the run is found and killed, whatever namespace or environment
// it put itself in. Namespaces (bubblewrap) do not cap either; RLIMIT_NPROC does not bind root.

export type RunLimits = { processes: number; memoryMiB: number };

const MiB = 1024 * 1024;

/** The defaults when a backend's config entry names none: generous for builds, fatal for bombs. */
export function defaultLimits(): RunLimits {
  return { processes: 4096, memoryMiB: Math.max(512, Math.min(8192, Math.floor(totalmem() / MiB / 2))) };
}

/** What a sandboxed step was held to and what it ran into, for the report. */
export type LimitsReport =
  | { enforced: false; reason: string }
  | {
      enforced: true;
      mechanism: 'cgroup-v1';
      processes: number;
      memoryMiB: number;
      /** Forks and clones the kernel refused at the cap. */
      forkRefusals: number;
      /** Processes the kernel killed at the memory cap. */
      oomKills: number;
      peakMemoryMiB: number;
    };

type Controllers = { pids: string; memory: string };

/** Where this process's own pids and memory cgroups (v1) live, or why they cannot be used. */
function findControllers(): Controllers | string {
  let mountinfo: string;
  let own: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch (err) {
    return `cannot read /proc: ${(err as Error).message}`;
  }
  const found: Partial<Controllers> = {};
  for (const controller of ['pids', 'memory'] as const) {
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS
    const mount = mountinfo
      .split('\n')
      .map((line) => line.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup' && (f[f.indexOf('-') + 3] ?? '').split(',').includes(controller));
    const path = own
      .split('\n')
      .map((line) => line.split(':'))
      .find((f) => (f[1] ?? '').split(',').includes(controller))?.[2];
    if (!mount || path === undefined) {
      const v2 = /^0::/m.test(own) && mountinfo.includes(' - cgroup2 ');
      return `no cgroup v1 ${controller} controller mounted${v2 ? ' (cgroup v2 delegation is not supported yet)' : ''}`;
    }
    const root = mount[3]!;
    const relative = root === '/' ? path : path.startsWith(root) ? path.slice(root.length) : null;
    if (relative === null) return `this process's ${controller} cgroup ${path} lies outside the mounted ${root}`;
    found[controller] = join(mount[4]!, relative);
  }
  return found as Controllers;
}

let probed: Controllers | string | null = null;

/**
 * The controllers to use, or why there are none. `CTO_LIMITS=none` turns the caps off (never on), as
 * CTO_ISOLATION lowers isolation: runs whose backend names its limits are then refused.
 */
function controllers(): Controllers | string {
  const wanted = process.env.CTO_LIMITS || undefined;
  if (wanted !== undefined && wanted !== 'none') throw new BadInput(`CTO_LIMITS must be none or unset, got ${JSON.stringify(wanted)}`);
  if (wanted === 'none') return 'turned off by CTO_LIMITS=none';
  probed ??= findControllers();
  return probed;
}

/** Whether runs can be capped here, tried for real once per process (health shows it). */
export function detectLimits(): { available: boolean; detail: string } {
  const found = controllers();
  if (typeof found === 'string') return { available: false, detail: found };
  const trial = openRunCgroup(defaultLimits());
  if ('reason' in trial) return { available: false, detail: trial.reason };
  trial.close();
  return { available: true, detail: 'cgroup v1: each run capped in processes and memory, and killed whole' };
}

export type RunCgroup = {
  /** The files a process writes its pid into to join (one per controller). */
  procsFiles: string[];
  /** Pids still in the group. */
  members(): number[];
  /** What the run ran into, read once it is over. */
  report(): LimitsReport;
  /** Removes the group (its members must be gone). */
  close(): void;
};

function readNumber(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

/** A `key value` line of a cgroup file (pids.events, memory.oom_control), 0 when absent. */
function readKey(file: string, key: string): number {
  try {
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key} `));
    return line ? Number(line.slice(key.length + 1)) || 0 : 0;
  } catch {
    return 0;
  }
}

/** Empty groups older than this were left by a harness that was killed; younger ones may be about to be joined. */
const STALE_MS = 10 * 60_000;

/** Removes the empty groups killed harnesses left behind (rmdir refuses any group still holding a process). */
function sweepStale(parents: string[]): void {
  for (const parent of parents) {
    let names: string[];
    try {
      names = readdirSync(parent).filter((n) => n.startsWith('cto-ledger-'));
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        if (Date.now() - statSync(join(parent, name)).mtimeMs > STALE_MS) rmdirSync(join(parent, name));
      } catch {
        // in use, or gone already
      }
    }
  }
}

/** A fresh cgroup per sandboxed step with the caps written, or the reason there is none. */
export function openRunCgroup(limits: RunLimits): RunCgroup | { reason: string } {
  const found = controllers();
  if (typeof found === 'string') return { reason: found };
  sweepStale([found.pids, found.memory]);
  const name = `cto-ledger-${randomUUID()}`;
  const pids = join(found.pids, name);
  const memory = join(found.memory, name);
  const made: string[] = [];
  const removeAll = () => {
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // a member still dying; the kernel frees an empty group's memory on the next try
      }
    }
  };
  try {
    mkdirSync(pids);
    made.push(pids);
    writeFileSync(join(pids, 'pids.max'), String(limits.processes));
    mkdirSync(memory);
    made.push(memory);
    writeFileSync(join(memory, 'memory.limit_in_bytes'), String(limits.memoryMiB * MiB));
  } catch (err) {
    removeAll();
    return { reason: `cannot make a cgroup for the run (${(err as Error).message.split('\n')[0]})` };
  }
  const members = () => {
    const all = new Set<number>();
    for (const dir of [pids, memory]) {
      try {
        for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) all.add(Number(line));
      } catch {
        // removed
      }
    }
    return [...all];
  };
  return {
    procsFiles: [join(pids, 'cgroup.procs'), join(memory, 'cgroup.procs')],
    members,
    report: () => ({
      enforced: true,
      mechanism: 'cgroup-v1',
      processes: limits.processes,
      memoryMiB: limits.memoryMiB,
      forkRefusals: readKey(join(pids, 'pids.events'), 'max'),
      oomKills: existsSync(join(memory, 'memory.oom_control')) ? readKey(join(memory, 'memory.oom_control'), 'oom_kill') : 0,
      peakMemoryMiB: Math.round(readNumber(join(memory, 'memory.max_usage_in_bytes')) / MiB),
    }),
    close: removeAll,
  };
}
