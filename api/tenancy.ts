// Tenant-scoped lookups shared by the routes: another tenant's resource answers 404.
//
// One-item reads are `_id` lookups: buckets, syncs and collections are stored with `_id` = their
// public id, objects under a key derived from theirs (store/ids.ts). On FerretDB's SQLite backend
// only an `_id` filter reaches the database; any other filter decodes every document of the
// collection. Documents stored before this rule (ObjectId `_id`s, random object ids) are found by
// a fallback query on the public id, which scans on FerretDB (also what an unknown id costs).
import type { Collection, Filter } from 'mongodb';
import type { BucketDoc, ObjectDoc, Store, SyncConfigDoc, Tenant } from '../store';
import { isDerivedObjectId, objectKeyOf } from '../store/ids';
import { notFound } from './errors';

/** The document with this public id (`field`), first by `_id`, then (legacy documents) by the field. */
export async function findByPublicId<T extends { _id?: unknown }>(
  coll: Collection<T>,
  field: keyof T & string,
  id: string,
  scope: Record<string, unknown>,
): Promise<T | null> {
  const byId = await coll.findOne({ _id: id, [field]: id, ...scope } as Filter<T>);
  if (byId) return byId as T;
  return (await coll.findOne({ [field]: id, ...scope } as Filter<T>)) as T | null;
}

export async function findBucket(store: Store, t: Tenant, bucketId: string): Promise<BucketDoc> {
  const bucket = await findByPublicId(store.buckets, 'bucket_id', bucketId, {
    internal_id: t.internal_id,
    namespace_id: t.namespace_id,
  });
  if (!bucket) throw notFound('bucket', bucketId);
  return bucket;
}

/** A sync of this bucket that is not deleted. */
export async function findSync(store: Store, bucketId: string, syncId: string): Promise<SyncConfigDoc> {
  const cfg = await findByPublicId(store.syncs, 'sync_config_id', syncId, {
    bucket_id: bucketId,
    deleted: { $ne: true },
  });
  if (!cfg) throw notFound('sync configuration', syncId);
  return cfg;
}

/** An object of this bucket by its public id (an `_id` lookup, see objectKeyOf). */
export async function findObject(store: Store, bucketId: string, objectId: string): Promise<ObjectDoc> {
  const doc =
    (await store.objects.findOne({ _id: objectKeyOf(objectId), object_id: objectId, bucket_id: bucketId })) ??
    // Objects synced before ids were derived from keys: a query (scans on FerretDB).
    (isDerivedObjectId(objectId)
      ? null
      : await store.objects.findOne({ object_id: objectId, bucket_id: bucketId }));
  if (!doc) throw notFound('object', objectId);
  return doc;
}

/**
 * The storage keys (`_id`) of these objects of the bucket, by object id; ids not found are absent.
 * Point lookups by derived key, a few in flight (on FerretDB an `$in` scans the collection); only
 * legacy ids not found that way are looked up by one `$in` query.
 */
export async function objectKeysIn(
  store: Store,
  bucketId: string,
  objectIds: string[],
): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  const ids = [...new Set(objectIds)];
  const CONCURRENCY = 16;
  for (let i = 0; i < ids.length; i += CONCURRENCY) {
    await Promise.all(
      ids.slice(i, i + CONCURRENCY).map(async (id) => {
        const key = objectKeyOf(id);
        const hit = await store.objects.findOne(
          { _id: key, object_id: id, bucket_id: bucketId },
          { projection: { _id: 1 } },
        );
        if (hit) keys.set(id, hit._id);
      }),
    );
  }
  const legacy = ids.filter((id) => !keys.has(id) && !isDerivedObjectId(id));
  if (legacy.length > 0)
    for (const o of await store.objects
      .find({ bucket_id: bucketId, object_id: { $in: legacy } }, { projection: { _id: 1, object_id: 1 } })
      .toArray())
      keys.set(o.object_id, o._id);
  return keys;
}
