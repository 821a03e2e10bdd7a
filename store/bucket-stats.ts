// A bucket's object_count and total_size_bytes (Mixpeek's BucketResponse, with stats_updated_at):
// a snapshot per bucket in `bucket_stats` (`_id` = bucket_id), so reading a bucket is `_id` lookups
// only. Counting means reading the bucket's objects (an index range on MongoDB, a scan of the objects
// collection on FerretDB), so it runs once per sync run (finishPass) and, after objects are created or
// deleted over the API, once per burst of such writes (debounced, off the request path) — never per
// page or per request. Every write is a whole recount, so two of them racing (FerretDB can lose one
// of two concurrent updates of a document) leave one valid snapshot, never a wrong sum.
import type { Store } from './index';

export interface BucketStats {
  object_count: number;
  total_size_bytes: number;
  /** When the snapshot was counted. */
  stats_updated_at: Date | null;
}

export interface BucketStatsDoc {
  _id: string;
  object_count: number;
  total_size_bytes: number;
  updated_at: Date;
}

/** Counts a bucket's objects now: one pass over them, projected to their sizes (the sum of their blobs'). */
export async function countBucket(
  store: Store,
  bucketId: string,
): Promise<Pick<BucketStats, 'object_count' | 'total_size_bytes'>> {
  // Not a $group: FerretDB 1.24 sums a projected field to 0 there (and its $unwind drops the others).
  const sizes = store.objects.aggregate<{ size: number }>(
    [
      { $match: { bucket_id: bucketId } },
      { $project: { _id: 0, size: { $sum: '$blobs.details.size_bytes' } } },
    ],
    { batchSize: 5000 },
  );
  let objectCount = 0;
  let bytes = 0;
  for await (const o of sizes) {
    objectCount++;
    bytes += typeof o.size === 'number' ? o.size : 0;
  }
  return { object_count: objectCount, total_size_bytes: bytes };
}

/** Stores a snapshot of a bucket's counts (a recount's, or totals known otherwise). */
export async function storeBucketStats(
  store: Store,
  bucketId: string,
  counted: Pick<BucketStats, 'object_count' | 'total_size_bytes'>,
): Promise<BucketStats> {
  const now = new Date();
  await store.bucketStats.updateOne(
    { _id: bucketId },
    { $set: { ...counted, updated_at: now } },
    { upsert: true },
  );
  return { ...counted, stats_updated_at: now };
}

/** Recounts a bucket and stores the snapshot. */
export async function refreshBucketStats(store: Store, bucketId: string): Promise<BucketStats> {
  return storeBucketStats(store, bucketId, await countBucket(store, bucketId));
}

/** A new bucket: empty, as of now. */
export async function initBucketStats(store: Store, bucketId: string): Promise<void> {
  await store.bucketStats.updateOne(
    { _id: bucketId },
    { $setOnInsert: { object_count: 0, total_size_bytes: 0, updated_at: new Date() } },
    { upsert: true },
  );
}

/**
 * The snapshots of these buckets, by `_id`. A bucket made before snapshots were kept has none: it is
 * counted once, here, and stored.
 */
export async function readBucketStats(store: Store, bucketIds: string[]): Promise<Map<string, BucketStats>> {
  const docs = await store.lookupByIds(store.bucketStats, bucketIds);
  const out = new Map<string, BucketStats>();
  for (const id of bucketIds) {
    const d = docs.get(id);
    out.set(
      id,
      d
        ? {
            object_count: d.object_count,
            total_size_bytes: d.total_size_bytes,
            stats_updated_at: d.updated_at,
          }
        : await refreshBucketStats(store, id),
    );
  }
  return out;
}

/** After API writes of objects: one recount per bucket per burst, shortly after it, in the background. */
export class BucketStatsRefresher {
  private readonly due = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly delayMs = 200,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Objects of this bucket were created or deleted: recount soon (writes within the delay share one). */
  touch(bucketId: string): void {
    if (this.due.has(bucketId)) return;
    const timer = setTimeout(() => {
      this.due.delete(bucketId);
      // One recount of a bucket at a time; a touch during it schedules the next.
      const before = this.running.get(bucketId) ?? Promise.resolve();
      const next = before
        .then(() => refreshBucketStats(this.store, bucketId))
        .then(
          () => undefined,
          (err: unknown) => this.onError(err),
        )
        .finally(() => {
          if (this.running.get(bucketId) === next) this.running.delete(bucketId);
        });
      this.running.set(bucketId, next);
    }, this.delayMs);
    timer.unref();
    this.due.set(bucketId, timer);
  }

  /** Resolves once every scheduled recount has run (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.due.size > 0 || this.running.size > 0) {
      await Promise.all(this.running.values());
      if (this.due.size > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    }
  }
}

const refreshers = new WeakMap<Store, BucketStatsRefresher>();

/** The process's refresher for this store. */
export function bucketStatsRefresher(store: Store): BucketStatsRefresher {
  let r = refreshers.get(store);
  if (!r) refreshers.set(store, (r = new BucketStatsRefresher(store)));
  return r;
}
