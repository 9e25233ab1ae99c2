import { AsyncLocalStorage } from 'node:async_hooks';
import { BadInput } from '../errors.js';

// Which store's inSnapshot the running code was started from, while that snapshot is open: an append
// made inside it is refused (appends wait for the snapshot's end, so one awaited inside would wait
// forever). A timer or callback the work left behind runs in the same context after the snapshot
// ended, hence `open`.
type Scope = { store: object; open: boolean };
const scope = new AsyncLocalStorage<Scope>();

/** Runs `work` as inside `store`'s snapshot. */
export async function inSnapshotScope<T>(store: object, work: () => Promise<T>): Promise<T> {
  const current: Scope = { store, open: true };
  try {
    return await scope.run(current, work);
  } finally {
    current.open = false;
  }
}

/** Throws when called from inside `store`'s open inSnapshot: no append may be made there. */
export function checkOutsideSnapshot(store: object, stream: string): void {
  const current = scope.getStore();
  if (current?.open && current.store === store) {
    throw new BadInput(`no append may be made inside inSnapshot (to ${stream}): its reads see one state of the log, and the append is made once it ends`);
  }
}
