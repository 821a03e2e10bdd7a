// A document as clients see it (the API and webhook receivers): its ids, status and the outputs of
// its collection's steps as top-level fields.
import type { DocumentDoc } from '../store';

export function documentView(d: DocumentDoc): Record<string, unknown> {
  return {
    document_id: d.document_id,
    collection_id: d.collection_id,
    object_id: d.object_id,
    bucket_id: d.bucket_id,
    batch_id: d.batch_id,
    status: d.status,
    error: d.error ?? null,
    failed_step: d.failed_step ?? null,
    ...(d.outputs ?? {}),
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}
