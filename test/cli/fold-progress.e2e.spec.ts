import { describe, expect, it } from 'vitest';
import { cli } from '../fixtures/cli.js';
import { openRunsLedger } from '../fixtures/open-runs-ledger.js';

// The first command on a large ledger folds the whole log into the projections before it answers:
// seconds, or tens of them, that were spent in silence and read as a hang.

describe('a command that folds a large part of the log first', () => {
  const { L } = openRunsLedger('cto-fold-progress-', 0, 6_000);

  it('says how far it is on stderr, every 50,000 events, and answers as usual on stdout', () => {
    const first = cli(['--ledger', L, 'status']);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('cto-ledger: bringing the projections up to date: 50000 events folded, at position 50000...\n');
    expect(first.stdout.trim().split('\n')).toHaveLength(6_001); // the header, then a line a run
    // Folded now: nothing more to say.
    const again = cli(['--ledger', L, 'status']);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(first.stdout);
  }, 60_000);
});
