import { describe, expect, it } from 'vitest';
import { hoistOperator } from '../../src/cli/main.js';
import { runIdArg } from '../../src/cli/options.js';

describe('hoistOperator', () => {
  it('moves --by from before the command to after it, past the global options', () => {
    expect(hoistOperator(['--by', 'jp', '--ledger', 'L', 'target', 'revoke', 'x'])).toEqual(['--ledger', 'L', 'target', 'revoke', 'x', '--by', 'jp']);
    expect(hoistOperator(['--ledger', 'L', '--by=jp', 'approve', 'R'])).toEqual(['--ledger', 'L', 'approve', 'R', '--by=jp']);
    expect(hoistOperator(['--json', '--ledger', 'L', 'status'])).toEqual(['--ledger', 'L', 'status', '--json']);
  });
  it('leaves a --by after the command, a value that looks like one, and what follows -- alone', () => {
    expect(hoistOperator(['approve', 'R', '--by', 'jp'])).toEqual(['approve', 'R', '--by', 'jp']);
    expect(hoistOperator(['--ledger', '--by', 'status'])).toEqual(['--ledger', '--by', 'status']);
    expect(hoistOperator(['--by', 'jp', 'deny', 'R', '--', '--x'])).toEqual(['deny', 'R', '--by', 'jp', '--', '--x']);
  });
});

describe('runIdArg', () => {
  it('takes a ULID in any case, as Crockford base32 does, and passes anything else on', () => {
    expect(runIdArg('01m87yghwksqfe7r30zn11w9gd')).toBe('01M87YGHWKSQFE7R30ZN11W9GD');
    expect(runIdArg('01M87YGHWKSQFE7R30ZN11W9GD')).toBe('01M87YGHWKSQFE7R30ZN11W9GD');
    expect(runIdArg('01m87yghwksqfe7r30zn11w9gi')).toBe('01m87yghwksqfe7r30zn11w9gi');
    expect(runIdArg('short')).toBe('short');
  });
});
