// The API's read cache (api/read-cache.ts) on the real stack, with a TTL long enough that only its
// rules decide what a GET shows: a GET of one sync, bucket or object is answered from memory; a
// write through the API empties it, so this process's clients read their own writes at once; another
// tenant is looked up afresh. A page of a bucket's object list (GET, unfiltered) is kept the same way. (The rest of the suite runs with API_READ_CACHE_MS=0.)
import assert from 'node:assert/strict';
import { documentKey } from '../../store/ids';
import type { CollectionDoc, DocumentDoc } from '../../store';
import { lane, stack, type Lane } from '../setup/stack';
import { api, assertError, bucket, localConnection, sync, tenant } from './api-helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API read cache', function () {
  this.timeout(120_000);
  let l: Lane;
  let bucketId: string;
  let syncId: string;
  let objectId: string;

  before(async function () {
    this.timeout(300_000);
    l = await lane(await stack(), { API_READ_CACHE_MS: '60000' });
    bucketId = await bucket(l);
    const { connectionId } = await localConnection(l, { 'a.txt': 'a' });
    syncId = await sync(l, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    // Waited for in the store: a GET now would keep the answer for the whole test.
    for (let i = 0; i < 600; i++) {
      const doc = await l.store.syncs.findOne({ _id: syncId });
      if (doc?.status === 'COMPLETED' && !doc.locked) break;
      await sleep(100);
    }
    const obj = await l.store.objects.findOne({ bucket_id: bucketId });
    assert.ok(obj, 'the file became an object');
    objectId = obj.object_id;
  });
  after(() => l?.close());

  const syncPath = () => `/v1/buckets/${bucketId}/syncs/${syncId}`;
  const objectPath = () => `/v1/buckets/${bucketId}/objects/${objectId}`;

  it('a GET of a sync, a bucket or an object is answered from memory until a write through the API', async () => {
    const first = await Promise.all([
      api(l, 'GET', syncPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}`),
      api(l, 'GET', objectPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}/objects`),
    ]);
    for (const r of first) assert.equal(r.status, 200, r.text);
    assert.equal(first[3].body.results[0].object_id, objectId);
    assert.equal(first[0].body.consecutive_failures, 0);
    // Written behind the API's back (as the workflow or another API process would).
    await l.store.syncs.updateOne({ _id: syncId }, { $set: { consecutive_failures: 7 } });
    await l.store.buckets.updateOne({ _id: bucketId }, { $set: { description: 'changed in the store' } });
    await l.store.objects.updateOne({ _id: objectId }, { $set: { metadata: { changed: true } } });
    // A collection of the tenant made a document from the object: its count is kept with it.
    assert.equal(first[2].body.document_count, 0);
    const owner = (await l.store.buckets.findOne({ _id: bucketId }))!;
    const tenantOf = { internal_id: owner.internal_id, namespace_id: owner.namespace_id };
    const collectionId = 'col_read_cache';
    await l.store.collections.insertOne({
      ...tenantOf,
      _id: collectionId,
      collection_id: collectionId,
      collection_name: 'read-cache',
    } as unknown as CollectionDoc);
    const docId = documentKey(collectionId, objectId);
    await l.store.documents.insertOne({
      ...tenantOf,
      _id: docId,
      document_id: docId,
      collection_id: collectionId,
      object_id: objectId,
      bucket_id: bucketId,
    } as unknown as DocumentDoc);
    const cached = await Promise.all([
      api(l, 'GET', syncPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}`),
      api(l, 'GET', objectPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}/objects`),
    ]);
    assert.equal(cached[0].body.consecutive_failures, 0, 'the sync came from the cache');
    assert.notEqual(cached[1].body.description, 'changed in the store', 'the bucket came from the cache');
    assert.deepEqual(cached[2].body.metadata, first[2].body.metadata, 'the object came from the cache');
    assert.equal(cached[2].body.document_count, 0, 'with the count it was loaded with');
    assert.deepEqual(cached[3].body.results[0].metadata, first[2].body.metadata, 'the list page too');

    // Any write through this API process empties it: the next GETs read the store.
    const p = await api(l, 'POST', `${syncPath()}/pause`, { reason: 'cache test' });
    assert.equal(p.status, 200, p.text);
    const after = await Promise.all([
      api(l, 'GET', syncPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}`),
      api(l, 'GET', objectPath()),
      api(l, 'GET', `/v1/buckets/${bucketId}/objects`),
    ]);
    assert.equal(after[0].body.paused, true, 'its own write shows at once');
    assert.equal(after[0].body.consecutive_failures, 7);
    assert.equal(after[1].body.description, 'changed in the store');
    assert.deepEqual(after[2].body.metadata, { changed: true });
    assert.equal(after[2].body.document_count, 1, 'the count is read again with the object');
    assert.deepEqual(after[3].body.results[0].metadata, { changed: true });
    assert.equal((await api(l, 'POST', `${syncPath()}/resume`)).status, 200);
  });

  it('another tenant is not answered from what one tenant cached', async () => {
    assert.equal((await api(l, 'GET', syncPath())).status, 200);
    assert.equal((await api(l, 'GET', objectPath())).status, 200);
    const stranger = await tenant(l, 'read-cache-stranger', 'ns');
    assertError(await api(l, 'GET', syncPath(), undefined, { who: stranger }), 404, 'NotFoundError');
    assertError(await api(l, 'GET', objectPath(), undefined, { who: stranger }), 404, 'NotFoundError');
    assertError(
      await api(l, 'GET', `/v1/buckets/${bucketId}`, undefined, { who: stranger }),
      404,
      'NotFoundError',
    );
    // And the same id under another bucket of the tenant is a 404 too.
    const other = await bucket(l);
    assertError(await api(l, 'GET', `/v1/buckets/${other}/syncs/${syncId}`), 404, 'NotFoundError');
  });
});
