import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export type ArtifactRef = { name: string; sha256: string; size: number };
export type EvidenceCheck = { ok: true } | { ok: false; detail: string };

/** Where an artifact with this digest lives in the ledger's content-addressed store. */
export function artifactPath(artifactsDir: string, sha256: string): string {
  return join(artifactsDir, 'sha256', sha256.slice(0, 2), sha256);
}

/**
 * The file's digest and size, reading at most `limit` + 1 bytes; null when it is no regular file. A
 * FIFO or a device put where an artifact goes (bundles are plain files in the ledger's dir) made
 * `outcome --accept` and `health` block on it, or read /dev/zero without end: opened without
 * blocking, judged by the descriptor opened, and never read past what the digest says it holds.
 */
async function hashFile(file: string, limit: number): Promise<{ sha256: string; size: number } | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) return null;
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false, start: 0, end: limit })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** Re-hashes every artifact now: evidence counts only if every byte is still what was digested. */
export async function verifyArtifacts(artifactsDir: string, artifacts: readonly ArtifactRef[]): Promise<EvidenceCheck> {
  for (const a of artifacts) {
    const file = artifactPath(artifactsDir, a.sha256);
    if (!existsSync(file)) return { ok: false, detail: `artifact ${a.name} (${a.sha256}) is missing from the store` };
    const now = await hashFile(file, a.size);
    if (!now) return { ok: false, detail: `artifact ${a.name} (${a.sha256}) in the store is no regular file` };
    if (now.sha256 !== a.sha256 || now.size !== a.size) {
      return { ok: false, detail: `artifact ${a.name} no longer hashes to ${a.sha256}` };
    }
  }
  return { ok: true };
}

/**
 * Re-hashes the bundle the operator reviews and applies (evidence/RUN/patch.diff and the rest):
 * each file must still be the digested artifact of its name, or accepting would bless other bytes
 * than those the ledger holds.
 */
export async function verifyBundle(bundleDir: string, artifacts: readonly ArtifactRef[]): Promise<EvidenceCheck> {
  for (const a of artifacts) {
    const file = join(bundleDir, a.name);
    if (!existsSync(file)) return { ok: false, detail: `${file} is missing from the evidence bundle` };
    const now = await hashFile(file, a.size);
    if (!now) return { ok: false, detail: `${file} is no regular file, not the digested ${a.name} (${a.sha256}): it was changed after the run` };
    if (now.sha256 !== a.sha256 || now.size !== a.size) return { ok: false, detail: `${file} is not the digested ${a.name} (${a.sha256}): it was changed after the run` };
  }
  return { ok: true };
}
