// API keys (stored only as SHA-256 hashes) -> organization; X-Namespace / ?namespace= -> namespace.
import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { NamespaceDoc, OrganizationDoc, Store, Tenant } from '../store';
import { newId } from '../store/ids';
import { ApiError } from './errors';

export interface AuthContext extends Tenant {
  user_id: string;
}

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export function tenantOf(req: Request): AuthContext {
  const t = (req as Request & { tenant?: AuthContext }).tenant;
  if (!t) throw new ApiError(401, 'missing API key', 'AuthenticationError');
  return t;
}

/** Routes under /v1 that are organization-wide, so a namespace is optional (a path below /v1). */
export const isOrganizationLevel = (path: string) =>
  path === '/organizations' || path.startsWith('/organizations/');

export function authenticate(store: Store): RequestHandler {
  return async (req, _res, next) => {
    try {
      const header = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m)
        throw new ApiError(
          401,
          'missing or malformed Authorization header (want "Bearer <api key>")',
          'AuthenticationError',
        );
      const key = await store.apiKeys.findOne({ key_hash: hashKey(m[1]) });
      if (!key) throw new ApiError(401, 'unknown API key', 'AuthenticationError');
      const nsParam = req.headers['x-namespace'] ?? req.query.namespace;
      const nsName = Array.isArray(nsParam) ? nsParam[0] : nsParam;
      const noName = typeof nsName !== 'string' || nsName.trim() === '';
      if (noName && isOrganizationLevel(req.path)) {
        // Organization-level routes (storage connections) need no namespace: Mixpeek's clients send none.
        (req as Request & { tenant?: AuthContext }).tenant = {
          internal_id: key.internal_id,
          namespace_id: '',
          user_id: key.user_id,
        };
        return next();
      }
      if (noName)
        throw new ApiError(
          400,
          'missing namespace: send X-Namespace (id or name) or ?namespace=',
          'BadRequestError',
        );
      const ns = await store.namespaces.findOne({
        internal_id: key.internal_id,
        $or: [{ namespace_id: nsName }, { namespace_name: nsName }],
      });
      if (!ns) throw new ApiError(404, `namespace ${nsName} not found`, 'NotFoundError');
      (req as Request & { tenant?: AuthContext }).tenant = {
        internal_id: key.internal_id,
        namespace_id: ns.namespace_id,
        user_id: key.user_id,
      };
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Creates (or finds) an organization and namespace, and issues an API key; returns the plain key once. */
export async function createOrgNamespaceKey(
  store: Store,
  opts: { orgName: string; namespaceName: string; keyName: string; key?: string },
): Promise<{ internal_id: string; namespace_id: string; api_key: string }> {
  const now = new Date();
  let org: OrganizationDoc | null = await store.organizations.findOne({ name: opts.orgName });
  if (!org) {
    org = { internal_id: newId('org'), name: opts.orgName, created_at: now };
    await store.organizations.insertOne({ ...org });
  }
  let ns: NamespaceDoc | null = await store.namespaces.findOne({
    internal_id: org.internal_id,
    namespace_name: opts.namespaceName,
  });
  if (!ns) {
    ns = {
      namespace_id: newId('ns'),
      internal_id: org.internal_id,
      namespace_name: opts.namespaceName,
      created_at: now,
    };
    await store.namespaces.insertOne({ ...ns });
  }
  const apiKey = opts.key ?? `sk_${randomBytes(24).toString('hex')}`;
  await store.apiKeys.updateOne(
    { key_hash: hashKey(apiKey) },
    {
      $setOnInsert: {
        key_hash: hashKey(apiKey),
        key_id: newId('key'),
        internal_id: org.internal_id,
        user_id: `user_${opts.keyName}`,
        name: opts.keyName,
        created_at: now,
      },
    },
    { upsert: true },
  );
  return { internal_id: org.internal_id, namespace_id: ns.namespace_id, api_key: apiKey };
}
