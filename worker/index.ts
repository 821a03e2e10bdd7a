// Worker process: `npm run start:worker` (or started by `npm run dev`).
import { loadEnvOrExit } from '../config/env';
import { createLogger } from '../lib/logger';
import { createSyncWorker } from './worker';

async function main(): Promise<void> {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL, 'worker');
  const handle = await createSyncWorker(env);
  log.info({ taskQueue: env.TASK_QUEUE, namespace: env.TEMPORAL_NAMESPACE }, 'worker started');
  // Worker.run resolves after shutdown (SIGINT/SIGTERM are handled by the SDK). Started by a parent
  // with an IPC channel (`npm run dev`): its death closes the channel, and the worker stops too.
  if (process.send) process.once('disconnect', () => handle.worker.shutdown());
  await handle.worker.run();
  await handle.close();
  log.info('worker stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
