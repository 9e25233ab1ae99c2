import type { RecordedEvent } from '../events/envelope.js';
import { checkPosition } from './read-rules.js';
import type { Subscription } from './types.js';

/**
 * Catch-up then live, written once for every adapter: read pages after the last delivered position;
 * when a page comes back empty, wait for the store to signal (or time out and look again).
 */
export function pollingSubscription(
  after: number,
  readPage: (after: number) => Promise<RecordedEvent[] | null>,
  waitForChange: (signal: AbortSignal) => Promise<void>,
): Subscription {
  checkPosition('after', after);
  const stop = new AbortController();
  let last = after;
  async function* iterate(): AsyncGenerator<RecordedEvent> {
    while (!stop.signal.aborted) {
      const page = await readPage(last);
      if (page === null) return; // the store closed
      if (page.length === 0) {
        await waitForChange(stop.signal);
        continue;
      }
      for (const recorded of page) {
        if (stop.signal.aborted) return;
        last = recorded.position;
        yield recorded;
      }
    }
  }
  const iterator = iterate();
  return {
    close: () => stop.abort(),
    [Symbol.asyncIterator]: () => iterator,
  };
}

/** Resolves on the next notify(), on abort, or after `ms`. */
export function changeSignal(ms: number) {
  const waiters = new Set<() => void>();
  return {
    notify(): void {
      for (const wake of waiters) wake();
      waiters.clear();
    },
    wait(signal: AbortSignal): Promise<void> {
      return new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },
  };
}
