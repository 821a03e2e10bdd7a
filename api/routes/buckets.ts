// Buckets. DELETE refuses (409) while the bucket has syncs that are not deleted; otherwise it
// removes the bucket's objects (and their blobs) and DLQ entries, then the bucket.
import { Router } from 'express';
import { z } from 'zod';
import { deleteObjects } from '../../engine/ingest';
import { bucketCreateSchema, bucketListFilterSchema, bucketUpdateSchema } from '../../core/request-schemas';
import type { BucketDoc, Tenant } from '../../store';
import { createBlobStore } from '../../store/blobs';
import { initBucketStats, readBucketStats, type BucketStats } from '../../store/bucket-stats';
import { newId } from '../../store/ids';
import {
  dropBucketOrder,
  ensureObjectOrder,
  markOrderBuilt,
  nextEntries,
  parseOrderKey,
} from '../../store/object-order';
import { ApiError } from '../errors';
import { pageOf, pagingOf, listQuerySchema, publicFields } from '../list';
import { bucketListModel, bucketModel, deleteModel } from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';
import { findBucket } from '../tenancy';
import { ReadCache } from '../read-cache';

const createBody = bucketCreateSchema.meta({ id: 'BucketCreateRequest' });
const updateBody = bucketUpdateSchema.meta({ id: 'BucketUpdateRequest' });
const listBody = bucketListFilterSchema.meta({ id: 'ListBucketsRequest' });
const bucketSearchQuery = listQuerySchema.extend({
  search: z.string().max(200).optional().meta({ description: 'substring of the bucket name, any case' }),
});
const DELETE_PAGE = 200;

export const serializeBucket = (
  d: BucketDoc,
  stats: BucketStats = { object_count: 0, total_size_bytes: 0, stats_updated_at: null },
) => ({
  ...publicFields(d, ['has_api_objects']),
  object_count: stats.object_count,
  total_size_bytes: stats.total_size_bytes,
  // When the counts were taken (store/bucket-stats.ts: after each sync run and API writes).
  stats_updated_at: stats.stats_updated_at ?? new Date(),
});

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function bucketRoutes({ store, env, reads = new ReadCache(0) }: AppDeps): Router {
  const r = Router();
  const blobs = createBlobStore(env);
  const tag = 'buckets';

  const find = (t: Tenant, id: string) => findBucket(store, t, id);

  route(r, {
    method: 'post',
    path: '/v1/buckets',
    tag,
    summary: 'Create a bucket',
    body: createBody,
    response: bucketModel,
    handler: async ({ t, body }) => {
      const now = new Date();
      const bucketId = newId('bkt');
      const doc: BucketDoc = {
        _id: bucketId,
        bucket_id: bucketId,
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        bucket_name: body.bucket_name,
        description: body.description ?? null,
        bucket_schema: body.bucket_schema ?? null,
        metadata: body.metadata,
        created_at: now,
        updated_at: now,
      };
      await store.buckets.insertOne({ ...doc });
      await initBucketStats(store, doc.bucket_id);
      await markOrderBuilt(store, doc.bucket_id);
      return serializeBucket(doc);
    },
  });

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List buckets',
      query: method === 'get' ? bucketSearchQuery : listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: bucketListModel,
      handler: async ({ t, req, body }) => {
        const f = body ?? { case_sensitive: false };
        const filter: Record<string, unknown> = { internal_id: t.internal_id, namespace_id: t.namespace_id };
        const search = f.search ?? (typeof req.query.search === 'string' ? req.query.search : null);
        const nameIs = (re: string) => ({ $regex: re, ...(f.case_sensitive ? {} : { $options: 'i' }) });
        const names: Record<string, unknown>[] = [];
        if (f.bucket_name) names.push({ bucket_name: f.bucket_name });
        if (search) names.push({ bucket_name: nameIs(escapeRegex(search)) });
        if (names.length > 0) filter.$and = names;
        const { limit, offset } = pagingOf(req.query, f);
        const [docs, total] = await Promise.all([
          store.buckets.find(filter).sort({ created_at: -1, _id: -1 }).skip(offset).limit(limit).toArray(),
          store.buckets.countDocuments(filter),
        ]);
        const stats = await readBucketStats(
          store,
          docs.map((d) => d.bucket_id),
        );
        const page = pageOf(
          docs.map((d) => serializeBucket(d, stats.get(d.bucket_id))),
          total,
          limit,
          offset,
        );
        return { ...page, total_count: total };
      },
    });
  list('post', '/v1/buckets/list');
  list('get', '/v1/buckets');

  route(r, {
    method: 'get',
    path: '/v1/buckets/:bucket_id',
    tag,
    summary: 'Get a bucket',
    response: bucketModel,
    handler: ({ t, params }) =>
      // Kept for API_READ_CACHE_MS (api/read-cache.ts).
      reads.get('bucket', params.bucket_id, t, params.bucket_id, async () => {
        const doc = await find(t, params.bucket_id);
        return serializeBucket(doc, (await readBucketStats(store, [doc.bucket_id])).get(doc.bucket_id));
      }),
  });

  route(r, {
    method: 'patch',
    path: '/v1/buckets/:bucket_id',
    tag,
    summary: 'Update a bucket',
    description: 'Only the given fields change; metadata is replaced, not merged.',
    body: updateBody,
    response: bucketModel,
    handler: async ({ t, params, body }) => {
      const doc = await find(t, params.bucket_id);
      await store.buckets.updateOne({ _id: doc._id! }, { $set: { ...body, updated_at: new Date() } });
      return serializeBucket(
        await find(t, doc.bucket_id),
        (await readBucketStats(store, [doc.bucket_id])).get(doc.bucket_id),
      );
    },
  });

  route(r, {
    method: 'delete',
    path: '/v1/buckets/:bucket_id',
    tag,
    summary: 'Delete a bucket and its objects',
    description:
      'Refused with 409 while the bucket has syncs or collections read from it: delete them first.',
    response: deleteModel,
    errors: [409],
    handler: async ({ t, params }) => {
      const doc = await find(t, params.bucket_id);
      const refuseIfSyncs = async () => {
        const syncs = await store.syncs
          .find({ bucket_id: doc.bucket_id, deleted: { $ne: true } }, { projection: { sync_config_id: 1 } })
          .limit(10)
          .toArray();
        if (syncs.length > 0)
          throw new ApiError(
            409,
            `bucket ${doc.bucket_id} still has syncs (${syncs.map((s) => s.sync_config_id).join(', ')}); delete them first`,
            'ConflictError',
            { sync_config_ids: syncs.map((s) => s.sync_config_id) },
          );
      };
      const refuseIfReadByCollections = async () => {
        const reader = await store.collections.findOne({
          internal_id: t.internal_id,
          namespace_id: t.namespace_id,
          'source.bucket_ids': doc.bucket_id,
        });
        if (reader)
          throw new ApiError(
            409,
            `collection ${reader.collection_id} reads from bucket ${doc.bucket_id}; delete it first`,
            'ConflictError',
            { collection_ids: [reader.collection_id] },
          );
      };
      await refuseIfSyncs();
      await refuseIfReadByCollections();
      let removed = 0;
      // Objects enter a bucket only through its syncs and POST …/objects (which marks the bucket
      // first): a bucket with neither has none, and its objects are not searched for (a query on
      // bucket_id decodes the whole objects collection on FerretDB).
      const mayHaveObjects =
        doc.has_api_objects === true || (await store.syncs.findOne({ bucket_id: doc.bucket_id })) !== null;
      if (mayHaveObjects) {
        // Page through the bucket's list entries (each page costs the page: store/object-order.ts);
        // the scan below then finds nothing, once (or what a crash left off the list).
        await ensureObjectOrder(store, doc.bucket_id);
        for (;;) {
          const keys = await nextEntries(store, doc.bucket_id, DELETE_PAGE);
          if (keys.length === 0) break;
          const ids = keys.flatMap((k) => parseOrderKey(k)?.id ?? []);
          const found = await store.lookupByIds(store.objects, ids);
          const page = [...found.values()].filter((o) => o.bucket_id === doc.bucket_id);
          await deleteObjects(store, blobs, page);
          removed += page.length;
          // Entries whose object was not there.
          await store.deleteByIds(store.objectOrder, keys);
        }
      }
      while (mayHaveObjects) {
        const page = await store.objects.find({ bucket_id: doc.bucket_id }).limit(DELETE_PAGE).toArray();
        if (page.length === 0) break;
        // (deleteObjects' own count under-reports with concurrency; the page size is exact.)
        await deleteObjects(store, blobs, page);
        removed += page.length;
      }
      if (mayHaveObjects) await store.dlq.deleteMany({ bucket_id: doc.bucket_id });
      await refuseIfSyncs(); // a sync created meanwhile keeps the bucket
      await store.buckets.deleteOne({ _id: doc._id! });
      await store.bucketStats.deleteOne({ _id: doc.bucket_id });
      await dropBucketOrder(store, doc.bucket_id);
      return { success: true, message: `bucket ${doc.bucket_id} deleted with its ${removed} object(s)` };
    },
  });

  return r;
}
