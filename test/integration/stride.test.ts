// Strides (core/stride.ts) on the real stack: with SYNC_STRIDE_MS on, one syncPage activity applies
// several pages. The objects, the totals and the run records are what one page per activity gives,
// max_objects_per_run still cuts a run where it should, and the workflow's history holds one activity
// per stride instead of one per page.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bucketWithFolder, createSync, http, idleAfter, waitForSync } from '../helpers';
import { lane, stack, type Lane } from '../setup/stack';

const files = (n: number) =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`d${i % 3}/f${String(i).padStart(3, '0')}.txt`, `body ${i}`]),
  );

describe('strides: several pages per syncPage activity', function () {
  this.timeout(180_000);
  let l: Lane;
  let connection: Connection;
  let client: Client;

  before(async function () {
    this.timeout(300_000);
    // 10 files a page; a stride lasts as long as a pass here, so a call only stops where it must.
    l = await lane(await stack(), { SYNC_PAGE_SIZE: '10', SYNC_STRIDE_MS: '60000' });
    connection = await Connection.connect({ address: l.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: l.env.TEMPORAL_NAMESPACE });
  });
  after(async () => {
    await connection?.close();
    await l?.close();
  });

  /** The syncPage activities scheduled in every run of the sync's workflow. */
  async function syncPageCalls(syncId: string): Promise<number> {
    let calls = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId = "sync-${syncId}"` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      for (const e of history.events ?? [])
        if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncPage') calls++;
    }
    return calls;
  }

  const sourceIds = async (syncId: string) =>
    (await l.store.objects.find({ sync_config_id: syncId }).toArray()).map((o) => o.source_object_id).sort();

  it('a 5-page pass is one activity; totals, objects and the next passes are as page by page', async () => {
    const { folder, bucketId, connectionId } = await bucketWithFolder(l, files(45));
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    const st = await waitForSync(l, bucketId, syncId, idleAfter(1));
    assert.equal(st.total_files_discovered, 45);
    assert.equal(st.total_files_synced, 45);
    assert.equal((await sourceIds(syncId)).length, 45);
    assert.equal(await syncPageCalls(syncId), 1, 'the five pages of the first pass went in one call');
    const [first] = await l.store.runs.find({ sync_config_id: syncId }).toArray();
    assert.equal(first.files_synced, 45);
    assert.equal(first.files_discovered, 45);

    // A pass that changes one file, deletes one and adds one: one more call, the same outcome as
    // the manifest test gets page by page.
    writeFileSync(path.join(folder, 'd0/f000.txt'), 'a longer second version');
    rmSync(path.join(folder, 'd1/f001.txt'));
    writeFileSync(path.join(folder, 'd2/new.txt'), 'new file');
    const r = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const st2 = await waitForSync(l, bucketId, syncId, idleAfter(2));
    assert.equal(st2.total_files_synced, 46, 'the new file (the changed one is an update)');
    const ids = await sourceIds(syncId);
    assert.equal(ids.length, 45);
    assert.ok(!ids.includes('d1/f001.txt'), 'the deleted file lost its object');
    assert.ok(ids.includes('d2/new.txt'));
    const changed = await l.store.objects.findOne({
      sync_config_id: syncId,
      source_object_id: 'd0/f000.txt',
    });
    assert.equal(changed!.blobs[0].details.size_bytes, 'a longer second version'.length);
    assert.equal(await syncPageCalls(syncId), 2);
    const runs = await l.store.runs.find({ sync_config_id: syncId }).sort({ started_at: -1 }).toArray();
    assert.equal(runs[0].objects_deleted, 1);
    assert.equal(runs[0].files_discovered, 45);
  });

  it('max_objects_per_run ends a stride where the run is cut, and the next run goes on from there', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(l, files(45));
    const syncId = await createSync(l, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      max_objects_per_run: 15,
    });
    // Each run creates 15 (a page of 10 and one cut to 5) and stops; a trigger runs the next.
    let st = await waitForSync(l, bucketId, syncId, idleAfter(1));
    assert.equal(st.total_files_synced, 15);
    for (const run of [2, 3]) {
      const r = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      st = await waitForSync(l, bucketId, syncId, idleAfter(run));
      assert.equal(st.total_files_synced, 15 * run);
    }
    assert.equal((await sourceIds(syncId)).length, 45);
    const runs = await l.store.runs.find({ sync_config_id: syncId }).sort({ started_at: 1 }).toArray();
    assert.deepEqual(
      runs.slice(0, 3).map((x) => x.files_synced),
      [15, 15, 15],
      'each run created exactly max_objects_per_run',
    );
  });
});
