#!/usr/bin/env node
// The compiled CLI; `npm install` builds dist/ through the prepare script.
import { main } from '../dist/src/cli/main.js';

// A reader that stops early (`cto-ledger events | head`) closes the pipe: the output ends there, as it
// does for any Unix tool, instead of in an unhandled error. Output is written after a command's work.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
