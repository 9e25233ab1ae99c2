import { DEFAULT_LEDGER_DIR, openLedger, type Ledger } from '../ledger/ledger.js';
import { BadInput, diskFullNote, EXIT, LedgerDamaged } from '../errors.js';
import { projectionsMatch, refreshProjections } from '../ledger/projections.js';
import { printable, wantsJson, type Output } from './output.js';

export type CliContext = {
  output: Output;
  ledgerDir(): string;
  /** Opens the ledger, runs `work`, brings the projections up to date, closes. */
  withLedger<T>(work: (ledger: Ledger) => Promise<T>, options?: { refresh?: boolean }): Promise<T>;
};

/** Events folded between two progress lines of a long catch-up, as `rebuild` says its own. */
export const FOLD_PROGRESS_EVERY = 50_000;

/**
 * Said on stderr while a command's catch-up of the projections folds a large part of the log (the
 * first command on a large ledger or a backup of one, or after a new projection layout): it took
 * seconds, then tens of seconds, in silence, and read as a hang.
 */
function foldProgress(output: Output): (done: number, position: number) => void {
  let said = 0;
  return (done, position) => {
    if (done - said < FOLD_PROGRESS_EVERY) return;
    said = done;
    output.err(`cto-ledger: bringing the projections up to date: ${done} events folded, at position ${position}...`);
  };
}

export function cliContext(output: Output, globals: () => { ledger?: string; readOnly?: boolean }): CliContext {
  // Said as every failure is (one line; with --json, one document) and the process ends at once: the
  // projections have another writer now, and this one's work is not to go on beside it.
  const lockLost = (message: string): never => {
    output.err(`cto-ledger: ${printable(message)}`);
    if (wantsJson(process.argv.slice(2))) output.out(JSON.stringify({ ok: false, exitCode: EXIT.store, error: message }));
    return process.exit(EXIT.store);
  };
  const ledgerDir = () => {
    const given = globals().ledger;
    // An empty --ledger would quietly mean the current directory.
    if (given !== undefined && given.trim() === '') throw new BadInput('--ledger must name a directory, got an empty string');
    return given ?? (process.env.CTO_LEDGER_DIR || DEFAULT_LEDGER_DIR);
  };
  return {
    output,
    ledgerDir,
    async withLedger(work, options = {}) {
      const ledger = openLedger(ledgerDir(), { readOnly: globals().readOnly, notice: (text) => output.err(`cto-ledger: ${text}`), lockLost });
      try {
        if (ledger.readOnly) {
          // An auditor's copy: read as it is; the projections are shown as last written, never refreshed.
          const stale = options.refresh === false ? null : await projectionsMatch(ledger);
          if (stale) output.err(`cto-ledger: warning: read-only ledger: ${stale}`);
          return await work(ledger);
        }
        if (options.refresh !== false) {
          // Projections folded from a log that lost or changed events: nothing more is done on top of
          // it until an operator has seen it (`health`) and rebuilt them from the log as it is.
          const damage = await projectionsMatch(ledger);
          if (damage) throw new LedgerDamaged(damage);
        }
        const before = await ledger.store.lastPosition();
        let result: Awaited<ReturnType<typeof work>>;
        try {
          result = await work(ledger);
        } catch (err) {
          // A gate's refusal is appended before it is reported: the projections (and Hermes) show it too.
          if (options.refresh !== false && (await ledger.store.lastPosition()) !== before) await refreshProjections(ledger, foldProgress(output)).catch(() => undefined);
          throw err;
        }
        if (options.refresh === false) return result;
        try {
          await refreshProjections(ledger, foldProgress(output));
        } catch (err) {
          // The command's events are on the ledger: it did what it was asked, and a script that retried
          // on a failure exit would append them twice. The projections are derived; the next command
          // (or \`rebuild\`) folds them, and reports the problem again if it is in the ledger.
          if ((await ledger.store.lastPosition()) === before) throw err;
          const full = diskFullNote(err, (err as NodeJS.ErrnoException).path ?? ledger.dir);
          output.err(`cto-ledger: warning: recorded, but the projections were not brought up to date: ${(err as Error).message}${full ? `: ${full}` : ''}`);
        }
        return result;
      } finally {
        await ledger.close();
      }
    },
  };
}

