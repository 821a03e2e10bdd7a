// API process: `npm run start:api` (or started by `npm run dev`).
import type { Server } from 'node:http';
import { decodeKey, loadEnvOrExit, type Env } from '../config/env';
import { createLogger } from '../lib/logger';
import { clientTracingInterceptors, startTracing, type Tracing } from '../lib/tracing';
import { Store } from '../store';
import { SecretBox } from '../store/secrets';
import { createApp } from './app';
import { errorBody } from './errors';
import { SyncControl } from './sync-control';

export async function startApi(
  env: Env,
  opts: { store?: Store; tracing?: Tracing | null } = {},
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const log = createLogger(env.LOG_LEVEL, 'api');
  const store = opts.store ?? (await Store.connect(env.MONGODB_URI, env.MONGODB_DB));
  const tracing = opts.tracing ?? null;
  const control = await SyncControl.connect(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE, env.TASK_QUEUE, {
    interceptors: clientTracingInterceptors(tracing),
  });
  const app = createApp({
    env,
    store,
    control,
    secrets: new SecretBox(decodeKey(env.SECRETS_KEY)!),
    log,
    tracer: tracing?.tracer ?? null,
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(env.PORT, '0.0.0.0', () => resolve(s));
    s.once('error', reject);
  });
  // Requests Node's HTTP parser refuses (bad header characters, headers too large) never reach
  // express: answer them in the API's error format too.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify(
      errorBody(
        status,
        status === 431 ? 'request headers too large' : 'malformed HTTP request',
        'BadRequestError',
        null,
      ),
    );
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : env.PORT;
  return {
    server,
    url: `http://localhost:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await control.close();
      if (!opts.store) await store.close();
    },
  };
}

if (require.main === module) {
  const env = loadEnvOrExit();
  const log = createLogger(env.LOG_LEVEL, 'api');
  const tracing = startTracing(env, 'api');
  if (tracing) log.info({ to: new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).origin }, 'tracing: OTLP export on');
  startApi(env, { tracing })
    .then(({ url, close }) => {
      log.info({ url }, 'API listening');
      const stop = () => {
        void close()
          .then(() => tracing?.shutdown())
          .then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // Started with an IPC channel (`npm run dev`): the parent's death closes it; stop then too.
      if (process.send) process.once('disconnect', stop);
    })
    .catch((err) => {
      process.stderr.write(`api failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
