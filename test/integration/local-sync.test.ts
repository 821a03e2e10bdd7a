// End to end on real servers: HTTP -> Temporal workflow -> activities -> FerretDB, over a folder.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { eventually, http } from '../helpers';
import { stack, type Stack } from '../setup/stack';

function writeFiles(root: string, files: Record<string, string>) {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}

describe('local folder sync, end to end', function () {
  this.timeout(120_000);
  let s: Stack;
  let folder: string;
  let bucketId: string;
  let connectionId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    folder = mkdtempSync(path.join(s.tmp, 'src-'));
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `local-${path.basename(folder)}`,
      provider_type: 'local',
      provider_config: { root: folder },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    connectionId = conn.body.connection_id;
  });

  const objectsOf = (syncId: string) => s.store.objects.find({ sync_config_id: syncId }).toArray();

  it('turns every file into exactly one object, picks up a later file on trigger, never duplicates', async () => {
    const files: Record<string, string> = {};
    // 250 files over nested folders with a page size of 100: three pages, cursor carried between them.
    for (let i = 0; i < 250; i++) files[`d${i % 7}/sub ${i % 3}/file-${i}.txt`] = `content ${i}`;
    files['ünïcødé name.txt'] = 'unicode';
    writeFiles(folder, files);

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'continuous',
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;
    assert.match(syncId, /^sync_/);
    assert.equal(created.body.status, 'PENDING');
    assert.equal(created.body.polling_interval_seconds, 900);
    assert.equal(created.body.batch_size, 50);

    const total = Object.keys(files).length;
    const synced = await eventually(async () => {
      const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
      return g.body.total_files_synced === total && g.body.last_sync_at ? g.body : null;
    }, 60_000);
    assert.ok(synced, 'first pass did not finish');
    assert.equal(synced.status, 'ACTIVE');
    assert.equal(synced.total_files_discovered, total);
    assert.equal(synced.sync_run_counter, 1);
    assert.ok(synced.next_sync_at, 'next_sync_at set while waiting');
    assert.equal(synced.per_shard_last_sync_at.default, synced.last_sync_at);

    // The Web UI and `temporal workflow list --query` find the workflow by our search attributes.
    const connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
      const listed = await eventually(async () => {
        const ids: string[] = [];
        const query = `SyncStatus = "ACTIVE" AND BucketId = "${bucketId}" AND SyncNamespaceId = "${s.namespaceId}"`;
        for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
        return ids.includes(`sync-${syncId}`) ? ids : null;
      });
      assert.ok(listed, 'workflow not found by search attributes');
    } finally {
      await connection.close();
    }

    let objects = await objectsOf(syncId);
    assert.equal(objects.length, total);
    assert.deepEqual(new Set(objects.map((o) => o.source_object_id)), new Set(Object.keys(files)));
    const uni = objects.find((o) => o.source_object_id === 'ünïcødé name.txt')!;
    assert.equal(uni.blobs[0].details.filename, 'ünïcødé name.txt');
    assert.equal(uni.blobs[0].details.mime_type, 'text/plain');
    assert.match(uni.object_id, /^obj_/);

    // No collection reads from this bucket: each page's batches are written submitted and complete,
    // with their tasks, and together they hold every object exactly once.
    const batches = await s.store.batches.find({ sync_config_id: syncId }).toArray();
    assert.ok(batches.length >= Math.ceil(total / 50), `${batches.length} batches`);
    const batchedIds = batches.flatMap((b) => b.object_ids);
    assert.equal(batchedIds.length, total);
    assert.deepEqual(new Set(batchedIds), new Set(objects.map((o) => o.object_id)));
    const tasks = await s.store.tasks.find({ batch_id: { $in: batches.map((b) => b.batch_id) } }).toArray();
    for (const b of batches) {
      assert.equal(b.status, 'COMPLETED', JSON.stringify(b));
      assert.ok(b.object_ids.length <= 50);
      const task = tasks.find((t) => t._id === b.task_id);
      assert.ok(task, `the task of ${b.batch_id}`);
      assert.deepEqual(b.task_ids, [task._id]);
      assert.equal(task.status, 'COMPLETED');
      assert.equal(task.additional_data.note, 'no collection reads from this bucket');
      assert.equal(task.inputs.object_count, b.object_ids.length);
    }

    // A file added later appears after a trigger (the poll interval is 15 minutes away).
    writeFiles(folder, { 'late/arrival.txt': 'late' });
    const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    assert.equal(trig.body.sync_config_id, syncId);
    const after = await eventually(async () => {
      const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
      return g.body.total_files_synced === total + 1 && g.body.sync_run_counter === 2 && !g.body.locked
        ? g.body
        : null;
    }, 60_000);
    assert.ok(after, 'the late file was not synced after a trigger');
    objects = await objectsOf(syncId);
    assert.equal(objects.length, total + 1);

    // A second trigger: a full pass over the same files creates nothing new.
    const again = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
    assert.equal(again.status, 200);
    const third = await eventually(async () => {
      const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
      return g.body.sync_run_counter === 3 && !g.body.locked && g.body.last_sync_at ? g.body : null;
    }, 60_000);
    assert.ok(third, 'third run did not finish');
    assert.equal(third.total_files_synced, total + 1);
    objects = await objectsOf(syncId);
    assert.equal(objects.length, total + 1);
    const keys = objects.map((o) => `${o.bucket_id}|${o.source_provider}|${o.source_object_id}`);
    assert.equal(new Set(keys).size, keys.length, 'duplicate idempotency keys');
  });

  it('pauses and resumes through signals, and the state shows it', async () => {
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: 'd1',
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200);
    const syncId = created.body.sync_config_id;
    await eventually(
      async () => (await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`)).body.last_sync_at,
    );

    const paused = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/pause`, {
      reason: 'maintenance',
    });
    assert.equal(paused.status, 200);
    const p = await eventually(async () => {
      const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
      return g.body.status === 'SUSPENDED' ? g.body : null;
    });
    assert.ok(p);
    assert.equal(p.paused, true);
    assert.equal(p.pause_reason, 'maintenance');
    assert.equal(p.is_active, false);

    // A trigger while paused runs nothing.
    writeFiles(folder, { 'd1/while-paused.txt': 'x' });
    await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      await s.store.objects.countDocuments({
        sync_config_id: syncId,
        source_object_id: 'd1/while-paused.txt',
      }),
      0,
    );

    const resumed = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/resume`);
    assert.equal(resumed.status, 200);
    const r = await eventually(
      async () =>
        (await s.store.objects.countDocuments({
          sync_config_id: syncId,
          source_object_id: 'd1/while-paused.txt',
        })) === 1,
    );
    assert.ok(r, 'the trigger remembered during the pause ran after resume');
    const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
    assert.equal(g.body.status, 'ACTIVE');
    assert.equal(g.body.paused, false);
  });

  it('initial_only: one full pass, then COMPLETED', async () => {
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: 'd2',
      sync_mode: 'initial_only',
    });
    assert.equal(created.status, 200);
    const syncId = created.body.sync_config_id;
    const done = await eventually(async () => {
      const g = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
      return g.body.status === 'COMPLETED' ? g.body : null;
    });
    assert.ok(done);
    const expected = await s.store.objects.countDocuments({ source_object_id: /^d2\// });
    assert.ok(expected > 0);
    assert.equal(done.total_files_synced, 0, 'd2 files were already in the bucket from the first sync');
    assert.equal(done.total_files_discovered, expected);
    assert.equal(done.next_sync_at, null);
  });
});
