import { extname } from 'node:path';
import type { z } from 'zod';
import { YAMLParseError, type Document, type LineCounter } from 'yaml';
import { BadInput } from '../errors.js';
import { readRegularFile } from '../read-file.js';
import { formatIssues } from '../events/envelope.js';
import { digestOf } from '../events/hashing.js';
import { parseKeepingPlaces, placeOf, placeOfIssue } from '../config/unique-keys.js';
import { ContractInput, normalizeContract, type Contract } from './schema.js';

export type LoadedContract = {
  contract: Contract;
  contractDigest: string;
  format: 'yaml' | 'json' | 'markdown';
};

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/;

type Parsed = { value: unknown; doc: Document; lines: LineCounter; lineOffset: number };

/** The fields a contract must give (the rest have defaults), as told for an empty front matter. */
const CONTRACT_FIELDS = 'title, target, backend, references, allowedPaths, successCriteria, rollback, and validation (or noTestRationale)';

function emptyFrontMatter(file: string): string {
  return `contract-invalid: ${file}: the front matter is empty: between the --- lines a contract needs ${CONTRACT_FIELDS} (the body below it is the brief)`;
}

function malformed(file: string, label: string, err: unknown, lineOffset: number): BadInput {
  if (err instanceof YAMLParseError) {
    const pos = err.linePos?.[0];
    const where = pos ? `:${pos.line + lineOffset}:${pos.col}` : '';
    // The prefix names the line in the file; yaml's own "at line" counts from the front matter.
    let first = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
    // Fields between --- lines, the brief below them: a Markdown contract saved as .yaml.
    if (err.code === 'MULTIPLE_DOCS' && label === 'YAML' && lineOffset === 0) first += ' (fields between --- lines and the brief below them make a Markdown contract: name it .md)';
    return new BadInput(`contract-invalid: ${file}${where}: malformed ${label}: ${first}`);
  }
  return new BadInput(`contract-invalid: ${file}: malformed ${label}: ${(err as Error).message}`);
}

/**
 * Where JSON's grammar first fails in `text` (an offset), or -1: for the line of a JSON.parse error,
 * whose message gives a position only at times ("Unexpected token '/', ... is not valid JSON" none).
 * Iterative: a contract may nest deeper than the call stack.
 */
export function jsonFaultOffset(text: string): number {
  const ws = /[ \t\n\r]*/y;
  const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const string = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  let i = 0;
  const take = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  /** A key and its colon: true when given. */
  const key = (): boolean => {
    take(ws);
    if (!take(string)) return false;
    take(ws);
    if (text[i] !== ':') return false;
    i++;
    return true;
  };
  const open: string[] = [];
  for (;;) {
    take(ws);
    const c = text[i];
    if (c === '{' || c === '[') {
      i++;
      take(ws);
      if (text[i] === (c === '{' ? '}' : ']')) i++;
      else {
        if (c === '{' && !key()) return i;
        open.push(c);
        continue;
      }
    } else if (!take(string) && !take(literal)) return i;
    for (;;) {
      take(ws);
      const top = open[open.length - 1];
      if (top === undefined) return i < text.length ? i : -1;
      if (text[i] === ',') {
        i++;
        if (top === '{' && !key()) return i;
        break;
      }
      if (text[i] !== (top === '{' ? '}' : ']')) return i;
      i++;
      open.pop();
    }
  }
}

/** JSON.parse, its error placed at a line and column of the file (it gave a character position at best). */
function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const given = / (?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?$/.exec(message);
    const offset = given ? Number(given[1]) : jsonFaultOffset(text);
    if (offset < 0) throw err;
    const before = text.slice(0, offset).split('\n');
    const why = given ? message.slice(0, given.index) : message;
    throw new BadInput(`contract-invalid: ${file}:${before.length}:${before[before.length - 1]!.length + 1}: malformed JSON: ${why}`);
  }
}

/** Parses YAML (or JSON, which YAML reads too, for the positions) keeping each node's place in the file. */
function parseStructured(file: string, text: string, format: 'yaml' | 'json', lineOffset = 0): Parsed {
  const label = format === 'json' ? 'JSON' : 'YAML';
  try {
    // JSON.parse first: YAML would take things JSON does not allow.
    const json: unknown = format === 'json' ? parseJson(file, text) : undefined;
    // Keys unique: JSON.parse keeps the last of two equal keys without a word; a contract must not say two things.
    const { doc, lines, duplicate, toJS } = parseKeepingPlaces(text);
    if (duplicate) {
      throw new BadInput(`contract-invalid: ${file}:${duplicate.line + lineOffset}:${duplicate.col}: malformed ${label}: Map keys must be unique (${JSON.stringify(duplicate.key)} is given twice)`);
    }
    return { value: format === 'json' ? json : toJS(), doc, lines, lineOffset };
  } catch (err) {
    if (err instanceof BadInput) throw err;
    throw malformed(file, label, err, lineOffset);
  }
}

/** file:line:col of the first issue's field (its key when unknown, its nearest present parent when missing). */
function whereIs(parsed: Parsed, issue: z.core.$ZodIssue): string {
  return placeOfIssue(parsed.doc, parsed.lines, issue, parsed.lineOffset);
}

/** Far more than any brief; a contract is read whole and its admission is kept forever. */
const MAX_CONTRACT_BYTES = 1 << 20;

/**
 * The contract's text, refused when it is not UTF-8: decoding it loosely would admit U+FFFD where the
 * file holds another byte, a contract (and digest) other than the one the operator wrote.
 */
function decodeUtf8(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let line = 1;
    for (let start = 0; start < bytes.length; line++) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      start = end + 1;
    }
    throw new BadInput(`contract-invalid: ${file}:${line}: not UTF-8 text (save it as UTF-8)`);
  }
}

function readContractText(file: string): string {
  let text: string;
  try {
    text = decodeUtf8(file, readRegularFile(file, MAX_CONTRACT_BYTES, `contract-invalid: ${file}`, 'a contract'));
  } catch (err) {
    if (err instanceof BadInput) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : code === 'EACCES' ? 'not readable (permission denied)' : (err as Error).message;
    throw new BadInput(`contract-invalid: ${file}: ${why}`);
  }
  // A byte order mark and CRLF line ends (as some Windows editors write) are not part of the text.
  return (text.startsWith('\uFEFF') ? text.slice(1) : text).replace(/\r\n/g, '\n');
}

/** The contract fields a block of YAML gives, or null when it gives none (or is no YAML mapping). */
function frontMatterFields(text: string): string[] | null {
  try {
    const value: unknown = parseKeepingPlaces(text).toJS();
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    const known = Object.keys(value).filter((key) => key in ContractInput.shape);
    return known.length ? known : null;
  } catch {
    return null;
  }
}

/**
 * Why a Markdown contract's front matter was not found, at its line: one not on line 1 (a blank line
 * or a heading above it) or never closed was told "needs YAML front matter", which it has.
 */
function noFrontMatter(file: string, text: string): BadInput {
  const lines = text.split('\n');
  const fence = (line: string) => /^---[ \t]*$/.test(line);
  if (fence(lines[0]!)) {
    return new BadInput(`contract-invalid: ${file}:1: the front matter opened by --- on line 1 is never closed: end it with a --- line, the brief below it`);
  }
  const first = lines.findIndex(fence);
  if (first > 0) {
    return new BadInput(`contract-invalid: ${file}:${first + 1}: Markdown contract needs YAML front matter between --- lines, the first on line 1: the first --- is on line ${first + 1}, below ${lines.slice(0, first).every((l) => !l.trim()) ? 'blank lines' : 'other text'}`);
  }
  return new BadInput(`contract-invalid: ${file}: Markdown contract needs YAML front matter between --- lines`);
}

/**
 * Reads a contract from YAML, JSON, or Markdown whose YAML front matter holds the fields and whose
 * body is the brief (as PRDs and issues are written). Every failure names the file and the field.
 */
export function loadContract(file: string): LoadedContract {
  const text = readContractText(file);
  const ext = extname(file).toLowerCase();
  let format: LoadedContract['format'];
  let parsed: Parsed;
  let raw: unknown;
  let briefLine: number | null = null;
  if (ext === '.md' || ext === '.markdown') {
    format = 'markdown';
    // `---` then `---` (or only blank lines between them): front matter there, but empty.
    if (/^---[ \t]*\n(?:[ \t]*\n)*---[ \t]*(?:\n|$)/.test(text)) {
      throw new BadInput(emptyFrontMatter(file));
    }
    const match = FRONT_MATTER.exec(text);
    if (!match) throw noFrontMatter(file, text);
    parsed = parseStructured(file, match[1]!, 'yaml', 1);
    raw = parsed.value;
    const body = match[2]!.trim();
    const second = FRONT_MATTER.exec(match[2]!.replace(/^(?:[ \t]*\n)*/, ''));
    const fields = second && frontMatterFields(second[1]!);
    if (fields) {
      // A second block of fields below the first was read as the brief, its fields never applied.
      const line = match[1]!.split('\n').length + 3 + (/^(?:[ \t]*\n)*/.exec(match[2]!)![0].split('\n').length - 1);
      throw new BadInput(`contract-invalid: ${file}:${line}: a second front matter (${fields.join(', ')}) begins the body: put its fields in the one on line 1; the body is the brief`);
    }
    if (raw && typeof raw === 'object' && !Array.isArray(raw) && !body && !('brief' in raw)) {
      // The brief is the body: zod would say "brief: expected string" at the front matter's first line.
      const closing = match[1]!.split('\n').length + 2; // the opening ---, the front matter, then it
      throw new BadInput(`contract-invalid: ${file}:${closing}: the body, which is the brief, is empty: write the task below the closing --- line`);
    }
    if (raw && typeof raw === 'object' && !Array.isArray(raw) && body) {
      if ('brief' in raw) throw new BadInput(`contract-invalid: ${file}${placeOf(parsed.doc, parsed.lines, [], 'brief', parsed.lineOffset)}: brief is given twice (front matter and body)`);
      raw = { ...raw, brief: body };
      // The body's first line of text: a fault in the brief was placed in the front matter (its line 2).
      briefLine = match[1]!.split('\n').length + 3 + (/^\s*/.exec(match[2]!)![0].split('\n').length - 1);
    }
  } else if (ext === '.json') {
    format = 'json';
    parsed = parseStructured(file, text, 'json');
    raw = parsed.value;
  } else if (ext === '.yaml' || ext === '.yml') {
    format = 'yaml';
    parsed = parseStructured(file, text, 'yaml');
    raw = parsed.value;
  } else {
    throw new BadInput(`contract-invalid: ${file}: unknown contract format ${ext || '(none)'}; use .yaml, .json or .md`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    if (raw === null || raw === undefined) {
      // Nothing but comments (or nothing at all): told as an empty front matter is, with the fields needed.
      throw new BadInput(format === 'markdown' ? emptyFrontMatter(file) : `contract-invalid: ${file}: the contract is empty: it needs ${CONTRACT_FIELDS}`);
    }
    // At the value's first line (a list, a lone word).
    throw new BadInput(`contract-invalid: ${file}${placeOf(parsed.doc, parsed.lines, [], undefined, parsed.lineOffset)}: the contract must be a mapping of fields`);
  }
  const checked = ContractInput.safeParse(raw);
  if (!checked.success) {
    const first = checked.error.issues[0]!;
    const where = briefLine !== null && first.path[0] === 'brief' ? `:${briefLine}` : whereIs(parsed, first);
    throw new BadInput(`contract-invalid: ${file}${where}: ${formatIssues(checked.error)}`);
  }
  const contract = normalizeContract(checked.data);
  return { contract, contractDigest: digestOf(contract), format };
}
