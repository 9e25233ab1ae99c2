import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../events/hashing.js';
import { artifactPath, type ArtifactRef } from '../evidence/verify.js';

export const DIGESTS_FILE = 'digests.json';
export const SUMS_FILE = 'SHA256SUMS';

/** Replaces every secret value in a log with its name before anything is digested. */
export function redact(text: Buffer, secrets: Record<string, string>): Buffer {
  let out = text.toString('utf8');
  let changed = false;
  for (const [name, value] of Object.entries(secrets)) {
    if (value.length >= 4 && out.includes(value)) {
      out = out.split(value).join(`[redacted:${name}]`);
      changed = true;
    }
  }
  return changed ? Buffer.from(out) : text;
}

/** Copies a file into the content-addressed store (no-op when that digest is already there). */
function store(artifactsDir: string, bytes: Buffer, sha256: string): void {
  const target = artifactPath(artifactsDir, sha256);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, { mode: 0o444 });
  renameSync(tmp, target);
}

/**
 * Seals a bundle dir: digests.json (every artifact's sha256 and size), SHA256SUMS (`sha256sum -c`
 * checks every file), each file stored content-addressed. The bundle digest is digests.json's sha256.
 */
export function sealBundle(bundleDir: string, names: readonly string[], artifactsDir: string): { artifacts: ArtifactRef[]; bundleDigest: string } {
  const hashed = (name: string): ArtifactRef => {
    const bytes = readFileSync(join(bundleDir, name));
    const sha256 = sha256Hex(bytes);
    store(artifactsDir, bytes, sha256);
    return { name, sha256, size: bytes.length };
  };
  const content = [...names].sort().map(hashed);
  const digests = JSON.stringify({ artifacts: content }, null, 2) + '\n';
  writeFileSync(join(bundleDir, DIGESTS_FILE), digests);
  const withDigests = [...content, hashed(DIGESTS_FILE)].sort((a, b) => (a.name < b.name ? -1 : 1));
  writeFileSync(join(bundleDir, SUMS_FILE), withDigests.map((a) => `${a.sha256}  ${a.name}\n`).join(''));
  const artifacts = [...withDigests, hashed(SUMS_FILE)].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { artifacts, bundleDigest: sha256Hex(digests) };
}
