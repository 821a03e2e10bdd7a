// One listed file -> one bucket object: map its fields, copy its bytes into the blob store
// (SHA-256 on the way), skip content duplicates, insert under the idempotency key. A file that
// fails goes to the DLQ; after 3 runs that failed it, it is FAILED for good.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { applyMapping, MappingError } from '../core/mapping';
import { mimeTypeOf } from '../core/filters';
import type { SourceEntry } from '../core/entry';
import { ProviderError, type FetchedFile, type StorageProvider } from '../providers';
import type { BlobStore } from '../store/blobs';
import { newId } from '../store/ids';
import { contentKey, dlqKey, indexContent, insertAbsent, objectKey, unindexContent } from '../store/objects';
import { addToOrder, orderKey, removeFromOrder } from '../store/object-order';
import { forEachLimit } from '../lib/pool';
import type { ObjectDoc, Store, SyncConfigDoc } from '../store';

export const MAX_FILE_ATTEMPTS = 3;

export type IngestOutcome =
  | { kind: 'created'; bytes: number; key: string; objectId: string }
  | { kind: 'updated'; bytes: number; key: string; objectId: string }
  | { kind: 'duplicate' }
  | { kind: 'raced' }
  /** Gone since the listing (a lazy listing's file, found missing when fetched): as if never listed. */
  | { kind: 'gone' }
  | { kind: 'failed'; final: boolean };

export interface IngestContext {
  store: Store;
  blobs: BlobStore;
  provider: StorageProvider;
  cfg: SyncConfigDoc;
  runId: string;
  passId: string;
  /** `<run id>|<cursor>` of the page being processed. */
  pageKey: string;
}

function keyPrefixOf(entry: SourceEntry): string {
  const i = entry.path.lastIndexOf('/');
  return i > 0 ? `/${entry.path.slice(0, i)}` : '/';
}

/** Errors that say the file itself is bad (go to the DLQ) rather than the infrastructure (retry the page). */
function isFileError(err: unknown): boolean {
  if (err instanceof MappingError) return true;
  if (err instanceof ProviderError)
    return err.kind === 'not_found' || err.kind === 'invalid' || err.kind === 'auth';
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES';
}

/**
 * Ids of a new file's blobs, the same in every attempt of one page (`pageKey`): a retried page
 * (after a killed worker) writes its copies over the ones the lost attempt left, instead of
 * leaving them behind as blobs without an object. Another page's copies of the same file (a
 * concurrent pass) get other keys, so they never overwrite the bytes a winner's object holds.
 */
function pageScopedBlobId(...parts: string[]): string {
  return `blob_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16)}`;
}

/**
 * Where a blob's bytes go: `<bucket>/<2 characters of the object id>/<object id>.<blob id>`. A folder
 * store holds at most 256 folders per bucket (a folder per object made each copy cost a `mkdir`,
 * and left an empty folder behind when the object went). Objects stored before keep their keys.
 */
export function blobKey(bucketId: string, objectId: string, blobId: string): string {
  return `${bucketId}/${objectId.slice(-2)}/${objectId}.${blobId}`;
}

/** Files at most this big are read whole and written in one go (listing sizes decide; see copyFile). */
export const SMALL_FILE_BYTES = 1024 * 1024;

/**
 * Copies one file into the blob `key`. A file the listing says is small is read whole (the
 * provider's `read`, else its stream collected, up to SMALL_FILE_BYTES) and written with one
 * `putBytes`: no per-chunk stream machinery, which was most of a small copy's CPU. Anything larger,
 * or a file that grew past the limit since it was listed, is streamed.
 */
async function copyFile(ctx: IngestContext, entry: SourceEntry, key: string) {
  if (entry.size > SMALL_FILE_BYTES) return ctx.blobs.put(key, await ctx.provider.open(entry));
  if (ctx.provider.read) {
    const bytes = await ctx.provider.read(entry, SMALL_FILE_BYTES);
    if (bytes) return ctx.blobs.putBytes(key, bytes);
    return ctx.blobs.put(key, await ctx.provider.open(entry));
  }
  const read = await collectUpTo(await ctx.provider.open(entry), SMALL_FILE_BYTES);
  return Buffer.isBuffer(read) ? ctx.blobs.putBytes(key, read) : ctx.blobs.put(key, read);
}

/**
 * A stream's bytes as one Buffer when they are at most `max`; past that, a stream that gives the
 * bytes read so far and then the rest (never more than `max` held).
 */
export async function collectUpTo(stream: Readable, max: number): Promise<Buffer | Readable> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await it.next();
    } catch (err) {
      stream.destroy();
      throw err;
    }
    if (next.done) return Buffer.concat(chunks, size);
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    chunks.push(chunk);
    size += chunk.length;
    if (size > max)
      return Readable.from(
        (async function* () {
          try {
            yield* chunks;
            for (;;) {
              const more = await it.next();
              if (more.done) return;
              yield more.value;
            }
          } finally {
            stream.destroy(); // a put that failed half-way releases the source too
          }
        })(),
        { objectMode: false },
      );
  }
}

/** A fetched file's bytes into the blob `key` (engine/ingest.ts copyFile's two ways, from a fetch). */
function putFetched(ctx: IngestContext, file: FetchedFile, key: string) {
  return 'bytes' in file ? ctx.blobs.putBytes(key, file.bytes) : ctx.blobs.put(key, file.stream);
}

/**
 * Maps a file's fields and copies its file blobs. A partial entry (a lazy listing's, which the page
 * left to complete here) is fetched first where the provider can (StorageProvider.fetch): the entry
 * whole and the first file blob's bytes in one request; null when it is gone since the listing (a
 * file still there that its read calls missing is a not_found failure, for the DLQ).
 * Returns the entry whole, with what was copied.
 */
async function copyBlobs(ctx: IngestContext, listed: SourceEntry, objectId: string, scoped = false) {
  let fetched: FetchedFile | null = null;
  let entry = listed;
  if (listed.partial && ctx.provider.fetch) {
    fetched = await ctx.provider.fetch(listed, SMALL_FILE_BYTES);
    if (!fetched) {
      // Gone since the listing, or there but unreadable: the request a full listing would have
      // made (complete's HEAD) tells which, so a file that stays listed is never dropped unseen.
      const [there] = ctx.provider.complete
        ? await ctx.provider.complete(ctx.cfg.source_path, [listed])
        : [null];
      if (!there) return null;
      throw new ProviderError(
        `${listed.sourceObjectId}: listed and there, but reading it says not found`,
        'not_found',
        false,
      );
    }
    entry = fetched.entry;
  }
  const written: string[] = [];
  try {
    const mapped = applyMapping(ctx.cfg.schema_mapping, entry);
    const blobs: ObjectDoc['blobs'] = [];
    let contentHash: string | null = null;
    let bytes = 0;
    for (const spec of mapped.blobs) {
      const blobId = scoped
        ? pageScopedBlobId(ctx.pageKey, objectId, spec.property, String(blobs.length))
        : newId('obj').replace('obj_', 'blob_');
      const mime = spec.mimeTypeOverride ?? mimeTypeOf(entry);
      if (spec.fromFile) {
        const key = blobKey(ctx.cfg.bucket_id, objectId, blobId);
        const file = fetched;
        fetched = null; // its bytes go to the first file blob; another one reads the file again
        const stored = file ? await putFetched(ctx, file, key) : await copyFile(ctx, entry, key);
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
    return { entry, fields: mapped.fields, blobs, contentHash, bytes, written };
  } catch (err) {
    await Promise.all(written.map((k) => ctx.blobs.delete(k)));
    throw err;
  } finally {
    if (fetched && 'stream' in fetched) fetched.stream.destroy(); // no file blob took it
  }
}

/** The DLQ's error_type: a provider error's kind, `mapping` for schema mapping errors, else `error`. */
function errorTypeOf(err: unknown): string {
  const kind = (err as { kind?: unknown })?.kind;
  if (typeof kind === 'string') return kind;
  return (err as Error)?.name === 'MappingError' ? 'mapping' : 'error';
}

async function recordFailure(ctx: IngestContext, entry: SourceEntry, err: unknown): Promise<IngestOutcome> {
  const now = new Date();
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
  const { sync_config_id } = ctx.cfg;
  const _id = dlqKey(sync_config_id, entry.sourceObjectId);
  const prior = await ctx.store.dlq.findOne({ _id });
  // One attempt per run: a retried page does not burn the file's attempts.
  if (prior && prior.last_attempt_run_id === ctx.runId)
    return { kind: 'failed', final: prior.status === 'FAILED' };
  const attempts = (prior?.attempts ?? 0) + 1;
  const status = attempts >= MAX_FILE_ATTEMPTS ? 'FAILED' : 'PENDING';
  const write = () =>
    ctx.store.dlq.updateOne(
      { _id },
      {
        $set: {
          sync_config_id,
          source_object_id: entry.sourceObjectId,
          bucket_id: ctx.cfg.bucket_id,
          path: entry.path,
          entry,
          attempts,
          last_error: message,
          error_type: errorTypeOf(err),
          last_failed_at: now,
          status,
          last_attempt_run_id: ctx.runId,
        },
        $setOnInsert: { first_failed_at: now },
      },
      { upsert: true },
    );
  try {
    await write();
  } catch (e) {
    if ((e as { code?: number }).code !== 11000) throw e;
    // An entry stored before DLQ entries were keyed by dlqKey holds the (sync, file) pair: replace it.
    await ctx.store.dlq.deleteOne({ sync_config_id, source_object_id: entry.sourceObjectId });
    await write();
  }
  return { kind: 'failed', final: status === 'FAILED' };
}

export interface Prepared {
  entry: SourceEntry;
  doc: ObjectDoc;
  bytes: number;
  written: string[];
}

/** A new file: map its fields and copy its bytes. The object is inserted later, a page at a time. */
export async function prepareNew(ctx: IngestContext, listed: SourceEntry): Promise<Prepared | IngestOutcome> {
  const { cfg } = ctx;
  try {
    // Derived from the idempotency key: the object's `_id` and its public id (the same in every
    // attempt, so a retried page writes the same blob keys, see copyBlobs).
    const objectId = objectKey(cfg.bucket_id, cfg.source_type, listed.sourceObjectId);
    const copied = await copyBlobs(ctx, listed, objectId, true);
    if (!copied) return { kind: 'gone' };
    const { entry } = copied;
    const now = new Date();
    const doc: ObjectDoc = {
      _id: objectId,
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
      created_by_page: ctx.pageKey,
      created_at: now,
      updated_at: now,
    };
    return { entry, doc, bytes: copied.bytes, written: copied.written };
  } catch (err) {
    if (!isFileError(err)) throw err;
    return recordFailure(ctx, listed, err);
  }
}

/**
 * Inserts a page's prepared objects, insert-first: a handful of round trips per page whatever its
 * size, lookups only for the conflicts.
 * 1. The same bytes twice in the page: the first wins (skip_duplicates).
 * 2. Content claims in the content index: a hash another file already holds is a duplicate.
 * 3. The objects: a key that already exists was created by an earlier attempt of this very page
 *    (counted as created) or exists from before (returned in `existing` for the caller to compare).
 */
export async function commitNew(
  ctx: IngestContext,
  prepared: Prepared[],
): Promise<{ outcomes: Map<string, IngestOutcome>; existing: { entry: SourceEntry; prior: ObjectDoc }[] }> {
  const { store, cfg } = ctx;
  const outcomes = new Map<string, IngestOutcome>();
  const existing: { entry: SourceEntry; prior: ObjectDoc }[] = [];
  const drop = async (p: Prepared, outcome: IngestOutcome | null) => {
    await Promise.all(p.written.map((k) => ctx.blobs.delete(k)));
    if (outcome) outcomes.set(p.entry.sourceObjectId, outcome);
  };
  const hashOf = (p: Prepared) => (p.doc.content_hash ? `sha256:${p.doc.content_hash}` : null);

  let candidates: Prepared[] = [];
  const inPage = new Set<string>();
  for (const p of prepared) {
    const h = hashOf(p);
    if (cfg.skip_duplicates && h !== null && inPage.has(h)) await drop(p, { kind: 'duplicate' });
    else {
      if (h !== null) inPage.add(h);
      candidates.push(p);
    }
  }

  const claimed = candidates.filter((p) => hashOf(p) !== null);
  // Listed before they exist, so a crash between the two writes leaves no object off the list.
  // The list entries and the content claims go at once (independent writes); a duplicate's entry
  // is taken off again below.
  const [taken] = await Promise.all([
    insertAbsent(
      store.contentIndex,
      claimed.map((p) => ({
        _id: contentKey(cfg.bucket_id, hashOf(p)!),
        object_id: p.doc.object_id,
        source_key: p.doc._id,
      })),
    ),
    addToOrder(
      store,
      candidates.map((p) => p.doc),
    ),
  ]);
  const unlisted: ObjectDoc[] = [];
  if (cfg.skip_duplicates && taken.size > 0) {
    const dups = new Set<Prepared>();
    for (const i of taken) {
      const p = claimed[i];
      const holder = await store.contentIndex.findOne({ _id: contentKey(cfg.bucket_id, hashOf(p)!) });
      // Held by this same source file (a retried page): not a duplicate.
      if (holder && holder.source_key !== p.doc._id) dups.add(p);
    }
    for (const p of dups) {
      await drop(p, { kind: 'duplicate' });
      unlisted.push(p.doc);
    }
    candidates = candidates.filter((p) => !dups.has(p));
  }

  const conflicts = await insertAbsent(
    store.objects,
    candidates.map((p) => ({ ...p.doc })),
  );
  const inserted: ObjectDoc[] = [];
  for (const [i, p] of candidates.entries()) {
    if (!conflicts.has(i)) {
      outcomes.set(p.entry.sourceObjectId, {
        kind: 'created',
        bytes: p.bytes,
        key: p.doc._id,
        objectId: p.doc.object_id,
      });
      inserted.push(p.doc);
      continue;
    }
    const prior = await store.objects.findOne({ _id: p.doc._id });
    // Not inserted: its list entry goes, unless it is the prior object's own.
    if (!prior || orderKey(prior) !== orderKey(p.doc)) unlisted.push(p.doc);
    // An earlier attempt of this page wrote (and its object holds) the very same keys: keep those.
    const held = new Set((prior?.blobs ?? []).map((b) => b.properties.storage_key));
    await drop({ ...p, written: p.written.filter((k) => !held.has(k)) }, null);
    if (prior && prior.created_by_page === ctx.pageKey) {
      // Created by an earlier attempt of this page: still this page's to count.
      outcomes.set(p.entry.sourceObjectId, {
        kind: 'created',
        bytes: prior.blobs.reduce((s, b) => s + (b.details?.size_bytes ?? 0), 0),
        key: prior._id,
        objectId: prior.object_id,
      });
    } else if (prior) existing.push({ entry: p.entry, prior });
    else outcomes.set(p.entry.sourceObjectId, { kind: 'raced' });
  }
  await Promise.all([
    removeFromOrder(store, unlisted),
    // Their SHA-256 entries were claimed above (step 2): only provider checksums are left to index.
    indexContent(store, inserted, { checksumsOnly: true }),
  ]);
  return { outcomes, existing };
}

export interface Change {
  entry: SourceEntry;
  prior: ObjectDoc;
}

/**
 * Files whose version changed: new bytes and fields, same objects. The bytes are copied a few files
 * at a time (`onCopied` after each); then a page's store writes go together, in three steps: one
 * content-index lookup and delete for the old hashes; the updates by `_id` (one bulk write where
 * the store writes it at once: store.updateEachById) with one DLQ delete; one insert of the new
 * hashes with the old blobs' deletes. A file that cannot be read goes to the DLQ and keeps its
 * object as it was.
 */
export async function ingestUpdates(
  ctx: IngestContext,
  changes: Change[],
  concurrency: number,
  onCopied: () => void = () => undefined,
): Promise<Map<string, IngestOutcome>> {
  const outcomes = new Map<string, IngestOutcome>();
  if (changes.length === 0) return outcomes;
  const copied: (Change & { copy: NonNullable<Awaited<ReturnType<typeof copyBlobs>>> })[] = [];
  try {
    await forEachLimit(changes, concurrency, async ({ entry, prior }) => {
      try {
        const copy = await copyBlobs(ctx, entry, prior.object_id);
        if (copy) copied.push({ entry: copy.entry, prior, copy });
        else outcomes.set(entry.sourceObjectId, { kind: 'gone' });
      } catch (err) {
        if (!isFileError(err)) throw err;
        outcomes.set(entry.sourceObjectId, await recordFailure(ctx, entry, err));
      }
      onCopied();
    });
  } catch (err) {
    // The page is retried: copies no object points at yet are removed (their keys are new each time).
    await forEachLimit(
      copied.flatMap((c) => c.copy.written),
      16,
      (k) => ctx.blobs.delete(k),
    );
    throw err;
  }
  const { store } = ctx;
  await unindexContent(
    store,
    copied.map((c) => c.prior),
  );
  const now = new Date();
  // The old hashes' entries go first (an object must never keep an entry for bytes it no longer
  // holds: a crash after its update would leave one behind); then the writes that do not depend
  // on each other go at once.
  const dlqKeys = copied.map((c) => dlqKey(ctx.cfg.sync_config_id, c.entry.sourceObjectId));
  const updating = store.updateEachById(
    store.objects,
    copied.map(({ entry, prior, copy }) => ({
      _id: prior._id,
      update: {
        $set: {
          blobs: copy.blobs,
          metadata: copy.fields,
          source_version: entry.version,
          source_checksum: entry.checksum ?? null,
          content_hash: copy.contentHash,
          last_seen_pass_id: ctx.passId,
          updated_at: now,
        },
      },
    })),
    concurrency,
  );
  await Promise.all([updating, store.deleteByIds(store.dlq, dlqKeys)]);
  const oldKeys = copied.flatMap((c) =>
    c.prior.blobs.map((b) => b.properties?.storage_key).filter((k): k is string => typeof k === 'string'),
  );
  await Promise.all([
    indexContent(
      store,
      copied.map(({ entry, prior, copy }) => ({
        ...prior,
        content_hash: copy.contentHash,
        source_checksum: entry.checksum ?? null,
      })),
    ),
    forEachLimit(oldKeys, 16, (k) => ctx.blobs.delete(k)),
  ]);
  for (const { entry, prior, copy } of copied)
    outcomes.set(entry.sourceObjectId, {
      kind: 'updated',
      bytes: copy.bytes,
      key: prior._id,
      objectId: prior.object_id,
    });
  return outcomes;
}

/** Deletes objects, their list entries (after them: store/object-order.ts) and their blobs. */
export async function deleteObjects(
  store: Store,
  blobs: BlobStore,
  docs: Pick<
    ObjectDoc,
    '_id' | 'bucket_id' | 'object_id' | 'created_at' | 'blobs' | 'content_hash' | 'source_checksum'
  >[],
): Promise<number> {
  if (docs.length === 0) return 0;
  const deleted = await store.deleteByIds(
    store.objects,
    docs.map((d) => d._id),
  );
  await removeFromOrder(store, docs);
  await unindexContent(store, docs);
  const keys = docs
    .flatMap((d) => d.blobs.map((b) => b.properties?.storage_key))
    .filter((k): k is string => typeof k === 'string');
  await Promise.all(keys.map((k) => blobs.delete(k)));
  return deleted;
}
