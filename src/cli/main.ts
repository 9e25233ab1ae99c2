import { Command, CommanderError } from 'commander';
import { BadInput, ChainBroken, Conflict, EXIT, LedgerDamaged, Refused, StoreUnavailable } from '../errors.js';
import { registerAdminCommands } from './admin-commands.js';
import { cliContext } from './context.js';
import { registerDemo } from './demo.js';
import { processOutput, type Output } from './output.js';
import { registerRunCommands } from './run-commands.js';

/** Maps every failure to one line and one exit code: 1 refused by a gate, 2 bad input, 3 store or I/O. */
function report(err: unknown, output: Output): number {
  if (err instanceof Refused) {
    output.err(`cto-ledger: refused by gate ${err.gate}: ${err.detail}`);
    return EXIT.refused;
  }
  if (err instanceof BadInput) {
    output.err(`cto-ledger: ${err.message}`);
    return EXIT.badInput;
  }
  if (err instanceof ChainBroken || err instanceof LedgerDamaged || err instanceof Conflict || err instanceof StoreUnavailable) {
    output.err(`cto-ledger: ${err.message}`);
    return EXIT.store;
  }
  const code = (err as NodeJS.ErrnoException).code;
  output.err(`cto-ledger: ${code ? `${code}: ` : ''}${(err as Error).message ?? String(err)}`);
  return EXIT.store;
}

export function buildProgram(output: Output): Command {
  const program = new Command('cto-ledger')
    .description('Event-sourced audit ledger for governed delegation of coding work to automated agents')
    .option('--ledger <dir>', 'ledger directory (default: $CTO_LEDGER_DIR or ./.cto-ledger)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) })
    .showHelpAfterError(false);
  const ctx = cliContext(output, () => program.opts<{ ledger?: string }>().ledger);
  registerAdminCommands(program, ctx);
  registerRunCommands(program, ctx);
  registerDemo(program, ctx);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const program = buildProgram(output);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT.ok;
      if (err.code === 'commander.help') return EXIT.ok;
      return EXIT.badInput;
    }
    return report(err, output);
  }
}
