// Collections: a source (buckets or other collections) and a pipeline of steps; and the documents
// the steps produce, one per (collection, object). A webhook step's `secret` is sealed at rest and
// shows as "[redacted]".
import { Router } from 'express';
import {
  collectionCreateSchema,
  collectionListFilterSchema,
  documentListFilterSchema,
} from '../../core/request-schemas';
import { documentView } from '../../pipeline/documents';
import type { CollectionDoc, Tenant } from '../../store';
import { newId } from '../../store/ids';
import type { Sealed } from '../../store/secrets';
import type { AppDeps } from '../app';
import { ApiError, notFound } from '../errors';
import { listPage, listQuerySchema } from '../list';
import { collectionModel, deleteModel, documentModel, listModel } from '../responses';
import { route } from '../route';
import { findBucket, findByPublicId } from '../tenancy';

const createBody = collectionCreateSchema.meta({ id: 'CollectionCreateRequest' });
const listBody = collectionListFilterSchema.meta({ id: 'CollectionListRequest' });
const documentListBody = documentListFilterSchema.meta({ id: 'DocumentListRequest' });
const collectionList = listModel(collectionModel, 'Collection');
const documentList = listModel(documentModel, 'Document');

export const serializeCollection = (d: CollectionDoc) => ({
  collection_id: d.collection_id,
  collection_name: d.collection_name,
  description: d.description,
  namespace_id: d.namespace_id,
  source: d.source,
  pipeline: d.pipeline.map((s, i) =>
    d.secrets_sealed?.[String(i)] ? { step: s.step, config: { ...s.config, ...redactedSecrets(d, i) } } : s,
  ),
  metadata: d.metadata,
  created_at: d.created_at,
  updated_at: d.updated_at,
});

/** What a step keeps sealed: a webhook's secret and header values. */
export interface StepSecrets {
  secret?: string;
  headers?: Record<string, string>;
}

/** How a step's sealed fields show: every value "[redacted]". */
function redactedSecrets(d: CollectionDoc, i: number): Record<string, unknown> {
  const shown = d.redacted?.[String(i)];
  return shown ?? { secret: '[redacted]' }; // collections stored before header values were sealed
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function collectionRoutes({ store, secrets }: AppDeps): Router {
  const r = Router();
  const tag = 'collections';
  const base = '/v1/collections';

  const find = async (t: Tenant, id: string) => {
    const doc = await findByPublicId(store, store.collections, 'collection_id', id, {
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
    });
    if (!doc) throw notFound('collection', id);
    return doc;
  };

  route(r, {
    method: 'post',
    path: base,
    tag,
    summary: 'Create a collection',
    description:
      'source: {type: "bucket", bucket_ids} or {type: "collection", collection_ids} (all in this namespace). ' +
      'pipeline: steps file_metadata, text_extract, webhook, run in order for every object of a submitted batch.',
    body: createBody,
    response: collectionModel,
    errors: [404], // a source bucket or collection that does not exist
    handler: async ({ t, body }) => {
      if (body.source.type === 'bucket')
        for (const id of body.source.bucket_ids) await findBucket(store, t, id);
      else for (const id of body.source.collection_ids) await find(t, id);
      const sealed: Record<string, Sealed> = {};
      const redacted: Record<string, Record<string, unknown>> = {};
      const pipeline = body.pipeline.map((s, i) => {
        // A webhook's secret and header values (tokens, typically) are sealed, never stored plain.
        const { secret, headers, ...config } = s.config as Record<string, unknown>;
        const kept: StepSecrets = {};
        if (typeof secret === 'string') kept.secret = secret;
        if (headers && typeof headers === 'object') kept.headers = headers as Record<string, string>;
        if (kept.secret !== undefined || kept.headers !== undefined) {
          sealed[String(i)] = secrets.seal(kept);
          redacted[String(i)] = {
            ...(kept.secret !== undefined ? { secret: '[redacted]' } : {}),
            ...(kept.headers
              ? { headers: Object.fromEntries(Object.keys(kept.headers).map((k) => [k, '[redacted]'])) }
              : {}),
          };
        }
        return { step: s.step, config };
      });
      const now = new Date();
      const collectionId = newId('col');
      const doc: CollectionDoc = {
        _id: collectionId, // GET by id is an _id lookup
        collection_id: collectionId,
        collection_name: body.collection_name,
        description: body.description ?? null,
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        source: body.source,
        pipeline,
        secrets_sealed: sealed,
        redacted,
        metadata: body.metadata,
        created_at: now,
        updated_at: now,
      };
      await store.collections.insertOne({ ...doc });
      return serializeCollection(doc);
    },
  });

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List collections',
      query: listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: collectionList,
      handler: async ({ t, req, body }) => {
        const f = body ?? {};
        const filter: Record<string, unknown> = { internal_id: t.internal_id, namespace_id: t.namespace_id };
        if (f.collection_name)
          filter.collection_name = { $regex: escapeRegex(f.collection_name), $options: 'i' };
        if (f.bucket_id) filter['source.bucket_ids'] = f.bucket_id;
        return listPage(store.collections, filter, req.query, serializeCollection);
      },
    });
  list('post', `${base}/list`);
  list('get', base);

  route(r, {
    method: 'get',
    path: `${base}/:collection_id`,
    tag,
    summary: 'Get a collection',
    response: collectionModel,
    handler: async ({ t, params }) => serializeCollection(await find(t, params.collection_id)),
  });

  route(r, {
    method: 'delete',
    path: `${base}/:collection_id`,
    tag,
    summary: 'Delete a collection and its documents',
    description: 'Refused (409) while another collection reads from it.',
    errors: [409],
    response: deleteModel,
    handler: async ({ t, params }) => {
      const doc = await find(t, params.collection_id);
      const reader = await store.collections.findOne({
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        'source.collection_ids': doc.collection_id,
      });
      if (reader)
        throw new ApiError(
          409,
          `collection ${reader.collection_id} reads from this collection; delete it first`,
          'ConflictError',
          { collection_ids: [reader.collection_id] },
        );
      await store.collections.deleteOne({ collection_id: doc.collection_id });
      await store.documents.deleteMany({ collection_id: doc.collection_id });
      return { success: true, message: `collection ${doc.collection_id} deleted` };
    },
  });

  const listDocuments = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List the documents of a collection',
      query: listQuerySchema,
      ...(method === 'post' ? { body: documentListBody, bodyOptional: true } : {}),
      response: documentList,
      handler: async ({ t, params, req, body }) => {
        const col = await find(t, params.collection_id);
        const f = body ?? {};
        const filter: Record<string, unknown> = { collection_id: col.collection_id };
        if (f.object_id) filter.object_id = f.object_id;
        if (f.batch_id) filter.batch_id = f.batch_id;
        if (f.status) filter.status = f.status;
        return listPage(store.documents, filter, req.query, documentView);
      },
    });
  listDocuments('post', `${base}/:collection_id/documents/list`);
  listDocuments('get', `${base}/:collection_id/documents`);

  route(r, {
    method: 'get',
    path: `${base}/:collection_id/documents/:document_id`,
    tag,
    summary: 'Get a document',
    response: documentModel,
    handler: async ({ t, params }) => {
      const col = await find(t, params.collection_id);
      // By `_id` alone (the one filter FerretDB answers from its index); the collection checked here.
      const d = await store.documents.findOne({ _id: params.document_id });
      if (!d || d.collection_id !== col.collection_id) throw notFound('document', params.document_id);
      return documentView(d);
    },
  });

  return r;
}
