// Worker process: `npm run start:worker` (or started by `npm run dev`).
import { loadEnvOrExit } from '../config/env';
import { Runtime } from '@temporalio/worker';
import { createLogger } from '../lib/logger';
import { freePort } from '../lib/servers';
import { startTracing } from '../lib/tracing';
import { createSyncWorker } from './worker';

async function main(): Promise<void> {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL, 'worker');
  const tracing = startTracing(env, 'worker');
  if (tracing) log.info({ to: new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).origin }, 'tracing: OTLP export on');
  // The SDK's own metrics: its core serves them on an internal port; /metrics on
  // WORKER_METRICS_PORT appends them to ours. Runtime.install may run once per process: here.
  const corePort = await freePort();
  Runtime.install({
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${corePort}` } } },
  });
  const handle = await createSyncWorker(env, {
    metricsPort: env.WORKER_METRICS_PORT,
    temporalMetricsUrl: `http://127.0.0.1:${corePort}/metrics`,
    tracing,
  });
  if (handle.metricsServer) log.info({ url: handle.metricsServer.url }, 'metrics');
  log.info({ taskQueue: env.TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE }, 'worker started');
  // Worker.run resolves after shutdown (SIGINT/SIGTERM are handled by the SDK). Started by a parent
  // with an IPC channel (`npm run dev`): its death closes the channel, and the worker stops too.
  if (process.send) process.once('disconnect', () => handle.worker.shutdown());
  await handle.worker.run();
  await handle.close();
  await tracing?.shutdown();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
