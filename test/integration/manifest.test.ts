// The sync's manifest (core/manifest.ts, store/seen-files.ts) on real servers: a pass that changes
// nothing reads no object and scans nothing; changes, additions and deletions cost what they are;
// a full_sync still verifies every file against its object.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Collection } from 'mongodb';
import { bucketWithFolder, createSync, http, idleAfter, waitForSync } from '../helpers';
import { lane, stack, type Lane } from '../setup/stack';
import type { Store } from '../../store';
import { countBucket } from '../../store/bucket-stats';

const files = (n: number) =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`d${i % 3}/f${String(i).padStart(3, '0')}.txt`, `body ${i}`]),
  );

/** Counts what the worker asks of the objects collection while a pass runs. */
function watchObjectReads(store: Store) {
  const looked: string[] = [];
  const scans: unknown[] = [];
  const lookupByIds = store.lookupByIds.bind(store);
  store.lookupByIds = (async (coll: Collection<any>, ids: readonly string[], projection?: any) => {
    if (coll === store.objects) looked.push(...ids);
    return lookupByIds(coll, ids, projection);
  }) as Store['lookupByIds'];
  const find = store.objects.find.bind(store.objects);
  store.objects.find = ((filter: any, ...rest: any[]) => {
    // lookupByIds' own `_id` queries are counted above; anything else is a query over the objects.
    if (!filter || !('_id' in filter)) scans.push(filter);
    return (find as any)(filter, ...rest);
  }) as any;
  const aggregate = store.objects.aggregate.bind(store.objects);
  store.objects.aggregate = ((pipeline: any, ...rest: any[]) => {
    scans.push(pipeline);
    return (aggregate as any)(pipeline, ...rest);
  }) as any;
  return {
    looked,
    scans,
    restore() {
      store.lookupByIds = lookupByIds;
      store.objects.find = find;
      store.objects.aggregate = aggregate;
    },
  };
}

describe('sync manifest: passes cost what changed', function () {
  this.timeout(180_000);
  let l: Lane;

  before(async function () {
    this.timeout(300_000);
    l = await lane(await stack(), { SYNC_PAGE_SIZE: '10' });
  });

  const trigger = async (bucketId: string, syncId: string, full = false) => {
    const r = await http(
      l,
      'POST',
      `/v1/buckets/${bucketId}/syncs/${syncId}/trigger${full ? '?full_sync=true' : ''}`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  const sourceIds = async (syncId: string) =>
    (await l.store.objects.find({ sync_config_id: syncId }).toArray()).map((o) => o.source_object_id).sort();

  it('no change: no object read, no scan; then only the changed files are read, and deletes need no scan', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(l, files(45));
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(l, bucketId, syncId, idleAfter(1));
    assert.equal((await sourceIds(syncId)).length, 45);

    // Pass 2 (5 pages): nothing changed.
    let watch = watchObjectReads(l.store);
    try {
      await trigger(bucketId, syncId);
      const st = await waitForSync(l, bucketId, syncId, idleAfter(2));
      assert.equal(st.total_files_synced, 45);
      assert.deepEqual(watch.looked, [], 'a pass that changed nothing reads no object');
      assert.deepEqual(watch.scans, [], 'and does not query the objects collection');
    } finally {
      watch.restore();
    }

    // Pass 3: one changed (a new size: a new version), one deleted, one added.
    writeFileSync(path.join(folder, 'd0/f000.txt'), 'a longer second version');
    rmSync(path.join(folder, 'd1/f001.txt'));
    writeFileSync(path.join(folder, 'd2/new.txt'), 'new file');
    watch = watchObjectReads(l.store);
    try {
      await trigger(bucketId, syncId);
      await waitForSync(l, bucketId, syncId, idleAfter(3));
      assert.deepEqual(
        [...new Set(watch.looked)].length,
        3,
        `only the changed, the new and the deleted file's objects are read: ${watch.looked.length}`,
      );
      assert.deepEqual(
        watch.scans,
        [],
        'the sweep found the deleted file, and the bucket counts came, without a query over the objects',
      );
    } finally {
      watch.restore();
    }
    const ids = await sourceIds(syncId);
    assert.equal(ids.length, 45);
    assert.ok(!ids.includes('d1/f001.txt'), 'the deleted file lost its object');
    assert.ok(ids.includes('d2/new.txt'));
    const changed = await l.store.objects.findOne({
      sync_config_id: syncId,
      source_object_id: 'd0/f000.txt',
    });
    assert.equal(changed!.blobs[0].details.size_bytes, 'a longer second version'.length);
    await sameCountsAsRecount(bucketId, 45);
    const runs = await l.store.runs.find({ sync_config_id: syncId }).sort({ started_at: -1 }).toArray();
    assert.equal(runs[0].objects_deleted, 1);
    assert.equal(runs[0].files_synced, 1, 'the new file (the changed one is an update)');
  });

  it('an object deleted through the API comes back with the next full pass (full_sync verifies every file)', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(l, files(12));
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(l, bucketId, syncId, idleAfter(1));
    const victim = await l.store.objects.findOne({ sync_config_id: syncId, source_object_id: 'd1/f004.txt' });
    const del = await http(l, 'DELETE', `/v1/buckets/${bucketId}/objects/${victim!.object_id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal((await sourceIds(syncId)).length, 11);
    await trigger(bucketId, syncId, true);
    await waitForSync(l, bucketId, syncId, idleAfter(2));
    const ids = await sourceIds(syncId);
    assert.equal(ids.length, 12);
    assert.ok(ids.includes('d1/f004.txt'));
    await sameCountsAsRecount(bucketId, 12);
    // The full pass's sweep scanned (it verifies); the manifest it leaves serves the next pass.
    const watch = watchObjectReads(l.store);
    try {
      await trigger(bucketId, syncId);
      await waitForSync(l, bucketId, syncId, idleAfter(3));
      assert.deepEqual(watch.looked, []);
    } finally {
      watch.restore();
    }
  });

  /** The bucket's stored counts (GET bucket) are what a recount of its objects gives. */
  async function sameCountsAsRecount(bucketId: string, objects: number) {
    const counted = await countBucket(l.store, bucketId);
    assert.equal(counted.object_count, objects);
    const got = await http(l, 'GET', `/v1/buckets/${bucketId}`);
    assert.equal(got.status, 200);
    assert.deepEqual(
      [got.body.object_count, got.body.total_size_bytes],
      [counted.object_count, counted.total_size_bytes],
    );
  }
});
