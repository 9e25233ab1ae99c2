import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { BadInput } from '../errors.js';
import { formatIssues } from '../events/envelope.js';
import { digestOf } from '../events/hashing.js';
import { ContractInput, normalizeContract, type Contract } from './schema.js';

export type LoadedContract = {
  contract: Contract;
  contractDigest: string;
  format: 'yaml' | 'json' | 'markdown';
};

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/;

function parseStructured(file: string, text: string, format: 'yaml' | 'json', lineOffset = 0): unknown {
  const label = format === 'json' ? 'JSON' : 'YAML';
  try {
    if (format === 'json') {
      const value: unknown = JSON.parse(text);
      // JSON.parse keeps the last of two equal keys without a word; a contract must not say two things.
      parseYaml(text, { uniqueKeys: true });
      return value;
    }
    return parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `:${pos.line + lineOffset}:${pos.col}` : '';
      throw new BadInput(`contract-invalid: ${file}${where}: malformed ${label}: ${err.message.split('\n')[0]!.replace(/:$/, '')}`);
    }
    throw new BadInput(`contract-invalid: ${file}: malformed ${label}: ${(err as Error).message}`);
  }
}

/** Far more than any brief; a contract is read whole and its admission is kept forever. */
const MAX_CONTRACT_BYTES = 1 << 20;

function readContractText(file: string): string {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONTRACT_BYTES) throw new BadInput(`contract-invalid: ${file}: ${size} bytes, more than the ${MAX_CONTRACT_BYTES} a contract may have`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof BadInput) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : code === 'EACCES' ? 'not readable (permission denied)' : (err as Error).message;
    throw new BadInput(`contract-invalid: ${file}: ${why}`);
  }
  // A byte order mark (as some Windows editors write) is not part of the text.
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Reads a contract from YAML, JSON, or Markdown whose YAML front matter holds the fields and whose
 * body is the brief (as PRDs and issues are written). Every failure names the file and the field.
 */
export function loadContract(file: string): LoadedContract {
  const text = readContractText(file);
  const ext = extname(file).toLowerCase();
  let format: LoadedContract['format'];
  let raw: unknown;
  if (ext === '.md' || ext === '.markdown') {
    format = 'markdown';
    const match = FRONT_MATTER.exec(text);
    if (!match) throw new BadInput(`contract-invalid: ${file}: Markdown contract needs YAML front matter between --- lines`);
    raw = parseStructured(file, match[1]!, 'yaml', 1);
    const body = match[2]!.trim();
    if (raw && typeof raw === 'object' && !Array.isArray(raw) && body) {
      if ('brief' in raw) throw new BadInput(`contract-invalid: ${file}: brief is given twice (front matter and body)`);
      raw = { ...raw, brief: body };
    }
  } else if (ext === '.json') {
    format = 'json';
    raw = parseStructured(file, text, 'json');
  } else if (ext === '.yaml' || ext === '.yml') {
    format = 'yaml';
    raw = parseStructured(file, text, 'yaml');
  } else {
    throw new BadInput(`contract-invalid: ${file}: unknown contract format ${ext || '(none)'}; use .yaml, .json or .md`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BadInput(`contract-invalid: ${file}: the contract must be a mapping of fields`);
  }
  const parsed = ContractInput.safeParse(raw);
  if (!parsed.success) throw new BadInput(`contract-invalid: ${file}: ${formatIssues(parsed.error)}`);
  const contract = normalizeContract(parsed.data);
  return { contract, contractDigest: digestOf(contract), format };
}
