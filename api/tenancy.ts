// Tenant-scoped lookups shared by the routes: another tenant's resource answers 404.
import type { BucketDoc, Store, Tenant } from '../store';
import { notFound } from './errors';

export async function findBucket(store: Store, t: Tenant, bucketId: string): Promise<BucketDoc> {
  const bucket = await store.buckets.findOne({
    bucket_id: bucketId,
    internal_id: t.internal_id,
    namespace_id: t.namespace_id,
  });
  if (!bucket) throw notFound('bucket', bucketId);
  return bucket;
}
