import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { BadInput } from '../../src/errors.js';
import { tempDir } from '../fixtures/tmp.js';

describe('config.yaml: backends', () => {
  const tmp = tempDir('cto-config-');
  afterAll(() => tmp.remove());
  const load = (backend: Record<string, unknown>) => {
    const file = join(tmp.dir, 'config.yaml');
    writeFileSync(file, stringify({ backends: [{ id: 'agent', command: ['/bin/true'], ...backend }] }));
    return () => loadConfig(file);
  };

  it('refuses a secret named like a variable the harness sets or that changes how programs run', () => {
    for (const name of ['PATH', 'HOME', 'CTO_RUN_ID', 'LD_PRELOAD', 'GIT_SSH_COMMAND', 'NODE_OPTIONS', 'HTTPS_PROXY']) {
      expect(load({ secrets: [name] }), name).toThrow(BadInput);
      expect(load({ secrets: [name] }), name).toThrow(/a name the harness sets/);
    }
    expect(load({ secrets: ['OPENAI_API_KEY'] })().backends[0]!.secrets).toEqual(['OPENAI_API_KEY']);
  });

  // Half a surrogate pair, written as an escape, is no character: the command run (and the digest the
  // enablement binds) would not be the one the file shows once written out as UTF-8.
  it('refuses a lone surrogate in the command, the description and the read-only paths, naming the field', () => {
    expect(load({ command: ['/bin/t\ud800rue'] })).toThrow(/config\.yaml:\d+:\d+: backends\.0\.command\.0: a lone surrogate escape/);
    expect(load({ description: 'an agent \udfff' })).toThrow(/backends\.0\.description: a lone surrogate escape/);
    expect(load({ readOnlyPaths: ['/opt/\udbffagent'] })).toThrow(/backends\.0\.readOnlyPaths\.0: a lone surrogate escape/);
    expect(load({ command: ['/bin/echo', 'héllo 😀'], description: '😀' })().backends[0]!.command).toEqual(['/bin/echo', 'héllo 😀']);
  });

  it('refuses network entries that can never match a connection', () => {
    for (const entry of ['evil.com:99999', 'evil.com:0', 'a..b:1', '-a.com', 'a.com:', '*.example.com']) {
      expect(load({ network: { allow: [entry] } }), entry).toThrow(BadInput);
    }
    expect(load({ network: { allow: ['api.example.com:443', 'localhost', 'a.b-c.d:8080'] } })().backends[0]!.network).toEqual({ allow: ['api.example.com:443', 'localhost', 'a.b-c.d:8080'] });
  });

  // `network: None` or a bare list of hosts was told only "backends.0.network: Invalid input".
  it('names the two forms network takes when it is neither', () => {
    for (const network of ['None', 'all', ['api.example.com:443'], null]) {
      expect(load({ network }), JSON.stringify(network)).toThrow(/:\d+:\d+: backends\.0\.network: none, or \{ allow: \[host:port, \.\.\.\] \} \(exact hosts\)$/);
    }
    expect(load({ network: { allow: ['api.example.com:443'], deny: ['x'] } })).toThrow(/Unrecognized key: "deny"/);
    expect(load({ network: { allow: ['bad host'] } })).toThrow(/backends\.0\.network\.allow\.0: an exact host/);
  });

  it('takes process and memory caps within bounds, and leaves an entry without them as it was', () => {
    for (const limits of [{ processes: 0 }, { processes: 8 }, { memoryMiB: 10 }, { memoryMiB: 1.5 }, { memoryMiB: 1e15 }, { memoryMiB: 2 ** 31 }, { cpus: 2 }, { processes: '64' }]) {
      expect(load({ limits }), JSON.stringify(limits)).toThrow(BadInput);
    }
    expect(load({ limits: { processes: 64, memoryMiB: 512 } })().backends[0]!.limits).toEqual({ processes: 64, memoryMiB: 512 });
    expect(load({})().backends[0]).not.toHaveProperty('limits');
  });
});

describe('config.yaml: size and duplicate keys', () => {
  const tmp = tempDir('cto-config-size-');
  afterAll(() => tmp.remove());
  const failure = (text: string): string => {
    const file = join(tmp.dir, 'config.yaml');
    writeFileSync(file, text);
    try {
      loadConfig(file);
    } catch (err) {
      expect(err).toBeInstanceOf(BadInput);
      return (err as Error).message;
    }
    throw new Error('expected the config to be refused');
  };

  it('refuses a config.yaml over 1 MiB, naming the file and its size, before parsing it', () => {
    const text = `backends: []\n${'#'.repeat(100)}\n`.repeat(11_000);
    expect(text.length).toBeGreaterThan(1 << 20);
    expect(failure(text)).toBe(`${join(tmp.dir, 'config.yaml')}: ${text.length} bytes, more than the 1048576 a config.yaml may have`);
  });

  it('finds a duplicate key among 40,000 (the yaml library\'s own check took 15 s: one pass here)', () => {
    let text = 'backends: []\nextra:\n';
    for (let i = 0; i < 40_000; i++) text += `  k${i}: 1\n`;
    expect(failure(text)).toMatch(/Unrecognized key: "extra"/);
    expect(failure(`${text}  k17: 2\n`)).toBe(`${join(tmp.dir, 'config.yaml')}:40003:3: malformed YAML: Map keys must be unique ("k17" is given twice)`);
    expect(failure('backends:\n  - id: a\n    command: [x]\n    id: b\n')).toMatch(/config\.yaml:4:5: malformed YAML: Map keys must be unique \("id" is given twice\)/);
  });
});
