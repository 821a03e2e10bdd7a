// Bucket objects: the ones syncs create, and ones registered directly over the API. An object's
// `_id` is its object_id (a synced one's derives from its idempotency key: store/objects.ts), so
// reading one is an `_id` lookup.
import { Router } from 'express';
import { deleteObjects } from '../../engine/ingest';
import { bucketStatsRefresher, readBucketStats } from '../../store/bucket-stats';
import { mixpeekBlobType } from '../../core/mapping';
import { objectCreateSchema, objectGetQuerySchema, objectListFilterSchema } from '../../core/request-schemas';
import type { BucketDoc, ObjectDoc, Store, Tenant } from '../../store';
import { createBlobStore } from '../../store/blobs';
import { documentKey, newId } from '../../store/ids';
import { addToOrder, ensureObjectOrder, readOrderedPage } from '../../store/object-order';
import { listPage, listQuerySchema, pageOf, pagingOf } from '../list';
import { deleteModel, listModel, objectModel } from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';
import { BucketScopes, findBucket, findObject } from '../tenancy';
import { ReadCache } from '../read-cache';

const createBody = objectCreateSchema.meta({ id: 'ObjectCreateRequest' });
const listBody = objectListFilterSchema.meta({ id: 'ObjectListRequest' });
const objectList = listModel(objectModel, 'Object');

/**
 * The contract's ObjectResponse: a whitelist, so storage fields never leak. Blob and source types
 * are answered in Mixpeek's enums (a synced file's `auto` blob by its MIME type; a synced object's
 * source is `bucket`, an API-created one's `direct_upsert`); the provider is in source_provider.
 */
export const serializeObject = (d: ObjectDoc) => ({
  object_id: d.object_id,
  bucket_id: d.bucket_id,
  key_prefix: d.key_prefix,
  blobs: d.blobs.map((b) => ({ ...b, type: mixpeekBlobType(b.type, b.details?.mime_type ?? '') })),
  source_details: d.source_details.map((sd) => ({
    type: d.sync_config_id ? 'bucket' : 'direct_upsert',
    source_id: sd.source_id,
  })),
  source_provider: d.source_provider,
  metadata: d.metadata,
  status: d.status,
  error: d.error,
  created_at: d.created_at,
  updated_at: d.updated_at,
});

/**
 * Marks the bucket as holding objects registered (or synced objects deleted) over the API, before
 * the first one is written (bucket DELETE looks for objects only in a bucket so marked or with
 * syncs; a sync's run takes the bucket's counts from its manifest only in a bucket not so marked). Read back until it
 * holds: on FerretDB a concurrent update of the bucket (PATCH) could otherwise drop the mark.
 */
async function markHasApiObjects(store: Store, bucket: BucketDoc): Promise<void> {
  for (let attempt = 1; attempt <= 8; attempt++) {
    await store.buckets.updateOne({ _id: bucket._id! }, { $set: { has_api_objects: true } });
    const doc = await store.buckets.findOne({ _id: bucket._id! }, { projection: { has_api_objects: 1 } });
    if (!doc || doc.has_api_objects === true) return;
    await new Promise((res) => setTimeout(res, 10 * attempt));
  }
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function objectRoutes({ store, env, reads = new ReadCache(0) }: AppDeps): Router {
  const r = Router();
  const base = '/v1/buckets/:bucket_id/objects';
  const tag = 'objects';
  const blobs = createBlobStore(env);

  const bucketOf = (t: Tenant, bucketId: string) => findBucket(store, t, bucketId);
  const scopes = new BucketScopes(store, env.AUTH_CACHE_SECONDS * 1000);
  /** An existing object: its bucket checked from the scope cache (api/tenancy.ts), the object read fresh. */
  async function objectOf(t: Tenant, params: Record<string, string>): Promise<ObjectDoc> {
    const bucket = await scopes.check(t, params.bucket_id);
    return findObject(store, bucket.bucket_id, params.object_id);
  }

  route(r, {
    method: 'post',
    path: base,
    tag,
    summary: 'Register an object (without a sync)',
    description: 'Blobs carry inline data (text, JSON or a URL) kept as properties.value.',
    body: createBody,
    response: objectModel,
    handler: async ({ t, params, body }) => {
      const bucket = await bucketOf(t, params.bucket_id);
      if (!bucket.has_api_objects) await markHasApiObjects(store, bucket);
      const objectId = newId('obj');
      const now = new Date();
      const doc: ObjectDoc = {
        _id: objectId,
        object_id: objectId,
        bucket_id: bucket.bucket_id,
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        key_prefix: body.key_prefix,
        blobs: body.blobs.map((b) => ({
          blob_id: newId('obj').replace('obj_', 'blob_'),
          property: b.property,
          key_prefix: b.key_prefix ?? body.key_prefix,
          type: b.type,
          properties: { ...(b.properties ?? {}), ...(b.data !== undefined ? { value: b.data } : {}) },
          details: {
            filename: b.details?.filename ?? '',
            size_bytes: b.details?.size_bytes ?? 0,
            mime_type: b.details?.mime_type ?? 'application/octet-stream',
            hash: b.details?.hash ?? null,
          },
        })),
        source_details: [{ type: 'api', source_id: objectId }],
        metadata: body.metadata,
        status: 'COMPLETED',
        error: null,
        source_provider: 'api',
        source_object_id: objectId,
        source_version: null,
        source_checksum: null,
        content_hash: null,
        sync_config_id: null,
        last_seen_pass_id: null,
        created_by_run_id: null,
        created_by_page: null,
        created_at: now,
        updated_at: now,
      };
      await addToOrder(store, [doc]);
      await store.objects.insertOne({ ...doc });
      bucketStatsRefresher(store).touch(doc.bucket_id);
      return serializeObject(doc);
    },
  });

  /**
   * How many collection documents were made from the object: a document's `_id` derives from its
   * collection and object (store/ids.ts documentKey), so this is `_id` lookups, one per collection
   * of the tenant, not a count over every document stored.
   */
  async function documentCount(t: Tenant, objectId: string): Promise<number> {
    // The tenant's collections (a scan of them on FerretDB), kept like the answers themselves.
    const cols = await reads.get('collection-ids', `${t.internal_id}|${t.namespace_id}`, t, '', () =>
      store.collections
        .find(
          { internal_id: t.internal_id, namespace_id: t.namespace_id },
          { projection: { collection_id: 1 } },
        )
        .toArray(),
    );
    if (cols.length === 0) return 0;
    const keys = cols.map((c) => documentKey(c.collection_id, objectId));
    return (await store.lookupByIds(store.documents, keys, { _id: 1 })).size;
  }

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List the bucket’s objects',
      query: listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: objectList,
      handler: async ({ t, params, req, body }) => {
        // Read fresh (one `_id` lookup): a deleted bucket's list is a 404 at once.
        const bucket = await bucketOf(t, params.bucket_id);
        const f = body ?? {};
        if (!f.key_prefix && !f.status && !f.sync_config_id) {
          // The whole bucket: a page of its list entries (costs the page, store/object-order.ts),
          // over GET kept for API_READ_CACHE_MS like the reads of one item (api/read-cache.ts).
          const { limit, offset, afterKey } = pagingOf(req.query);
          const load = async () => {
            await ensureObjectOrder(store, bucket.bucket_id);
            const page = await readOrderedPage(store, bucket.bucket_id, { limit, offset, afterKey });
            const counted = (await readBucketStats(store, [bucket.bucket_id])).get(bucket.bucket_id)!;
            return pageOf(page.objects.map(serializeObject), counted.object_count, limit, offset, {
              hasNext: page.hasNext,
              afterKey: page.lastKey,
            });
          };
          if (method === 'post') return load();
          return reads.get(
            'objects-page',
            `${bucket.bucket_id}|${limit}|${offset}|${afterKey ?? ''}`,
            t,
            bucket.bucket_id,
            load,
          );
        }
        // Filtered: a query on the objects (an index walk on MongoDB; a scan on FerretDB).
        const filter: Record<string, unknown> = { bucket_id: bucket.bucket_id };
        if (f.key_prefix) filter.key_prefix = { $regex: `^${escapeRegex(f.key_prefix)}` };
        if (f.status) filter.status = f.status;
        if (f.sync_config_id) filter.sync_config_id = f.sync_config_id;
        return listPage(store.objects, filter, req.query, serializeObject);
      },
    });
  list('post', `${base}/list`);
  list('get', base);

  route(r, {
    method: 'get',
    path: `${base}/:object_id`,
    tag,
    summary: 'Get an object',
    query: objectGetQuerySchema,
    response: objectModel,
    handler: async ({ t, params, query }) => {
      // The object, with its document count unless the client turned it off, kept for
      // API_READ_CACHE_MS (api/read-cache.ts): a client polling an object while the pipeline makes
      // its documents sees the count move at that pace, as it sees a sync's progress.
      const counted = query.include_document_count;
      return reads.get(
        counted ? 'object+count' : 'object',
        params.object_id,
        t,
        params.bucket_id,
        async (): Promise<Record<string, unknown>> => {
          // The object and its count at once (the count's keys derive from the id asked for): a
          // miss waits for one round trip, not two. Not found, the count is dropped with the 404.
          const count = counted ? documentCount(t, params.object_id) : null;
          count?.catch(() => undefined);
          const out: Record<string, unknown> = serializeObject(await objectOf(t, params));
          if (count) out.document_count = await count;
          return out;
        },
      );
    },
  });

  route(r, {
    method: 'delete',
    path: `${base}/:object_id`,
    tag,
    summary: 'Delete an object and its blobs',
    description: 'A synced object whose source file is still there comes back with the next full pass.',
    response: deleteModel,
    handler: async ({ t, params }) => {
      const bucket = await bucketOf(t, params.bucket_id);
      const doc = await findObject(store, bucket.bucket_id, params.object_id);
      // A synced object deleted here is still in its sync's manifest: the mark makes the sync's
      // runs recount the bucket instead of taking the manifest's totals (activities/sync.ts).
      if (doc.sync_config_id) await markHasApiObjects(store, bucket);
      await deleteObjects(store, blobs, [doc]);
      bucketStatsRefresher(store).touch(doc.bucket_id);
      return { success: true, message: `object ${doc.object_id} deleted` };
    },
  });

  return r;
}
