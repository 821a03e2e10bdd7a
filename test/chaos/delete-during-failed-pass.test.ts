// A file deleted on the source while a full pass runs that then fails half-way (the provider goes
// down after a few pages): that pass deletes nothing; the pass, resumed and completed, deletes it.
import assert from 'node:assert/strict';
import { createSync, http, idleAfter, waitForSync } from '../helpers';
import { objectKey } from '../../store/objects';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, sleep, SOURCE_BUCKET, type S3Source } from './scenario';

const N = 500;

describe('chaos: a file deleted on the source during a pass that fails half-way', function () {
  this.timeout(900_000);
  let l: Lane;
  let src: S3Source;

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane({ SYNC_PAGE_SIZE: '50', AUTO_SUSPEND_THRESHOLD: '10' });
    src = await s3Source(l, N);
  });
  after(async () => {
    await src?.close();
    await l?.close();
  });

  it('is deleted by the next complete pass, not by the failed one', async () => {
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      polling_interval_seconds: 900,
    });
    const path = `/v1/buckets/${src.bucketId}/syncs/${syncId}`;
    await waitForSync(l, src.bucketId, syncId, (x) => idleAfter(1)(x) && x.total_files_synced === N, 300_000);

    // The full pass lists pages of 50; after 4 listings the provider goes down.
    let lists = 0;
    src.proxy.answer = (method, _p, url) => {
      if (method === 'GET' && url.includes('list-type=2') && ++lists === 4) src.proxy.down = true;
      return null;
    };
    const victim = 'd3/file-000003.txt'; // listed early (the pages go in key order: d0, d1, d10...)
    const victimId = `${SOURCE_BUCKET}/data/${victim}`;
    const bytesBefore = src.bytes;
    await src.remove(victim);
    const t = await http(l, 'POST', `${path}/trigger?full_sync=true`);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    let runs: any[] = [];
    for (let i = 0; i < 600 && !runs.some((r) => r.status === 'FAILED'); i++) {
      await sleep(500);
      runs = (await http(l, 'GET', `${path}/runs`)).body.results;
    }
    const failed = runs.find((r) => r.status === 'FAILED');
    assert.ok(failed, `the pass failed: ${JSON.stringify(runs)}`);
    // The run record (objects_deleted is kept in MongoDB, not in the contract's run model).
    const failedDoc = await l.store.runs.findOne({ sync_run_id: failed.sync_run_id });
    assert.equal(failedDoc?.objects_deleted, 0, 'the failed pass deleted nothing');
    const key = objectKey(src.bucketId, 's3', victimId);
    assert.ok(await l.store.objects.findOne({ _id: key }), 'the deleted file’s object is still there');
    assert.equal(await l.store.objects.countDocuments({ sync_config_id: syncId }), N);

    src.proxy.answer = null;
    src.proxy.down = false;
    await http(l, 'POST', `${path}/trigger`);
    await waitForSync(l, src.bucketId, syncId, (x) => idleAfter(3)(x) && x.locked === false, 300_000);
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = (await l.store.objects.findOne({ _id: key })) === null;
      if (!gone) await sleep(300);
    }
    assert.ok(gone, 'the completed pass deleted it');
    const all = await l.store.runs.find({ sync_config_id: syncId }).sort({ finished_at: -1 }).toArray();
    assert.equal(all[0].status, 'COMPLETED', JSON.stringify(all[0]));
    assert.equal(all[0].objects_deleted, 1);
    // Totals count what happened: N files synced once (the deleted one too), then one deletion.
    const summary = await checkInvariants(
      l,
      src.expected(syncId, { deleted: 1, synced: N, bytes: bytesBefore, discovered: 'at-least-files' }),
    );
    process.stdout.write(`      ${summary}\n`);
  });
});
