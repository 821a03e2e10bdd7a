// One listed file -> one bucket object: map its fields, copy its bytes into the blob store
// (SHA-256 on the way), skip content duplicates, insert under the idempotency key. A file that
// fails goes to the DLQ; after 3 runs that failed it, it is FAILED for good.
import { applyMapping, MappingError } from '../core/mapping';
import { mimeTypeOf } from '../core/filters';
import type { SourceEntry } from '../core/entry';
import { ProviderError, type StorageProvider } from '../providers';
import type { BlobStore } from '../store/blobs';
import { newId } from '../store/ids';
import type { ObjectDoc, Store, SyncConfigDoc } from '../store';

export const MAX_FILE_ATTEMPTS = 3;

export type IngestOutcome =
  | { kind: 'created'; bytes: number }
  | { kind: 'updated'; bytes: number }
  | { kind: 'duplicate' }
  | { kind: 'raced' }
  | { kind: 'failed'; final: boolean };

export interface IngestContext {
  store: Store;
  blobs: BlobStore;
  provider: StorageProvider;
  cfg: SyncConfigDoc;
  runId: string;
  passId: string;
}

function keyPrefixOf(entry: SourceEntry): string {
  const i = entry.path.lastIndexOf('/');
  return i > 0 ? `/${entry.path.slice(0, i)}` : '/';
}

/** Errors that say the file itself is bad (go to the DLQ) rather than the infrastructure (retry the page). */
function isFileError(err: unknown): boolean {
  if (err instanceof MappingError) return true;
  if (err instanceof ProviderError) return err.kind === 'not_found' || err.kind === 'invalid' || err.kind === 'auth';
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES';
}

async function copyBlobs(ctx: IngestContext, entry: SourceEntry, objectId: string) {
  const mapped = applyMapping(ctx.cfg.schema_mapping, entry);
  const written: string[] = [];
  try {
    const blobs: ObjectDoc['blobs'] = [];
    let contentHash: string | null = null;
    let bytes = 0;
    for (const spec of mapped.blobs) {
      const blobId = newId('obj').replace('obj_', 'blob_');
      const mime = spec.mimeTypeOverride ?? mimeTypeOf(entry);
      if (spec.fromFile) {
        const key = `${ctx.cfg.bucket_id}/${objectId}/${blobId}`;
        const stream = await ctx.provider.open(entry);
        const stored = await ctx.blobs.put(key, stream);
        written.push(key);
        contentHash ??= stored.sha256;
        bytes += stored.size;
        blobs.push({
          blob_id: blobId,
          property: spec.property,
          key_prefix: keyPrefixOf(entry),
          type: spec.type,
          properties: { storage_key: key },
          details: { filename: entry.name, size_bytes: stored.size, mime_type: mime, hash: stored.sha256 },
        });
      } else {
        blobs.push({
          blob_id: blobId,
          property: spec.property,
          key_prefix: keyPrefixOf(entry),
          type: spec.type,
          properties: { value: spec.value ?? null },
          details: { filename: entry.name, size_bytes: 0, mime_type: mime, hash: null },
        });
      }
    }
    return { fields: mapped.fields, blobs, contentHash, bytes, written };
  } catch (err) {
    await Promise.all(written.map((k) => ctx.blobs.delete(k)));
    throw err;
  }
}

async function recordFailure(ctx: IngestContext, entry: SourceEntry, err: unknown): Promise<IngestOutcome> {
  const now = new Date();
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
  const prior = await ctx.store.dlq.findOne({ sync_config_id: ctx.cfg.sync_config_id, source_object_id: entry.sourceObjectId });
  // One attempt per run: a retried page does not burn the file's attempts.
  if (prior && prior.last_attempt_run_id === ctx.runId) return { kind: 'failed', final: prior.status === 'FAILED' };
  const attempts = (prior?.attempts ?? 0) + 1;
  const status = attempts >= MAX_FILE_ATTEMPTS ? 'FAILED' : 'PENDING';
  await ctx.store.dlq.updateOne(
    { sync_config_id: ctx.cfg.sync_config_id, source_object_id: entry.sourceObjectId },
    {
      $set: {
        bucket_id: ctx.cfg.bucket_id,
        path: entry.path,
        entry,
        attempts,
        last_error: message,
        last_failed_at: now,
        status,
        last_attempt_run_id: ctx.runId,
      },
      $setOnInsert: { first_failed_at: now },
    },
    { upsert: true },
  );
  return { kind: 'failed', final: status === 'FAILED' };
}

/** Registers a new file as an object. */
export async function ingestNew(ctx: IngestContext, entry: SourceEntry): Promise<IngestOutcome> {
  const { store, cfg } = ctx;
  try {
    if (cfg.skip_duplicates && entry.checksum) {
      const dup = await store.objects.findOne({ bucket_id: cfg.bucket_id, source_checksum: entry.checksum }, { projection: { _id: 1 } });
      if (dup) return { kind: 'duplicate' };
    }
    const objectId = newId('obj');
    const copied = await copyBlobs(ctx, entry, objectId);
    if (cfg.skip_duplicates && copied.contentHash) {
      const dup = await store.objects.findOne({ bucket_id: cfg.bucket_id, content_hash: copied.contentHash }, { projection: { _id: 1 } });
      if (dup) {
        await Promise.all(copied.written.map((k) => ctx.blobs.delete(k)));
        return { kind: 'duplicate' };
      }
    }
    const now = new Date();
    const doc: ObjectDoc = {
      object_id: objectId,
      bucket_id: cfg.bucket_id,
      internal_id: cfg.internal_id,
      namespace_id: cfg.namespace_id,
      key_prefix: keyPrefixOf(entry),
      blobs: copied.blobs,
      source_details: [{ type: cfg.source_type, source_id: entry.sourceObjectId }],
      metadata: copied.fields,
      status: 'COMPLETED',
      error: null,
      source_provider: cfg.source_type,
      source_object_id: entry.sourceObjectId,
      source_version: entry.version,
      source_checksum: entry.checksum ?? null,
      content_hash: copied.contentHash,
      sync_config_id: cfg.sync_config_id,
      last_seen_pass_id: ctx.passId,
      created_by_run_id: ctx.runId,
      created_at: now,
      updated_at: now,
    };
    try {
      await store.objects.insertOne({ ...doc });
    } catch (err) {
      await Promise.all(copied.written.map((k) => ctx.blobs.delete(k)));
      if ((err as { code?: number }).code === 11000) return { kind: 'raced' };
      throw err;
    }
    await store.dlq.deleteOne({ sync_config_id: cfg.sync_config_id, source_object_id: entry.sourceObjectId });
    return { kind: 'created', bytes: copied.bytes };
  } catch (err) {
    if (!isFileError(err)) throw err;
    return recordFailure(ctx, entry, err);
  }
}

/** A file whose version changed: new bytes and fields, same object. */
export async function ingestUpdate(ctx: IngestContext, entry: SourceEntry, prior: ObjectDoc): Promise<IngestOutcome> {
  try {
    const copied = await copyBlobs(ctx, entry, prior.object_id);
    await ctx.store.objects.updateOne(
      { object_id: prior.object_id },
      {
        $set: {
          blobs: copied.blobs,
          metadata: copied.fields,
          source_version: entry.version,
          source_checksum: entry.checksum ?? null,
          content_hash: copied.contentHash,
          last_seen_pass_id: ctx.passId,
          updated_at: new Date(),
        },
      },
    );
    const oldKeys = prior.blobs.map((b) => b.properties?.storage_key).filter((k): k is string => typeof k === 'string');
    await Promise.all(oldKeys.map((k) => ctx.blobs.delete(k)));
    await ctx.store.dlq.deleteOne({ sync_config_id: ctx.cfg.sync_config_id, source_object_id: entry.sourceObjectId });
    return { kind: 'updated', bytes: copied.bytes };
  } catch (err) {
    if (!isFileError(err)) throw err;
    return recordFailure(ctx, entry, err);
  }
}

/** Deletes objects and their blobs. */
export async function deleteObjects(store: Store, blobs: BlobStore, docs: Pick<ObjectDoc, 'object_id' | 'blobs'>[]): Promise<number> {
  if (docs.length === 0) return 0;
  const res = await store.objects.deleteMany({ object_id: { $in: docs.map((d) => d.object_id) } });
  const keys = docs.flatMap((d) => d.blobs.map((b) => b.properties?.storage_key)).filter((k): k is string => typeof k === 'string');
  await Promise.all(keys.map((k) => blobs.delete(k)));
  return res.deletedCount;
}
