// A bucket's object list (GET …/objects, POST …/objects/list without filters) reads the bucket's
// `_id`-ordered list entries (store/object-order.ts): newest first, paged by cursor or offset, every
// object exactly once; entries whose object is missing are skipped (and cleaned up once old); a
// bucket from before the entries gets them at its first list; deletes take them away.
import assert from 'node:assert/strict';
import type { ObjectDoc } from '../../store';
import { orderKey, parseOrderKey, DANGLING_AFTER_MS } from '../../store/object-order';
import { stack, type Stack } from '../setup/stack';
import { api, bucket, localConnection, sync, until } from './api-helpers';

/** A bucket's entries, in order. */
async function entriesOf(s: Stack, bucketId: string): Promise<string[]> {
  const docs = await s.store.objectOrder
    .find({ _id: { $gt: `${bucketId}|`, $lt: `${bucketId}}` } })
    .sort({ _id: 1 })
    .toArray();
  return docs.map((d) => d._id);
}

/** Every object of the list, page by page, following next_cursor. */
async function walk(s: Stack, bucketId: string, limit: number): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const r = await api(s, 'GET', `/v1/buckets/${bucketId}/objects?limit=${limit}${q}`);
    assert.equal(r.status, 200, r.text);
    ids.push(...r.body.results.map((o: { object_id: string }) => o.object_id));
    totals.push(r.body.total);
    cursor = r.body.pagination.next_cursor;
    if (!cursor) return { ids, totals };
  }
  throw new Error('the list did not end');
}

/** An object stored directly (as one from before the list entries). */
function storedObject(
  bucketId: string,
  id: string,
  createdAt: Date,
  internalId: string,
  ns: string,
): ObjectDoc {
  return {
    _id: id,
    object_id: id,
    bucket_id: bucketId,
    internal_id: internalId,
    namespace_id: ns,
    key_prefix: '/',
    blobs: [],
    source_details: [{ type: 'api', source_id: id }],
    metadata: {},
    status: 'COMPLETED',
    error: null,
    source_provider: 'api',
    source_object_id: id,
    source_version: null,
    source_checksum: null,
    content_hash: null,
    sync_config_id: null,
    last_seen_pass_id: null,
    created_by_run_id: null,
    created_by_page: null,
    created_at: createdAt,
    updated_at: createdAt,
  };
}

describe('API: a bucket’s object list in O(page)', function () {
  this.timeout(120_000);
  let s: Stack;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
  });

  it('lists newest first, every object once, by cursor and by page, with an exact total', async () => {
    const b = await bucket(s);
    const made: { id: string; at: number }[] = [];
    for (let i = 0; i < 23; i++) {
      const r = await api(s, 'POST', `/v1/buckets/${b}/objects`, { metadata: { i } });
      assert.equal(r.status, 200, r.text);
      made.push({ id: r.body.object_id, at: Date.parse(r.body.created_at) });
    }
    // The order: created_at descending; one millisecond's objects by id.
    const expected = [...made].sort((x, y) => y.at - x.at || (x.id < y.id ? -1 : 1)).map((m) => m.id);
    assert.equal((await entriesOf(s, b)).length, 23, 'one entry per object');

    // The total is the bucket's count snapshot, recounted shortly after API writes
    // (store/bucket-stats.ts); while it lags, a page's total is never below what the list holds.
    const early = await walk(s, b, 10);
    assert.deepEqual(early.ids, expected);
    assert.ok(
      early.totals.every((t, i) => t >= Math.min(23, (i + 1) * 10 + 1)),
      String(early.totals),
    );
    assert.equal(early.totals.at(-1), 23, 'the last page knows');
    const deadline = Date.now() + 10_000;
    while ((await api(s, 'GET', `/v1/buckets/${b}`)).body.object_count !== 23 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 100));
    const { ids, totals } = await walk(s, b, 10);
    assert.deepEqual(ids, expected);
    assert.deepEqual(totals, [23, 23, 23]);

    const p2 = await api(s, 'GET', `/v1/buckets/${b}/objects?limit=10&page=2`);
    assert.deepEqual(
      p2.body.results.map((o: { object_id: string }) => o.object_id),
      expected.slice(10, 20),
    );
    assert.equal(p2.body.pagination.next_page, '3');
    const viaPost = await api(s, 'POST', `/v1/buckets/${b}/objects/list?offset=20`, {});
    assert.deepEqual(
      viaPost.body.results.map((o: { object_id: string }) => o.object_id),
      expected.slice(20),
    );
    assert.equal(viaPost.body.pagination.next_cursor, null);
    const past = await api(s, 'GET', `/v1/buckets/${b}/objects?offset=40`);
    assert.deepEqual(past.body.results, []);

    // A cursor that names no key this API hands out is a 422, not a scan.
    const bad = Buffer.from(JSON.stringify({ o: 0, k: 'x" or 1' })).toString('base64url');
    const r = await api(s, 'GET', `/v1/buckets/${b}/objects?cursor=${bad}`);
    assert.equal(r.status, 422, r.text);
  });

  it('skips entries whose object is missing, fills the page from the next ones, and drops old ones', async () => {
    const b = await bucket(s);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await api(s, 'POST', `/v1/buckets/${b}/objects`, {})).body.object_id);
    const first = (await walk(s, b, 100)).ids;
    // Dangling: an old entry of no object (a crash between the two writes, long ago), a fresh one
    // (an insert in flight), and an old one whose time is not its object's (an insert that lost).
    const now = Date.now();
    const fresh = orderKey({ _id: 'obj_inflight000000', bucket_id: b, created_at: new Date(now + 120_000) });
    const stored = await s.store.objects.findOne({ _id: ids[0] });
    const wrongTime = orderKey({
      _id: ids[0],
      bucket_id: b,
      created_at: new Date(stored!.created_at.getTime() - DANGLING_AFTER_MS - 60_000),
    });
    const oldKey = orderKey({
      _id: 'obj_gone0000000000',
      bucket_id: b,
      created_at: new Date(now - DANGLING_AFTER_MS - 60_000),
    });
    await s.store.objectOrder.insertMany([{ _id: oldKey }, { _id: fresh }, { _id: wrongTime }]);

    // A page of 2 starts with the fresh dangling entry: it is skipped and the page still has 2.
    const p1 = await api(s, 'GET', `/v1/buckets/${b}/objects?limit=2`);
    assert.deepEqual(
      p1.body.results.map((o: { object_id: string }) => o.object_id),
      first.slice(0, 2),
    );
    assert.equal(p1.body.pagination.next_cursor !== null, true);
    assert.deepEqual((await walk(s, b, 2)).ids, first, 'each object once, none of the dangling entries');
    const left = await entriesOf(s, b);
    assert.ok(left.includes(fresh), 'an entry that may be an insert in flight stays');
    assert.ok(!left.includes(oldKey) && !left.includes(wrongTime), 'old dangling entries are gone');
    assert.equal(left.length, 5);
    assert.equal(parseOrderKey(fresh)?.id, 'obj_inflight000000');
  });

  it('gives a bucket from before the entries its entries at the first list', async () => {
    const b = await bucket(s);
    const t = await s.store.buckets.findOne({ _id: b });
    // As before: objects without entries, and no marker.
    await s.store.objectOrder.deleteOne({ _id: `${b}#order` });
    const base = Date.now() - 3_600_000;
    const docs = Array.from({ length: 7 }, (_, i) =>
      storedObject(
        b,
        `obj_legacy${i}${'0'.repeat(8)}`,
        new Date(base + i * 1000),
        t!.internal_id,
        t!.namespace_id,
      ),
    );
    await s.store.objects.insertMany(docs.map((d) => ({ ...d })));
    assert.deepEqual(await entriesOf(s, b), []);

    const { ids, totals } = await walk(s, b, 3);
    assert.deepEqual(ids, docs.map((d) => d.object_id).reverse());
    assert.equal(totals.at(-1), 7);
    assert.equal((await entriesOf(s, b)).length, 7);
    assert.ok(await s.store.objectOrder.findOne({ _id: `${b}#order` }), 'built once: marked');
  });

  it('lists a sync’s objects; deleting objects and the bucket takes their entries away', async () => {
    const b = await bucket(s);
    const { connectionId } = await localConnection(s, { 'a.txt': 'a', 'b.txt': 'b', 'c/d.txt': 'd' });
    const syncId = await sync(s, b, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    await until(s, b, syncId, (x) => x.status === 'COMPLETED');
    const { ids } = await walk(s, b, 2);
    assert.equal(ids.length, 3);
    assert.equal((await entriesOf(s, b)).length, 3, 'a sync lists what it creates');

    assert.equal((await api(s, 'DELETE', `/v1/buckets/${b}/objects/${ids[1]}`)).status, 200);
    assert.deepEqual((await walk(s, b, 2)).ids, [ids[0], ids[2]]);
    assert.equal((await entriesOf(s, b)).length, 2);

    assert.equal((await api(s, 'DELETE', `/v1/buckets/${b}/syncs/${syncId}`)).status, 200);
    const del = await api(s, 'DELETE', `/v1/buckets/${b}`);
    assert.equal(del.status, 200, del.text);
    assert.match(del.body.message, /with its 2 object/);
    assert.deepEqual(await entriesOf(s, b), []);
    assert.equal(await s.store.objectOrder.findOne({ _id: `${b}#order` }), null);
    assert.equal(await s.store.objects.countDocuments({ bucket_id: b }), 0);
  });
});
