import { userInfo } from 'node:os';
import { DEFAULT_LEDGER_DIR, openLedger, type Ledger } from '../ledger/ledger.js';
import { refreshProjections } from '../ledger/projections.js';
import type { Output } from './output.js';

export type CliContext = {
  output: Output;
  ledgerDir(): string;
  /** Opens the ledger, runs `work`, brings the projections up to date, closes. */
  withLedger<T>(work: (ledger: Ledger) => Promise<T>, options?: { refresh?: boolean }): Promise<T>;
};

export function cliContext(output: Output, ledgerOption: () => string | undefined): CliContext {
  const ledgerDir = () => ledgerOption() ?? process.env.CTO_LEDGER_DIR ?? DEFAULT_LEDGER_DIR;
  return {
    output,
    ledgerDir,
    async withLedger(work, options = {}) {
      const ledger = openLedger(ledgerDir());
      try {
        const result = await work(ledger);
        if (options.refresh !== false) await refreshProjections(ledger);
        return result;
      } finally {
        await ledger.close();
      }
    },
  };
}

/** The operator named by --by, else CTO_OPERATOR, else the login name. */
export function operatorName(by: string | undefined): string {
  return by ?? process.env.CTO_OPERATOR ?? userInfo().username;
}
