// The express application: JSON body parsing, auth + tenancy, routes, one error format.
import express from 'express';
import type { Logger } from 'pino';
import type { Env } from '../config/env';
import type { Store } from '../store';
import type { SecretBox } from '../store/secrets';
import { authenticate } from './auth';
import { errorHandler, unknownRoute } from './errors';
import { bucketRoutes } from './routes/buckets';
import { connectionRoutes } from './routes/connections';
import { syncRoutes } from './routes/syncs';
import type { SyncControl } from './temporal';

export interface AppDeps {
  env: Env;
  store: Store;
  secrets: SecretBox;
  control: SyncControl;
  log: Logger;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(express.json({ limit: '1mb', strict: false }));
  app.use('/v1', authenticate(deps.store));
  app.use(bucketRoutes(deps));
  app.use(connectionRoutes(deps));
  app.use(syncRoutes(deps));
  app.use(unknownRoute);
  app.use(errorHandler(deps.log));
  return app;
}
