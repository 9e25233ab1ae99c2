import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// docker-compose.yml cannot be started on machines without a Docker engine (CI here); what can be
// checked without one is checked: pinned images, health checks, named volumes, no port taken twice.

type Service = { image?: string; profiles?: string[]; healthcheck?: { test?: unknown }; ports?: string[]; volumes?: string[] };
const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  const services = Object.entries(compose.services);

  it('pins every image to a version and gives every service a health check', () => {
    expect(services.length).toBeGreaterThanOrEqual(5);
    for (const [name, s] of services) {
      expect(s.image, name).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)+$/);
      expect(s.healthcheck?.test, name).toBeDefined();
    }
  });

  it('runs one EventStoreDB node by default, a three-node cluster and PostgreSQL under profiles', () => {
    const byDefault = services.filter(([, s]) => !s.profiles).map(([n]) => n);
    expect(byDefault).toEqual(['esdb']);
    expect(services.filter(([, s]) => s.profiles?.includes('cluster'))).toHaveLength(3);
    expect(services.filter(([, s]) => s.profiles?.includes('postgres'))).toHaveLength(1);
  });

  it('keeps data in declared named volumes and never binds one host port twice', () => {
    const hostPorts = services.flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(':')[0]));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const [name, s] of services) {
      for (const volume of s.volumes ?? []) expect(Object.keys(compose.volumes), name).toContain(volume.split(':')[0]);
    }
  });
});
