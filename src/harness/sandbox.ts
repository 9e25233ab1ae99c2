import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { IsolationKind } from './isolation.js';

export type { IsolationKind };
export type Connection = { at: string; host: string; port: number; allowed: boolean; method: string };
export type SandboxSpec = {
  argv: string[];
  cwd: string;
  writable?: string[];
  readOnly?: string[];
  env: Record<string, string>;
  stdinFile?: string;
  stdoutFile: string;
  stderrFile: string;
  timeoutMs: number;
  isolation: IsolationKind;
  network: 'none' | { allow: string[] };
  onConnection?: (c: Connection) => void;
};
export type SandboxResult = {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  isolation: IsolationKind;
  connections: Connection[];
  survivors: number;
};

export function sandboxArgv(spec: SandboxSpec, _proxySocket: string | null): string[] {
  if (spec.isolation === 'none') return spec.argv;
  if (spec.isolation === 'unshare') return ['unshare', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--', ...spec.argv];
  const binds = [
    ...[spec.cwd, ...(spec.writable ?? [])].flatMap((p) => ['--bind', p, p]),
    ...(spec.readOnly ?? []).flatMap((p) => ['--ro-bind', p, p]),
  ];
  const env = Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v]);
  return [
    'bwrap', '--unshare-all', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--die-with-parent', '--new-session',
    // /run hidden: a read-only bind does not stop connect() on a host socket (docker, dbus, agents).
    '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/run',
    ...binds, '--chdir', spec.cwd, '--clearenv', ...env, '--', ...spec.argv,
  ];
}

export function runSandboxed(spec: SandboxSpec): Promise<SandboxResult> {
  const argv = sandboxArgv(spec, null);
  const stdin = spec.stdinFile ? openSync(spec.stdinFile, 'r') : 'ignore';
  const stdout = openSync(spec.stdoutFile, 'w');
  const stderr = openSync(spec.stderrFile, 'w');
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: spec.cwd, env: spec.env, stdio: [stdin, stdout, stderr], detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, spec.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      for (const fd of [stdin, stdout, stderr]) if (typeof fd === 'number') closeSync(fd);
    };
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      done();
      killGroup(child.pid);
      const ended = Date.now();
      resolve({
        code,
        signal,
        timedOut,
        startedAt,
        endedAt: new Date(ended).toISOString(),
        durationMs: ended - started,
        isolation: spec.isolation,
        connections: [],
        survivors: 0,
      });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
