// Buckets and objects over HTTP on the real servers: every endpoint's success and error paths.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { bucketListModel, bucketModel, deleteModel, listModel, objectModel } from '../../api/responses';
import { stack, type Stack } from '../setup/stack';
import {
  api,
  assertError,
  assertModel,
  bucket,
  localConnection,
  sync,
  tenant,
  until,
  type Who,
} from './api-helpers';

describe('API: buckets', function () {
  this.timeout(120_000);
  let s: Stack;
  let own: Who; // a namespace of its own, so lists are exact

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    own = await tenant(s, 'api-buckets-org', 'lists');
  });

  it('creates a bucket with the contract’s defaults', async () => {
    const r = await api(s, 'POST', '/v1/buckets', { bucket_name: 'media' });
    assert.equal(r.status, 200, r.text);
    assertModel(bucketModel, r.body);
    assert.match(r.body.bucket_id, /^bkt_/);
    assert.equal(r.body.bucket_name, 'media');
    assert.equal(r.body.description, null);
    assert.equal(r.body.bucket_schema, null);
    assert.deepEqual(r.body.metadata, {});
    assert.equal(r.body.namespace_id, s.namespaceId);
    assert.equal(r.body._id, undefined);
    const full = await api(s, 'POST', '/v1/buckets', {
      bucket_name: 'full',
      description: 'd',
      bucket_schema: { properties: { title: { type: 'text' } } },
      metadata: { team: 'data', nested: { a: [1, 2] } },
    });
    assert.equal(full.status, 200, full.text);
    assert.deepEqual(full.body.metadata, { team: 'data', nested: { a: [1, 2] } });
  });

  it('refuses bad create bodies with 422 naming the field', async () => {
    assertError(await api(s, 'POST', '/v1/buckets', {}), 422, 'ValidationError', ['body', 'bucket_name']);
    assertError(await api(s, 'POST', '/v1/buckets', { bucket_name: '' }), 422, 'ValidationError', [
      'body',
      'bucket_name',
    ]);
    assertError(await api(s, 'POST', '/v1/buckets', { bucket_name: 'x'.repeat(101) }), 422, undefined, [
      'body',
      'bucket_name',
    ]);
    assertError(await api(s, 'POST', '/v1/buckets', { bucket_name: 'x', color: 'red' }), 422, undefined, [
      'body',
      'color',
    ]);
    const meta = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
    assertError(await api(s, 'POST', '/v1/buckets', { bucket_name: 'x', metadata: meta }), 422, undefined, [
      'body',
      'metadata',
    ]);
  });

  it('lists with GET and POST /list: pagination, cursor, include_total, filter', async () => {
    const names = ['l-a', 'l-b', 'l-c'];
    for (const n of names) await bucket(s, own, n);
    const all = await api(s, 'GET', '/v1/buckets?include_total=true', undefined, { who: own });
    assert.equal(all.status, 200, all.text);
    assertModel(bucketListModel, all.body);
    assert.equal(all.body.total, 3);
    assert.equal(all.body.total_count, 3);
    assert.equal(all.body.pagination.total, 3);
    assert.equal(all.body.pagination.total_pages, 1);
    assert.deepEqual(all.body.results.map((b: any) => b.bucket_name).sort(), names);

    const p1 = await api(s, 'POST', '/v1/buckets/list?limit=2', {}, { who: own });
    assert.equal(p1.status, 200, p1.text);
    assert.equal(p1.body.results.length, 2);
    assert.equal(p1.body.total, 3, 'total is always counted (Mixpeek’s clients need an integer)');
    assert.equal(p1.body.total_count, 3);
    assert.equal(p1.body.pagination.page, 1);
    assert.equal(p1.body.pagination.page_size, 2);
    assert.equal(p1.body.pagination.next_page, '2');
    assert.equal(p1.body.pagination.previous_page, null);
    assert.equal(typeof p1.body.pagination.next_cursor, 'string');
    const p2 = await api(
      s,
      'POST',
      `/v1/buckets/list?limit=2&cursor=${p1.body.pagination.next_cursor}`,
      undefined,
      {
        who: own,
      },
    );
    assert.equal(p2.status, 200, p2.text);
    assert.equal(p2.body.results.length, 1);
    assert.equal(p2.body.pagination.next_cursor, null);
    const seen = [...p1.body.results, ...p2.body.results].map((b: any) => b.bucket_name).sort();
    assert.deepEqual(seen, names);
    const off = await api(s, 'GET', '/v1/buckets?limit=2&offset=2&include_total=1', undefined, { who: own });
    assert.equal(off.body.pagination.page, 2);
    assert.equal(off.body.pagination.previous_page, '1');
    assert.equal(off.body.pagination.next_page, null);

    const one = await api(s, 'POST', '/v1/buckets/list', { bucket_name: 'l-b' }, { who: own });
    assert.deepEqual(
      one.body.results.map((b: any) => b.bucket_name),
      ['l-b'],
    );
    assertError(await api(s, 'POST', '/v1/buckets/list', { nope: 1 }, { who: own }), 422, undefined, [
      'body',
      'nope',
    ]);
  });

  it('gets, patches and 404s', async () => {
    const id = await bucket(s);
    const g = await api(s, 'GET', `/v1/buckets/${id}`);
    assert.equal(g.status, 200);
    assertModel(bucketModel, g.body);
    assertError(await api(s, 'GET', '/v1/buckets/bkt_missing'), 404, 'NotFoundError');

    await new Promise((r) => setTimeout(r, 5));
    const p = await api(s, 'PATCH', `/v1/buckets/${id}`, {
      bucket_name: 'renamed',
      description: 'now described',
      metadata: { v: 2 },
    });
    assert.equal(p.status, 200, p.text);
    assertModel(bucketModel, p.body);
    assert.equal(p.body.bucket_name, 'renamed');
    assert.equal(p.body.description, 'now described');
    assert.deepEqual(p.body.metadata, { v: 2 });
    assert.ok(p.body.updated_at > g.body.updated_at);
    assert.equal(p.body.created_at, g.body.created_at);
    const p2 = await api(s, 'PATCH', `/v1/buckets/${id}`, { description: null });
    assert.equal(p2.body.description, null);
    assert.equal(p2.body.bucket_name, 'renamed');

    assertError(await api(s, 'PATCH', `/v1/buckets/${id}`, {}), 422, 'ValidationError', ['body']);
    assertError(await api(s, 'PATCH', `/v1/buckets/${id}`, { bucket_id: 'bkt_x' }), 422, undefined, [
      'body',
      'bucket_id',
    ]);
    assertError(await api(s, 'PATCH', `/v1/buckets/${id}`, { bucket_name: 5 }), 422, undefined, [
      'body',
      'bucket_name',
    ]);
    assertError(await api(s, 'PATCH', '/v1/buckets/bkt_missing', { description: 'x' }), 404, 'NotFoundError');
  });

  it('DELETE refuses while syncs exist (409), then removes the bucket with its objects and blobs', async () => {
    const id = await bucket(s);
    const { connectionId } = await localConnection(s, { 'a.txt': 'a', 'sub/b.txt': 'b' });
    const syncId = await sync(s, id, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    await until(s, id, syncId, (x) => x.status === 'COMPLETED');
    const objs = await s.store.objects.find({ bucket_id: id }).toArray();
    assert.equal(objs.length, 2);
    const blobFiles = objs.map((o) =>
      path.join(s.env.BLOB_DIR, ...String(o.blobs[0].properties.storage_key).split('/')),
    );
    assert.ok(blobFiles.every((f) => existsSync(f)));
    const manual = await api(s, 'POST', `/v1/buckets/${id}/objects`, { metadata: { by: 'api' } });
    assert.equal(manual.status, 200);

    const refused = await api(s, 'DELETE', `/v1/buckets/${id}`);
    assertError(refused, 409, 'ConflictError');
    assert.deepEqual(refused.body.error.details.sync_config_ids, [syncId]);
    assert.equal((await api(s, 'GET', `/v1/buckets/${id}`)).status, 200, 'still there after a refusal');

    assert.equal((await api(s, 'DELETE', `/v1/buckets/${id}/syncs/${syncId}`)).status, 200);
    const del = await api(s, 'DELETE', `/v1/buckets/${id}`);
    assert.equal(del.status, 200, del.text);
    assertModel(deleteModel, del.body);
    assert.match(del.body.message, /3 object/);
    assertError(await api(s, 'GET', `/v1/buckets/${id}`), 404, 'NotFoundError');
    assert.equal(await s.store.objects.countDocuments({ bucket_id: id }), 0);
    assert.ok(
      blobFiles.every((f) => !existsSync(f)),
      'blobs removed',
    );
    assertError(await api(s, 'DELETE', `/v1/buckets/${id}`), 404, 'NotFoundError');
    assertError(await api(s, 'GET', `/v1/buckets/${id}/objects/${manual.body.object_id}`), 404);
  });
});

describe('API: objects', function () {
  this.timeout(120_000);
  let s: Stack;
  let bucketId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
  });

  it('registers an object without a sync; its `_id` is its object_id (an `_id` lookup) and never shown', async () => {
    const r = await api(s, 'POST', `/v1/buckets/${bucketId}/objects`, {
      key_prefix: '/videos',
      blobs: [
        {
          property: 'content',
          type: 'text',
          data: 'hello',
          details: { filename: 'hello.txt', mime_type: 'text/plain', size_bytes: 5 },
        },
        { property: 'thumb', type: 'image', data: 'https://example.com/t.png' },
      ],
      metadata: { title: 'Hello', tags: ['a', 'b'] },
    });
    assert.equal(r.status, 200, r.text);
    assertModel(objectModel, r.body);
    assert.match(r.body.object_id, /^obj_/);
    assert.equal(r.body._id, undefined);
    assert.equal(r.body.bucket_id, bucketId);
    assert.equal(r.body.key_prefix, '/videos');
    assert.equal(r.body.status, 'COMPLETED');
    assert.equal(r.body.blobs.length, 2);
    assert.match(r.body.blobs[0].blob_id, /^blob_/);
    assert.deepEqual(r.body.blobs[0].properties, { value: 'hello' });
    assert.deepEqual(r.body.blobs[0].details, {
      filename: 'hello.txt',
      size_bytes: 5,
      mime_type: 'text/plain',
      hash: null,
    });
    assert.equal(r.body.blobs[1].key_prefix, '/videos');
    assert.deepEqual(r.body.source_details, [{ type: 'direct_upsert', source_id: r.body.object_id }]);
    const stored = await s.store.objects.findOne({ object_id: r.body.object_id });
    assert.equal(stored?._id, r.body.object_id);
    assert.ok(!('_id' in r.body));

    const empty = await api(s, 'POST', `/v1/buckets/${bucketId}/objects`, {});
    assert.equal(empty.status, 200, empty.text);
    assert.equal(empty.body.key_prefix, '/');
    assert.deepEqual(empty.body.blobs, []);
    assert.deepEqual(empty.body.metadata, {});
    const none = await api(s, 'POST', `/v1/buckets/${bucketId}/objects`);
    assertError(none, 422, 'ValidationError', ['body']);
  });

  it('gets, lists (GET and POST /list with filters) and deletes objects', async () => {
    const b = await bucket(s);
    const ids: string[] = [];
    for (const kp of ['/a', '/a/b', '/c']) {
      const r = await api(s, 'POST', `/v1/buckets/${b}/objects`, { key_prefix: kp });
      assert.equal(r.status, 200);
      ids.push(r.body.object_id);
    }
    const g = await api(s, 'GET', `/v1/buckets/${b}/objects/${ids[0]}`);
    assert.equal(g.status, 200);
    assertModel(objectModel, g.body);
    assert.equal(g.body.object_id, ids[0]);
    assert.equal(g.body.document_count, 0, 'no collection made documents of it');
    const bare = await api(s, 'GET', `/v1/buckets/${b}/objects/${ids[0]}?include_document_count=false`);
    assert.equal(bare.body.document_count, undefined);
    const presigned = await api(s, 'GET', `/v1/buckets/${b}/objects/${ids[0]}?return_presigned_urls=true`);
    assertError(presigned, 422, 'ValidationError', ['query', 'return_presigned_urls']);
    // The counts are a snapshot, recounted shortly after API writes (store/bucket-stats.ts).
    const before = Date.now();
    let stats = await api(s, 'GET', `/v1/buckets/${b}`);
    while (stats.body.object_count !== 3 && Date.now() - before < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await api(s, 'GET', `/v1/buckets/${b}`);
    }
    assert.deepEqual([stats.body.object_count, stats.body.total_size_bytes], [3, 0]);
    assert.ok(
      Date.parse(stats.body.stats_updated_at) >= before - 1000,
      'stats_updated_at is when they were counted',
    );

    const all = await api(s, 'GET', `/v1/buckets/${b}/objects?include_total=true`);
    assert.equal(all.status, 200, all.text);
    assertModel(listModel(objectModel, 'O'), all.body);
    assert.equal(all.body.total, 3);
    assert.ok(
      all.body.results.every(
        (o: any) => o._id === undefined && o.source_object_id === undefined && o.source_provider === 'api',
      ),
    );
    const a = await api(s, 'POST', `/v1/buckets/${b}/objects/list`, { key_prefix: '/a' });
    assert.deepEqual(a.body.results.map((o: any) => o.key_prefix).sort(), ['/a', '/a/b']);
    const st = await api(s, 'POST', `/v1/buckets/${b}/objects/list?limit=1`, { status: 'completed' });
    assert.equal(st.body.results.length, 1);
    assert.equal(st.body.pagination.next_page, '2');
    const regexy = await api(s, 'POST', `/v1/buckets/${b}/objects/list`, { key_prefix: '/a.*(' });
    assert.equal(regexy.status, 200);
    assert.equal(regexy.body.results.length, 0);

    const d = await api(s, 'DELETE', `/v1/buckets/${b}/objects/${ids[0]}`);
    assert.equal(d.status, 200, d.text);
    assertModel(deleteModel, d.body);
    assertError(await api(s, 'GET', `/v1/buckets/${b}/objects/${ids[0]}`), 404, 'NotFoundError');
    assertError(await api(s, 'DELETE', `/v1/buckets/${b}/objects/${ids[0]}`), 404, 'NotFoundError');
    assert.equal((await api(s, 'GET', `/v1/buckets/${b}/objects?include_total=true`)).body.total, 2);
    // An object id from another bucket of the same tenant is not found through this one.
    assertError(await api(s, 'GET', `/v1/buckets/${bucketId}/objects/${ids[1]}`), 404);
  });

  it('validates object bodies and answers 404 for unknown buckets', async () => {
    const base = `/v1/buckets/${bucketId}/objects`;
    assertError(await api(s, 'POST', base, { blobs: [{ property: 'x', type: 'nope' }] }), 422, undefined, [
      'body',
      'blobs',
      0,
      'type',
    ]);
    assertError(await api(s, 'POST', base, { blobs: [{ type: 'text' }] }), 422, undefined, [
      'body',
      'blobs',
      0,
      'property',
    ]);
    assertError(await api(s, 'POST', base, { blobs: {} }), 422, undefined, ['body', 'blobs']);
    assertError(await api(s, 'POST', base, { object_id: 'obj_mine' }), 422, undefined, ['body', 'object_id']);
    assertError(await api(s, 'POST', base, { metadata: { 'a.b': 1 } }), 422, undefined, [
      'body',
      'metadata',
      'a.b',
    ]);
    assertError(await api(s, 'POST', `${base}/list`, { status: 'weird' }), 422, undefined, [
      'body',
      'status',
    ]);
    for (const [m, p] of [
      ['POST', '/v1/buckets/bkt_missing/objects'],
      ['GET', '/v1/buckets/bkt_missing/objects'],
      ['POST', '/v1/buckets/bkt_missing/objects/list'],
      ['GET', '/v1/buckets/bkt_missing/objects/obj_x'],
      ['DELETE', '/v1/buckets/bkt_missing/objects/obj_x'],
    ])
      assertError(await api(s, m, p, m === 'POST' ? {} : undefined), 404, 'NotFoundError');
  });

  it('lists a sync’s objects by sync_config_id, and deleting one removes its blob', async () => {
    const b = await bucket(s);
    const { connectionId } = await localConnection(s, { 'x.txt': 'x', 'y/z.txt': 'z' });
    const syncId = await sync(s, b, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    await until(s, b, syncId, (x) => x.status === 'COMPLETED');
    const l = await api(s, 'POST', `/v1/buckets/${b}/objects/list`, { sync_config_id: syncId });
    assert.equal(l.body.results.length, 2);
    const o = l.body.results.find((x: any) => x.key_prefix === '/y');
    assert.ok(o, JSON.stringify(l.body.results));
    const file = path.join(s.env.BLOB_DIR, ...String(o.blobs[0].properties.storage_key).split('/'));
    assert.ok(existsSync(file));
    assert.equal((await api(s, 'DELETE', `/v1/buckets/${b}/objects/${o.object_id}`)).status, 200);
    assert.ok(!existsSync(file));
    const left = await api(s, 'POST', `/v1/buckets/${b}/objects/list?include_total=true`, {
      sync_config_id: syncId,
    });
    assert.equal(left.body.total, 1);
    await api(s, 'DELETE', `/v1/buckets/${b}/syncs/${syncId}`);
  });
});
