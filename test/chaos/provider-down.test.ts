// The provider down (every connection to MinIO reset) for longer than the auto-suspend threshold
// (3 consecutive failed runs here) in the middle of a pass: the sync suspends itself with a
// pause_reason that says why; once the provider is back, resume finishes the pass from its
// checkpoint with nothing lost.
import assert from 'node:assert/strict';
import { createSync, http, idleAfter, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, sleep, type S3Source } from './scenario';

const N = 600;

describe('chaos: provider down longer than the auto-suspend threshold', function () {
  this.timeout(900_000);
  let l: Lane;
  let src: S3Source;

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane({ SYNC_PAGE_SIZE: '50', AUTO_SUSPEND_THRESHOLD: '3' });
    src = await s3Source(l, N);
  });
  after(async () => {
    await src?.close();
    await l?.close();
  });

  it('suspends with a clear pause_reason, and after resume completes with nothing lost', async () => {
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      polling_interval_seconds: 30,
    });
    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    while ((await count()) < 100) await sleep(50);
    src.proxy.down = true;
    const atDown = await count();
    // Failed runs wait for the polling interval; triggers start the next attempt at once.
    const path = `/v1/buckets/${src.bucketId}/syncs/${syncId}`;
    let st: any;
    const deadline = Date.now() + 600_000;
    for (;;) {
      st = (await http(l, 'GET', path)).body;
      if (st.status === 'SUSPENDED' || Date.now() > deadline) break;
      if (!st.locked) await http(l, 'POST', `${path}/trigger`);
      await sleep(1000);
    }
    assert.equal(st.status, 'SUSPENDED', JSON.stringify(st));
    assert.equal(st.paused, true);
    const reason: string = st.pause_reason;
    assert.match(st.pause_reason, /auto-suspended after 3 consecutive failures: .*s3:\/\/chaos/);
    assert.ok((await count()) < N, 'suspended mid-pass');
    const failedRuns = (await http(l, 'GET', `${path}/runs`)).body.results.filter(
      (r: any) => r.status === 'FAILED',
    );
    assert.equal(failedRuns.length, 3, 'three failed runs');

    src.proxy.down = false;
    const r = await http(l, 'POST', `${path}/resume`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    st = await waitForSync(
      l,
      src.bucketId,
      syncId,
      (x) => idleAfter(4)(x) && x.total_files_synced === N,
      300_000,
    );
    assert.equal(st.status, 'ACTIVE');
    assert.equal(st.pause_reason, null);
    const summary = await checkInvariants(l, src.expected(syncId, { discovered: 'at-least-files' }));
    process.stdout.write(`      down at ${atDown} objects; pause_reason: ${reason}\n      ${summary}\n`);
  });
});
