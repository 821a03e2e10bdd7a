// API reads that hold up under load: authentication cached for AUTH_CACHE_SECONDS (a revoked key
// stops working within that), GET sync served from the MongoDB projection (the workflow asked only
// right after a signal), one-item reads as `_id` lookups (documents stored the old way still found),
// and bucket DELETE that does not look for objects in a bucket that cannot have any.
import assert from 'node:assert/strict';
import { ObjectId } from 'mongodb';
import { revokeApiKey } from '../../api/auth';
import { serializeSync } from '../../api/routes/syncs';
import { SyncControl } from '../../api/sync-control';
import type { BucketDoc, ObjectDoc } from '../../store';
import { stack, type Stack } from '../setup/stack';
import { api, assertError, bucket, localConnection, sync, tenant, until } from './api-helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API reads', function () {
  this.timeout(120_000);
  let s: Stack;
  let who: Awaited<ReturnType<typeof tenant>>;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    who = await tenant(s, 'api-reads-org', 'reads');
  });

  it('a revoked API key answers 401 within AUTH_CACHE_SECONDS (polled)', async () => {
    const ttlS = s.env.AUTH_CACHE_SECONDS;
    assert.ok(ttlS > 0, 'the suite runs with the auth cache on');
    const t = await tenant(s, 'api-reads-revoke', 'ns');
    assert.equal((await api(s, 'GET', '/v1/buckets', undefined, { who: t })).status, 200);
    assert.ok(await revokeApiKey(s.store, t.key));
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < (ttlS + 5) * 1000) {
      await sleep(250);
      status = (await api(s, 'GET', '/v1/buckets', undefined, { who: t })).status;
    }
    assert.equal(status, 401, `still accepted ${ttlS + 5} s after it was revoked`);
    assertError(await api(s, 'GET', '/v1/buckets', undefined, { who: t }), 401, 'AuthenticationError');
    // A new key works at once (misses are not cached), and unknown namespaces stay 404.
    const again = await tenant(s, 'api-reads-revoke', 'ns');
    assert.equal((await api(s, 'GET', '/v1/buckets', undefined, { who: again })).status, 200);
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { who: { key: again.key, ns: 'ns_nope' } }),
      404,
      'NotFoundError',
    );
  });

  describe('GET sync from the projection', () => {
    let control: SyncControl;
    let bucketId: string;
    let syncId: string;
    const path = () => `/v1/buckets/${bucketId}/syncs/${syncId}`;

    before(async function () {
      this.timeout(120_000);
      control = await SyncControl.connect(s.env.TEMPORAL_ADDRESS, s.env.TEMPORAL_NAMESPACE, s.env.TASK_QUEUE);
      bucketId = await bucket(s, who);
      const { connectionId } = await localConnection(s, { 'a.txt': 'a', 'b/c.txt': 'c' }, { who });
      syncId = await sync(s, bucketId, { connection_id: connectionId, source_path: '/' }, who);
      await until(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at, {
        who,
      });
    });
    after(async () => {
      await control?.close();
    });

    it('answers the same fields as the stored config merged with the live state', async () => {
      const r = await api(s, 'GET', path(), undefined, { who });
      assert.equal(r.status, 200, r.text);
      const doc = (await s.store.syncs.findOne({ sync_config_id: syncId }))!;
      const live = await control.state(syncId);
      assert.ok(live, 'the workflow answers');
      const before = JSON.parse(JSON.stringify(serializeSync(doc, live)));
      assert.deepEqual(r.body, before);
      assert.equal(r.body.total_files_synced, 2);
      assert.equal(r.body.status, 'ACTIVE');
    });

    it('reads the projection, not the workflow (a value only the projection holds shows)', async () => {
      await s.store.syncs.updateOne({ sync_config_id: syncId }, { $set: { consecutive_failures: 7 } });
      try {
        const live = await control.state(syncId);
        assert.equal(live?.consecutiveFailures, 0);
        const r = await api(s, 'GET', path(), undefined, { who });
        assert.equal(r.body.consecutive_failures, 7);
      } finally {
        await s.store.syncs.updateOne({ sync_config_id: syncId }, { $set: { consecutive_failures: 0 } });
      }
    });

    it('shows a pause and a resume at once (live state until the projection has them)', async () => {
      const p = await api(s, 'POST', `${path()}/pause`, { reason: 'reads test' }, { who });
      assert.equal(p.status, 200, p.text);
      const g = await api(s, 'GET', path(), undefined, { who });
      assert.equal(g.body.paused, true);
      assert.equal(g.body.status, 'SUSPENDED');
      assert.equal(g.body.pause_reason, 'reads test');
      const r = await api(s, 'POST', `${path()}/resume`, undefined, { who });
      assert.equal(r.status, 200, r.text);
      const g2 = await api(s, 'GET', path(), undefined, { who });
      assert.equal(g2.body.paused, false);
      assert.equal(g2.body.status, 'ACTIVE');
      // The workflow records the resume; then the projection says the same.
      const settled = await until(s, bucketId, syncId, (x) => x.paused === false && x.next_sync_at, { who });
      const doc = await s.store.syncs.findOne({ sync_config_id: syncId });
      assert.equal(doc?.paused, false);
      assert.equal(settled.pause_reason, null);
    });
  });

  it('stores buckets, syncs and objects under their public ids; GETs are _id lookups', async () => {
    const b = await bucket(s, who);
    const doc = await s.store.buckets.findOne({ bucket_id: b });
    assert.equal(doc?._id, b);
    const { connectionId } = await localConnection(s, { 'x.txt': 'x', 'y/z.txt': 'z' }, { who });
    const syncId = await sync(
      s,
      b,
      { connection_id: connectionId, source_path: '/', sync_mode: 'initial_only' },
      who,
    );
    assert.equal((await s.store.syncs.findOne({ sync_config_id: syncId }))?._id, syncId);
    await until(s, b, syncId, (x) => x.total_files_synced === 2 && !x.locked, { who });
    const objects = await s.store.objects.find({ bucket_id: b }).toArray();
    assert.equal(objects.length, 2);
    for (const o of objects) {
      assert.equal(o.object_id, o._id);
      const r = await api(s, 'GET', `/v1/buckets/${b}/objects/${o.object_id}`, undefined, { who });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.object_id, o.object_id);
    }
    // Another bucket of the tenant does not see them; an unknown derived id is a 404.
    const other = await bucket(s, who);
    assertError(
      await api(s, 'GET', `/v1/buckets/${other}/objects/${objects[0].object_id}`, undefined, { who }),
      404,
      'NotFoundError',
    );
    assertError(
      await api(s, 'GET', `/v1/buckets/${b}/objects/obj_${'0'.repeat(24)}`, undefined, { who }),
      404,
      'NotFoundError',
    );
    // A batch of synced objects: found by derived keys.
    const batch = await api(
      s,
      'POST',
      `/v1/buckets/${b}/batches`,
      { object_ids: objects.map((o) => o.object_id) },
      {
        who,
      },
    );
    assert.equal(batch.status, 200, batch.text);
    const stored = await s.store.batches.findOne({ _id: batch.body.batch_id });
    assert.deepEqual([...stored!.object_keys].sort(), objects.map((o) => o._id).sort());
  });

  it('GETs under a bucket check it from a cache (one document read each), still per tenant', async () => {
    const b = await bucket(s, who);
    const { connectionId } = await localConnection(s, { 'a.txt': 'a' }, { who });
    const syncId = await sync(
      s,
      b,
      { connection_id: connectionId, source_path: '/', sync_mode: 'initial_only' },
      who,
    );
    await until(s, b, syncId, (x) => x.total_files_synced === 1 && !x.locked, { who });
    const [obj] = await s.store.objects.find({ bucket_id: b }).toArray();
    const paths = [`/v1/buckets/${b}/syncs/${syncId}`, `/v1/buckets/${b}/objects/${obj.object_id}`];
    for (const p of paths) assert.equal((await api(s, 'GET', p, undefined, { who })).status, 200);
    // Counted from here: the bucket's document is not read again within AUTH_CACHE_SECONDS.
    const reads: unknown[] = [];
    const findOne = s.store.buckets.findOne.bind(s.store.buckets);
    s.store.buckets.findOne = ((filter: unknown, ...rest: unknown[]) => {
      reads.push(filter);
      return (findOne as any)(filter, ...rest);
    }) as any;
    try {
      for (let i = 0; i < 3; i++)
        for (const p of paths) assert.equal((await api(s, 'GET', p, undefined, { who })).status, 200);
      assert.deepEqual(reads, [], 'the bucket was checked from the cache');
      // Another tenant is not let in by what the first one cached.
      const stranger = await tenant(s, 'api-reads-stranger', 'ns');
      for (const p of paths)
        assertError(await api(s, 'GET', p, undefined, { who: stranger }), 404, 'NotFoundError');
    } finally {
      s.store.buckets.findOne = findOne;
    }
  });

  it('an unknown id is one `_id` lookup in a database created with public-id keys', async () => {
    assert.equal(s.store.keyedByPublicIds, true, 'the suite’s database was created empty');
    const b = await bucket(s, who);
    const filters: unknown[] = [];
    const spy = <T extends { findOne: unknown }>(coll: T) => {
      const findOne = (coll.findOne as (...a: unknown[]) => unknown).bind(coll);
      coll.findOne = (filter: unknown, ...rest: unknown[]) => {
        filters.push(filter);
        return findOne(filter, ...rest);
      };
      return () => {
        coll.findOne = findOne;
      };
    };
    const restore = [
      spy(s.store.objects),
      spy(s.store.buckets),
      spy(s.store.syncs),
      spy(s.store.collections),
    ];
    try {
      for (const p of [
        `/v1/buckets/${b}/objects/obj_doesnotexist`,
        `/v1/buckets/bkt_doesnotexist`,
        `/v1/buckets/${b}/syncs/sc_doesnotexist`,
        `/v1/collections/col_doesnotexist`,
      ])
        assertError(await api(s, 'GET', p, undefined, { who }), 404, 'NotFoundError');
    } finally {
      for (const r of restore) r();
    }
    assert.ok(filters.length >= 4, `looked up: ${JSON.stringify(filters)}`);
    for (const f of filters)
      assert.deepEqual(
        Object.keys(f as object),
        ['_id'],
        `a query that is not an _id lookup: ${JSON.stringify(f)}`,
      );
  });

  it('still finds documents stored the old way (ObjectId _id, random object ids)', async () => {
    // A database from before public-id keys (no store_meta marker): the fallback queries are on.
    s.store.keyedByPublicIds = false;
    try {
      await legacyReads();
    } finally {
      s.store.keyedByPublicIds = true;
    }
  });

  async function legacyReads() {
    const now = new Date();
    const bucketId = `bkt_legacy${Date.now().toString(16)}`;
    const legacyBucket: BucketDoc = {
      bucket_id: bucketId,
      internal_id: who.internal_id,
      namespace_id: who.ns,
      bucket_name: 'legacy',
      description: null,
      bucket_schema: null,
      metadata: {},
      created_at: now,
      updated_at: now,
    };
    await s.store.buckets.insertOne({ ...legacyBucket, _id: new ObjectId() as unknown as string });
    const g = await api(s, 'GET', `/v1/buckets/${bucketId}`, undefined, { who });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.bucket_id, bucketId);
    assert.ok(!('_id' in g.body));
    const objectId = 'obj_00legacy00legacy';
    const legacyObject: ObjectDoc = {
      _id: 'o_' + 'ab'.repeat(32),
      object_id: objectId,
      bucket_id: bucketId,
      internal_id: who.internal_id,
      namespace_id: who.ns,
      key_prefix: '/',
      blobs: [],
      source_details: [{ type: 'local', source_id: 'old.txt' }],
      metadata: {},
      status: 'COMPLETED',
      error: null,
      source_provider: 'local',
      source_object_id: 'old.txt',
      source_version: null,
      source_checksum: null,
      content_hash: null,
      sync_config_id: null,
      last_seen_pass_id: null,
      created_by_run_id: null,
      created_by_page: null,
      created_at: now,
      updated_at: now,
    };
    await s.store.objects.insertOne({ ...legacyObject });
    const o = await api(s, 'GET', `/v1/buckets/${bucketId}/objects/${objectId}`, undefined, { who });
    assert.equal(o.status, 200, o.text);
    assert.equal(o.body.object_id, objectId);
    const batch = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/batches`,
      { object_ids: [objectId] },
      { who },
    );
    assert.equal(batch.status, 200, batch.text);
    const p = await api(s, 'PATCH', `/v1/buckets/${bucketId}`, { description: 'patched' }, { who });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.description, 'patched');
    await s.store.objects.deleteOne({ _id: legacyObject._id });
    await s.store.batches.deleteOne({ _id: batch.body.batch_id });
  }

  it('DELETE of a bucket: an empty one at once; one with API-registered objects removes them', async () => {
    const empty = await bucket(s, who);
    const d = await api(s, 'DELETE', `/v1/buckets/${empty}`, undefined, { who });
    assert.equal(d.status, 200, d.text);
    assertError(await api(s, 'GET', `/v1/buckets/${empty}`, undefined, { who }), 404, 'NotFoundError');

    const b = await bucket(s, who);
    const o = await api(s, 'POST', `/v1/buckets/${b}/objects`, { metadata: { by: 'api' } }, { who });
    assert.equal(o.status, 200, o.text);
    const marked = await s.store.buckets.findOne({ _id: b });
    assert.equal(marked?.has_api_objects, true);
    const g = await api(s, 'GET', `/v1/buckets/${b}`, undefined, { who });
    assert.ok(!('has_api_objects' in g.body), 'the mark is not shown');
    const got = await api(s, 'GET', `/v1/buckets/${b}/objects/${o.body.object_id}`, undefined, { who });
    assert.equal(got.status, 200, got.text);
    const del = await api(s, 'DELETE', `/v1/buckets/${b}`, undefined, { who });
    assert.equal(del.status, 200, del.text);
    assert.match(del.body.message, /with its 1 object/);
    assert.equal(await s.store.objects.countDocuments({ bucket_id: b }), 0);
  });
});
