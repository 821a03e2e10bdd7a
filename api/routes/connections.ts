// Storage connections. Credentials (provider_config.credentials) are sealed at rest, redacted in
// every response, and never handed to Temporal: activities load them by connection id.
import { Router } from 'express';
import path from 'node:path';
import { connectionCreateSchema } from '../../core/schemas';
import { createProvider, isProviderAvailable, providerDefinition } from '../../providers';
import type { ConnectionDoc } from '../../store';
import { newId } from '../../store/ids';
import { tenantOf } from '../auth';
import { ApiError, notFound, parse, validationError } from '../errors';
import { listPage, publicFields } from '../list';
import type { AppDeps } from '../app';

export function serializeConnection(d: ConnectionDoc): Record<string, unknown> {
  const out = publicFields(d, ['credentials_sealed']);
  out.provider_config = {
    ...d.provider_config,
    ...(d.credentials_sealed ? { credentials: '[redacted]' } : {}),
  };
  return out;
}

export function connectionRoutes({ store, secrets, env }: AppDeps): Router {
  const r = Router();
  const base = '/v1/organizations/connections';

  r.post(base, async (req, res) => {
    const t = tenantOf(req);
    const body = parse(connectionCreateSchema, req.body, 'body');
    if (!isProviderAvailable(body.provider_type))
      throw new ApiError(
        501,
        `provider_type ${body.provider_type} is not available in this build yet`,
        'NotImplementedError',
      );
    const { credentials, ...config } = body.provider_config as { credentials?: Record<string, unknown> };
    const checked = providerDefinition(body.provider_type).configSchema.safeParse(config);
    if (!checked.success) {
      const e = validationError(checked.error, 'body');
      const issues = (e.details!.issues as { loc: unknown[] }[]).map((i) => ({
        ...i,
        loc: ['body', 'provider_config', ...i.loc.slice(1)],
      }));
      throw new ApiError(422, e.message.replace('body.', 'body.provider_config.'), e.type, { issues });
    }
    if (body.provider_type === 'local' && env.LOCAL_ROOTS.length > 0) {
      const root = path.resolve(String((config as { root: string }).root));
      if (!env.LOCAL_ROOTS.some((allowed: string) => root === allowed || root.startsWith(allowed + path.sep)))
        throw new ApiError(422, `provider_config.root must be inside one of LOCAL_ROOTS`, 'ValidationError', {
          issues: [
            {
              loc: ['body', 'provider_config', 'root'],
              msg: 'not under an allowed root',
              type: 'value_error',
            },
          ],
        });
    }
    if (await store.connections.findOne({ internal_id: t.internal_id, name: body.name }))
      throw new ApiError(409, `a connection named ${body.name} already exists`, 'ConflictError');
    if (body.test_before_save) {
      const result = await createProvider(body.provider_type, checked.data, credentials ?? null).test();
      if (!result.success)
        throw new ApiError(400, `connection test failed: ${result.message}`, 'ConnectionTestError', {
          test: result,
        });
    }
    const now = new Date();
    const doc: ConnectionDoc = {
      connection_id: newId('conn'),
      internal_id: t.internal_id,
      name: body.name,
      provider_type: body.provider_type,
      provider_config: checked.data as Record<string, unknown>,
      credentials_sealed: credentials ? secrets.seal(credentials) : null,
      description: body.description ?? null,
      status: 'ACTIVE',
      is_active: true,
      last_used_at: null,
      last_error: null,
      consecutive_failures: 0,
      created_at: now,
      updated_at: now,
      created_by_user_id: t.user_id,
      metadata: body.metadata,
    };
    try {
      await store.connections.insertOne({ ...doc });
    } catch (err) {
      if ((err as { code?: number }).code === 11000)
        throw new ApiError(409, `a connection named ${body.name} already exists`, 'ConflictError');
      throw err;
    }
    res.status(201).json(serializeConnection(doc));
  });

  const list = async (req: import('express').Request, res: import('express').Response) => {
    const t = tenantOf(req);
    res.json(
      await listPage(store.connections, { internal_id: t.internal_id }, req.query, serializeConnection),
    );
  };
  r.post(`${base}/list`, list);
  r.get(base, list);

  r.get(`${base}/:id`, async (req, res) => {
    const t = tenantOf(req);
    const doc = await store.connections.findOne({
      internal_id: t.internal_id,
      $or: [{ connection_id: req.params.id }, { name: req.params.id }],
    });
    if (!doc) throw notFound('connection', req.params.id);
    res.json(serializeConnection(doc));
  });

  return r;
}
