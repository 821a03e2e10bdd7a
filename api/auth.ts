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

/**
 * A small in-process cache of what authentication looked up: found values only, each for `ttlMs`
 * from its lookup (so a revoked key or a removed namespace stops working within ttlMs), at most
 * `max` entries (oldest dropped first). Concurrent misses for one key share one lookup. A value
 * read after three quarters of its time is looked up again in the background while the reader
 * gets it from memory (refresh-ahead: a key in use is not waited for every ttlMs); the new answer
 * replaces it, or, not found any more, drops it.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; refreshAt: number; expires: number }>();
  private readonly loading = new Map<string, Promise<V | null>>();

  constructor(
    readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    if (this.ttlMs <= 0) return load();
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      // A failed background lookup keeps the value until it expires (then a reader waits for one).
      if (now >= hit.refreshAt && !this.loading.has(key)) this.load(key, load).catch(() => undefined);
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    return this.loading.get(key) ?? this.load(key, load);
  }

  private load(key: string, load: () => Promise<V | null>): Promise<V | null> {
    const started = this.now();
    const pending = Promise.resolve()
      .then(load)
      .then((value) => {
        this.entries.delete(key);
        if (value !== null) {
          this.entries.set(key, {
            value,
            refreshAt: started + this.ttlMs * 0.75,
            expires: started + this.ttlMs,
          });
          if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
        }
        return value;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, pending);
    return pending;
  }
}

export interface AuthOptions {
  /** How long a looked-up API key and namespace are trusted without asking the store again. */
  cacheMs: number;
}

export function authenticate(store: Store, opts: AuthOptions = { cacheMs: 0 }): RequestHandler {
  // Per request, a key and a namespace lookup: neither is an _id lookup (on FerretDB they decode
  // their collections), so both are cached for a few seconds (AUTH_CACHE_SECONDS).
  const keys = new TtlCache<{ internal_id: string; user_id: string }>(opts.cacheMs);
  const namespaces = new TtlCache<{ namespace_id: string }>(opts.cacheMs);
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
      const keyHash = hashKey(m[1]);
      const key = await keys.get(keyHash, () =>
        store.apiKeys.findOne({ key_hash: keyHash }, { projection: { internal_id: 1, user_id: 1 } }),
      );
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
      const ns = await namespaces.get(`${key.internal_id}\u0000${nsName}`, () =>
        store.namespaces.findOne(
          { internal_id: key.internal_id, $or: [{ namespace_id: nsName }, { namespace_name: nsName }] },
          { projection: { namespace_id: 1 } },
        ),
      );
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

/** Revokes an API key (deletes it); API processes stop accepting it within AUTH_CACHE_SECONDS. */
export async function revokeApiKey(store: Store, apiKey: string): Promise<boolean> {
  return (await store.apiKeys.deleteOne({ key_hash: hashKey(apiKey) })).deletedCount > 0;
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
