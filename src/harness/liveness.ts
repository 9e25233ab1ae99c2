import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ledgerPaths } from '../ledger/ledger.js';

// While a harness executes a run it leaves a marker naming its process; a harness that was killed
// leaves the marker behind with a process that no longer exists. That is how `status` tells a run
// still executing from one whose harness is gone (its approval spent: the operator rejects it).
// Nothing here is on the ledger: it is a fact about processes on this machine, not an event.

type Marker = { pid: number; host: string; startTicks: string | null };

const markerFile = (ledgerDir: string, runId: string) => join(ledgerPaths(ledgerDir).root, 'executing', `${runId}.json`);

/** The kernel's start time of a process (clock ticks since boot): with the pid, one process exactly. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Marks the run as executed by this process until the returned function is called. */
export function holdExecution(ledgerDir: string, runId: string): () => void {
  const file = markerFile(ledgerDir, runId);
  mkdirSync(join(file, '..'), { recursive: true });
  const marker: Marker = { pid: process.pid, host: hostname(), startTicks: startTicks(process.pid) };
  writeFileSync(file, JSON.stringify(marker) + '\n');
  return () => rmSync(file, { force: true });
}

/**
 * Whether the process that marked the run is still alive; null when another host marked it (this
 * machine cannot tell). A reused pid is told apart by its start time where /proc has one.
 */
export function executionAlive(ledgerDir: string, runId: string): boolean | null {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(markerFile(ledgerDir, runId), 'utf8')) as Marker;
  } catch {
    return false;
  }
  if (marker.host !== hostname()) return null;
  try {
    process.kill(marker.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return marker.startTicks === null || startTicks(marker.pid) === marker.startTicks;
}
