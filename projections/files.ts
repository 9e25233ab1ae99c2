import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';

/** Replaces a file whole or not at all: write a sibling, fsync, rename over. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function appendText(file: string, text: string): void {
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Counts a file's complete lines, cutting off a line left half-written by a crash. */
export function completeLines(file: string): number {
  return cutToLines(file, Infinity);
}

/** Keeps at most `max` complete lines of a file (dropping any partial last line); returns how many remain. */
export function cutToLines(file: string, max: number): number {
  if (!existsSync(file)) return 0;
  const bytes = readFileSync(file);
  let lines = 0;
  let end = 0;
  for (let i = 0; i < bytes.length && lines < max; i++) {
    if (bytes[i] === 10) {
      lines++;
      end = i + 1;
    }
  }
  if (end !== bytes.length) truncateSync(file, end);
  return lines;
}
