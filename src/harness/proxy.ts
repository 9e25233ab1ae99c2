import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Connection } from './sandbox.js';

// The per-run filtering proxy: the sandbox has no network of its own, only this unix socket (bridged
// to 127.0.0.1:3128 inside). It forwards plain-HTTP absolute-URI requests and CONNECT tunnels to
// exact host:port entries of the run's allowlist, answers 403 to everything else, and reports each.

/** Hop-by-hop headers: meaningful only between the client and this proxy, never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

type Target = { host: string; port: number };

/** `host`, `host:port`, `[v6]` or `[v6]:port`, lower-cased; a bare host stands for ports 443 and 80. */
function parseEntry(entry: string): { host: string; ports: number[] } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(entry.trim());
  if (!m) return null;
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  return { host, ports: m[3] === undefined ? [443, 80] : [Number(m[3])] };
}

/** Whether `allow` admits exactly this host and port (no wildcards, no suffix matching). */
export function allows(allow: string[], host: string, port: number): boolean {
  const wanted = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return allow.some((entry) => {
    const parsed = parseEntry(entry);
    return parsed !== null && parsed.host === wanted && parsed.ports.includes(port);
  });
}

/** The authority of a CONNECT line (`host:port`, `[v6]:port`); a port is required. */
function connectTarget(authority: string | undefined): Target | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(authority ?? '');
  if (!m) return null;
  return { host: (m[1] ?? m[2] ?? '').toLowerCase(), port: Number(m[3]) };
}

/** The target of an absolute-form request; only http: is meaningful here (https goes through CONNECT). */
function absoluteTarget(url: string | undefined): (Target & { path: string; authority: string }) | null {
  let u: URL;
  try {
    u = new URL(url ?? '');
  } catch {
    return null;
  }
  if (u.protocol !== 'http:') return null;
  return { host: u.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 80), path: u.pathname + u.search, authority: u.host };
}

/**
 * The client's headers without the hop-by-hop ones, and with `Host` set to the URL's authority: the
 * host that was checked and recorded is the one the upstream routes on. Forwarded as sent, a
 * `Host: elsewhere` would reach another site behind an allowed shared front (a CDN), unrecorded.
 */
function forwardHeaders(req: IncomingMessage, authority: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ...req.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  headers.host = authority;
  return headers;
}

function refuse(res: ServerResponse, status: number, why: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' }).end(`${why}\n`);
}

/** Listens on `socketPath` (a fresh per-run path); `close()` also ends open tunnels. */
export function startProxy(socketPath: string, allow: string[], onConnection: (c: Connection) => void): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Duplex>();
  const report = (method: string, target: Target | null, allowed: boolean) =>
    onConnection({ at: new Date().toISOString(), host: target?.host ?? '', port: target?.port ?? 0, allowed, method });

  const server = createServer((req, res) => {
    const target = absoluteTarget(req.url);
    const allowed = target !== null && allows(allow, target.host, target.port);
    report(req.method ?? '', target, allowed);
    if (!target) return refuse(res, 400, 'the harness proxy takes absolute http:// URLs and CONNECT only');
    if (!allowed) return refuse(res, 403, `blocked by the harness: ${target.host}:${target.port} is not on the allowlist`);
    // agent: false: no pooled upstream sockets outliving the run
    const upstream = request({ host: target.host, port: target.port, path: target.path, method: req.method, headers: forwardHeaders(req, target.authority), agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : refuse(res, 502, 'upstream unreachable')));
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = connectTarget(req.url);
    const allowed = target !== null && allows(allow, target.host, target.port);
    report('CONNECT', target, allowed);
    if (!target || !allowed) {
      client.end(`HTTP/1.1 ${target ? '403 Forbidden' : '400 Bad Request'}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    sockets.add(client);
    const upstream: Socket = connect(target.port, target.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => {
      upstream.destroy();
      sockets.delete(client);
    });
  });

  // Tunnelled sockets leave the http server's bookkeeping; track every socket so close() ends them all.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket: Duplex) => socket.destroy());

  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve({ close });
    });
  });
}
