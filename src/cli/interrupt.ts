import { wantsJson, type Output } from './output.js';

// Ctrl-C and TERM during a long command: the command cleans up what it started, then ends as the
// signal would have ended it. A second signal gets the default action: the process ends at once.

/** The exit status a shell reports for a process ended by this signal. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/** Runs `work` with `onSignal` called at the first SIGINT or SIGTERM while it runs. */
export async function whileInterruptible<T>(onSignal: (signal: NodeJS.Signals) => void, work: () => Promise<T>): Promise<T> {
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
