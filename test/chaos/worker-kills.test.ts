// The worker SIGKILLed 5 times at random moments of a CHAOS_FILES-file initial sync, while ~10% of
// its provider requests fail through the fault proxy. Then: 100% synced, exactly once, one run.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createSync, http, killProcess, startWorker, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, faultSummary, FILES, s3Source, sleep, type S3Source } from './scenario';

const KILLS = 5;

describe(`chaos: worker SIGKILLed ${KILLS} times during a ${FILES}-file sync with provider faults`, function () {
  this.timeout(1_800_000);
  let l: Lane;
  let src: S3Source;
  let worker: ChildProcess | null = null;

  before(async function () {
    this.timeout(600_000);
    // Strides on, as in production (the suite's default is one page per activity).
    l = await chaosLane({ SYNC_PAGE_SIZE: '50', SYNC_STRIDE_MS: '1000' }, { worker: false });
    src = await s3Source(l, FILES, { rate: 0.1, seed: 1302 });
  });
  after(async () => {
    if (worker) await killProcess(worker);
    await src?.close();
    await l?.close();
  });

  it('ends with every file exactly once and exact counters', async () => {
    const t0 = Date.now();
    worker = startWorker(l, 'chaos-worker-0');
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      sync_mode: 'initial_only',
    });
    // Random moments spread over the pass (seeded): kill i lands in the i-th fifth of the first 80%
    // of the files (objects appear a page at a time, so later than that may already be the end).
    let seed = 7;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const thresholds = Array.from({ length: KILLS }, (_, i) =>
      Math.floor(((i + rnd()) / KILLS) * 0.8 * FILES),
    );
    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    const killedAt: number[] = [];
    for (const [i, threshold] of thresholds.entries()) {
      while ((await count()) < threshold) await sleep(100);
      // A random extra delay: not always right after a page's inserts.
      await sleep(Math.floor(rnd() * 500));
      killedAt.push(await count());
      await killProcess(worker);
      worker = startWorker(l, `chaos-worker-${i + 1}`);
    }
    assert.ok(
      killedAt.every((n) => n < FILES),
      `every kill happened mid-pass (${killedAt.join(', ')})`,
    );
    await waitForSync(l, src.bucketId, syncId, (x) => x.status === 'COMPLETED', 1_500_000);
    assert.equal(src.proxy.overlaps, 0, 'no file fetched by two attempts at once');
    const summary = await checkInvariants(l, src.expected(syncId));
    const runs = await http(l, 'GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}/runs`);
    assert.equal(runs.body.results.length, 1, 'one run, resumed across the kills');
    process.stdout.write(
      `      kills at ${killedAt.join(', ')} objects; ${faultSummary(src.proxy)}; ` +
        `${Math.round((Date.now() - t0) / 1000)} s\n      ${summary}\n`,
    );
  });
});
