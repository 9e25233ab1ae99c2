import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BadInput } from '../../src/errors.js';
import { detectLimits, openRunCgroup } from '../../src/harness/limits.js';
import { allows } from '../../src/harness/proxy.js';
import { hostSockets, MAX_CONNECTIONS_LISTED, SandboxUnavailable, parseProcNetUnix, runSandboxed, sandboxArgv, type Connection, type SandboxResult, type SandboxSpec } from '../../src/harness/sandbox.js';

// Real processes, real namespaces: each test fails if the boundary it names stops holding.

const bwrapWorks = spawnSync('bwrap', ['--ro-bind', '/', '/', 'true'], { stdio: 'ignore' }).status === 0;
const unshareWorks = spawnSync('unshare', ['--net', '--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;
if (!bwrapWorks) console.warn('sandbox.int.spec: `bwrap --ro-bind / / true` fails here; bubblewrap tests skipped');
if (!unshareWorks) console.warn('sandbox.int.spec: unshare fails here; unshare tests skipped');
const limits = detectLimits();
if (!limits.available) console.warn(`sandbox.int.spec: no cgroup limits here (${limits.detail}); limit tests skipped`);

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' };
const roots: string[] = [];
afterAll(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

type Fixture = { root: string; wt: string; out: string; spec: (argv: string[], more?: Partial<SandboxSpec>) => SandboxSpec };

/** A worktree-like dir (wt) and an output dir beside it, in a fresh temp dir. */
function fixture(isolation: SandboxSpec['isolation'] = 'bubblewrap'): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'sbx-spec-'));
  roots.push(root);
  const wt = join(root, 'wt');
  const out = join(root, 'out');
  mkdirSync(wt);
  mkdirSync(out);
  const spec = (argv: string[], more: Partial<SandboxSpec> = {}): SandboxSpec => ({
    argv,
    cwd: wt,
    env: ENV,
    stdoutFile: join(out, 'stdout'),
    stderrFile: join(out, 'stderr'),
    timeoutMs: 10_000,
    isolation,
    network: 'none',
    ...more,
  });
  return { root, wt, out, spec };
}

const stdoutOf = (f: Fixture) => readFileSync(join(f.out, 'stdout'), 'utf8');

/** Live (non-zombie) processes whose command line contains `sleep <seconds>`. */
// This process's own sleeps: another test run on the machine (a second session, CI jobs side by side)
// sleeps for the same whole seconds, and counting its processes made these tests fail there.
const NAP_TAG = String(process.pid % 10_000).padStart(4, '0');
const nap = (seconds: number) => `${seconds}.${NAP_TAG}`;

function sleepers(...seconds: number[]): number[] {
  const wanted = seconds.map((s) => `sleep\0${nap(s)}\0`);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
        return state !== 'Z' && wanted.some((w) => cmdline.includes(w));
      } catch {
        return false;
      }
    })
    .map(Number);
}

type Host = { server: Server; port: number; hits: () => number };

/** A loopback HTTP server on the host answering `body`, counting the requests it got. */
async function host(body: string): Promise<Host> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}
const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await new Promise((resolve) => h.server.close(resolve));
});

describe('sandboxArgv', () => {
  const f = { cwd: '/w', argv: ['node', 'x.js'], env: { A: 'b' }, stdoutFile: '/o', stderrFile: '/e', timeoutMs: 1000 };

  it('orders the private /tmp before the binds, read-only binds after the writable ones, the proxy socket last', () => {
    const argv = sandboxArgv({ ...f, isolation: 'bubblewrap', writable: ['/tmp/logs'], readOnly: ['/w/.git'], network: { allow: ['example.com'] } }, '/tmp/p/proxy.sock');
    const at = (flag: string, a: string) => argv.findIndex((x, i) => x === flag && argv[i + 1] === a);
    expect(argv.slice(0, 1)).toEqual(['bwrap']);
    expect(argv).toContain('--cap-drop');
    expect(at('--tmpfs', '/tmp')).toBeLessThan(at('--bind', '/w'));
    expect(at('--tmpfs', '/run')).toBeLessThan(at('--bind', '/w'));
    expect(at('--bind', '/tmp/logs')).toBeLessThan(at('--ro-bind', '/w/.git'));
    expect(at('--ro-bind', '/w/.git')).toBeLessThan(at('--ro-bind', '/tmp/p/proxy.sock'));
    expect(argv[at('--ro-bind', '/tmp/p/proxy.sock') + 2]).toBe('/tmp/.harness-proxy.sock');
    expect(argv.slice(argv.indexOf('--') + 1, argv.indexOf('--') + 3)).toEqual(['/bin/bash', '-c']);
    expect(argv.slice(-2)).toEqual(['node', 'x.js']);
  });

  it('has no proxy at all without an allowlist (or without a socket), and refuses an allowlist under unshare', () => {
    for (const argv of [sandboxArgv({ ...f, isolation: 'bubblewrap', network: 'none' }, null), sandboxArgv({ ...f, isolation: 'bubblewrap', network: { allow: ['x'] } }, null)]) {
      expect(argv.join(' ')).not.toMatch(/socat|proxy/i);
      expect(argv.slice(argv.indexOf('--') + 1)).toEqual(['node', 'x.js']);
    }
    expect(sandboxArgv({ ...f, isolation: 'unshare', network: 'none' }, null)).toEqual(['unshare', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--', 'node', 'x.js']);
    expect(() => sandboxArgv({ ...f, isolation: 'unshare', network: { allow: ['x'] } }, null)).toThrow(BadInput);
  });

  it('matches allowlist entries exactly; a bare host means ports 443 and 80', () => {
    expect(allows(['example.com'], 'example.com', 443)).toBe(true);
    expect(allows(['example.com'], 'EXAMPLE.com', 80)).toBe(true);
    expect(allows(['example.com'], 'example.com', 8443)).toBe(false);
    expect(allows(['example.com'], 'api.example.com', 443)).toBe(false);
    expect(allows(['example.com:8443'], 'example.com', 8443)).toBe(true);
    expect(allows(['example.com:8443'], 'example.com', 443)).toBe(false);
    expect(allows(['[::1]:8080'], '::1', 8080)).toBe(true);
    expect(allows([], '127.0.0.1', 80)).toBe(false);
  });
});

describe.skipIf(!bwrapWorks)('runSandboxed under bubblewrap', () => {
  it('writes land in cwd and the writable paths only; outside and read-only paths are refused', async () => {
    const f = fixture();
    const logs = join(f.root, 'logs');
    mkdirSync(logs);
    mkdirSync(join(f.wt, 'locked'));
    writeFileSync(join(f.wt, '.git'), 'gitdir: /somewhere\n');
    const tag = randomUUID();
    const targets = {
      cwd: join(f.wt, 'in.txt'),
      writable: join(logs, 'log.txt'),
      parent: join(f.root, `outside-${tag}`),
      etc: `/etc/cto-sbx-${tag}`,
      home: `/root/cto-sbx-${tag}`,
      varTmp: `/var/tmp/cto-sbx-${tag}`,
      dotGit: join(f.wt, '.git'),
      locked: join(f.wt, 'locked', 'new.txt'),
    };
    // a sandboxed root that kept its capabilities could simply remount the read-only binds
    const remount = 'for m in / "$PWD/.git" "$PWD/locked"; do mount -o remount,bind,rw "$m" 2>/dev/null && echo "remounted $m" >&2; done';
    const caps = 'grep -q "^CapEff:[[:space:]]*0*$" /proc/self/status || echo "capabilities kept" >&2';
    const script = `${caps}\n${remount}\nfor p in "$@"; do if (echo x >> "$p") 2>/dev/null; then echo "ok $p"; else echo "no $p"; fi; done`;
    try {
      const r = await runSandboxed(f.spec(['/bin/bash', '-c', script, 'probe', ...Object.values(targets)], { writable: [logs], readOnly: [join(f.wt, '.git'), join(f.wt, 'locked')] }));
      expect(r).toMatchObject({ code: 0, timedOut: false, isolation: 'bubblewrap' });
      expect(readFileSync(join(f.out, 'stderr'), 'utf8')).toBe('');
      const verdicts = Object.fromEntries(stdoutOf(f).trim().split('\n').map((line) => [line.slice(3), line.slice(0, 2)]));
      expect(verdicts).toMatchObject({ [targets.cwd]: 'ok', [targets.writable]: 'ok', [targets.etc]: 'no', [targets.home]: 'no', [targets.varTmp]: 'no', [targets.dotGit]: 'no', [targets.locked]: 'no' });
      // the parent is under /tmp: writable inside only on the sandbox's private tmpfs, never on the host
      expect(readFileSync(targets.cwd, 'utf8')).toBe('x\n');
      expect(readFileSync(targets.writable, 'utf8')).toBe('x\n');
      for (const p of [targets.parent, targets.etc, targets.home, targets.varTmp, targets.locked]) expect(existsSync(p)).toBe(false);
      expect(readFileSync(targets.dotGit, 'utf8')).toBe('gitdir: /somewhere\n');
    } finally {
      for (const p of [targets.etc, targets.home, targets.varTmp]) rmSync(p, { force: true });
    }
  });

  it('cannot reach a host unix socket under /run or /tmp (read-only is not enough for sockets)', async () => {
    const f = fixture();
    const answered: string[] = [];
    const sockets = [`/run/cto-sbx-${process.pid}.sock`, join(f.root, 'host.sock')];
    const servers = await Promise.all(
      sockets.map(async (path) => {
        const server = createNetServer((c) => {
          answered.push(path);
          c.end('HOST SECRET\n');
        });
        await new Promise<void>((resolve) => server.listen(path, resolve));
        return server;
      }),
    );
    try {
      const probe = 'for s in "$@"; do socat -u "UNIX-CONNECT:$s" - 2>/dev/null && echo "reached $s"; done; echo done';
      const r = await runSandboxed(f.spec(['/bin/bash', '-c', probe, 'probe', ...sockets]));
      expect(r.code).toBe(0);
      expect(stdoutOf(f)).toBe('done\n');
      expect(answered).toEqual([]);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it('gives the command exactly the given environment, nothing inherited from the host', async () => {
    const f = fixture();
    process.env.SECRET_TOKEN = 'hunter2-host-only';
    try {
      const r = await runSandboxed(f.spec(['/usr/bin/env'], { env: { ...ENV, GIVEN_VAR: 'given value' } }));
      expect(r.code).toBe(0);
      const seen = Object.fromEntries(stdoutOf(f).trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      // bwrap sets PWD to the --chdir directory; nothing else is added
      expect(seen).toEqual({ ...ENV, GIVEN_VAR: 'given value', PWD: f.wt });
      expect(stdoutOf(f)).not.toContain('hunter2');
    } finally {
      delete process.env.SECRET_TOKEN;
    }
  });

  it('has no network with network none: a host loopback server is unreachable', async () => {
    const f = fixture();
    const h = await host('reachable');
    hosts.push(h);
    const r = await runSandboxed(f.spec(['/usr/bin/curl', '-sS', '-m', '3', `http://127.0.0.1:${h.port}/`]));
    expect(r.code).not.toBe(0);
    expect(h.hits()).toBe(0);
    expect(r.connections).toEqual([]);
    // control: the same server does answer from the host
    expect(await (await fetch(`http://127.0.0.1:${h.port}/`)).text()).toBe('reachable');
    expect(h.hits()).toBe(1);
  });

  it('on timeout kills the whole tree, setsid grandchild included', async () => {
    const f = fixture();
    const running = runSandboxed(f.spec(['/bin/bash', '-c', `sleep ${nap(300)} & setsid sleep ${nap(301)} & sleep ${nap(302)}`], { timeoutMs: 1500 }));
    await sleep(1000);
    expect(sleepers(301, 302).length).toBe(2); // they did start (the host sees PID-namespace members)
    const r = await running;
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(1400);
    expect(r.durationMs).toBeLessThan(5000);
    expect(r.survivors).toBe(0);
    expect(sleepers(300, 301, 302)).toEqual([]);
  });

  it('leaves no background process behind a command that exits at once', async () => {
    const f = fixture();
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', `(setsid sh -c "echo up > started; exec sleep ${nap(303)}" &); sleep 0.3; exit 0`]));
    expect(r).toMatchObject({ code: 0, timedOut: false, survivors: 0 });
    expect(readFileSync(join(f.wt, 'started'), 'utf8')).toBe('up\n'); // the escapee did run
    expect(sleepers(303)).toEqual([]);
  });

  it('lets through only allowlisted host:port via the proxy, and reports every connection', async () => {
    const f = fixture();
    const a = await host('A body');
    const b = await host('B body');
    hosts.push(a, b);
    const seen: Connection[] = [];
    const script = [
      'px=http://127.0.0.1:3128',
      'curl -s -x $px http://127.0.0.1:$1/ > a.txt',
      'curl -s -x $px -o /dev/null -w "%{http_code}" http://127.0.0.1:$2/ > b.txt',
      'curl -s -x $px -p http://127.0.0.1:$1/ > a-tunnel.txt',
      'curl -s -x $px -p -o /dev/null -w "%{http_connect}" http://127.0.0.1:$2/ > b-tunnel.txt',
      'curl -s -m 3 --noproxy "*" http://127.0.0.1:$1/ > /dev/null; echo $? > direct.rc',
    ].join('\n');
    const r = await runSandboxed(
      f.spec(['/bin/bash', '-c', script, 'probe', String(a.port), String(b.port)], { network: { allow: [`127.0.0.1:${a.port}`] }, onConnection: (c) => seen.push(c) }),
    );
    expect(r.code).toBe(0);
    const read = (name: string) => readFileSync(join(f.wt, name), 'utf8');
    expect(read('a.txt')).toBe('A body');
    expect(read('b.txt')).toBe('403');
    expect(read('a-tunnel.txt')).toBe('A body');
    expect(read('b-tunnel.txt')).toBe('403');
    expect(read('direct.rc').trim()).not.toBe('0'); // no way around the proxy
    expect(a.hits()).toBe(2);
    expect(b.hits()).toBe(0);
    const brief = seen.map(({ method, host, port, allowed }) => ({ method, host, port, allowed }));
    expect(brief).toEqual([
      { method: 'GET', host: '127.0.0.1', port: a.port, allowed: true },
      { method: 'GET', host: '127.0.0.1', port: b.port, allowed: false },
      { method: 'CONNECT', host: '127.0.0.1', port: a.port, allowed: true },
      { method: 'CONNECT', host: '127.0.0.1', port: b.port, allowed: false },
    ]);
    expect(r.connections).toEqual(seen);
    expect(seen.every((c) => !Number.isNaN(Date.parse(c.at)))).toBe(true);
  });

  it(`lists the first ${MAX_CONNECTIONS_LISTED} connections and only counts the rest, so a loop of refused attempts cannot fill the harness's memory`, async () => {
    const f = fixture();
    const seen: Connection[] = [];
    const extra = 7;
    // Each attempt: a CONNECT to a host not on the allowlist, its 403 read back before the next.
    const script = `for i in $(seq 1 ${MAX_CONNECTIONS_LISTED + extra}); do exec 3<>/dev/tcp/127.0.0.1/3128; printf 'CONNECT blocked.example:443 HTTP/1.1\\r\\n\\r\\n' >&3; head -c 12 <&3 >/dev/null; exec 3>&-; done; echo done > out.txt`;
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', script], { network: { allow: [] }, onConnection: (c) => seen.push(c), timeoutMs: 120_000 }));
    expect(r.code).toBe(0);
    expect(readFileSync(join(f.wt, 'out.txt'), 'utf8')).toBe('done\n');
    expect(r.connections.length).toBe(MAX_CONNECTIONS_LISTED);
    expect(r.connectionsNotListed).toBe(extra);
    expect(seen.length).toBe(MAX_CONNECTIONS_LISTED);
    expect(r.connections.every((c) => c.method === 'CONNECT' && c.host === 'blocked.example' && !c.allowed)).toBe(true);
  });

  it('feeds stdinFile to stdin and writes stdout and stderr to their files; stdin is /dev/null otherwise', async () => {
    const f = fixture();
    const stdinFile = join(f.root, 'stdin.txt');
    writeFileSync(stdinFile, 'hello stdin\n');
    writeFileSync(join(f.out, 'stdout'), 'stale content that must be truncated\n');
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', 'cat; echo to-err >&2; exit 3'], { stdinFile }));
    expect(r.code).toBe(3);
    expect(stdoutOf(f)).toBe('hello stdin\n');
    expect(readFileSync(join(f.out, 'stderr'), 'utf8')).toBe('to-err\n');
    const empty = await runSandboxed(f.spec(['/bin/cat'], { timeoutMs: 3000 }));
    expect(empty).toMatchObject({ code: 0, timedOut: false });
    expect(stdoutOf(f)).toBe('');
  });

  it('refuses a readOnly path that does not exist', async () => {
    const f = fixture();
    await expect(runSandboxed(f.spec(['/bin/true'], { readOnly: [join(f.wt, 'missing')] }))).rejects.toThrow(BadInput);
  });
});

describe.skipIf(!unshareWorks)('runSandboxed under unshare', () => {
  it('has no network, kills the tree on timeout, and refuses an allowlist', async () => {
    const f = fixture('unshare');
    const h = await host('reachable');
    hosts.push(h);
    const r = await runSandboxed(f.spec(['/usr/bin/curl', '-sS', '-m', '3', `http://127.0.0.1:${h.port}/`]));
    expect(r.code).not.toBe(0);
    expect(h.hits()).toBe(0);
    const t = await runSandboxed(f.spec(['/bin/bash', '-c', `sleep ${nap(300)} & setsid sleep ${nap(301)} & sleep ${nap(302)}`], { timeoutMs: 800 }));
    expect(t.timedOut).toBe(true);
    expect(sleepers(300, 301, 302)).toEqual([]);
    await expect(runSandboxed(f.spec(['/bin/true'], { network: { allow: ['example.com'] } }))).rejects.toThrow('network allowlist needs bubblewrap');
  });
});

describe('runSandboxed with isolation none', () => {
  let f: Fixture;
  beforeAll(() => {
    f = fixture('none');
  });

  it('kills the direct child tree on timeout, setsid child included while its parent lives', async () => {
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', `sleep ${nap(300)} & setsid sleep ${nap(301)} & sleep ${nap(302)}`], { timeoutMs: 1500 }));
    expect(r).toMatchObject({ timedOut: true, isolation: 'none' });
    expect(sleepers(300, 301, 302)).toEqual([]);
    expect(typeof r.survivors).toBe('number');
  });

  it('counts a setsid escapee whose parent exited as a survivor, and kills it', async () => {
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', `setsid sleep ${nap(304)} & sleep 0.3; exit 0`]));
    console.info(`isolation none: survivors reported for a setsid escapee = ${r.survivors}`);
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(typeof r.survivors).toBe('number');
    // as root every process's environment is readable, so the escapee is found
    if (process.getuid?.() === 0) expect(r.survivors).toBe(1);
    expect(sleepers(304)).toEqual([]);
  });
});

describe.skipIf(!limits.available)('process and memory caps (cgroups)', () => {
  const isolations = (['none', 'unshare', 'bubblewrap'] as const).filter((k) => k === 'none' || (k === 'unshare' ? unshareWorks : bwrapWorks));

  it.each(isolations)('under %s, forks past the process cap are refused and counted', async (isolation) => {
    const f = fixture(isolation);
    // dash gives up at the first refused fork (bash would retry for seconds)
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', `i=0; while [ $i -lt 100 ]; do sleep ${nap(305)} & i=$((i+1)); done; wait`], { limits: { processes: 32, memoryMiB: 256 } }));
    expect(r.limits).toMatchObject({ enforced: true, processes: 32, memoryMiB: 256 });
    expect(r.limits.enforced && r.limits.forkRefusals).toBeGreaterThan(0);
    expect(r.code).not.toBe(0);
    expect(sleepers(305)).toEqual([]);
  });

  it.skipIf(!bwrapWorks)('under bubblewrap, a step cannot move itself out of its cgroup', async () => {
    const f = fixture('bubblewrap');
    const escape = 'for c in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do echo $$ > $c/cgroup.procs 2>/dev/null && echo "left via $c"; done';
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', `${escape}; i=0; while [ $i -lt 100 ]; do sleep ${nap(307)} & i=$((i+1)); done; wait`], { limits: { processes: 32, memoryMiB: 256 } }));
    expect(stdoutOf(f)).not.toContain('left via');
    expect(r.limits.enforced && r.limits.forkRefusals).toBeGreaterThan(0);
    expect(sleepers(307)).toEqual([]);
  });

  it('a step filling RAM (the tmpfs worktree included) is killed at the memory cap', async () => {
    const f = fixture(bwrapWorks ? 'bubblewrap' : 'none');
    const shm = mkdtempSync('/dev/shm/sbx-fill-');
    roots.push(shm);
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', `dd if=/dev/zero of=${shm}/fill bs=1M count=300 2>/dev/null; echo survived`], { limits: { processes: 64, memoryMiB: 64 }, writable: [shm] }));
    expect(r.limits.enforced && r.limits.oomKills).toBeGreaterThan(0);
    expect(statSync(join(shm, 'fill')).size).toBeLessThan(80 << 20);
  });

  it('without isolation, a process that cleared its environment and left the group is still found and killed', async () => {
    const f = fixture('none');
    const r = await runSandboxed(f.spec(['/bin/bash', '-c', `setsid env -i /bin/sleep ${nap(306)} & sleep 0.3; exit 0`], { limits: { processes: 64, memoryMiB: 256 } }));
    expect(r).toMatchObject({ code: 0, survivors: 1 });
    expect(sleepers(306)).toEqual([]);
  });

  it('removes the empty groups a killed harness left, not a fresh one another run is about to join', () => {
    const probe = openRunCgroup({ processes: 64, memoryMiB: 256 });
    if ('reason' in probe) throw new Error(probe.reason);
    const parents = probe.procsFiles.map((f) => dirname(dirname(f)));
    probe.close();
    const old = parents.map((p) => join(p, `cto-ledger-old-${process.pid}`));
    const fresh = parents.map((p) => join(p, `cto-ledger-fresh-${process.pid}`));
    for (const dir of [...old, ...fresh]) mkdirSync(dir);
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const dir of old) utimesSync(dir, hourAgo, hourAgo);
    try {
      const run = openRunCgroup({ processes: 64, memoryMiB: 256 });
      if (!('reason' in run)) run.close();
      expect(old.filter((d) => existsSync(d))).toEqual([]);
      expect(fresh.filter((d) => existsSync(d))).toEqual(fresh);
    } finally {
      for (const dir of [...old, ...fresh]) if (existsSync(dir)) rmdirSync(dir);
    }
  });

  it('caps asked for by name that cannot be had (CTO_LIMITS=none): the step never starts; asked for by default: it runs and says so', async () => {
    const f = fixture('none');
    const marker = join(f.wt, 'ran');
    process.env.CTO_LIMITS = 'none';
    try {
      const argv = ['/bin/sh', '-c', `touch ${marker}`];
      await expect(runSandboxed(f.spec(argv, { limits: { processes: 64, memoryMiB: 256 }, limitsRequired: true }))).rejects.toThrow(SandboxUnavailable);
      expect(existsSync(marker)).toBe(false);
      const r = await runSandboxed(f.spec(argv, { limits: { processes: 64, memoryMiB: 256 } }));
      expect(r.limits).toEqual({ enforced: false, reason: 'turned off by CTO_LIMITS=none' });
      expect(existsSync(marker)).toBe(true);
    } finally {
      delete process.env.CTO_LIMITS;
    }
  });

  it('says why when no cap was asked for', async () => {
    const f = fixture('none');
    const r = await runSandboxed(f.spec(['/bin/true']));
    expect(r.limits).toEqual({ enforced: false, reason: 'no limits asked for' });
  });
});

describe('descriptors the harness inherited', () => {
  const isolations = (['none', 'unshare', 'bubblewrap'] as const).filter((k) => k === 'none' || (k === 'unshare' ? unshareWorks : bwrapWorks));
  const sandboxModule = join(process.cwd(), 'dist/src/harness/sandbox.js');

  it.each(isolations)('under %s, a descriptor open in the harness (from its own parent) never reaches the step', (isolation) => {
    const f = fixture(isolation);
    const secret = join(f.root, 'host-secret.txt');
    writeFileSync(secret, 'host-secret\n');
    // A harness whose parent left fd 20 open on a host file, as a CI runner or `exec 20<file` does.
    const harness = `import { runSandboxed } from ${JSON.stringify(sandboxModule)};
      const r = await runSandboxed(${JSON.stringify(f.spec(['/bin/bash', '-c', 'cat <&20 2>/dev/null || echo no-fd-20; ls /proc/self/fd | sort -n | tr "\\n" " "']))});
      process.stdout.write(String(r.code));`;
    const fd = openSync(secret, 'r');
    try {
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', harness], { stdio: ['ignore', 'pipe', 'pipe', ...Array<'ignore'>(17).fill('ignore'), fd], encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('0');
    } finally {
      closeSync(fd);
    }
    expect(stdoutOf(f)).toContain('no-fd-20');
    expect(stdoutOf(f)).not.toContain('host-secret');
  });
});

/** A dir on the host's read-only root that the sandbox shows (not /tmp, /run, a home), or null. */
function visibleHostDir(): string | null {
  for (const base of ['/opt', process.cwd()]) {
    if (['/root', '/home', homedir(), '/tmp', '/var'].some((h) => base === h || base.startsWith(`${h}/`))) continue;
    try {
      return mkdtempSync(join(base, '.cto-sock-spec-'));
    } catch {
      // not writable here
    }
  }
  return null;
}
const socatWorks = spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!bwrapWorks || !socatWorks)('host unix sockets on the read-only root', () => {
  it('a listening socket outside the private and hidden places is masked: connect() is refused', async () => {
    const dir = visibleHostDir();
    if (!dir) return console.warn('no writable dir on the visible host root here; socket masking test skipped');
    roots.push(dir);
    const path = join(dir, 'agent.sock');
    const server = createNetServer((socket) => socket.end('host-secret\n'));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const f = fixture();
      expect(hostSockets(f.spec(['/bin/true']))).toContain(path);
      const r = await runSandboxed(f.spec(['/usr/bin/socat', '-', `UNIX-CONNECT:${path}`]));
      expect(stdoutOf(f)).not.toContain('host-secret');
      expect(r.code).not.toBe(0);
      // the same socket in a dir the run writes (its own worktree) is the run's: left alone
      expect(hostSockets(f.spec(['/bin/true'], { cwd: dir }))).not.toContain(path);
      // under a hidden dir it is out of sight, unless that part is bound back (a git dir, where git's fsmonitor listens)
      expect(hostSockets(f.spec(['/bin/true'], { hidden: [dir] }))).not.toContain(path);
      expect(hostSockets(f.spec(['/bin/true'], { hidden: [dir], readOnly: [dir] }))).toContain(path);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reads socket paths from the kernel listing, skips what is gone or no socket', () => {
    const f = fixture();
    expect(hostSockets(f.spec(['/bin/true']), ['/nonexistent/x.sock', '/etc/passwd', '/dev/log'])).toEqual([]);
  });

  it('takes each path as the kernel prints it: runs of spaces, a trailing space, a newline', () => {
    const head = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
    const row = (inode: string, path?: string) => `00000000b0d369fb: 00000003 00000000 00010000 0001 01 ${inode}${path === undefined ? '' : ` ${path}`}\n`;
    const listing = head + row('5185874') + row('  123', '/opt/a  b.sock') + row('5185870', '/opt/trail.sock ') + row('5185871', '/opt/nl\nx.sock') + row('5185872', '@abstract') + row('5185873', '/run/x.sock');
    expect(parseProcNetUnix(listing)).toEqual(['/opt/a  b.sock', '/opt/trail.sock ', '/opt/nl\nx.sock', '/run/x.sock']);
  });

  it('masks a live host socket whose path ends in a space or holds two in a row', async () => {
    const dir = visibleHostDir();
    if (!dir) return console.warn('no writable dir on the visible host root here; socket masking test skipped');
    roots.push(dir);
    const servers: Server[] = [];
    const paths = [join(dir, 'trail.sock '), join(dir, 'two  spaces.sock')];
    try {
      for (const path of paths) {
        const server = createNetServer((socket) => socket.end('host-secret\n'));
        servers.push(server as unknown as Server);
        await new Promise<void>((resolve) => server.listen(path, resolve));
      }
      const f = fixture();
      expect(hostSockets(f.spec(['/bin/true']))).toEqual(expect.arrayContaining(paths));
    } finally {
      for (const server of servers) await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe.skipIf(!bwrapWorks)('stdin', () => {
  it('a step reopening its stdin for writing (/proc/self/fd/0) cannot change the file it was fed from', async () => {
    const f = fixture();
    const fed = join(f.root, 'contract.json');
    writeFileSync(fed, '{"title":"x"}\n');
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', 'cat; printf WROTE > /proc/self/fd/0 && echo wrote; printf MORE >> /proc/self/fd/0 && echo appended; true'], { stdinFile: fed }));
    expect(r.code).toBe(0);
    expect(stdoutOf(f)).toContain('{"title":"x"}');
    expect(readFileSync(fed, 'utf8')).toBe('{"title":"x"}\n');
  });
});

describe.skipIf(!bwrapWorks)('setting up the sandbox: a race with the host, and too many sockets', () => {
  it('a host socket removed between the listing and the mount: the sandbox is set up again, the program runs once', async () => {
    const f = fixture();
    const count = join(f.wt, 'count');
    // listed, gone by the time bwrap mounts /dev/null over it (bwrap cannot make it on the read-only root)
    const vanished = `/opt/.cto-vanished-${randomUUID()}.sock`;
    let listings = 0;
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', `echo ran >> ${count}`]), () => (++listings === 1 ? [vanished] : []));
    expect(r.code).toBe(0);
    expect(listings).toBe(2);
    expect(readFileSync(count, 'utf8')).toBe('ran\n');
  });

  it('a program that started and failed is never started again, whatever it prints and whatever vanished', async () => {
    const f = fixture();
    const dir = visibleHostDir();
    if (!dir) return console.warn('no writable dir on the visible host root here; test skipped');
    roots.push(dir);
    // a plain file: the mask mounts, and it is no socket afterwards, as a vanished one would not be
    const notSocket = join(dir, 'plain');
    writeFileSync(notSocket, '');
    const count = join(f.wt, 'count');
    let listings = 0;
    const r = await runSandboxed(f.spec(['/bin/sh', '-c', `echo ran >> ${count}; echo "bwrap: Can't create file at ${notSocket}" >&2; exit 1`]), () => (++listings, [notSocket]));
    expect(r.code).toBe(1);
    expect(listings).toBe(1);
    expect(readFileSync(count, 'utf8')).toBe('ran\n');
  });

  it('more host sockets than bubblewrap takes arguments: refused, naming where they are, and nothing started', async () => {
    const f = fixture();
    const marker = join(f.wt, 'ran');
    const many = Array.from({ length: 3_000 }, (_, i) => `/opt/many/s${i}.sock`);
    await expect(runSandboxed(f.spec(['/bin/sh', '-c', `touch ${marker}`]), () => many)).rejects.toThrow(
      /3,000 host unix sockets would have to be masked, more than bubblewrap takes \(9,000 arguments\); most are under \/opt\/many \(3,000\)/,
    );
    await expect(runSandboxed(f.spec(['/bin/sh', '-c', `touch ${marker}`]), () => many)).rejects.toThrow(SandboxUnavailable);
    expect(existsSync(marker)).toBe(false);
  });
});

/** Kept for the report: how long a trivial bubblewrap run takes here. */
describe.skipIf(!bwrapWorks)('overhead', () => {
  it('runs `true` under bubblewrap quickly', async () => {
    const f = fixture();
    const times: number[] = [];
    let last: SandboxResult | null = null;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      last = await runSandboxed(f.spec(['/bin/true']));
      times.push(Math.round(performance.now() - t0));
    }
    const proxied = performance.now();
    await runSandboxed(f.spec(['/bin/true'], { network: { allow: ['example.com'] } }));
    console.info(`bwrap true: ${times.join(', ')} ms; with allowlist proxy: ${Math.round(performance.now() - proxied)} ms`);
    expect(last?.code).toBe(0);
    expect(Math.min(...times)).toBeLessThan(1000);
  });
});
