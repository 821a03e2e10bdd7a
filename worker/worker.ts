// Builds a Temporal worker that runs the sync workflows and activities on one task queue.
import { hostname } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { SyncMetrics } from '../activities/metrics';
import { decodeKey, type Env } from '../config/env';
import { createLogger } from '../lib/logger';
import { Store } from '../store';
import { SecretBox } from '../store/secrets';
import { createBlobStore } from '../store/blobs';
import { clientTracingInterceptors, type Tracing } from '../lib/tracing';
import { freshWorkflowBundle, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from './bundle';
import { workerTracingOptions } from './tracing';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { Announcer, temporalSender } from '../lib/announcer';
import { ChangeFeeds } from './change-feeds';
import { QueueFeeds } from './queue-feeds';
import { PushChannels } from './push-channels';

export interface WorkerHandle {
  worker: Worker;
  store: Store;
  /** The start-up sweep of the blob store's leftovers (BLOB_PARTIAL_MAX_AGE_SECONDS): files removed. */
  swept: Promise<number>;
  /** The sync metrics the activities count into. */
  metrics: SyncMetrics;
  /** The /metrics endpoint, when a port was given (and free). */
  metricsServer: MetricsServer | null;
  /** Filesystem watchers of event-driven `local` syncs (started with the worker). */
  feeds: ChangeFeeds;
  /** SQS queues of event-driven `s3` syncs that name one (started with the worker). */
  queues: QueueFeeds;
  close: () => Promise<void>;
}

/** The given bundle, else the one `npm run build` made (when fresh), else bundle at start. */
function workflowCode(
  given: WorkerOptions['workflowBundle'] | undefined,
  log: ReturnType<typeof createLogger>,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (given) return { workflowBundle: given };
  const codePath = freshWorkflowBundle();
  if (codePath) return { workflowBundle: { codePath } };
  log.info('no up-to-date prebuilt workflow bundle (npm run build makes one): bundling at start');
  return { workflowsPath: WORKFLOWS_PATH };
}

/**
 * `workflowBundle` lets tests bundle the workflow code once per run; without it the worker bundles
 * `workflows/index` at start.
 */
export async function createSyncWorker(
  env: Env,
  opts: {
    workflowBundle?: WorkerOptions['workflowBundle'];
    store?: Store;
    /** Serve /metrics on this port (0: any free one); absent: no endpoint. */
    metricsPort?: number;
    /** The Temporal core's Prometheus endpoint, appended to /metrics. */
    temporalMetricsUrl?: string;
    /** This process's tracing (lib/tracing.ts), when on. */
    tracing?: Tracing | null;
  } = {},
): Promise<WorkerHandle> {
  const log = createLogger(env.LOG_LEVEL, 'worker');
  const store = opts.store ?? (await Store.connect(env.MONGODB_URI, env.MONGODB_DB));
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  // Activities submit batches (start batch workflows) through a client of their own.
  const clientConnection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const tracing = opts.tracing ?? null;
  const client = new Client({
    connection: clientConnection,
    namespace: env.TEMPORAL_NAMESPACE,
    interceptors: { workflow: clientTracingInterceptors(tracing) },
  });
  const workerId = env.WORKER_ID ?? `${hostname()}:${process.pid}`;
  const secrets = new SecretBox(decodeKey(env.SECRETS_KEY)!);
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
  const metrics = new SyncMetrics(store);
  let metricsServer: MetricsServer | null = null;
  if (opts.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer({
        port: opts.metricsPort,
        registry: metrics.registry,
        temporalMetricsUrl: opts.temporalMetricsUrl,
      });
    } catch (err) {
      // A second worker on one host: it runs without an endpoint rather than not at all.
      log.error({ err, port: opts.metricsPort }, 'cannot serve /metrics (set WORKER_METRICS_PORT)');
    }
  }
  const code = workflowCode(opts.workflowBundle, log);
  const traced = workerTracingOptions(tracing);
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TASK_QUEUE,
    identity: workerId,
    // On shutdown, activities in flight get this long to finish, then are cancelled (a page is
    // redone from its checkpoint by the next worker; nothing is lost).
    shutdownGraceTime: '10 seconds',
    shutdownForceTime: '30 seconds',
    ...code,
    // The bundle carries the tracing interceptors (worker/bundle.ts); bundled at start, they are added.
    sinks: traced.sinks,
    interceptors: {
      ...traced.interceptors,
      ...(code.workflowsPath ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
    },
    activities: createActivities({
      store,
      secrets,
      log,
      workerId,
      pageSize: env.SYNC_PAGE_SIZE,
      strideMs: env.SYNC_STRIDE_MS,
      manifestCacheFiles: env.SYNC_MANIFEST_CACHE_FILES,
      fileConcurrency: env.SYNC_FILE_CONCURRENCY,
      fileConcurrencyMax: env.SYNC_FILE_CONCURRENCY_MAX,
      autoSuspendThreshold: env.AUTO_SUSPEND_THRESHOLD,
      blobs,
      batches: { client, taskQueue: env.TASK_QUEUE },
      metrics,
    }),
  });
  // Change feeds run beside the worker's polling loop; they only signal workflows.
  const announcer = new Announcer(temporalSender(client), log);
  const feeds = new ChangeFeeds(store, announcer, log);
  feeds.start();
  const queues = new QueueFeeds(store, secrets, announcer, log);
  queues.start();
  // Drive channels / Graph subscriptions need an address the provider can post to.
  const push = env.PUBLIC_API_URL
    ? new PushChannels(store, secrets, announcer, log, {
        publicUrl: env.PUBLIC_API_URL,
        ttlMs: env.PUSH_CHANNEL_TTL_SECONDS * 1000,
        workerId,
      })
    : null;
  push?.start();
  return {
    worker,
    store,
    swept,
    metrics,
    metricsServer,
    feeds,
    queues,
    close: async () => {
      clearInterval(sweeper);
      await metricsServer?.close();
      await feeds.close();
      await queues.close();
      await push?.close();
      await announcer.close();
      await connection.close();
      await clientConnection.close();
      if (!opts.store) await store.close();
    },
  };
}
