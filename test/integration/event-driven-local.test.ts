// Event-driven syncs over a local folder (issue 14), on the real stack: the worker's filesystem
// watcher signals the sync's workflow, which runs targeted passes through the usual page activity.
// Every sync here polls every 900 s, so whatever arrives within seconds came through the feed.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stateQuery, workflowIdForSync, type SyncState } from '../../workflows/messages';
import { bucketWithFolder, eventually, getSync, http, waitForSync, writeFiles } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startFakeGcs } from '../providers/fixtures/gcs';

describe('event-driven local syncs (filesystem watcher)', function () {
  this.timeout(120_000);
  let s: Stack;
  let client: Client;
  let connection: Connection;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
  });
  after(async () => {
    await connection?.close();
  });

  const keysOf = async (syncId: string) =>
    (await s.store.objects.find({ sync_config_id: syncId }).toArray()).map((o) => o.source_object_id).sort();
  const liveState = (syncId: string) =>
    client.workflow.getHandle(workflowIdForSync(syncId)).query<SyncState>(stateQuery);
  /** Idle, and the watcher's catch-up pass (run 2) is done: from here on, changes come as events. */
  const listening = (x: { sync_run_counter: number; locked: boolean; next_sync_at: unknown }) =>
    x.sync_run_counter >= 2 && !x.locked && x.next_sync_at !== null;

  async function eventSync(files: Record<string, string> = {}) {
    const src = await bucketWithFolder(s, files);
    const created = await http(s, 'POST', `/v1/buckets/${src.bucketId}/syncs`, {
      connection_id: src.connectionId,
      source_path: '/',
      polling_interval_seconds: 900,
      event_driven: true,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.event_driven, true);
    assert.equal(created.body.event_feed.kind, 'filesystem');
    assert.equal(created.body.event_feed.receives_notifications, false);
    const syncId: string = created.body.sync_config_id;
    await waitForSync(s, src.bucketId, syncId, listening);
    return { ...src, syncId };
  }

  it('registers a new file, a folder moved in, a change, and deletes (file and folder) without a poll', async () => {
    const { folder, bucketId, syncId } = await eventSync({ 'a.txt': 'a' });
    assert.deepEqual(await keysOf(syncId), ['a.txt']);
    const runsBefore = (await getSync(s, bucketId, syncId)).sync_run_counter;

    writeFiles(folder, { 'new/b.txt': 'b' });
    assert.ok(await eventually(async () => (await keysOf(syncId)).includes('new/b.txt'), 20_000));

    // A folder built elsewhere and moved in whole: the watcher reports only the folder.
    const outside = mkdtempSync(path.join(s.tmp, 'outside-'));
    writeFiles(outside, { 'one.txt': '1', 'deep/two.txt': '2' });
    renameSync(outside, path.join(folder, 'moved'));
    assert.ok(
      await eventually(async () => {
        const k = await keysOf(syncId);
        return k.includes('moved/one.txt') && k.includes('moved/deep/two.txt');
      }, 20_000),
      `after the move: ${JSON.stringify(await keysOf(syncId))}`,
    );

    // A changed file: the same object, new bytes.
    const before = await s.store.objects.findOne({ sync_config_id: syncId, source_object_id: 'a.txt' });
    writeFileSync(path.join(folder, 'a.txt'), 'a, changed and longer');
    assert.ok(
      await eventually(async () => {
        const o = await s.store.objects.findOne({ sync_config_id: syncId, source_object_id: 'a.txt' });
        return o !== null && o.source_version !== before!.source_version;
      }, 20_000),
    );
    const after = await s.store.objects.findOne({ sync_config_id: syncId, source_object_id: 'a.txt' });
    assert.equal(after!.object_id, before!.object_id);

    // Deletes: a file, and a whole folder moved out (reconcile.on_delete).
    rmSync(path.join(folder, 'new/b.txt'));
    renameSync(path.join(folder, 'moved'), path.join(s.tmp, `gone-${syncId}`));
    assert.ok(
      await eventually(async () => {
        const k = await keysOf(syncId);
        return k.length === 1 && k[0] === 'a.txt';
      }, 20_000),
      `after the deletes: ${JSON.stringify(await keysOf(syncId))}`,
    );

    const sync = await waitForSync(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(sync.sync_run_counter > runsBefore, 'the events ran passes');
    assert.equal(sync.total_files_failed, 0);
    // The poll's schedule is untouched by the event passes: next_sync_at stays ~900 s after the last listing.
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, sync.next_sync_at);
  });

  it('coalesces a burst into a few passes, all files registered once', async () => {
    const { folder, bucketId, syncId } = await eventSync();
    const runsBefore = (await getSync(s, bucketId, syncId)).sync_run_counter;
    const burst: Record<string, string> = {};
    for (let i = 0; i < 300; i++) burst[`burst/f-${i}.txt`] = `file ${i}`;
    writeFiles(folder, burst);
    assert.ok(
      await eventually(async () => (await keysOf(syncId)).length === 300, 60_000),
      `registered ${(await keysOf(syncId)).length} of 300`,
    );
    const done = await waitForSync(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    const passes = done.sync_run_counter - runsBefore;
    // 600 events (more than MAX_ANNOUNCED_KEYS) in well under a second: a handful of signals, so a
    // handful of passes, never one per file.
    assert.ok(passes >= 1 && passes <= 8, `${passes} passes for 300 files`);
    console.log(`      (300 files: ${passes} passes)`);
    assert.equal(done.total_files_synced, 300);
    const runs = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs?limit=100`);
    assert.equal(runs.status, 200);
    const synced = runs.body.results.reduce(
      (n: number, r: { files_synced: number }) => n + r.files_synced,
      0,
    );
    assert.equal(synced, 300, 'each file counted once across the passes');
  });

  it('remembers events while paused as one pending trigger, and runs it on resume', async () => {
    const { folder, bucketId, syncId } = await eventSync();
    const paused = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/pause`, {});
    assert.equal(paused.status, 200);
    const runsBefore = (await getSync(s, bucketId, syncId)).sync_run_counter;
    for (let i = 0; i < 5; i++) {
      writeFiles(folder, { [`p-${i}.txt`]: `p ${i}` });
      await new Promise((r) => setTimeout(r, 300)); // separate signals
    }
    const pending = await eventually(async () => {
      const st = await liveState(syncId);
      // A write can be one event or two (create, then change): wait for the five files, not a count.
      return st.announced && st.announced.keys.length >= 5 ? st : null;
    }, 10_000);
    assert.ok(pending, 'the announcements are pending in the workflow');
    assert.equal(pending.announced!.keys.length, 5);
    assert.ok(pending.announced!.count >= 5, 'every event counted');
    assert.equal(pending.pass, null, 'no pass while paused');
    assert.deepEqual(await keysOf(syncId), []);
    assert.equal((await getSync(s, bucketId, syncId)).sync_run_counter, runsBefore);

    const resumed = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/resume`);
    assert.equal(resumed.status, 200);
    assert.ok(await eventually(async () => (await keysOf(syncId)).length === 5, 20_000));
    const done = await waitForSync(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.equal(done.sync_run_counter, runsBefore + 1, 'five events while paused: one pass after resume');
  });

  it('PATCH switches a sync to events and back with one field', async () => {
    const src = await bucketWithFolder(s, { 'x.txt': 'x' });
    const created = await http(s, 'POST', `/v1/buckets/${src.bucketId}/syncs`, {
      connection_id: src.connectionId,
      source_path: '/',
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.event_driven, false);
    assert.equal(created.body.event_feed, null);
    const syncId: string = created.body.sync_config_id;
    await waitForSync(
      s,
      src.bucketId,
      syncId,
      (x) => x.sync_run_counter >= 1 && !x.locked && !!x.next_sync_at,
    );

    const on = await http(s, 'PATCH', `/v1/buckets/${src.bucketId}/syncs/${syncId}`, { event_driven: true });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.event_driven, true);
    assert.equal(on.body.event_feed.kind, 'filesystem');
    await waitForSync(s, src.bucketId, syncId, listening);
    writeFiles(src.folder, { 'y.txt': 'y' });
    assert.ok(await eventually(async () => (await keysOf(syncId)).includes('y.txt'), 20_000));

    const off = await http(s, 'PATCH', `/v1/buckets/${src.bucketId}/syncs/${syncId}`, {
      event_driven: false,
    });
    assert.equal(off.status, 200);
    assert.equal(off.body.event_driven, false);
    assert.equal(off.body.event_feed, null);
    await new Promise((r) => setTimeout(r, 4_500)); // the feed manager's next round stops the watcher
    writeFiles(src.folder, { 'z.txt': 'z' });
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual(await keysOf(syncId), ['x.txt', 'y.txt'], 'polling only again');
  });

  it('422 names event_driven for a provider without a change feed, and for initial_only', async () => {
    // A real gcs source (fake-gcs-server): sync create tests source_path with the provider.
    const gcs = await startFakeGcs();
    after(() => gcs.stop());
    await gcs.client.createBucket('no-feed-source');
    await gcs.client.bucket('no-feed-source').file('p/a.txt').save('a', { resumable: false });
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'no-feed' });
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `gcs-no-feed-${Date.now()}`,
      provider_type: 'gcs',
      provider_config: { endpoint_url: gcs.url },
      test_before_save: false,
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const bad = await http(s, 'POST', `/v1/buckets/${bucket.body.bucket_id}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: 'no-feed-source/p',
      event_driven: true,
    });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.error.details.issues[0].loc, ['body', 'event_driven']);
    assert.match(bad.body.error.details.issues[0].msg, /gcs has no change feed/);
    assert.equal(await s.store.syncs.countDocuments({ bucket_id: bucket.body.bucket_id }), 0);

    // PATCH on such a sync: the same 422, nothing changed.
    const plain = await http(s, 'POST', `/v1/buckets/${bucket.body.bucket_id}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: 'no-feed-source/p',
      polling_interval_seconds: 900,
    });
    assert.equal(plain.status, 200);
    const patch = await http(
      s,
      'PATCH',
      `/v1/buckets/${bucket.body.bucket_id}/syncs/${plain.body.sync_config_id}`,
      {
        event_driven: true,
      },
    );
    assert.equal(patch.status, 422);
    assert.deepEqual(patch.body.error.details.issues[0].loc, ['body', 'event_driven']);
    const still = await getSync(s, bucket.body.bucket_id, plain.body.sync_config_id);
    assert.equal(still.event_driven, false);
    await http(s, 'DELETE', `/v1/buckets/${bucket.body.bucket_id}/syncs/${plain.body.sync_config_id}`);

    const src = await bucketWithFolder(s);
    const once = await http(s, 'POST', `/v1/buckets/${src.bucketId}/syncs`, {
      connection_id: src.connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
      event_driven: true,
    });
    assert.equal(once.status, 422);
    assert.deepEqual(once.body.error.details.issues[0].loc, ['body', 'event_driven']);

    const wrongType = await http(s, 'POST', `/v1/buckets/${src.bucketId}/syncs`, {
      connection_id: src.connectionId,
      source_path: '/',
      event_driven: 'yes',
    });
    assert.equal(wrongType.status, 422);
    assert.deepEqual(wrongType.body.error.details.issues[0].loc, ['body', 'event_driven']);
  });

  it('shows event_driven in the OpenAPI document', async () => {
    const doc: any = await fetch(`${s.apiUrl}/openapi.json`).then((r) => r.json());
    const schemas = doc.components.schemas;
    assert.equal(schemas.SyncCreateRequest.properties.event_driven.type, 'boolean');
    assert.equal(schemas.SyncUpdateRequest.properties.event_driven.type, 'boolean');
    assert.ok(schemas.SyncConfigurationModel.properties.event_feed);
  });
});
