// Two worker processes on one task queue; the one running the sync's page is SIGKILLed mid-pass.
// Expect: the other finishes the pass, no page runs twice at once (no object fetched by two
// attempts at the same moment, through the proxy), and the invariants.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createSync, http, killProcess, startWorker, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, sleep, type S3Source } from './scenario';

const N = 800;

describe('chaos: two workers on one task queue, one killed', function () {
  this.timeout(900_000);
  let l: Lane;
  let src: S3Source;
  const workers = new Map<string, ChildProcess>();

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane({ SYNC_PAGE_SIZE: '50' }, { worker: false });
    src = await s3Source(l, N, { rate: 0.05, seed: 1308 });
  });
  after(async () => {
    for (const w of workers.values()) await killProcess(w);
    await src?.close();
    await l?.close();
  });

  it('the other worker finishes; no page runs twice at once', async () => {
    for (const id of ['chaos-a', 'chaos-b']) workers.set(id, startWorker(l, id));
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      sync_mode: 'initial_only',
    });
    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    while ((await count()) < N / 4) await sleep(50);
    const sync = await l.store.syncs.findOne({ sync_config_id: syncId });
    const victim = sync?.locked_by_worker_id as string;
    assert.ok(workers.has(victim), `the page runs on one of ours (${victim})`);
    const at = await count();
    await killProcess(workers.get(victim)!);
    workers.delete(victim);
    const survivor = [...workers.keys()][0];
    // The survivor takes the pass over (once the lost attempt's heartbeat times out).
    await waitForSync(l, src.bucketId, syncId, (x) => x.locked_by_worker_id === survivor, 300_000);
    await waitForSync(l, src.bucketId, syncId, (x) => x.status === 'COMPLETED', 600_000);
    assert.equal(src.proxy.overlaps, 0, 'no object fetched by two page attempts at once');
    const summary = await checkInvariants(l, src.expected(syncId));
    const runs = await http(l, 'GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}/runs`);
    assert.equal(runs.body.results.length, 1);
    process.stdout.write(`      killed ${victim} at ${at} objects; ${survivor} finished\n      ${summary}\n`);
  });
});
