// Rebuilds every projection of a ledger in a fresh process, through the same parallel rebuild the
// `rebuild` command uses, so the peak memory reported is the rebuild's own (workers included).
import { rebuildInParallel } from '../src/ledger/parallel-rebuild.js';

const [file, dir, threads] = process.argv.slice(2) as [string, string, string | undefined];
const started = performance.now();
const result = await rebuildInParallel({ kind: 'sqlite', file }, dir, { threads: threads ? Number(threads) : undefined });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  JSON.stringify({ events: result.applied, seconds, eventsPerSecond: result.applied / seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n',
);
