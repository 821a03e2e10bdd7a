import { Router } from 'express';
import { bucketCreateSchema } from '../../core/schemas';
import type { BucketDoc } from '../../store';
import { newId } from '../../store/ids';
import { tenantOf } from '../auth';
import { notFound, parse } from '../errors';
import { listPage, publicFields } from '../list';
import type { AppDeps } from '../app';

export function bucketRoutes({ store }: AppDeps): Router {
  const r = Router();
  const serialize = (d: BucketDoc) => publicFields(d);

  r.post('/v1/buckets', async (req, res) => {
    const t = tenantOf(req);
    const body = parse(bucketCreateSchema, req.body, 'body');
    const now = new Date();
    const doc: BucketDoc = {
      bucket_id: newId('bkt'),
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
    res.status(201).json(serialize(doc));
  });

  const list = async (req: import('express').Request, res: import('express').Response) => {
    const t = tenantOf(req);
    res.json(
      await listPage(
        store.buckets,
        { internal_id: t.internal_id, namespace_id: t.namespace_id },
        req.query,
        serialize,
      ),
    );
  };
  r.post('/v1/buckets/list', list);
  r.get('/v1/buckets', list);

  r.get('/v1/buckets/:bucket_id', async (req, res) => {
    const t = tenantOf(req);
    const doc = await store.buckets.findOne({
      bucket_id: req.params.bucket_id,
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
    });
    if (!doc) throw notFound('bucket', req.params.bucket_id);
    res.json(serialize(doc));
  });

  return r;
}
