// A bucket's object list, newest first, as an `_id`-keyed collection (`object_order`): one entry per
// object, `_id` = `<bucket_id>|<13 digits: MAX_MS - created_at ms>|<the object's _id>` (its object_id,
// but for objects stored before that was so), so ascending `_id` is the list's order (newest first;
// objects of one millisecond by `_id`). A page of the list is
// one `_id` range query sorted by `_id` with a limit, then `_id` lookups of its objects: it costs the
// page on MongoDB (the `_id` index) and on the embedded FerretDB (its patch pushes such a range, its
// sort and its limit down to the `_id` index: scripts/patches/ferretdb-sqlite-id-index.patch, item 3),
// where `find({bucket_id}).sort({created_at: -1})` decodes every object of every bucket.
//
// Entries are written before their objects and deleted after them, so no object is ever missing
// from the list; an entry whose object is not there (a crash between the two writes, an insert that
// lost to an earlier attempt's object) or whose time is not its object's is skipped when read, and
// deleted then once it is older than any insert in flight. Buckets made before this collection
// existed get their entries once, at their first list (`ensureObjectOrder`), from one scan.
import type { Filter } from 'mongodb';
import type { ObjectDoc } from './doc-types';
import type { Store } from './index';
import { insertAbsent } from './objects';

export interface ObjectOrderDoc {
  _id: string;
}

/** What an entry is made of. */
export type Ordered = Pick<ObjectDoc, '_id' | 'bucket_id' | 'created_at'>;

/** 13 nines: the inverted time stays 13 digits until the year 2286. */
const MAX_MS = 9_999_999_999_999;
/** A dangling entry this old is no insert in flight: it is deleted when met. */
export const DANGLING_AFTER_MS = 10 * 60_000;

/** The entry key of an object. */
export function orderKey(o: Ordered): string {
  const inverted = String(MAX_MS - o.created_at.getTime()).padStart(13, '0');
  return `${o.bucket_id}|${inverted}|${o._id}`;
}

/** The object `_id` and creation time (ms) an entry key names; null for a key of another form. */
export function parseOrderKey(key: string): { id: string; createdMs: number } | null {
  const m = /\|(\d{13})\|([^|]+)$/.exec(key);
  return m ? { id: m[2], createdMs: MAX_MS - Number(m[1]) } : null;
}

/** The marker entry saying a bucket's entries are complete (outside its range: '#' < '|'). */
const builtKey = (bucketId: string) => `${bucketId}#order`;

/** The `_id` range of a bucket's entries ('}' follows '|'), after `afterKey` when given. */
function rangeOf(bucketId: string, afterKey?: string): Filter<ObjectOrderDoc> {
  const start = `${bucketId}|`;
  return { _id: { $gt: afterKey && afterKey > start ? afterKey : start, $lt: `${bucketId}}` } };
}

/** insertMany of entries that may exist already (retries, a rebuild). */
async function insertEntries(store: Store, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000)
    await insertAbsent(
      store.objectOrder,
      ids.slice(i, i + 1000).map((_id) => ({ _id })),
    );
}

/** Lists these objects: before they are inserted. */
export async function addToOrder(store: Store, objects: Ordered[]): Promise<void> {
  if (objects.length > 0) await insertEntries(store, objects.map(orderKey));
}

/** Takes these objects off the list: after they are deleted (or when their insert lost). */
export async function removeFromOrder(store: Store, objects: Ordered[]): Promise<void> {
  if (objects.length > 0) await store.deleteByIds(store.objectOrder, objects.map(orderKey));
}

/** A new bucket: its (no) entries are complete. */
export async function markOrderBuilt(store: Store, bucketId: string): Promise<void> {
  await insertEntries(store, [builtKey(bucketId)]);
}

/**
 * Makes sure a bucket's entries are complete: a bucket made before entries were kept gets them from
 * one scan of its objects, once (objects created meanwhile write their own).
 */
export async function ensureObjectOrder(store: Store, bucketId: string): Promise<void> {
  if (await store.objectOrder.findOne({ _id: builtKey(bucketId) })) return;
  const cursor = store.objects.find(
    { bucket_id: bucketId },
    { projection: { _id: 1, bucket_id: 1, created_at: 1 }, batchSize: 5000 },
  );
  let part: string[] = [];
  for await (const o of cursor) {
    // (An `_id` that is no string is no object this service stored.)
    if (typeof o._id === 'string' && o.created_at instanceof Date) part.push(orderKey(o));
    if (part.length >= 1000) {
      await insertEntries(store, part);
      part = [];
    }
  }
  await insertEntries(store, part);
  await markOrderBuilt(store, bucketId);
}

/** A page of a bucket's objects in list order, and whether more follow. */
export interface OrderedPage {
  objects: ObjectDoc[];
  hasNext: boolean;
  /** The entry key of the page's last object (a keyset cursor for the next page). */
  lastKey: string | null;
}

/**
 * `limit` objects of a bucket in list order: after the entry `afterKey` when given, else after
 * skipping `offset` entries. Entries without their object are skipped (and deleted when old), and
 * the page is filled from the entries that follow.
 */
export async function readOrderedPage(
  store: Store,
  bucketId: string,
  page: { limit: number; offset: number; afterKey?: string },
  now = Date.now(),
): Promise<OrderedPage> {
  const objects: ObjectDoc[] = [];
  const keys: string[] = [];
  const stale: string[] = [];
  let after = page.afterKey;
  let skip = page.afterKey ? 0 : page.offset;
  // One more than the page: whether a next page exists.
  const want = page.limit + 1;
  for (;;) {
    const asked = want - objects.length;
    const batch = await store.objectOrder
      .find(rangeOf(bucketId, after))
      .sort({ _id: 1 })
      .skip(skip)
      .limit(asked)
      .toArray();
    if (batch.length === 0) break;
    skip = 0;
    after = batch[batch.length - 1]._id;
    const named = batch.map((e) => ({ key: e._id, parsed: parseOrderKey(e._id) }));
    const found = await store.lookupByIds(
      store.objects,
      named.flatMap((n) => (n.parsed ? [n.parsed.id] : [])),
    );
    for (const { key, parsed } of named) {
      const o = parsed ? found.get(parsed.id) : undefined;
      if (o && parsed && o.bucket_id === bucketId && o.created_at.getTime() === parsed.createdMs) {
        objects.push(o);
        keys.push(key);
      } else if (!parsed || now - parsed.createdMs > DANGLING_AFTER_MS) stale.push(key);
    }
    if (objects.length >= want || batch.length < asked) break;
  }
  if (stale.length > 0) await store.deleteByIds(store.objectOrder, stale);
  const hasNext = objects.length > page.limit;
  const shown = objects.slice(0, page.limit);
  return { objects: shown, hasNext, lastKey: shown.length > 0 ? keys[shown.length - 1] : null };
}

/** Up to `limit` of a bucket's objects, by its entries (bucket DELETE pages through them). */
export async function nextEntries(store: Store, bucketId: string, limit: number): Promise<string[]> {
  const batch = await store.objectOrder.find(rangeOf(bucketId)).sort({ _id: 1 }).limit(limit).toArray();
  return batch.map((e) => e._id);
}

/** Forgets a deleted bucket's entries and marker. */
export async function dropBucketOrder(store: Store, bucketId: string): Promise<void> {
  for (;;) {
    const keys = await nextEntries(store, bucketId, 1000);
    if (keys.length === 0) break;
    await store.deleteByIds(store.objectOrder, keys);
  }
  await store.deleteByIds(store.objectOrder, [builtKey(bucketId)]);
}
