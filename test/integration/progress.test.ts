// Live progress: GET sync shows the pass in flight (counts, rate, started_at; percent and ETA once a
// full pass's total is known), and run records carry the same figures.
import assert from 'node:assert/strict';
import { bucketWithFolder, createSync, eventually, getSync, http, idleAfter, waitForSync } from '../helpers';
import { lane, stack, type Lane } from '../setup/stack';

describe('live progress of a pass', function () {
  this.timeout(240_000);
  let l: Lane;
  // Enough pages (40 of 25; progress is written about once a second) for a pause requested once
  // progress shows to land mid-pass.
  const N = 1000;

  before(async function () {
    this.timeout(300_000);
    // One page per activity (no strides): the pause lands between two pages, however fast they go.
    l = await lane(await stack(), { SYNC_PAGE_SIZE: '25', SYNC_STRIDE_MS: '0' });
  });

  it('shows a pass mid-way (paused), its run record, and percent + ETA on the next full pass', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < N; i++) files[`f-${String(i).padStart(4, '0')}.txt`] = `file ${i}`;
    const { bucketId, connectionId } = await bucketWithFolder(l, files);
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    const path = `/v1/buckets/${bucketId}/syncs/${syncId}`;

    // Mid-pass: pause as soon as a page is done; the page in flight finishes, then the pass waits.
    const mid = await eventually(
      async () => {
        const s = await getSync(l, bucketId, syncId);
        return s.sync_progress?.files_listed > 0 ? s : null;
      },
      60_000,
      50,
    );
    assert.ok(mid, 'no progress seen');
    assert.equal(mid.sync_progress.phase, 'listing');
    assert.equal((await http(l, 'POST', `${path}/pause`, {})).status, 200);
    const paused = await waitForSync(
      l,
      bucketId,
      syncId,
      (s) => !s.locked && s.sync_progress?.phase === 'paused',
    );
    const p = paused.sync_progress;
    assert.ok(p.files_listed > 0 && p.files_listed < N, JSON.stringify(p));
    assert.equal(p.files_listed % 25, 0);
    assert.equal(p.files_created, p.files_listed);
    assert.equal(p.files_synced, p.files_listed);
    assert.equal(p.files_updated, 0);
    assert.equal(p.bytes_synced > 0, true);
    assert.ok(p.files_per_second > 0);
    assert.equal(p.full_sync, true);
    assert.ok(Date.parse(p.started_at) <= Date.now());
    assert.equal(p.files_total, null); // a first pass: nothing to tell the total by
    assert.equal(p.eta_seconds, null);
    assert.equal(p.stats.processed, p.files_listed);

    // Resumed: the pass completes; its run record has the figures.
    assert.equal((await http(l, 'POST', `${path}/resume`, {})).status, 200);
    const done = await waitForSync(
      l,
      bucketId,
      syncId,
      (s) => idleAfter(2)(s) && s.last_sync_at !== null,
      120_000,
    );
    assert.equal(done.total_files_synced, N);
    const runs = await http(l, 'GET', `${path}/runs`);
    assert.equal(runs.status, 200);
    const run = runs.body.results[0];
    assert.equal(run.files_listed, N);
    assert.equal(run.files_created, N);
    assert.equal(run.files_unchanged, 0);
    assert.ok(run.files_per_second > 0);

    // A full sync: the last full pass's count is the total, so percent and ETA are known.
    assert.equal((await http(l, 'POST', `${path}/trigger?full_sync=true`)).status, 200);
    const again = await eventually(
      async () => {
        const s = await getSync(l, bucketId, syncId);
        return s.sync_progress?.phase === 'listing' && s.sync_progress.files_listed > 0 ? s : null;
      },
      60_000,
      50,
    );
    assert.ok(again, 'no progress seen on the full sync');
    const q = again.sync_progress;
    assert.equal(q.files_total, N);
    assert.equal(q.percent, Math.round((q.files_listed / N) * 1000) / 10);
    assert.equal(typeof q.eta_seconds, 'number');
    assert.equal(q.files_created, 0);
    assert.equal(q.files_unchanged, q.files_listed);
    await waitForSync(l, bucketId, syncId, idleAfter(3), 120_000);
    const last = (await http(l, 'GET', `${path}/runs`)).body.results[0];
    assert.equal(last.files_unchanged, N);
  });
});
