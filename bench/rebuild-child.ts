// Rebuilds every projection of a ledger in a fresh process, through the same worker the `rebuild`
// command uses, so the peak memory reported is the rebuild's own.
import { rebuildInWorker } from '../src/ledger/rebuild-worker.js';

const [file, dir] = process.argv.slice(2) as [string, string];
const started = performance.now();
const result = await rebuildInWorker({ file, dir });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  JSON.stringify({ events: result.applied, seconds, eventsPerSecond: result.applied / seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n',
);
