import type { Command } from 'commander';
import type { CliContext } from './context.js';

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the governed route end to end on a throwaway repository and ledger')
    .action(async () => {
      ctx.output.out('demo: not yet');
    });
}
