import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../events/hashing.js';
import { readUpTo } from '../read-file.js';
import { artifactPath, type ArtifactRef } from '../evidence/verify.js';

export const DIGESTS_FILE = 'digests.json';
export const SUMS_FILE = 'SHA256SUMS';

/**
 * Reads at most `cap` bytes of a file the backend could write to, without following a link or
 * blocking on a FIFO: a log it made huge, or replaced by /dev/zero or a pipe, must not stall or
 * exhaust the harness. Empty when missing; null when it is not a regular file (or cannot be opened).
 */
export function readCapped(path: string, cap: number): { bytes: Buffer; size: number } | null {
  let read: ReturnType<typeof readUpTo>;
  try {
    read = readUpTo(path, cap, { noFollow: true });
  } catch (err) {
    const { code, syscall } = err as NodeJS.ErrnoException;
    if (code === 'ENOENT') return { bytes: Buffer.alloc(0), size: 0 };
    if (syscall === 'open') return null;
    throw err;
  }
  return read.kind ? null : { bytes: read.bytes, size: read.size };
}

/** Evidence logs are kept up to this size; the rest is cut, and the cut said in the log. */
export const LOG_CAP = 16 << 20;
/** Past the cap, what is read to find secrets whole: far more than any value's longest encoded form (a hex dump). */
const REDACT_MARGIN = 1 << 20;

/** A log for the bundle: capped as above, with a closing line when it was cut or was no file. */
export function logForEvidence(path: string, secrets: Record<string, string>): Buffer {
  // Read past the cap and redacted before the cut: a secret straddling it would otherwise keep its
  // first bytes in the evidence, a prefix no pattern of the whole value matches.
  const margin = Object.keys(secrets).length > 0 ? REDACT_MARGIN : 0;
  const read = readCapped(path, LOG_CAP + margin);
  if (!read) return Buffer.from(`[cto-ledger: ${path} was replaced by something that is not a regular file; not read]\n`);
  const text = margin ? redact(read.bytes, secrets) : read.bytes;
  if (read.size <= LOG_CAP) return text;
  return Buffer.concat([text.subarray(0, LOG_CAP), Buffer.from(`\n[cto-ledger: cut at ${LOG_CAP} bytes of ${read.size}]\n`)]);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Encoded forms shorter than this are not looked for: they would match ordinary text. */
const MIN_ENCODED = 8;

/** RFC 4648's base32 and its "extended hex" alphabet (found in either case: the patterns ignore it). */
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

function base32(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(acc >> bits) & 31];
    }
  }
  return bits > 0 ? out + alphabet[(acc << (5 - bits)) & 31] : out;
}

/**
 * The characters of an encoding that depend on the value alone, at each alignment it can start at
 * inside a longer blob (`group` bytes make a whole number of characters of `bits` each: 3 for base64,
 * 5 for base32): the characters the bytes around it share are left out, and so is padding.
 */
function innerForms(bytes: Buffer, group: number, bits: number, encode: (padded: Buffer) => string): string[] {
  const forms: string[] = [];
  for (let pad = 0; pad < group; pad++) {
    const encoded = encode(Buffer.concat([Buffer.alloc(pad), bytes]));
    forms.push(encoded.slice(Math.ceil((8 * pad) / bits), Math.floor((8 * (pad + bytes.length)) / bits)));
  }
  return forms;
}

/**
 * The literal forms a secret's value takes when a backend smuggles it out encoded: base64 (standard
 * and URL-safe) at each of its three alignments, base32 (RFC 4648, and its extended-hex alphabet) at
 * each of its five, percent-encoding, and the value reversed (`rev`). Hex is looked for as a dump
 * (hexDumpPatterns), of which plain hex is one case.
 */
function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set<string>();
  for (const inner of innerForms(bytes, 3, 6, (b) => b.toString('base64'))) {
    forms.add(inner);
    forms.add(inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  for (const alphabet of [BASE32, BASE32HEX]) for (const inner of innerForms(bytes, 5, 5, (b) => base32(b, alphabet))) forms.add(inner);
  forms.add(encodeURIComponent(value));
  forms.add([...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
  forms.add([...value].reverse().join(''));
  // As JSON writes it (report.json, trace.jsonl): a `"` or `\` in the value comes out escaped.
  forms.add(JSON.stringify(value).slice(1, -1));
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
 * Between two bytes of a hex dump on one line: nothing (`xxd -p`, and inside xxd's groups of two),
 * a space (`hexdump -C`, `od -t x1`, between xxd's groups), `:`, `\x`, `0x` and `, `, `%`.
 */
const HEX_GAP = String.raw`(?:[ \t:,%\\]|0?x){0,4}`;
/**
 * From one line of a dump to the next: the rest of the line (the dump's text column: `  sk-live-x9`,
 * `|sk-live-x9|`), a line break, and the next line's offset (`00000010: `, `00000010  `, `0000020 `).
 */
const HEX_EOL = String.raw`(?:[ \t]+[^\r\n]{0,80})?(?:[\r\n]|\\[rn])[ \t+-]*(?:[0-9a-f]{4,16}:?[ \t]+)?`;
/** The rest of the last line, where the text column shows the value's last characters again. */
const HEX_TAIL = String.raw`(?:[ \t0-9a-f]{0,60}[ \t]{2}[^\r\n]{0,20})?`;

/**
 * A secret's bytes in hex as `xxd`, `xxd -p`, `hexdump -C`, `od -A x -t x1z` print them (in byte
 * order, across the dump's lines, text column included), and as `od -x` and `hexdump` print them
 * (16-bit words, each with its two bytes swapped, at either alignment). A value under 8 bytes, or
 * one whose hex holds no letter, is looked for only as plain hex wrapped across lines: its bytes
 * apart would read as a list of numbers (`61, 62, 63, 64`, `31 32 33 34`).
 */
function hexDumpPatterns(value: string): string[] {
  const bytes = [...Buffer.from(value, 'utf8')].map((b) => b.toString(16).padStart(2, '0'));
  if (bytes.length < MIN_ENCODED || !bytes.some((pair) => /[a-f]/.test(pair))) return [wrappable(bytes.join(''))];
  const swapped = (from: number) => {
    const words: string[] = [];
    for (let i = from; i + 1 < bytes.length; i += 2) words.push(bytes[i + 1]!, bytes[i]!);
    return words;
  };
  const dump = (pairs: string[]) => pairs.map((pair) => `${pair[0]}${BREAK}${pair[1]}`).join(`${HEX_GAP}(?:${HEX_EOL}${HEX_GAP})?`) + HEX_TAIL;
  return [bytes, swapped(0), swapped(1)].filter((pairs) => 2 * pairs.length >= MIN_ENCODED).map(dump);
}

/** Forms per pattern: V8 runs one alternation of all twenty-odd forms of a secret ten times slower. */
const FORMS_PER_PATTERN = 4;

const patternsByValue = new Map<string, RegExp[] | null>();

/**
 * A secret value as found in text: in any case (a host name, say, comes back lower-cased), in the
 * encodings above, and wrapped across lines (an encoder wraps base64 at 76 columns and `xxd -p` at
 * 60; a backend can print the value itself split by a newline, or with CRLF), longest forms first.
 * Null when too short to be one. A match covers the line breaks inside it, so redacting it leaves no
 * piece behind.
 */
function secretPatterns(value: string): RegExp[] | null {
  let patterns = patternsByValue.get(value);
  if (patterns !== undefined) return patterns;
  if (value.length < 4) patterns = null;
  else {
    const literal = [value, ...encodedForms(value)].sort((a, b) => b.length - a.length).map(wrappable);
    patterns = [new RegExp(hexDumpPatterns(value).join('|'), 'gi')];
    for (let i = 0; i < literal.length; i += FORMS_PER_PATTERN) patterns.push(new RegExp(literal.slice(i, i + FORMS_PER_PATTERN).join('|'), 'gi'));
  }
  if (patternsByValue.size >= 256) patternsByValue.clear();
  patternsByValue.set(value, patterns);
  return patterns;
}

const foundIn = (text: string) => (pattern: RegExp) => {
  pattern.lastIndex = 0;
  return pattern.test(text);
};

/** Whether the text holds a secret's value or one of its encoded forms, as redact() finds (and cuts) them. */
export function holdsSecret(text: string, value: string): boolean {
  return secretPatterns(value)?.some(foundIn(text)) ?? false;
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
    for (const pattern of secretPatterns(value) ?? []) {
      if (!foundIn(out)(pattern)) continue;
      pattern.lastIndex = 0;
      out = out.replace(pattern, (match) => `[redacted:${name}]${match.replace(/[^\r\n]+/g, '')}`);
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
