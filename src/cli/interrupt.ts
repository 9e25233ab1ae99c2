import { wantsJson, type Output } from './output.js';

// Ctrl-C, TERM and HUP during a long command: the command cleans up what it started, then ends as
// the signal would have ended it. A second signal gets the default action: the process ends at once.
// HUP is an ssh session or terminal gone: left to its default action, an execute died with its run
// left executing (its harness gone) and its worktree registered in the operator's repository.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const EXIT_CODES: Readonly<Record<(typeof SIGNALS)[number], number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** The exit status a shell reports for a process ended by this signal. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return EXIT_CODES[signal as (typeof SIGNALS)[number]] ?? 143;
}

/** Runs `work` with `onSignal` called at the first SIGINT, SIGTERM or SIGHUP while it runs. */
export async function whileInterruptible<T>(onSignal: (signal: NodeJS.Signals) => void, work: () => Promise<T>): Promise<T> {
  for (const signal of SIGNALS) process.once(signal, onSignal);
  try {
    return await work();
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}

/**
 * Ends the process as `signal` would have, once the command has cleaned up and said so on stderr;
 * with --json, after one document on stdout, as every other failure gives: a script reading it found
 * nothing there.
 */
export function exitInterrupted(output: Output, signal: NodeJS.Signals, message: string): never {
  if (wantsJson(process.argv.slice(2))) output.out(JSON.stringify({ ok: false, exitCode: signalExitCode(signal), error: message }));
  return process.exit(signalExitCode(signal));
}
