import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../events/hashing.js';
import { artifactPath, type ArtifactRef } from '../evidence/verify.js';

export const DIGESTS_FILE = 'digests.json';
export const SUMS_FILE = 'SHA256SUMS';

/**
 * Reads at most `cap` bytes of a file the backend could write to, without following a link or
 * blocking on a FIFO: a log it made huge, or replaced by /dev/zero or a pipe, must not stall or
 * exhaust the harness. Null when it is not a regular file.
 */
export function readCapped(path: string, cap: number): { bytes: Buffer; size: number } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: Buffer.alloc(0), size: 0 };
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const bytes = Buffer.alloc(Math.min(st.size, cap));
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { bytes: bytes.subarray(0, read), size: st.size };
  } finally {
    closeSync(fd);
  }
}

/** Evidence logs are kept up to this size; the rest is cut, and the cut said in the log. */
export const LOG_CAP = 16 << 20;

/** A log for the bundle: capped as above, with a closing line when it was cut or was no file. */
export function logForEvidence(path: string): Buffer {
  const read = readCapped(path, LOG_CAP);
  if (!read) return Buffer.from(`[cto-ledger: ${path} was replaced by something that is not a regular file; not read]\n`);
  if (read.size <= read.bytes.length) return read.bytes;
  return Buffer.concat([read.bytes, Buffer.from(`\n[cto-ledger: cut at ${LOG_CAP} bytes of ${read.size}]\n`)]);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Encoded forms shorter than this are not looked for: they would match ordinary text. */
const MIN_ENCODED = 8;

/**
 * The forms a secret's value takes when a backend smuggles it out encoded: base64 (standard and
 * URL-safe) at each of the three alignments it can start at inside a longer blob, hex, and
 * percent-encoding. Only the characters that depend on the value alone are kept.
 */
function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>();
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const inner = b64.slice(Math.ceil((8 * pad) / 6), Math.floor((8 * (pad + bytes.length)) / 6));
    forms.add(inner);
    forms.add(inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  forms.add(bytes.toString('hex'));
  forms.add(encodeURIComponent(value));
  forms.add([...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
  forms.delete(value);
  return [...forms].filter((form) => form.length >= MIN_ENCODED);
}

/**
 * What may stand between two characters of a value a writer wrapped across lines: line breaks (LF,
 * CRLF, a lone CR, or written escaped as JSON and C write them, `\n`), each followed by what starts
 * the next line: a diff's marker, indentation. Each break starts with a character nothing else here
 * matches, so a failed match backtracks in linear time, never over the ways to split a run of breaks.
 */
const BREAK = String.raw`(?:(?:[\r\n]|\\[rn])[ \t+-]*)*`;

/** A literal form, found whole or wrapped across lines at any point. */
const wrappable = (form: string) => [...form].map(escapeRegExp).join(BREAK);

/**
 * A secret value as found in text: in any case (a host name, say, comes back lower-cased), in the
 * encodings above, and wrapped across lines (an encoder wraps base64 at 76 columns and `xxd -p` at
 * 60; a backend can print the value itself split by a newline, or with CRLF). Null when too short to
 * be one. The match covers the line breaks inside it, so redacting it leaves no piece behind.
 */
function secretPattern(value: string): RegExp | null {
  if (value.length < 4) return null;
  const forms = [value, ...encodedForms(value)].sort((a, b) => b.length - a.length);
  return new RegExp(forms.map(wrappable).join('|'), 'gi');
}

/** Whether the text holds a secret's value or one of its encoded forms, as redact() finds (and cuts) them. */
export function holdsSecret(text: string, value: string): boolean {
  return secretPattern(value)?.test(text) ?? false;
}

/**
 * Replaces every secret value in a text the backend could write to with its name before anything is
 * digested. A value wrapped across lines is replaced whole, line breaks included, and those line
 * breaks are put back after the name: a log keeps its line count. Longer values first: one holding
 * another is found whole.
 */
export function redact(text: Buffer, secrets: Record<string, string>): Buffer {
  let out = text.toString('utf8');
  let changed = false;
  for (const [name, value] of Object.entries(secrets).sort(([, a], [, b]) => b.length - a.length)) {
    const pattern = secretPattern(value);
    if (pattern?.test(out)) {
      pattern.lastIndex = 0;
      out = out.replace(pattern, (found) => `[redacted:${name}]${found.replace(/[^\r\n]+/g, '')}`);
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
  try {
    writeFileSync(tmp, bytes, { mode: 0o444 });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
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
