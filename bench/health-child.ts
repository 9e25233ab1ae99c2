// Runs `health` on a ledger dir in a fresh process, through the CLI's own entry, and prints its time
// and peak memory (health folds the whole log afresh: what it holds must not grow with the runs' size).
import { main } from '../src/cli/main.js';

const [dir] = process.argv.slice(2) as [string];
const started = performance.now();
const code = await main(['--ledger', dir, 'health', '--json'], { out: () => {}, err: (text) => process.stderr.write(text + '\n') });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ code, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
