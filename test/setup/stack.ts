// The real servers for the integration suite, started once per mocha run on first use:
// FerretDB (or MONGODB_URI) + a Temporal dev server (or TEMPORAL_ADDRESS), one worker with the
// workflow bundle built once, and the API on a free port.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  Runtime,
  DefaultLogger,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createOrgNamespaceKey } from '../../api/auth';
import { startApi } from '../../api/server';
import { loadEnv, type Env } from '../../config/env';
import { SA_BUCKET_ID, SA_NAMESPACE_ID, SA_SYNC_STATUS } from '../../core/search-attributes';
import { freePort, provisionTools, startFerretDB, type Started } from '../../lib/servers';
import { Store } from '../../store';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../../worker/bundle';
import { createSyncWorker, type WorkerHandle } from '../../worker/worker';

export const PROJECT_ROOT = path.resolve(__dirname, '../../..');

export interface Stack {
  env: Env;
  apiUrl: string;
  apiKey: string;
  namespaceId: string;
  store: Store;
  tmp: string;
  /** The worker's /metrics (sync metrics + the Temporal SDK's). */
  workerMetricsUrl: string;
}

let pending: Promise<Stack> | null = null;
const cleanups: (() => Promise<void>)[] = [];
let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;
let temporalMetricsUrl: string | undefined;

/**
 * The workflow bundle, built once per test run, as `npm run build` makes it (with the tracing
 * interceptors: a worker on it needs the `exporter` sink, worker/tracing.ts `workflowSinks`).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export function stack(): Promise<Stack> {
  pending ??= start();
  return pending;
}

async function start(): Promise<Stack> {
  // Once per process: the SDK's metrics on a free port, appended to each worker's /metrics.
  const temporalMetricsPort = await freePort();
  temporalMetricsUrl = `http://127.0.0.1:${temporalMetricsPort}/metrics`;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${temporalMetricsPort}` } } },
  });
  const tools = provisionTools(PROJECT_ROOT, ['temporal', 'ferretdb']);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bucket-syncs-test-'));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));

  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    const ferret: Started = await startFerretDB(
      tools.FERRETDB_PATH!,
      path.join(tmp, 'ferretdb'),
      await freePort(),
    );
    cleanups.unshift(ferret.stop);
    mongoUri = `mongodb://127.0.0.1:${ferret.port}/`;
  }

  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const testEnv = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: tools.TEMPORAL_CLI_PATH! },
        searchAttributes: [SA_SYNC_STATUS, SA_BUCKET_ID, SA_NAMESPACE_ID],
        extraArgs: ['--log-level', 'error'],
      },
    });
    cleanups.unshift(() => testEnv.teardown());
    temporalAddress = testEnv.address;
  }

  const env = loadEnv({
    MONGODB_URI: mongoUri,
    MONGODB_DB: `bucket_syncs_test_${randomBytes(4).toString('hex')}`,
    TEMPORAL_ADDRESS: temporalAddress,
    TASK_QUEUE: `bucket-syncs-test-${randomBytes(4).toString('hex')}`,
    SECRETS_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    PORT: '0',
    SYNC_PAGE_SIZE: process.env.SYNC_PAGE_SIZE ?? '100',
    // One page per activity, so tests see each page as the workflow does; test/integration/stride.test.ts
    // runs with strides (the production default) and the chaos lanes that kill workers do too.
    SYNC_STRIDE_MS: process.env.SYNC_STRIDE_MS ?? '0',
    // Tests read what they just wrote into the store through the API; api-reads.test.ts runs a lane
    // with the cache on (the production default).
    API_READ_CACHE_MS: process.env.API_READ_CACHE_MS ?? '0',
    BLOB_DIR: path.join(tmp, 'blobs'),
    // Worker processes the tests start take any free port.
    WORKER_METRICS_PORT: '0',
  });
  const store = await Store.connect(env.MONGODB_URI, env.MONGODB_DB);
  cleanups.unshift(() => store.close());

  const handle: WorkerHandle = await createSyncWorker(env, {
    workflowBundle: await workflowBundle(),
    store,
    metricsPort: 0,
    temporalMetricsUrl,
  });
  const running = handle.worker.run();
  cleanups.unshift(async () => {
    handle.worker.shutdown();
    await running;
    await handle.close();
  });

  const api = await startApi(env, { store });
  cleanups.unshift(api.close);

  const { api_key, namespace_id } = await createOrgNamespaceKey(store, {
    orgName: 'test-org',
    namespaceName: 'test-ns',
    keyName: 'test',
  });
  return {
    env,
    apiUrl: api.url,
    apiKey: api_key,
    namespaceId: namespace_id,
    store,
    tmp,
    workerMetricsUrl: handle.metricsServer!.url,
  };
}

/** A second API (and worker) on its own task queue and its own database: a Stack of its own. */
export interface Lane extends Stack {
  close: () => Promise<void>;
}

/**
 * A lane: same servers, its own task queue and MongoDB database (so a heavy test's objects do not
 * slow the others down on FerretDB, which scans collections), env overrides (page size...), and
 * an in-process worker unless `worker: false` (then the test runs worker processes itself).
 */
export async function lane(
  s: Stack,
  overrides: Record<string, string>,
  opts: { worker?: boolean } = {},
): Promise<Lane> {
  const env = loadEnv({
    ...Object.fromEntries(
      Object.entries(s.env).map(([k, v]) => [k, Array.isArray(v) ? v.join(':') : String(v)]),
    ),
    TASK_QUEUE: `bucket-syncs-lane-${randomBytes(4).toString('hex')}`,
    MONGODB_DB: `bucket_syncs_lane_${randomBytes(4).toString('hex')}`,
    ...overrides,
  });
  const store = await Store.connect(env.MONGODB_URI, env.MONGODB_DB);
  const closers: (() => Promise<void>)[] = [() => store.close()];
  let workerMetricsUrl = '';
  if (opts.worker !== false) {
    const handle = await createSyncWorker(env, {
      workflowBundle: await workflowBundle(),
      store,
      metricsPort: 0,
      temporalMetricsUrl,
    });
    workerMetricsUrl = handle.metricsServer!.url;
    const running = handle.worker.run();
    closers.unshift(async () => {
      handle.worker.shutdown();
      await running;
      await handle.close();
    });
  }
  const api = await startApi(env, { store });
  closers.unshift(api.close);
  const close = async () => {
    for (const c of closers.splice(0)) await c();
  };
  cleanups.unshift(close);
  const { api_key, namespace_id } = await createOrgNamespaceKey(store, {
    orgName: 'lane-org',
    namespaceName: 'lane-ns',
    keyName: 'lane',
  });
  return {
    env,
    apiUrl: api.url,
    apiKey: api_key,
    namespaceId: namespace_id,
    store,
    tmp: s.tmp,
    close,
    workerMetricsUrl,
  };
}

const CLEANUP_MS = 15_000;

export async function stopStack(): Promise<void> {
  if (!pending) return;
  await pending.catch(() => undefined);
  for (const c of cleanups.splice(0)) {
    // One stuck cleanup must not hang the run: each gets a bounded time, and is named if it overruns.
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('overran'), CLEANUP_MS);
    });
    try {
      const r = await Promise.race([c().then(() => 'done'), overrun]);
      if (r === 'overran')
        process.stderr.write(
          `cleanup: ${c.name || 'a cleanup'} still running after ${CLEANUP_MS} ms; moving on\n`,
        );
    } catch (err) {
      process.stderr.write(`cleanup: ${(err as Error).message}\n`);
    } finally {
      clearTimeout(timer);
    }
  }
  pending = null;
}
