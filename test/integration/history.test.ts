// History hygiene and determinism: a 20,000-file pass keeps every workflow run under 2,000 history
// events (continue-as-new carries the pass), and recorded histories replay on the current code.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { bucketWithFolder, createSync, http, waitForSync } from '../helpers';
import { lane, PROJECT_ROOT, stack, workflowBundle, type Stack } from '../setup/stack';
import { workflowSinks } from '../../worker/tracing';

const FIXTURES = path.join(PROJECT_ROOT, 'test/fixtures/histories');

describe('workflow history', function () {
  this.timeout(600_000);
  let s: Stack;
  let connection: Connection;
  let client: Client;

  before(async function () {
    this.timeout(300_000);
    // Its own database and worker: 20,000 objects would slow the other tests' FerretDB lookups.
    s = await lane(await stack(), {});
    connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
  });
  after(() => connection?.close());

  async function runsOf(workflowId: string) {
    const runs: { runId: string; historyLength: number }[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      runs.push({ runId: wf.runId, historyLength: wf.historyLength });
    return runs;
  }

  let recorded: { workflowId: string; history: unknown }[] = [];

  it('a 20,000-file pass stays under 2,000 events in every workflow run', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20_000; i++) files[`h${i % 50}/f-${String(i).padStart(6, '0')}`] = `h${i}`;
    const { bucketId, connectionId } = await bucketWithFolder(s, files);
    const syncId = await createSync(s, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    const st = await waitForSync(s, bucketId, syncId, (x) => x.status === 'COMPLETED', 500_000);
    assert.equal(st.total_files_synced, 20_000);
    assert.equal(await s.store.objects.countDocuments({ sync_config_id: syncId }), 20_000);

    const workflowId = `sync-${syncId}`;
    let runs = await runsOf(workflowId);
    for (let i = 0; i < 50 && runs.some((r) => r.historyLength === 0); i++) {
      await new Promise((r) => setTimeout(r, 200));
      runs = await runsOf(workflowId);
    }
    const lengths: number[] = [];
    recorded = [];
    for (const r of runs) {
      const history = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
      lengths.push(history.events?.length ?? 0);
      recorded.push({ workflowId, history });
    }
    process.stdout.write(`      ${runs.length} workflow runs, events per run: ${lengths.join(', ')}\n`);
    assert.ok(runs.length >= 2, 'the 200-page pass continued as new at least once');
    assert.ok(
      lengths.every((n) => n > 0 && n < 2000),
      `events per run: ${lengths.join(', ')}`,
    );
  });

  it('replays the histories just recorded and the committed ones without nondeterminism', async () => {
    // A small sync that sees every signal, so its histories exercise every handler.
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'a', 'b/c.txt': 'c' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(s, bucketId, syncId, (x) => x.last_sync_at && x.next_sync_at);
    const base = `/v1/buckets/${bucketId}/syncs/${syncId}`;
    await http(s, 'POST', `${base}/trigger?full_sync=true`);
    await waitForSync(s, bucketId, syncId, (x) => x.sync_run_counter === 2 && x.next_sync_at);
    await http(s, 'PATCH', base, { polling_interval_seconds: 120 });
    await http(s, 'POST', `${base}/pause`, { reason: 'replay' });
    await waitForSync(s, bucketId, syncId, (x) => x.status === 'SUSPENDED');
    await http(s, 'POST', `${base}/resume`);
    await waitForSync(s, bucketId, syncId, (x) => x.sync_run_counter === 3 && x.next_sync_at);
    const small: { workflowId: string; history: unknown }[] = [];
    for (const r of await runsOf(`sync-${syncId}`)) {
      const history = await client.workflow.getHandle(`sync-${syncId}`, r.runId).fetchHistory();
      small.push({ workflowId: `sync-${syncId}`, history });
    }
    if (process.env.RECORD_HISTORIES) {
      for (const [i, h] of small.entries())
        writeFileSync(path.join(FIXTURES, `signals-${i}.json`), JSON.stringify(h.history));
    }
    recorded.push(...small);

    const committed = existsSync(FIXTURES)
      ? readdirSync(FIXTURES)
          .filter((f) => f.endsWith('.json'))
          .map((f) => ({
            workflowId: f.replace(/\.json$/, ''),
            // Saved with JSON.stringify (protobuf toJSON); fromObject turns it back into a History.
            history: temporal.api.history.v1.History.fromObject(
              JSON.parse(readFileSync(path.join(FIXTURES, f), 'utf8')),
            ),
          }))
      : [];
    assert.ok(
      committed.length > 0 || process.env.RECORD_HISTORIES,
      'committed histories exist under test/fixtures/histories',
    );
    const all = [...committed, ...recorded];
    assert.ok(recorded.length > 0);
    const results = Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), sinks: workflowSinks(null) },
      all,
    );
    let replayed = 0;
    for await (const r of results) {
      assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
      replayed++;
    }
    assert.equal(replayed, all.length);
  });
});
