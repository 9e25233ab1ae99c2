#!/usr/bin/env node
// The compiled CLI; `npm install` builds dist/ through the prepare script.
import { main } from '../dist/src/cli/main.js';
import { EXIT } from '../dist/src/errors.js';

// A reader that stops early (`cto-ledger events | head`) closes the pipe: the output ends there, as it
// does for any Unix tool, instead of in an unhandled error. Output is written after a command's work.
// Any other failure to write it (`> /dev/full`, a full disk, EIO) is an I/O failure, exit 3 in one line:
// it was a stack trace and exit 1, which reads as a gate's refusal of work that was in fact done.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(`cto-ledger: cannot write to stdout: ${err.message}; the output is lost (what the command recorded, if anything, stands)\n`);
  process.exit(EXIT.store);
});

// stderr that cannot be written either (`2> /dev/full`) has no one to tell: the exit code still says
// what happened, rather than exit 1 (a gate's refusal) from the unhandled error.
process.stderr.on('error', () => {});

process.exitCode = await main(process.argv.slice(2));
