import { parentPort, workerData, Worker } from 'node:worker_threads';
import { rebuildProjections, type CatchUpResult, type Progress } from '../../projections/runner.js';
import { openSqliteStore } from '../store/sqlite.js';

// A full rebuild folds the whole log: it runs in a worker whose young generation is kept small, so
// garbage is collected early and the peak memory stays bounded whatever the ledger's size.

type Job = { file: string; dir: string };
type Message = { kind: 'progress'; done: number; position: number } | { kind: 'done'; result: CatchUpResult } | { kind: 'error'; message: string };

const YOUNG_GENERATION_MB = 8;

export function rebuildInWorker(job: Job, onProgress?: Progress): Promise<CatchUpResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    worker.on('message', (m: Message) => {
      if (m.kind === 'progress') onProgress?.(m.done, m.position);
      else if (m.kind === 'done') resolve(m.result);
      else reject(new Error(m.message));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => code !== 0 && reject(new Error(`rebuild worker exited ${code}`)));
  });
}

if (parentPort && (workerData as Job | undefined)?.file) {
  const { file, dir } = workerData as Job;
  const port = parentPort;
  const store = openSqliteStore({ file });
  rebuildProjections(store, dir, (done, position) => port.postMessage({ kind: 'progress', done, position } satisfies Message))
    .then((result) => port.postMessage({ kind: 'done', result } satisfies Message))
    .catch((err: unknown) => port.postMessage({ kind: 'error', message: (err as Error).message } satisfies Message))
    .finally(() => store.close());
}
