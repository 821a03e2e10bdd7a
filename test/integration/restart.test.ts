// The API's restart path: a sync whose workflow an operator terminated is started again from its
// MongoDB projection, and the request that found it gone (resume, pause, trigger) makes the same
// transition the running workflow's handler would (core/sync-state.ts).
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { bucketWithFolder, createSync, getSync, http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';

describe('restart of a terminated sync workflow', function () {
  this.timeout(180_000);
  let s: Stack;
  let connection: Connection;
  let client: Client;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
  });
  after(() => connection?.close());

  async function terminated(syncId: string) {
    const h = client.workflow.getHandle(`sync-${syncId}`);
    await h.terminate('test: operator terminated it');
    assert.equal((await h.describe()).status.name, 'TERMINATED');
  }

  it('resume of an auto-suspended sync clears pause, pauser and failure count, as the workflow does', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'a' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    // Suspended (a query of the terminated workflow still answers its last state: paused), then the
    // workflow is gone, and the projection shows the system's auto-suspend after failures.
    const p = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/pause`, {});
    assert.equal(p.status, 200, JSON.stringify(p.body));
    await waitForSync(s, bucketId, syncId, (x) => x.status === 'SUSPENDED');
    await terminated(syncId);
    await s.store.syncs.updateOne(
      { sync_config_id: syncId },
      {
        $set: {
          paused: true,
          status: 'SUSPENDED',
          pause_reason: 'auto-suspended after 3 consecutive failures: boom',
          paused_at: new Date('2026-01-01T00:00:00Z'),
          paused_by_user_id: 'system',
          consecutive_failures: 3,
          last_error: 'boom',
        },
      },
    );

    const r = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/resume`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const desc = await client.workflow.getHandle(`sync-${syncId}`).describe();
    assert.equal(desc.status.name, 'RUNNING', 'resume started the workflow again');
    const live = await getSync(s, bucketId, syncId);
    assert.equal(live.paused, false);
    assert.equal(live.pause_reason, null);
    assert.equal(live.paused_at, null);
    assert.equal(live.paused_by_user_id, null);
    assert.equal(live.consecutive_failures, 0);
    assert.notEqual(live.status, 'SUSPENDED');
    // It runs again from the projection: the file synced before is not synced twice.
    const after = await waitForSync(s, bucketId, syncId, idleAfter(2));
    assert.equal(after.total_files_synced, 1);
  });

  it('pause and trigger of a terminated sync start it with the same transitions', async () => {
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'a', 'b.txt': 'b' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    const base = `/v1/buckets/${bucketId}/syncs/${syncId}`;

    await terminated(syncId);
    const p = await http(s, 'POST', `${base}/pause`, { reason: 'maintenance' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const paused = await waitForSync(s, bucketId, syncId, (x) => x.status === 'SUSPENDED');
    assert.equal(paused.pause_reason, 'maintenance');
    assert.ok(paused.paused_at, 'paused_at set');

    await terminated(syncId);
    const r = await http(s, 'POST', `${base}/resume`);
    assert.equal(r.status, 200);
    // A started workflow begins with a run (the pass the pause held back).
    const resumed = await waitForSync(s, bucketId, syncId, (x) => x.status === 'ACTIVE' && idleAfter(2)(x));

    await terminated(syncId);
    const t = await http(s, 'POST', `${base}/trigger?full_sync=true`);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    // The trigger ran a full pass (the request reached the restarted workflow's state).
    const ran = await waitForSync(s, bucketId, syncId, idleAfter(resumed.sync_run_counter + 1));
    assert.equal(ran.total_files_synced, 2, 'a full pass registers nothing twice');
    assert.equal(ran.pending_full_sync, false);
    const runs = await s.store.runs.find({ sync_config_id: syncId }).sort({ started_at: -1 }).toArray();
    assert.equal(runs[0].full, true, 'the last run was a full pass');
  });
});
