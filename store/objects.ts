// Object lookups by key. An object's MongoDB `_id` is its public `object_id`; a synced object's is
// derived from its idempotency key (bucket_id, source provider, source_object_id), so a page finds
// the objects of its files by `_id`, and the API finds an object by its id with one `_id` lookup.
// A content index maps (bucket, hash) to the object holding those bytes. Every per-file lookup is
// then an `_id` lookup: an index hit on MongoDB, and the one lookup FerretDB's SQLite backend
// pushes down instead of scanning (see store/index.ts).
import { createHash } from 'node:crypto';
import type { ObjectDoc, Store } from '.';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A synced object's `_id` and `object_id`: `obj_` + 24 hex digits of its idempotency key's hash. */
export function objectKey(bucketId: string, provider: string, sourceObjectId: string): string {
  return `obj_${sha256(`${bucketId}\u0000${provider}\u0000${sourceObjectId}`).slice(0, 24)}`;
}

/** A DLQ entry's `_id`: one entry per (sync, source file). */
export function dlqKey(syncConfigId: string, sourceObjectId: string): string {
  return `dlq_${sha256(`${syncConfigId}\u0000${sourceObjectId}`).slice(0, 32)}`;
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
  const keyOf = new Map(sourceObjectIds.map((id) => [objectKey(bucketId, provider, id), id]));
  const docs = await store.lookupByIds(store.objects, [...keyOf.keys()]);
  const found = new Map<string, ObjectDoc>();
  for (const [key, doc] of docs) found.set(keyOf.get(key)!, doc);
  return found;
}

/** Which of these content hashes the bucket already holds. */
export async function knownContent(store: Store, bucketId: string, hashes: string[]): Promise<Set<string>> {
  const hashOf = new Map(hashes.map((h) => [contentKey(bucketId, h), h]));
  const found = await store.lookupByIds(store.contentIndex, [...hashOf.keys()], { _id: 1 });
  return new Set([...found.keys()].map((k) => hashOf.get(k)!));
}

function contentHashesOf(doc: Pick<ObjectDoc, 'content_hash' | 'source_checksum'>): string[] {
  return [doc.content_hash ? `sha256:${doc.content_hash}` : null, doc.source_checksum].filter(
    (h): h is string => !!h,
  );
}

/**
 * Records the objects' content in the index (an existing entry for the same bytes is kept).
 * `checksumsOnly`: only the provider checksums (the SHA-256 entries were claimed already).
 */
export async function indexContent(
  store: Store,
  docs: ObjectDoc[],
  opts: { checksumsOnly?: boolean } = {},
): Promise<void> {
  const entries = docs.flatMap((d) =>
    contentHashesOf(opts.checksumsOnly ? { content_hash: null, source_checksum: d.source_checksum } : d).map(
      (h) => ({
        _id: contentKey(d.bucket_id, h),
        object_id: d.object_id,
        source_key: d._id,
      }),
    ),
  );
  await insertAbsent(store.contentIndex, entries);
}

/**
 * Drops the objects' content-index entries (only those that point at these objects): read by `_id`,
 * deleted by `_id` (a filter on `_id` and `object_id` would scan on FerretDB). An entry is only
 * ever inserted when absent, so one that points at an object cannot change hands before it goes.
 */
export async function unindexContent(
  store: Store,
  docs: Pick<ObjectDoc, 'bucket_id' | 'object_id' | 'content_hash' | 'source_checksum'>[],
): Promise<void> {
  // Several objects may hold the same bytes (skip_duplicates off): the entry goes if it is any one's.
  const owners = new Map<string, Set<string>>();
  for (const d of docs)
    for (const h of contentHashesOf(d)) {
      const key = contentKey(d.bucket_id, h);
      owners.set(key, (owners.get(key) ?? new Set()).add(d.object_id));
    }
  if (owners.size === 0) return;
  const entries = await store.lookupByIds(store.contentIndex, [...owners.keys()], { object_id: 1 });
  const ours = [...entries.values()].filter((e) => owners.get(e._id)?.has(e.object_id)).map((e) => e._id);
  await store.deleteByIds(store.contentIndex, ours);
}

/**
 * The indexes of the documents an insertMany refused as duplicate keys, or null when it failed
 * otherwise (or reported no write errors): then some documents may be in and the caller rethrows.
 */
export function duplicateIndexes(err: unknown): Set<number> | null {
  const w = (err as { writeErrors?: { index: number; code: number }[] | { index: number; code: number } })
    ?.writeErrors;
  const list = Array.isArray(w) ? w : w ? [w] : [];
  if (list.length === 0 || list.some((e) => e.code !== 11000)) return null;
  return new Set(list.map((e) => e.index));
}

/**
 * insertMany of documents that may be there already (a retried page, a rebuild): returns the
 * indexes of those that were (duplicate keys); any other error is thrown. `ordered`: the
 * documents go in order and the insert stops at the first duplicate (the rest are not tried).
 */
export async function insertAbsent<T extends { _id: string }>(
  coll: { insertMany(docs: T[], o: { ordered: boolean }): Promise<unknown> },
  docs: T[],
  opts: { ordered?: boolean } = {},
): Promise<Set<number>> {
  if (docs.length === 0) return new Set();
  try {
    await coll.insertMany(docs, { ordered: opts.ordered ?? false });
    return new Set();
  } catch (err) {
    const dups = duplicateIndexes(err);
    if (!dups) throw err;
    return dups;
  }
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
