// Rebuilds every projection of a ledger in a fresh process, so its peak memory is the rebuild's own.
import { rebuildProjections } from '../projections/runner.js';
import { openSqliteStore } from '../src/store/sqlite.js';

const [file, dir] = process.argv.slice(2) as [string, string];
const store = openSqliteStore({ file });
const started = performance.now();
const result = await rebuildProjections(store, dir);
const seconds = (performance.now() - started) / 1000;
await store.close();
process.stdout.write(
  JSON.stringify({ events: result.applied, seconds, eventsPerSecond: result.applied / seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n',
);
