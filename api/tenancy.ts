// Tenant-scoped lookups shared by the routes: another tenant's resource answers 404.
//
// One-item reads are `_id` lookups: buckets, syncs and collections are stored with `_id` = their
// public id, and so are objects (store/objects.ts). On FerretDB's SQLite backend
// only an `_id` filter reaches the database; any other filter decodes every document of the
// collection. Documents stored before this rule (ObjectId `_id`s, other object keys) are found by
// a fallback query on the public id, which scans on FerretDB (also what an unknown id costs); a
// database created with the rule (store.keyedByPublicIds) has none, so there an unknown id is one
// `_id` lookup.
import type { Collection, Filter } from 'mongodb';
import type { BucketDoc, ObjectDoc, Store, SyncConfigDoc, Tenant } from '../store';
import { notFound } from './errors';
import { TtlCache } from './auth';

/**
 * The document with this public id (`field`), first by `_id` alone — FerretDB hands SQLite only a
 * filter that is exactly `{_id: <string>}`, so the scope is checked here, not in the filter — then
 * (legacy documents) by a query on the field.
 */
export async function findByPublicId<T extends { _id?: unknown }>(
  store: Pick<Store, 'keyedByPublicIds'>,
  coll: Collection<T>,
  field: keyof T & string,
  id: string,
  scope: Record<string, unknown>,
  accept: (doc: T) => boolean = () => true,
): Promise<T | null> {
  const byId = (await coll.findOne({ _id: id } as Filter<T>)) as T | null;
  if (byId)
    return (byId as Record<string, unknown>)[field] === id &&
      Object.entries(scope).every(([k, v]) => (byId as Record<string, unknown>)[k] === v) &&
      accept(byId)
      ? byId
      : null;
  if (store.keyedByPublicIds) return null;
  const legacy = (await coll.findOne({ [field]: id, ...scope } as Filter<T>)) as T | null;
  return legacy && accept(legacy) ? legacy : null;
}

export async function findBucket(store: Store, t: Tenant, bucketId: string): Promise<BucketDoc> {
  const bucket = await findByPublicId(store, store.buckets, 'bucket_id', bucketId, {
    internal_id: t.internal_id,
    namespace_id: t.namespace_id,
  });
  if (!bucket) throw notFound('bucket', bucketId);
  return bucket;
}

/**
 * The bucket check of the routes under a bucket (its syncs, objects): that the bucket is the tenant's.
 * A bucket never moves to another tenant, so a found answer is kept for `ttlMs` (AUTH_CACHE_SECONDS)
 * and a GET of a sync or an object reads one document, not two. A deleted bucket's syncs are gone
 * before it is (its DELETE refuses while it has any) and its objects go with it, so those lookups,
 * always fresh, answer 404 after it; requests that create under a bucket read it fresh.
 */
export class BucketScopes {
  private readonly cache: TtlCache<{ bucket_id: string }>;

  constructor(
    private readonly store: Store,
    ttlMs: number,
  ) {
    this.cache = new TtlCache(ttlMs);
  }

  async check(t: Tenant, bucketId: string): Promise<{ bucket_id: string }> {
    const found = await this.cache.get(`${t.internal_id}|${t.namespace_id}|${bucketId}`, async () => {
      const b = await findByPublicId(this.store, this.store.buckets, 'bucket_id', bucketId, {
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
      });
      return b ? { bucket_id: b.bucket_id } : null;
    });
    if (!found) throw notFound('bucket', bucketId);
    return found;
  }
}

/** A sync of this bucket that is not deleted. */
export async function findSync(store: Store, bucketId: string, syncId: string): Promise<SyncConfigDoc> {
  const cfg = await findByPublicId(
    store,
    store.syncs,
    'sync_config_id',
    syncId,
    { bucket_id: bucketId },
    (d) => d.deleted !== true,
  );
  if (!cfg) throw notFound('sync configuration', syncId);
  return cfg;
}

/** An object of this bucket by its public id: its `_id` (store/objects.ts), the bucket checked here. */
export async function findObject(store: Store, bucketId: string, objectId: string): Promise<ObjectDoc> {
  const byId = await store.objects.findOne({ _id: objectId });
  const doc = byId
    ? byId.bucket_id === bucketId
      ? byId
      : null
    : store.keyedByPublicIds
      ? null
      : // Objects stored before `_id` was the object id: a query (scans on FerretDB; so does a 404).
        await store.objects.findOne({ object_id: objectId, bucket_id: bucketId });
  if (!doc) throw notFound('object', objectId);
  return doc;
}

/**
 * The storage keys (`_id`) of these objects of the bucket, by object id; ids not found are absent.
 * `_id` lookups (store.lookupByIds: one `$in` on MongoDB, point lookups on FerretDB); only ids not
 * found that way (objects stored before `_id` was the object id, or unknown ids) by one query.
 */
export async function objectKeysIn(
  store: Store,
  bucketId: string,
  objectIds: string[],
): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  const found = await store.lookupByIds(store.objects, objectIds, { bucket_id: 1, object_id: 1 });
  for (const o of found.values()) if (o.bucket_id === bucketId) keys.set(o.object_id, o._id);
  const rest = [...new Set(objectIds)].filter((id) => !keys.has(id));
  if (rest.length > 0 && !store.keyedByPublicIds)
    for (const o of await store.objects
      .find({ bucket_id: bucketId, object_id: { $in: rest } }, { projection: { _id: 1, object_id: 1 } })
      .toArray())
      keys.set(o.object_id, o._id);
  return keys;
}
