// The express application: JSON body parsing, auth + tenancy, routes, one error format.
import path from 'node:path';
import express from 'express';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Env } from '../config/env';
import type { Store } from '../store';
import type { SecretBox } from '../store/secrets';
import { Announcer, temporalSender } from '../lib/announcer';
import { authenticate } from './auth';
import { errorHandler } from './errors';
import { createHttpMetrics } from './metrics';
import { notificationRoutes } from './notifications';
import { pushNotificationRoutes } from './push-notifications';
import { docsHtml, openApiDocument } from './openapi';
import { unmatched } from './route';
import { requestSpans } from './tracing';
import { analyticsRoutes } from './routes/analytics';
import { batchRoutes } from './routes/batches';
import { bucketRoutes } from './routes/buckets';
import { collectionRoutes } from './routes/collections';
import { connectionRoutes } from './routes/connections';
import { objectRoutes } from './routes/objects';
import { syncJobRoutes } from './routes/sync-jobs';
import { syncRoutes } from './routes/syncs';
import type { SyncControl } from './sync-control';
import { ReadCache } from './read-cache';

export interface AppDeps {
  env: Env;
  store: Store;
  secrets: SecretBox;
  control: SyncControl;
  log: Logger;
  /** Request spans (api/tracing.ts) when tracing is on. */
  tracer?: Tracer | null;
  /** GET answers of one item (api/read-cache.ts); made by createApp when absent. */
  reads?: ReadCache;
}

/** api/ui in the checkout (this file runs from dist/api). */
export const UI_DIR = path.resolve(__dirname, '../../api/ui');

export function createApp(appDeps: AppDeps): express.Express {
  const deps = { ...appDeps, reads: appDeps.reads ?? new ReadCache(appDeps.env.API_READ_CACHE_MS) };
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  const metrics = createHttpMetrics();
  if (deps.tracer) app.use(requestSpans(deps.tracer));
  app.use(metrics.track);
  app.use(deps.reads.writesClear);
  app.use((req, res, next) => {
    // One line per request: method, path (no query: it may carry a namespace only), status, time.
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.debug({ method: req.method, path: req.path, status: res.statusCode, ms }, 'request');
    });
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/metrics', metrics.serve);
  // The dashboard: static files served from the source tree (api/ui, no build step).
  app.use('/ui', express.static(UI_DIR, { index: 'index.html', fallthrough: true }));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(app));
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(docsHtml(openApiDocument(app)));
  });
  // Storage services' change notifications: authenticated per sync channel, not by API key.
  const announcer = new Announcer(temporalSender(deps.control.client), deps.log);
  app.use(notificationRoutes({ store: deps.store, log: deps.log, announcer }));
  app.use(pushNotificationRoutes({ store: deps.store, log: deps.log, announcer }));
  // Who is asking first: an unauthenticated request's body is never read.
  app.use('/v1', authenticate(deps.store, { cacheMs: deps.env.AUTH_CACHE_SECONDS * 1000 }));
  app.use(express.json({ limit: '1mb', strict: false }));
  app.use(bucketRoutes(deps));
  app.use(connectionRoutes(deps));
  app.use(syncRoutes(deps));
  app.use(syncJobRoutes(deps));
  app.use(objectRoutes(deps));
  app.use(analyticsRoutes(deps));
  app.use(collectionRoutes(deps));
  app.use(batchRoutes(deps));
  app.use(unmatched(app));
  app.use(errorHandler(deps.log));
  return app;
}
