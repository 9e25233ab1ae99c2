import { openSqliteStore } from './sqlite.js';
import type { EventStore, StoreLocator } from './types.js';

/** Opens a store from its locator: how a worker thread gets its own connection. */
export function openStoreAt(locator: StoreLocator, options: { cacheKiB?: number } = {}): EventStore {
  switch (locator.kind) {
    case 'sqlite':
      return openSqliteStore({ file: locator.file, cacheKiB: options.cacheKiB });
  }
}
