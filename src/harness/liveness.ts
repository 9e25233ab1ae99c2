import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ledgerPaths } from '../ledger/ledger.js';

// While a harness executes a run it leaves markers naming its process (one by the ledger, one in the
// run's scratch dir); a harness that was killed leaves them behind with a process that no longer
// exists. That is how `status` tells a run still executing from one whose harness is gone (its
// approval spent: the operator rejects it), and how the next run knows a scratch dir is abandoned.
// Nothing here is on the ledger: it is a fact about processes on this machine, not an event.

type Marker = { pid: number; host: string; startTicks: string | null };
export type Liveness = 'alive' | 'gone' | 'elsewhere' | 'missing';

/** The kernel's start time of a process (clock ticks since boot): with the pid, one process exactly. */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Writes a marker naming this process. */
export function writeMarker(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const marker: Marker = { pid: process.pid, host: hostname(), startTicks: startTicks(process.pid) };
  writeFileSync(file, JSON.stringify(marker) + '\n');
}

/** Whether the process a marker names is alive; a reused pid is told apart by its start time. */
export function markerLiveness(file: string): Liveness {
  let marker: Marker;
  try {
    marker = JSON.parse(readFileSync(file, 'utf8')) as Marker;
  } catch {
    return 'missing';
  }
  if (marker.host !== hostname()) return 'elsewhere';
  try {
    process.kill(marker.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  return marker.startTicks === null || startTicks(marker.pid) === marker.startTicks ? 'alive' : 'gone';
}

const executionMarker = (ledgerDir: string, runId: string) => join(ledgerPaths(ledgerDir).root, 'executing', `${runId}.json`);

/** Marks the run as executed by this process until the returned function is called. */
export function holdExecution(ledgerDir: string, runId: string): () => void {
  const file = executionMarker(ledgerDir, runId);
  writeMarker(file);
  return () => rmSync(file, { force: true });
}

/** Once a run is closed, the marker a killed harness left is only litter: removed (a live one is kept). */
export function forgetDeadExecution(ledgerDir: string, runId: string): void {
  const file = executionMarker(ledgerDir, runId);
  if (markerLiveness(file) === 'gone') rmSync(file, { force: true });
}

/** Whether a live harness on this machine is executing the run ('missing': none ever marked it). */
export function executionLiveness(ledgerDir: string, runId: string): Liveness {
  return markerLiveness(executionMarker(ledgerDir, runId));
}
