import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../../src/harness/proxy.js';
import type { Connection } from '../../src/harness/sandbox.js';

describe('the harness proxy, plain HTTP', () => {
  it('sends the upstream the host it checked and recorded, not a Host header of the client\'s choosing', async () => {
    const seen: Array<string | undefined> = [];
    const upstream = createServer((req, res) => {
      seen.push(req.headers.host);
      res.end('ok\n');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'cto-proxy-test-'));
    const socket = join(dir, 'p.sock');
    const connections: Connection[] = [];
    const proxy = await startProxy(socket, [`127.0.0.1:${port}`], (c) => connections.push(c));
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(socket, () => s.write(`GET http://127.0.0.1:${port}/x HTTP/1.1\r\nHost: fronted.attacker.example\r\nConnection: close\r\n\r\n`));
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('error', reject);
        s.on('close', () => resolve(out));
      });
      expect(reply).toMatch(/^HTTP\/1\.1 200/);
      expect(connections.map((c) => [c.host, c.port, c.allowed])).toEqual([['127.0.0.1', port, true]]);
      expect(seen).toEqual([`127.0.0.1:${port}`]);
    } finally {
      await proxy.close();
      upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
