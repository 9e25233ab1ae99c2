import { existsSync, readFileSync } from 'node:fs';
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
  try {
    return format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? `:${pos.line + lineOffset}:${pos.col}` : '';
      throw new BadInput(`contract-invalid: ${file}${where}: malformed YAML: ${err.message.split('\n')[0]}`);
    }
    throw new BadInput(`contract-invalid: ${file}: malformed JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads a contract from YAML, JSON, or Markdown whose YAML front matter holds the fields and whose
 * body is the brief (as PRDs and issues are written). Every failure names the file and the field.
 */
export function loadContract(file: string): LoadedContract {
  if (!existsSync(file)) throw new BadInput(`contract-invalid: ${file}: no such file`);
  const text = readFileSync(file, 'utf8');
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
