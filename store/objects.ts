// Object lookups by key. An object's MongoDB `_id` is derived from its idempotency key
// (bucket_id, source provider, source_object_id), and a content index maps (bucket, hash) to the
// object holding those bytes. Every per-file lookup is then an `_id` lookup: an index hit on
// MongoDB, and the one lookup FerretDB's SQLite backend pushes down instead of scanning.
import { createHash } from 'node:crypto';
import { forEachLimit } from '../lib/pool';
import type { ObjectDoc, Store } from '.';

const LOOKUP_CONCURRENCY = 16;

export function objectKey(bucketId: string, provider: string, sourceObjectId: string): string {
  return `o_${createHash('sha256').update(`${bucketId}\u0000${provider}\u0000${sourceObjectId}`).digest('hex')}`;
}

/** Key of a content-index entry: `sha256:<hex>` or a provider checksum such as `md5:<hex>`. */
export function contentKey(bucketId: string, hash: string): string {
  return `${bucketId}:${hash}`;
}

/** The stored objects for these source ids, by source_object_id. */
export async function findBySource(
  store: Store,
  bucketId: string,
  provider: string,
  sourceObjectIds: string[],
): Promise<Map<string, ObjectDoc>> {
  const found = new Map<string, ObjectDoc>();
  await forEachLimit(sourceObjectIds, LOOKUP_CONCURRENCY, async (id) => {
    const doc = await store.objects.findOne({ _id: objectKey(bucketId, provider, id) });
    if (doc) found.set(id, doc);
  });
  return found;
}

/** Which of these content hashes the bucket already holds. */
export async function knownContent(store: Store, bucketId: string, hashes: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  await forEachLimit([...new Set(hashes)], LOOKUP_CONCURRENCY, async (h) => {
    if (await store.contentIndex.findOne({ _id: contentKey(bucketId, h) }, { projection: { _id: 1 } }))
      known.add(h);
  });
  return known;
}

function contentHashesOf(doc: Pick<ObjectDoc, 'content_hash' | 'source_checksum'>): string[] {
  return [doc.content_hash ? `sha256:${doc.content_hash}` : null, doc.source_checksum].filter(
    (h): h is string => !!h,
  );
}

/** Records the objects' content in the index (an existing entry for the same bytes is kept). */
export async function indexContent(store: Store, docs: ObjectDoc[]): Promise<void> {
  const entries = docs.flatMap((d) =>
    contentHashesOf(d).map((h) => ({
      _id: contentKey(d.bucket_id, h),
      object_id: d.object_id,
      source_key: d._id,
    })),
  );
  if (entries.length === 0) return;
  try {
    await store.contentIndex.insertMany(entries, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: { code: number }[] | { code: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw err;
  }
}

/** Drops the objects' content-index entries (only those that point at these objects). */
export async function unindexContent(
  store: Store,
  docs: Pick<ObjectDoc, 'bucket_id' | 'object_id' | 'content_hash' | 'source_checksum'>[],
): Promise<void> {
  await forEachLimit(
    docs.flatMap((d) =>
      contentHashesOf(d).map((h) => ({ _id: contentKey(d.bucket_id, h), object_id: d.object_id })),
    ),
    LOOKUP_CONCURRENCY,
    async (e) => {
      await store.contentIndex.deleteOne(e);
    },
  );
}

/**
 * Marks objects as seen by a pass: one `_id` update each, a few in flight. (Not bulkWrite: FerretDB
 * 1.24's SQLite backend hangs on an `update` command carrying several statements.)
 */
/** Marks objects a page saw unchanged: one document per page (see PassSeenDoc). */
export async function markSeen(
  store: Store,
  mark: { syncConfigId: string; passId: string; pageKey: string },
  keys: string[],
): Promise<void> {
  if (keys.length === 0) return;
  await store.passSeen.replaceOne(
    { _id: `${mark.passId}|${mark.pageKey}` },
    { sync_config_id: mark.syncConfigId, pass_id: mark.passId, keys },
    { upsert: true },
  );
}

/** Objects of a sync that a pass neither created, changed nor saw (the sweep's candidates). */
export async function unseenObjects(store: Store, syncConfigId: string, passId: string) {
  const seen = new Set<string>();
  for await (const d of store.passSeen.find({ sync_config_id: syncConfigId, pass_id: passId }))
    for (const k of d.keys ?? []) seen.add(k);
  const unseen: Pick<
    ObjectDoc,
    '_id' | 'bucket_id' | 'object_id' | 'blobs' | 'content_hash' | 'source_checksum'
  >[] = [];
  const cursor = store.objects.find(
    { sync_config_id: syncConfigId, last_seen_pass_id: { $ne: passId } },
    { projection: { object_id: 1, bucket_id: 1, blobs: 1, content_hash: 1, source_checksum: 1 } },
  );
  for await (const o of cursor) if (!seen.has(o._id)) unseen.push(o);
  return unseen;
}

/**
 * Inserts a document unless one with its `_id` exists; true when inserted. (An upsert with
 * `$setOnInsert` would do on MongoDB, but FerretDB 1.24 drops null and empty-array fields there.)
 */
export async function insertIfAbsent<T extends { _id: string }>(
  coll: { insertOne(doc: T): Promise<unknown> },
  doc: T,
): Promise<boolean> {
  try {
    await coll.insertOne({ ...doc });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) return false;
    throw err;
  }
}
