import { describe, expect, it } from 'vitest';
import { diskFullNote } from '../../src/errors.js';

describe('diskFullNote', () => {
  it('names the disk for SQLITE_FULL and ENOSPC, through wrappers; nothing for other errors', () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(diskFullNote(new Error('append to x failed', { cause: full }), '/l')).toBe('the disk holding /l is full (SQLITE_FULL)');
    const nospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/l/evidence/x' });
    expect(diskFullNote(nospc, nospc.path)).toBe('the disk holding /l/evidence/x is full (ENOSPC)');
    expect(diskFullNote(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }), '/l')).toBeNull();
    // A disk I/O error on a disk with room is not called a full disk.
    expect(diskFullNote(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_SHMSIZE' }), '/')).toBeNull();
  });
});
