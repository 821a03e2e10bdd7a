// The one promise every chaos case ends by checking, whatever was injected:
//   objects = files, by idempotency key and SHA-256; 0 duplicates; every object on its bucket's
//   list; 0 blobs without an object and 0 objects without a blob; no leftover partial files;
//   totals and run records equal to what happened; at most one pass of a sync running at any moment.
// It reads MongoDB and the folder blob store directly (a lane of its own: its database and its
// BLOB_DIR hold only what the case made).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { objectKey } from '../../store/objects';
import { orderKey } from '../../store/object-order';
import type { Lane } from '../setup/stack';

export const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

export interface Expected {
  syncId: string;
  bucketId: string;
  provider: string;
  /** source_object_id -> SHA-256 of the bytes the source holds now (the files that must be objects). */
  files: Map<string, string>;
  /** Bytes of those files (total_bytes_synced when every object was created once and never updated). */
  bytes: number;
  /** Files that ended FAILED in the DLQ (total_files_failed); default 0. */
  failed?: number;
  /**
   * Files listed over the sync's life (total_files_discovered); default files.size + failed (one
   * pass). 'at-least-files' for several passes over the same files (each pass counts its listing).
   */
  discovered?: number | 'at-least-files';
  /** total_files_synced; default files.size. */
  synced?: number;
  /** Objects deleted (run records' objects_deleted summed); default 0. */
  deleted?: number;
}

function walk(dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

async function fileSha(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Checks the promise; returns a one-line summary for the test's output. */
export async function checkInvariants(l: Lane, x: Expected): Promise<string> {
  const objs = await l.store.objects.find({ sync_config_id: x.syncId }).toArray();

  // Objects = files, by idempotency key, 0 duplicates.
  const ids = objs.map((o) => o.source_object_id);
  const dupes = ids.length - new Set(ids).size;
  assert.equal(dupes, 0, `${dupes} duplicate objects`);
  const keys = new Set(objs.map((o) => o._id));
  assert.equal(keys.size, objs.length, 'one document per idempotency key');
  for (const o of objs)
    assert.equal(
      o._id,
      objectKey(x.bucketId, x.provider, o.source_object_id),
      'stored under its idempotency key',
    );
  const missing = [...x.files.keys()].filter((id) => !ids.includes(id));
  const extra = ids.filter((id) => !x.files.has(id));
  assert.deepEqual(
    {
      missing: missing.slice(0, 5),
      missingCount: missing.length,
      extra: extra.slice(0, 5),
      extraCount: extra.length,
    },
    { missing: [], missingCount: 0, extra: [], extraCount: 0 },
    'objects = files',
  );

  // Every object is on its bucket's list, once (store/object-order.ts: entries go in before their
  // objects and out after them; an entry left by a crash without its object is allowed, the list
  // skips it).
  const listed = new Set(
    (await l.store.objectOrder.find({ _id: { $gt: `${x.bucketId}|`, $lt: `${x.bucketId}}` } }).toArray()).map(
      (e) => e._id,
    ),
  );
  const unlisted = objs.filter((o) => !listed.has(orderKey(o)));
  assert.deepEqual(
    unlisted.slice(0, 5).map((o) => o.source_object_id),
    [],
    `${unlisted.length} objects missing from the bucket's list`,
  );

  // Every object's blob is on disk, whole, with the source's bytes (SHA-256); no blob without an
  // object; no partial file left.
  const referenced = new Set<string>();
  for (const o of objs) {
    const blob = o.blobs.find((b) => typeof b.properties.storage_key === 'string');
    assert.ok(blob, `object ${o.source_object_id} has a blob`);
    const file = path.join(l.env.BLOB_DIR, ...(blob.properties.storage_key as string).split('/'));
    referenced.add(file);
    const st = statSync(file, { throwIfNoEntry: false });
    assert.ok(st?.isFile(), `the blob of ${o.source_object_id} exists`);
    assert.equal(st?.size, blob.details.size_bytes, `size of ${o.source_object_id}`);
    const want = x.files.get(o.source_object_id);
    assert.equal(blob.details.hash, want, `SHA-256 recorded for ${o.source_object_id}`);
    assert.equal(await fileSha(file), want, `SHA-256 of the stored bytes of ${o.source_object_id}`);
  }
  // A killed worker's cut copies are swept by the workers (BLOB_PARTIAL_MAX_AGE_SECONDS; the chaos
  // lanes set a few seconds): none may be left once that has passed.
  const isPartial = (f: string) => /\.partial-[0-9a-f]{8}$/.test(f);
  const waitMs = (Number(l.env.BLOB_PARTIAL_MAX_AGE_SECONDS) + 5) * 1000;
  for (const until = Date.now() + waitMs; walk(l.env.BLOB_DIR).some(isPartial) && Date.now() < until;)
    await new Promise((r) => setTimeout(r, 500));
  const onDisk = walk(l.env.BLOB_DIR);
  const partials = onDisk.filter(isPartial);
  const orphans = onDisk.filter((f) => !isPartial(f) && !referenced.has(f));
  assert.deepEqual(
    {
      partials: partials.slice(0, 3),
      orphans: orphans.slice(0, 3),
      counts: [partials.length, orphans.length],
    },
    { partials: [], orphans: [], counts: [0, 0] },
    'no leftover partial files, no blob without an object',
  );

  // Totals equal what happened.
  const sync = await l.store.syncs.findOne({ sync_config_id: x.syncId });
  assert.ok(sync, 'the sync exists');
  const failed = x.failed ?? 0;
  const discovered = x.discovered ?? x.files.size + failed;
  if (discovered === 'at-least-files')
    assert.ok(
      sync.total_files_discovered >= x.files.size + failed,
      'total_files_discovered covers the files',
    );
  const want = {
    total_files_synced: x.synced ?? x.files.size,
    total_files_discovered: discovered === 'at-least-files' ? sync.total_files_discovered : discovered,
    total_files_failed: failed,
    total_bytes_synced: x.bytes,
  };
  const got = {
    total_files_synced: sync.total_files_synced,
    total_files_discovered: sync.total_files_discovered,
    total_files_failed: sync.total_files_failed,
    total_bytes_synced: sync.total_bytes_synced,
  };
  assert.deepEqual(got, want, 'totals');

  // Run records: a failed run's record is followed by the resumed run's, which counts the whole pass
  // (same run id); the records that did not fail add up to the totals.
  const runs = await l.store.runs.find({ sync_config_id: x.syncId }).sort({ finished_at: 1 }).toArray();
  const ended = runs.filter((r) => r.status !== 'FAILED');
  const sum = (k: 'files_synced' | 'bytes_synced' | 'objects_deleted', rs = ended) =>
    rs.reduce((n, r) => n + r[k], 0);
  assert.equal(sum('files_synced'), want.total_files_synced, 'run records: files_synced adds up');
  assert.equal(sum('bytes_synced'), x.bytes, 'run records: bytes_synced adds up');
  assert.equal(sum('objects_deleted', runs), x.deleted ?? 0, 'run records: objects_deleted adds up');

  // At most one pass at a time: the passes' spans (first start to last record) never overlap.
  const spans = new Map<string, { start: number; end: number }>();
  for (const r of runs) {
    const s = spans.get(r.pass_id) ?? { start: r.started_at.getTime(), end: r.finished_at.getTime() };
    s.start = Math.min(s.start, r.started_at.getTime());
    s.end = Math.max(s.end, r.finished_at.getTime());
    spans.set(r.pass_id, s);
  }
  const ordered = [...spans.values()].sort((a, b) => a.start - b.start);
  for (let i = 1; i < ordered.length; i++)
    assert.ok(ordered[i].start >= ordered[i - 1].end, 'two passes of the sync overlapped');

  return (
    `${objs.length} objects = ${x.files.size} files, 0 duplicates, ${onDisk.length} blobs, 0 orphans, ` +
    `0 partials, ${runs.length} run records (${spans.size} passes, none overlapping)`
  );
}
