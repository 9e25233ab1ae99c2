import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { BadInput, ChainBroken, Conflict, diskFullNote, EXIT, LedgerDamaged, Refused, StoreUnavailable } from '../errors.js';
import { DEFAULT_LEDGER_DIR } from '../ledger/ledger.js';
import { registerAdminCommands } from './admin-commands.js';
import { cliContext } from './context.js';
import { registerDemo } from './demo.js';
import { printable, processOutput, wantsJson, type Output } from './output.js';
import { registerRunCommands } from './run-commands.js';

const PATH_ERRORS = new Map([
  ['ENOENT', 'no such file or directory'],
  ['ENOTDIR', 'a file where a directory is needed'],
  ['EISDIR', 'a directory where a file is needed'],
  ['EEXIST', 'already exists, and is not what this command needs (a file where a directory goes?)'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EROFS', 'on a read-only file system'],
  ['ENAMETOOLONG', 'name too long'],
  ['ELOOP', 'too many symbolic links'],
]);

/** A failure as the CLI reports it: its exit code, the gate when one refused, and one line. */
type Failure = { exit: number; gate?: string; message: string };

/** Maps every failure to one line and one exit code: 1 refused by a gate, 2 bad input, 3 store or I/O. */
function classify(err: unknown, ledgerDir: string | null = null): Failure {
  const failure = classifyOnly(err, ledgerDir);
  if (failure.exit !== EXIT.store) return failure;
  // "disk I/O error" or "SQLITE_FULL" alone does not tell an operator what to do: a full disk is named.
  const where = (err as NodeJS.ErrnoException).path ?? ledgerDir ?? '.';
  const full = diskFullNote(err, resolve(where));
  return full && !failure.message.includes(full) ? { ...failure, message: `${failure.message}: ${full}` } : failure;
}

function classifyOnly(err: unknown, ledgerDir: string | null): Failure {
  if (err instanceof Refused) return { exit: EXIT.refused, gate: err.gate, message: `refused by gate ${err.gate}: ${err.detail}` };
  if (err instanceof BadInput) return { exit: EXIT.badInput, message: err.message };
  if (err instanceof ChainBroken || err instanceof LedgerDamaged || err instanceof Conflict || err instanceof StoreUnavailable) {
    return { exit: EXIT.store, message: err.message };
  }
  const { code, path } = err as NodeJS.ErrnoException;
  const message = (err as Error).message ?? String(err);
  // A path the user named that is not what the command needs (a file where a dir goes, no access):
  // bad input, named. Other system errors (disk full, I/O) are the store's side.
  // A file of the ledger's own (a projection, evidence) is no path the user named: the store's side.
  if (code && path && PATH_ERRORS.has(code)) {
    return { exit: ledgerDir && insideLedger(path, ledgerDir) ? EXIT.store : EXIT.badInput, message: `${path}: ${PATH_ERRORS.get(code)}` };
  }
  return { exit: EXIT.store, message: `${code && !message.startsWith(code) ? `${code}: ` : ''}${message}` };
}

/** Whether `path` lies strictly inside the ledger dir, an existing directory (as given or with links resolved). */
function insideLedger(path: string, ledgerDir: string): boolean {
  try {
    if (!statSync(ledgerDir).isDirectory()) return false;
    const roots = [resolve(ledgerDir), realpathSync(ledgerDir)];
    return roots.some((root) => resolve(path).startsWith(root + sep));
  } catch {
    return false;
  }
}

/** commander's usage error as one line: no "error: " prefix, its "(Did you mean --json?)" on the same line. */
function usageLine(message: string): string {
  return message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}


/** This package's version, from the nearest package.json up from this module (src/ or dist/src/). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'cto-ledger' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

export function buildProgram(output: Output): Command {
  const program = new Command('cto-ledger')
    .description('Event-sourced audit ledger for governed delegation of coding work to automated agents')
    .version(packageVersion(), '-V, --version', "this cto-ledger's version")
    .option('--ledger <dir>', 'ledger directory (default: $CTO_LEDGER_DIR or ./.cto-ledger)')
    .option('--read-only', 'open the ledger read-only (as for a dir that cannot be written): read commands only, nothing written under it')
    .exitOverride()
    // A usage error is printed by main as every other error is, one `cto-ledger: ` line: commander's own
    // was "error: ..." with its suggestion on a second line. Help still goes through writeOut/writeErr.
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()), outputError: () => {} })
    .showHelpAfterError(false);
  const ctx = cliContext(output, () => program.opts<{ ledger?: string; readOnly?: boolean }>());
  registerAdminCommands(program, ctx);
  registerRunCommands(program, ctx);
  registerDemo(program, ctx);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/**
 * `--by NAME` and `--json` are each command's own options, but people type them first, as they do
 * `--ledger` (`cto-ledger --by jp approve RUN`): moved from before the command to after it. Commander would
 * otherwise refuse it there, or, were it also a program option, take it from every command.
 */
export function hoistOperator(argv: readonly string[]): string[] {
  const leading: string[] = [];
  const hoisted: string[] = [];
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--'; i++) {
    const arg = argv[i]!;
    if (arg === '--by' && i + 1 < argv.length) hoisted.push(arg, argv[++i]!);
    else if (arg.startsWith('--by=') || arg === '--json') hoisted.push(arg);
    else {
      leading.push(arg);
      if (arg === '--ledger' && i + 1 < argv.length) leading.push(argv[++i]!);
    }
  }
  if (hoisted.length === 0) return [...argv];
  const rest = argv.slice(i);
  const end = rest.indexOf('--');
  return end < 0 ? [...leading, ...rest, ...hoisted] : [...leading, ...rest.slice(0, end), ...hoisted, ...rest.slice(end)];
}

export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  // A command that fails after printing its own JSON (health, execute) is not given a second document.
  let printed = false;
  const program = buildProgram({ out: (text) => ((printed = true), output.out(text)), err: output.err, ...(output.drained ? { drained: output.drained } : {}) });
  let failure: Failure;
  try {
    await program.parseAsync(hoistOperator(argv), { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT.ok;
      if (err.code === 'commander.help') return EXIT.ok;
      failure = { exit: EXIT.badInput, message: usageLine(err.message) };
    } else {
      let ledgerDir: string | null = null;
      try {
        ledgerDir = program.opts<{ ledger?: string }>().ledger || process.env.CTO_LEDGER_DIR || DEFAULT_LEDGER_DIR;
      } catch {
        // no ledger dir to speak of
      }
      failure = classify(err, ledgerDir);
    }
    // Messages quote what the user typed or the ledger holds: shown with control characters escaped.
    output.err(`cto-ledger: ${printable(failure.message)}`);
  }
  if (wantsJson(argv) && !printed) output.out(JSON.stringify({ ok: false, exitCode: failure.exit, ...(failure.gate ? { gate: failure.gate } : {}), error: failure.message }));
  return failure.exit;
}
