// The sync engine's promises, each on real servers (Temporal dev server + FerretDB) over HTTP.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  bucketWithFolder,
  createSync,
  eventually,
  getSync,
  http,
  idleAfter,
  waitForSync,
  writeFiles,
} from '../helpers';
import { stack, type Stack } from '../setup/stack';

const many = (n: number, prefix = 'f') =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      `${prefix}${String(i).padStart(4, '0')}.txt`,
      `${prefix} body ${i}`,
    ]),
  );

describe('sync engine', function () {
  this.timeout(180_000);
  let s: Stack;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
  });

  const objects = (syncId: string) => s.store.objects.find({ sync_config_id: syncId }).toArray();
  const trigger = async (bucketId: string, syncId: string, full = false) => {
    const r = await http(
      s,
      'POST',
      `/v1/buckets/${bucketId}/syncs/${syncId}/trigger${full ? '?full_sync=true' : ''}`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };

  it('reconcile: a deleted file deletes its object, a changed file updates it, filter drift removes objects', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, {
      'keep.txt': 'keep',
      'gone.txt': 'gone',
      'change.txt': 'v1',
      'img/photo.jpg': 'jpeg bytes',
    });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    let objs = await objects(syncId);
    assert.equal(objs.length, 4);
    const changedBefore = objs.find((o) => o.source_object_id === 'change.txt')!;

    rmSync(path.join(folder, 'gone.txt'));
    // A new mtime and size: a new version.
    writeFileSync(path.join(folder, 'change.txt'), 'version two');
    await trigger(bucketId, syncId);
    await waitForSync(s, bucketId, syncId, idleAfter(2));
    objs = await objects(syncId);
    assert.deepEqual(objs.map((o) => o.source_object_id).sort(), ['change.txt', 'img/photo.jpg', 'keep.txt']);
    const changedAfter = objs.find((o) => o.source_object_id === 'change.txt')!;
    assert.equal(changedAfter.object_id, changedBefore.object_id, 'an update keeps the object');
    assert.notEqual(changedAfter.content_hash, changedBefore.content_hash);
    assert.equal(changedAfter.blobs[0].details.size_bytes, 'version two'.length);

    // Narrow the filters: the .txt objects drift out and are removed (on_filter_drift defaults to true).
    const patch = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, {
      file_filters: { include_patterns: ['*.jpg'] },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    await trigger(bucketId, syncId);
    await waitForSync(s, bucketId, syncId, idleAfter(3));
    objs = await objects(syncId);
    assert.deepEqual(
      objs.map((o) => o.source_object_id),
      ['img/photo.jpg'],
    );

    const runs = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`);
    assert.equal(runs.status, 200);
    assert.equal(runs.body.results.length, 3);
    assert.ok(runs.body.results.every((r: any) => r.status === 'COMPLETED' && r.provider_type === 'local'));
    assert.equal(runs.body.results.at(-1).files_synced, 4, 'oldest run last; it created the 4 objects');
  });

  it('on_delete false keeps objects of deleted files; a run cut by max_objects_per_run deletes nothing', async () => {
    const files = many(30);
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, files);
    const keep = await createSync(s, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      reconcile: { on_delete: false },
      skip_duplicates: false,
    });
    await waitForSync(s, bucketId, keep, idleAfter(1));
    rmSync(path.join(folder, 'f0000.txt'));
    await trigger(bucketId, keep);
    await waitForSync(s, bucketId, keep, idleAfter(2));
    assert.equal((await objects(keep)).length, 30);

    // A capped sync over a second folder: each run creates at most 10 objects.
    const b = await bucketWithFolder(s, many(25, 'c'));
    const capped = await createSync(s, b.bucketId, {
      connection_id: b.connectionId,
      source_path: '/',
      max_objects_per_run: 10,
    });
    let st = await waitForSync(s, b.bucketId, capped, idleAfter(1));
    assert.equal((await objects(capped)).length, 10);
    assert.equal(st.total_files_synced, 10);
    assert.equal(st.sync_checkpoints.default.completed_at, null, 'the pass is not complete');
    assert.ok(st.resume_cursor, 'resume cursor kept for the next run');
    rmSync(path.join(b.folder, 'c0000.txt')); // already synced; must survive the partial pass
    await trigger(b.bucketId, capped);
    st = await waitForSync(s, b.bucketId, capped, idleAfter(2));
    assert.equal(st.total_files_synced, 20);
    await trigger(b.bucketId, capped);
    st = await waitForSync(s, b.bucketId, capped, idleAfter(3));
    const runs = await s.store.runs.find({ sync_config_id: capped }).sort({ started_at: 1 }).toArray();
    assert.deepEqual(
      runs.map((r) => r.files_synced),
      [10, 10, 5],
      JSON.stringify(runs),
    );
    assert.equal(st.total_files_synced, 25, 'every file was synced once, over three runs');
    assert.equal(
      st.sync_checkpoints.default.completed_at !== null,
      true,
      'the pass completed in the third run',
    );
    const ids = (await objects(capped)).map((o) => o.source_object_id);
    assert.equal(ids.length, 25, 'c0000 kept: the pass was cut along the way, so it deletes nothing');
    assert.ok(ids.includes('c0000.txt'));
  });

  it('skip_duplicates: a file whose content the bucket already holds is skipped', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, {
      'a.txt': 'same bytes',
      'copy/a-copy.txt': 'same bytes',
      'b.txt': 'other bytes',
    });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    const st = await waitForSync(s, bucketId, syncId, idleAfter(1));
    const objs = await objects(syncId);
    assert.equal(objs.length, 2);
    assert.equal(st.total_files_synced, 2);
    assert.equal(st.total_files_discovered, 3);
    assert.equal(st.total_bytes_synced, 'same bytes'.length + 'other bytes'.length);
  });

  it('failed files go to the DLQ, are retried by later runs, FAILED after 3 attempts, and can be re-queued', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, {
      'ok-1.txt': '1',
      'ok-2.txt': '2',
      'bad.txt': 'no id in the name',
    });
    const syncId = await createSync(s, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      schema_mapping: {
        mappings: {
          doc_id: {
            target_type: 'field',
            source: { type: 'filename_regex', pattern: '^ok-(\\d+)' },
            required: true,
          },
          origin: { target_type: 'field', source: { type: 'constant', value: 'folder' } },
        },
      },
    });
    let st = await waitForSync(s, bucketId, syncId, idleAfter(1));
    const objs = await objects(syncId);
    assert.equal(objs.length, 2);
    assert.deepEqual(objs.map((o) => o.metadata.doc_id).sort(), ['1', '2']);
    assert.equal(objs[0].metadata.origin, 'folder');
    let dlq = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`);
    assert.equal(dlq.body.results.length, 1);
    assert.equal(dlq.body.results[0].source_object_id, 'bad.txt');
    assert.equal(dlq.body.results[0].attempts, 1);
    assert.equal(dlq.body.results[0].status, 'PENDING');
    assert.match(dlq.body.results[0].last_error, /required field doc_id is missing/);
    assert.equal(st.total_files_failed, 0);

    for (const run of [2, 3]) {
      await trigger(bucketId, syncId);
      st = await waitForSync(s, bucketId, syncId, idleAfter(run));
    }
    dlq = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`);
    assert.equal(dlq.body.results[0].attempts, 3);
    assert.equal(dlq.body.results[0].status, 'FAILED');
    assert.equal(st.total_files_failed, 1, 'counted once, when it failed for good');
    const runs = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`);
    assert.equal(runs.body.results[0].status, 'COMPLETED_WITH_ERRORS');

    // A 4th run does not try it again.
    await trigger(bucketId, syncId);
    st = await waitForSync(s, bucketId, syncId, idleAfter(4));
    dlq = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`);
    assert.equal(dlq.body.results[0].attempts, 3);
    assert.equal(st.total_files_failed, 1);

    // Fix the file (rename it so the mapping finds an id), re-queue, and it syncs.
    rmSync(path.join(folder, 'bad.txt'));
    writeFiles(folder, { 'ok-3.txt': '3' });
    const retry = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq/retry`, {});
    assert.equal(retry.status, 200);
    assert.equal(retry.body.requeued, 1);
    await trigger(bucketId, syncId);
    await waitForSync(s, bucketId, syncId, idleAfter(5));
    assert.equal((await objects(syncId)).length, 3);
    dlq = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`);
    assert.equal(dlq.body.results.length, 0, 'the entry of a file that is gone is dropped after a full pass');
  });

  it('failing runs count consecutive_failures, auto-suspend at 5, and resume clears it', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, { 'sub/a.txt': 'a' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: 'sub' });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    rmSync(path.join(folder, 'sub'), { recursive: true });
    let st;
    for (let run = 2; run <= 5; run++) {
      await trigger(bucketId, syncId);
      st = await waitForSync(
        s,
        bucketId,
        syncId,
        (x) => x.consecutive_failures === run - 1 && x.next_sync_at !== null,
      );
      assert.equal(st.status, 'ACTIVE');
      assert.match(st.last_error, /not found/);
    }
    await trigger(bucketId, syncId);
    st = await waitForSync(s, bucketId, syncId, (x) => x.status === 'SUSPENDED');
    assert.equal(st.consecutive_failures, 5);
    assert.equal(st.paused, true);
    assert.match(st.pause_reason, /auto-suspended after 5 consecutive failures/);
    assert.equal(st.is_active, false);
    // The live state (read from the workflow right after this API signalled it) turns SUSPENDED
    // as the 5th run fails; that run's record is written by the activity that follows.
    const failedRuns = async () =>
      (await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`)).body.results.filter(
        (r: any) => r.status === 'FAILED',
      ).length;
    await eventually(async () => (await failedRuns()) >= 5, 10_000);
    assert.equal(await failedRuns(), 5);

    writeFiles(folder, { 'sub/b.txt': 'b' });
    const resumed = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/resume`);
    assert.equal(resumed.status, 200);
    st = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => x.status === 'ACTIVE' && x.consecutive_failures === 0 && x.last_error === null,
    );
    assert.equal(st.paused, false);
    await waitForSync(s, bucketId, syncId, (x) => x.total_files_synced === 2);
  });

  it('a config change applies at once: a shorter polling interval re-times the current wait', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'x.txt': 'x' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    const st = await waitForSync(s, bucketId, syncId, idleAfter(1));
    const before = Date.parse(st.next_sync_at);
    assert.ok(before - Date.parse(st.last_sync_at) > 800_000, 'first wait is 900 s');
    const patch = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, {
      polling_interval_seconds: 60,
    });
    assert.equal(patch.status, 200);
    assert.equal(patch.body.polling_interval_seconds, 60);
    const after = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => Date.parse(x.next_sync_at) < before - 600_000 && x.schedule.interval_seconds === 60,
    );
    assert.ok(Date.parse(after.schedule.next_run_at) < before - 600_000, 'the stored schedule follows');
    assert.equal(after.sync_run_counter, 1, 'no run was started by the change');
  });

  it('50 concurrent triggers: one run at a time, no duplicate objects', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, many(300));
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        http(
          s,
          'POST',
          `/v1/buckets/${bucketId}/syncs/${syncId}/trigger${i % 5 === 0 ? '?full_sync=true' : ''}`,
        ),
      ),
    );
    assert.ok(results.every((r) => r.status === 200));
    const st = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => !x.locked && x.next_sync_at !== null && x.sync_run_counter >= 2,
    );
    const objs = await objects(syncId);
    assert.equal(
      st.total_files_synced,
      300,
      JSON.stringify(await s.store.runs.find({ sync_config_id: syncId }).toArray()),
    );
    assert.equal(objs.length, 300);
    assert.equal(new Set(objs.map((o) => o.source_object_id)).size, 300);
    const runs = await s.store.runs.find({ sync_config_id: syncId }).sort({ started_at: 1 }).toArray();
    assert.equal(runs.length, st.sync_run_counter);
    // Triggers that land while a run holds the lock coalesce into one next run. How many runs 50
    // triggers make depends on how fast a pass is against how spread out the requests arrive (a
    // 300-file pass now takes about as long as the burst), so the bound is loose: far fewer runs
    // than triggers (without coalescing there would be one run per trigger).
    assert.ok(
      runs.length >= 1 && runs.length < 25,
      `triggers coalesce while a run holds the lock (${runs.length} runs)`,
    );
    for (let i = 1; i < runs.length; i++)
      assert.ok(runs[i].started_at >= runs[i - 1].finished_at, 'runs never overlap');
  });

  it('force-unlock restarts a terminated workflow from the MongoDB checkpoint', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, many(40));
    const syncId = await createSync(s, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      max_objects_per_run: 15,
    });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    const connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
      await client.workflow.getHandle(`sync-${syncId}`).terminate('operator test');
      const asked = Date.now();
      const unlock = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/force-unlock`);
      assert.equal(unlock.status, 200, JSON.stringify(unlock.body));
      // Unlocked, or already locked again by the restarted execution continuing the pass (on an
      // idle machine it often takes the lock before the answer is read): never a lock from before.
      if (unlock.body.locked)
        assert.ok(
          Date.parse(unlock.body.locked_at) >= asked,
          `a lock from before the force-unlock: ${JSON.stringify(unlock.body)}`,
        );
      const desc = await client.workflow.getHandle(`sync-${syncId}`).describe();
      assert.equal(desc.status.name, 'RUNNING', 'a new execution was started');
    } finally {
      await connection.close();
    }
    // The restarted workflow continues the pass from the checkpoint cursor (15 more, capped), and a
    // trigger runs the rest: 40 objects, each counted once.
    await waitForSync(s, bucketId, syncId, (x) => x.total_files_synced >= 30 && !x.locked && x.next_sync_at);
    await trigger(bucketId, syncId);
    const st = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => x.total_files_synced === 40 && !x.locked && x.next_sync_at,
    );
    assert.equal(
      (await objects(syncId)).length,
      40,
      'continued from the checkpoint cursor, nothing duplicated',
    );
    assert.equal(st.total_files_discovered, 40);
  });

  it('deleting a sync stops its workflow and keeps its objects', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'a' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    const del = await http(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${syncId}`);
    assert.equal(del.status, 200);
    assert.equal(del.body.success, true);
    const connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
      const desc = await client.workflow.getHandle(`sync-${syncId}`).describe();
      assert.notEqual(desc.status.name, 'RUNNING');
    } finally {
      await connection.close();
    }
    assert.equal((await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`)).status, 404);
    assert.equal((await objects(syncId)).length, 1);
    void getSync;
  });
});
