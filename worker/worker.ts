// Builds a Temporal worker that runs the sync workflows and activities on one task queue.
import { hostname } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { decodeKey, type Env } from '../config/env';
import { createLogger } from '../lib/logger';
import { Store } from '../store';
import { SecretBox } from '../store/secrets';
import { createBlobStore } from '../store/blobs';

export interface WorkerHandle {
  worker: Worker;
  store: Store;
  /** The start-up sweep of the blob store's leftovers (BLOB_PARTIAL_MAX_AGE_SECONDS): files removed. */
  swept: Promise<number>;
  close: () => Promise<void>;
}

/**
 * `workflowBundle` lets tests bundle the workflow code once per run; without it the worker bundles
 * `workflows/index` at start.
 */
export async function createSyncWorker(
  env: Env,
  opts: { workflowBundle?: WorkerOptions['workflowBundle']; store?: Store } = {},
): Promise<WorkerHandle> {
  const log = createLogger(env.LOG_LEVEL, 'worker');
  const store = opts.store ?? (await Store.connect(env.MONGODB_URI, env.MONGODB_DB));
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  // Activities submit batches (start batch workflows) through a client of their own.
  const clientConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const client = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE });
  const workerId = env.WORKER_ID ?? `${hostname()}:${process.pid}`;
  const blobs = createBlobStore(env);
  // In the background: a large blob folder must not delay the worker; a failure is only logged.
  // Again every half of the age, so a worker that runs for weeks still clears what killed ones left.
  const maxAgeMs = env.BLOB_PARTIAL_MAX_AGE_SECONDS * 1000;
  const sweep = () =>
    blobs.sweepPartials(maxAgeMs).then(
      (n) => {
        if (n > 0) log.info({ removed: n }, 'swept partial blob files left by interrupted copies');
        return n;
      },
      (err: unknown) => {
        log.warn({ err }, 'sweeping partial blob files failed');
        return 0;
      },
    );
  const swept = sweep();
  const sweeper = setInterval(() => void sweep(), Math.max(1000, maxAgeMs / 2));
  sweeper.unref();
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TASK_QUEUE,
    identity: workerId,
    // On shutdown, activities in flight get this long to finish, then are cancelled (a page is
    // redone from its checkpoint by the next worker; nothing is lost).
    shutdownGraceTime: '10 seconds',
    shutdownForceTime: '30 seconds',
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({
      store,
      secrets: new SecretBox(decodeKey(env.SECRETS_KEY)!),
      log,
      workerId,
      pageSize: env.SYNC_PAGE_SIZE,
      fileConcurrency: env.SYNC_FILE_CONCURRENCY,
      autoSuspendThreshold: env.AUTO_SUSPEND_THRESHOLD,
      blobs,
      batches: { client, taskQueue: env.TASK_QUEUE },
    }),
  });
  return {
    worker,
    store,
    swept,
    close: async () => {
      clearInterval(sweeper);
      await connection.close();
      await clientConnection.close();
      if (!opts.store) await store.close();
    },
  };
}
