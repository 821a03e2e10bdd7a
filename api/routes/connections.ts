// Storage connections (organization-wide: every namespace of the organization sees them; the
// namespace header is optional here, as Mixpeek's clients send none).
// Credentials (provider_config.credentials) are sealed at rest, redacted in every response, and
// never handed to Temporal: activities load them by connection id. DELETE is soft (ARCHIVED).
import { Router } from 'express';
import path from 'node:path';
import {
  connectionCreateSchema,
  connectionListFilterSchema,
  connectionTestRequestSchema,
  connectionUpdateSchema,
  type ProviderType,
} from '../../core/request-schemas';
import { createProvider, ProviderError, providerDefinition } from '../../providers';
import type { ConnectionDoc, Tenant } from '../../store';
import { newId } from '../../store/ids';
import { ApiError, notFound, validationError } from '../errors';
import { listPage, listQuerySchema, publicFields } from '../list';
import { connectionModel, connectionTestModel, deleteModel, listModel } from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';

export const REDACTED = '[redacted]';
const TEST_TIMEOUT_MS = 20_000;

const createBody = connectionCreateSchema.meta({ id: 'StorageConnectionCreateRequest' });
const updateBody = connectionUpdateSchema.meta({ id: 'StorageConnectionUpdateRequest' });
const listBody = connectionListFilterSchema.meta({ id: 'StorageConnectionListRequest' });
const testBody = connectionTestRequestSchema.meta({ id: 'StorageConnectionTestRequest' });
const connectionList = listModel(connectionModel, 'StorageConnection');

export function serializeConnection(d: ConnectionDoc): Record<string, unknown> {
  const out = publicFields(d, ['credentials_sealed']);
  out.write_enabled = d.write_enabled ?? false;
  out.provider_config = {
    ...d.provider_config,
    ...(d.credentials_sealed ? { credentials: REDACTED } : {}),
  };
  return out;
}

type Json = Record<string, unknown>;
const issue = (loc: (string | number)[], msg: string) =>
  new ApiError(422, `validation failed: ${loc.join('.')}: ${msg}`, 'ValidationError', {
    issues: [{ loc, msg, type: 'value_error' }],
  });

/** Checks provider settings + credentials; returns the parsed settings. 422 naming the field. */
function checkProvider(
  type: ProviderType,
  config: Json,
  credentials: Json | null,
  localRoots: string[],
): Json {
  const checked = providerDefinition(type).configSchema.safeParse(config);
  if (!checked.success) {
    const e = validationError(checked.error, 'body');
    const issues = (e.details!.issues as { loc: unknown[] }[]).map((i) => ({
      ...i,
      loc: ['body', 'provider_config', ...i.loc.slice(1)],
    }));
    throw new ApiError(422, e.message.replace('body.', 'body.provider_config.'), e.type, { issues });
  }
  if (type === 'local' && localRoots.length > 0) {
    const root = path.resolve(String((config as { root: string }).root));
    if (!localRoots.some((allowed) => root === allowed || root.startsWith(allowed + path.sep)))
      throw issue(['body', 'provider_config', 'root'], 'not under an allowed root (LOCAL_ROOTS)');
  }
  if (credentials !== null && (typeof credentials !== 'object' || Array.isArray(credentials)))
    throw issue(['body', 'provider_config', 'credentials'], 'must be an object');
  return checked.data as Json;
}

/**
 * Mixpeek's provider config models (S3Config…) carry their provider_type inside provider_config:
 * taken out when it names the connection's provider, refused when it names another.
 */
function withoutProviderType(type: ProviderType, config: Json): Json {
  if (!('provider_type' in config)) return config;
  const { provider_type, ...rest } = config;
  if (provider_type !== type)
    throw issue(
      ['body', 'provider_config', 'provider_type'],
      `must be "${type}" (the connection’s provider_type)`,
    );
  return rest;
}

function providerOf(type: ProviderType, config: Json, credentials: Json | null) {
  try {
    return createProvider(type, config, credentials);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    throw issue(['body', 'provider_config', 'credentials'], err.message);
  }
}

/** provider.test() with a deadline; never throws. */
async function runTest(
  run: () => Promise<{ success: boolean; message: string; details?: Json | null }>,
): Promise<{ success: boolean; message: string; details: Json | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${TEST_TIMEOUT_MS / 1000} s`)),
        TEST_TIMEOUT_MS,
      );
    });
    const r = await Promise.race([run(), timeout]);
    return { success: r.success, message: r.message, details: r.details ?? null };
  } catch (err) {
    return { success: false, message: (err as Error)?.message ?? String(err), details: null };
  } finally {
    clearTimeout(timer);
  }
}

async function testOrRefuse(provider: { test: () => Promise<{ success: boolean; message: string }> }) {
  const result = await runTest(() => provider.test());
  if (!result.success)
    throw new ApiError(400, `connection test failed: ${result.message}`, 'ConnectionTestError', {
      test: result,
    });
}

const duplicateName = (name: string) =>
  new ApiError(409, `a connection named ${name} already exists`, 'ConflictError');

export function connectionRoutes({ store, secrets, env, control }: AppDeps): Router {
  const r = Router();
  const base = '/v1/organizations/connections';
  const tag = 'connections';

  const find = async (t: Tenant, id: string) => {
    const doc = await store.connections.findOne({
      internal_id: t.internal_id,
      $or: [{ connection_id: id }, { name: id }],
    });
    if (!doc) throw notFound('connection', id);
    return doc;
  };
  const credentialsOf = (d: ConnectionDoc) =>
    d.credentials_sealed ? secrets.open<Json>(d.credentials_sealed) : null;

  route(r, {
    method: 'post',
    path: base,
    tag,
    summary: 'Create a storage connection',
    description:
      'Credentials go in provider_config.credentials; they are encrypted at rest and answered as "[redacted]". ' +
      'With test_before_save (default) the connection is tested first: 400 ConnectionTestError when it fails.',
    body: createBody,
    response: connectionModel,
    errors: [409],
    handler: async ({ t, body }) => {
      const { credentials = null, ...given } = withoutProviderType(
        body.provider_type,
        body.provider_config,
      ) as Json & { credentials?: Json | null };
      const config = checkProvider(body.provider_type, given, credentials, env.LOCAL_ROOTS);
      if (await store.connections.findOne({ internal_id: t.internal_id, name: body.name }))
        throw duplicateName(body.name);
      const provider = providerOf(body.provider_type, config, credentials);
      if (body.test_before_save) await testOrRefuse(provider);
      const now = new Date();
      const doc: ConnectionDoc = {
        connection_id: newId('conn'),
        internal_id: t.internal_id,
        name: body.name,
        provider_type: body.provider_type,
        provider_config: config,
        credentials_sealed: credentials ? secrets.seal(credentials) : null,
        write_enabled: body.write_enabled,
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
        if ((err as { code?: number }).code === 11000) throw duplicateName(body.name);
        throw err;
      }
      return serializeConnection(doc);
    },
  });

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List storage connections',
      description: 'Archived (deleted) connections are listed too; filter with {"status": "ACTIVE"}.',
      query: listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: connectionList,
      handler: async ({ t, req, body }) => {
        const f = (body ?? {}) as { provider_type?: string; status?: string; is_active?: boolean };
        const filter: Record<string, unknown> = { internal_id: t.internal_id };
        if (f.provider_type) filter.provider_type = f.provider_type;
        if (f.status) filter.status = f.status;
        if (f.is_active !== undefined) filter.is_active = f.is_active;
        return listPage(store.connections, filter, req.query, serializeConnection);
      },
    });
  list('post', `${base}/list`);
  list('get', base);

  route(r, {
    method: 'get',
    path: `${base}/:connection_id`,
    tag,
    summary: 'Get a storage connection (by id or name)',
    response: connectionModel,
    handler: async ({ t, params }) => serializeConnection(await find(t, params.connection_id)),
  });

  route(r, {
    method: 'patch',
    path: `${base}/:connection_id`,
    tag,
    summary: 'Update a storage connection',
    description:
      'provider_config is merged into the stored settings key by key; credentials given there replace ' +
      'the stored ones (sealed again), "[redacted]" keeps them, null removes them. Syncs use the new ' +
      'settings from their next page. Archived connections cannot be changed (409).',
    body: updateBody,
    response: connectionModel,
    errors: [400, 409],
    handler: async ({ t, params, body }) => {
      const doc = await find(t, params.connection_id);
      if (doc.status === 'ARCHIVED')
        throw new ApiError(409, `connection ${doc.connection_id} is archived`, 'ConflictError');
      if (body.status !== undefined && body.status !== 'ACTIVE')
        throw issue(
          ['body', 'status'],
          'a connection’s status can be set to ACTIVE only (with is_active true); archive it with DELETE',
        );
      const set: Record<string, unknown> = { updated_at: new Date() };
      for (const k of ['name', 'description', 'metadata', 'is_active', 'write_enabled'] as const)
        if (body[k] !== undefined) set[k] = body[k];
      if (body.status === 'ACTIVE') set.is_active = true;
      if (body.provider_config) {
        const { credentials: given, ...changes } = withoutProviderType(
          doc.provider_type,
          body.provider_config,
        ) as Json & { credentials?: unknown };
        const keep = given === undefined || given === REDACTED;
        const credentials = keep ? credentialsOf(doc) : (given as Json | null);
        const merged = Object.fromEntries(
          Object.entries({ ...doc.provider_config, ...changes }).filter(([, v]) => v !== undefined),
        );
        const config = checkProvider(doc.provider_type, merged, credentials, env.LOCAL_ROOTS);
        const provider = providerOf(doc.provider_type, config, credentials);
        if (body.test_before_save ?? true) await testOrRefuse(provider);
        set.provider_config = config;
        if (!keep) set.credentials_sealed = credentials ? secrets.seal(credentials) : null;
      }
      if (body.name && body.name !== doc.name) {
        const clash = await store.connections.findOne({ internal_id: t.internal_id, name: body.name });
        if (clash) throw duplicateName(body.name);
      }
      try {
        await store.connections.updateOne({ connection_id: doc.connection_id }, { $set: set });
      } catch (err) {
        if ((err as { code?: number }).code === 11000) throw duplicateName(String(body.name));
        throw err;
      }
      return serializeConnection(await find(t, doc.connection_id));
    },
  });

  route(r, {
    method: 'delete',
    path: `${base}/:connection_id`,
    tag,
    summary: 'Archive a storage connection (soft delete)',
    description:
      'status becomes ARCHIVED and is_active false. Refused (409) while a sync that is neither deleted ' +
      'nor paused uses the connection.',
    response: deleteModel,
    errors: [409],
    handler: async ({ t, params }) => {
      const doc = await find(t, params.connection_id);
      const users = await store.syncs
        .find({ internal_id: t.internal_id, connection_id: doc.connection_id, deleted: { $ne: true } })
        .toArray();
      const active: string[] = [];
      for (const s of users) {
        // The workflow's live state first: the stored projection may lag a pause by a moment.
        const live = await control.state(s.sync_config_id);
        const paused = live ? live.paused : s.paused || s.status === 'SUSPENDED';
        if (!paused) active.push(s.sync_config_id);
      }
      if (active.length > 0)
        throw new ApiError(
          409,
          `connection ${doc.connection_id} is used by active syncs (${active.join(', ')}); pause or delete them first`,
          'ConflictError',
          { sync_config_ids: active },
        );
      await store.connections.updateOne(
        { connection_id: doc.connection_id },
        { $set: { status: 'ARCHIVED', is_active: false, updated_at: new Date() } },
      );
      return { success: true, message: `connection ${doc.connection_id} archived` };
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:connection_id/test`,
    tag,
    summary: 'Test a storage connection with its stored credentials',
    description: 'Always 200: {success: false, message} says what failed.',
    body: testBody,
    bodyOptional: true,
    response: connectionTestModel,
    handler: async ({ t, params, body }) => {
      const doc = await find(t, params.connection_id);
      return runTest(async () =>
        createProvider(doc.provider_type, doc.provider_config, credentialsOf(doc)).test(body.source_path),
      );
    },
  });

  return r;
}
