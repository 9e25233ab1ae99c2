// Makes a ledger dir of OPEN open runs (ContractAdmitted + ApprovalRecorded each) and CLOSED closed
// runs (EVENTS_PER_RUN events each), for timing `rebuild` on a ledger of many open runs:
//   node dist/bench/open-runs.js DIR [OPEN=20000] [CLOSED=0]   then   cto-ledger --ledger DIR rebuild
import { initLedger, ledgerPaths } from '../src/ledger/ledger.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { EVENTS_PER_RUN, newId, runEvent } from './workload.js';

const [dir, openArg, closedArg] = process.argv.slice(2) as [string, string | undefined, string | undefined];
const open = Number(openArg ?? 20_000);
const closed = Number(closedArg ?? 0);
await initLedger(dir);
const store = openSqliteStore({ file: ledgerPaths(dir).db, create: true });
const now = new Date();
const pending: Array<Promise<unknown>> = [];
for (let i = 0; i < open + closed; i++) {
  const runId = newId();
  const length = i < open ? 2 : EVENTS_PER_RUN;
  // Queued in the same turn: group commit shares transactions and fsyncs.
  pending.push(store.append(`run-${runId}`, Array.from({ length }, (_, n) => runEvent(runId, n, now)), 'no-stream'));
  if (pending.length >= 500) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
await store.close();
process.stdout.write(`${open} open and ${closed} closed runs, ${open * 2 + closed * EVENTS_PER_RUN} events in ${dir}\n`);
