import { once } from 'node:events';

/** Where the CLI writes; tests and the demo capture it. */
export type Output = {
  out: (text: string) => void;
  err: (text: string) => void;
  /**
   * Resolves once what `out` was given has room to go on. A listing of the whole log waits on it:
   * written to a pipe faster than the reader takes it, every line was queued in memory (510 MB for
   * 120,000 events piped to `wc`), and a log of millions ran the process out of memory.
   */
  drained?: () => Promise<void>;
};

export const processOutput: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
  drained: async () => {
    if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
  },
};

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Text for a terminal: control characters shown escaped, so a stored newline or escape sequence cannot forge a line. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A plain aligned table; the first row is the header. Cells are shown printable (stored text may hold anything). */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Whether the command line asks for JSON (before any `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}
