// Mixpeek's per-sync fields doing what Mixpeek documents, on the real stack with local folders:
// batch_collection_ids (a sync's batches run only the named collections of its bucket, by id or name;
// downstream collections of those still follow; PATCH changes the set for the next batches) and
// sync_from (only files modified after it are ingested). sync_concurrency: sync-concurrency.test.ts.
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { eventually, http, idleAfter, waitForSync, writeFiles, bucketWithFolder } from '../helpers';
import { stack, type Stack } from '../setup/stack';

async function collection(s: Stack, body: Record<string, unknown>): Promise<string> {
  const r = await http(s, 'POST', '/v1/collections', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.collection_id as string;
}

async function documentCount(s: Stack, collectionId: string): Promise<number> {
  const r = await http(s, 'POST', `/v1/collections/${collectionId}/documents/list?limit=1000`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.results.filter((d: { status: string }) => d.status === 'COMPLETED').length;
}

describe('Mixpeek’s sync fields on the real stack: batch_collection_ids, sync_from', function () {
  this.timeout(180_000);
  let s: Stack;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
  });

  it('processes into the named collection (by name) and its downstream one only; PATCH widens it', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, {
      'a.txt': 'alpha',
      'b.txt': 'beta',
    });
    const tag = Math.random().toString(36).slice(2, 8);
    const named = await collection(s, {
      collection_name: `named-${tag}`,
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [{ step: 'file_metadata' }],
    });
    const other = await collection(s, {
      collection_name: `other-${tag}`,
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [{ step: 'file_metadata' }],
    });
    const downstream = await collection(s, {
      collection_name: `down-${tag}`,
      source: { type: 'collection', collection_ids: [named] },
      pipeline: [{ step: 'file_metadata' }],
    });
    const r = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: '/',
      polling_interval_seconds: 3600,
      batch_collection_ids: [`named-${tag}`],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.batch_collection_ids, [named], 'names are resolved to ids');
    const id = r.body.sync_config_id as string;
    await waitForSync(s, bucketId, id, idleAfter(1), 90_000);
    assert.ok(await eventually(async () => (await documentCount(s, downstream)) === 2, 60_000));
    assert.equal(await documentCount(s, named), 2);
    assert.equal(await documentCount(s, other), 0, 'the collection not named got nothing');

    const p = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${id}`, {
      batch_collection_ids: [named, other],
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual(p.body.batch_collection_ids, [named, other]);
    writeFiles(folder, { 'c.txt': 'gamma' });
    const t = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${id}/trigger`);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    await waitForSync(s, bucketId, id, (x) => idleAfter(2)(x) && x.total_files_synced === 3, 90_000);
    assert.ok(await eventually(async () => (await documentCount(s, other)) === 1, 60_000), 'c.txt only');
    assert.ok(await eventually(async () => (await documentCount(s, named)) === 3, 60_000));

    const bad = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${id}`, {
      batch_collection_ids: ['nope'],
    });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.error.details.issues[0].loc, ['body', 'batch_collection_ids', 0]);
  });

  it('sync_from skips the backlog: only files modified after it become objects', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, {
      'old/report.txt': 'from 2020',
      'new/report.txt': 'from now',
    });
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(path.join(folder, 'old/report.txt'), old, old);
    const r = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: '/',
      polling_interval_seconds: 3600,
      sync_from: '2024-01-01T00:00:00Z',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.sync_from, '2024-01-01T00:00:00Z');
    const done = await waitForSync(s, bucketId, r.body.sync_config_id, idleAfter(1), 90_000);
    assert.equal(done.total_files_synced, 1);
    const objects = await http(s, 'POST', `/v1/buckets/${bucketId}/objects/list`, {});
    assert.deepEqual(
      objects.body.results.map(
        (o: { blobs: { details: { filename: string } }[] }) => o.blobs[0].details.filename,
      ),
      ['report.txt'],
    );
    const stored = await s.store.objects.find({ bucket_id: bucketId }).toArray();
    assert.deepEqual(
      stored.map((o) => o.source_object_id),
      ['new/report.txt'],
    );
  });
});
