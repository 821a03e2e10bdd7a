// Provider faults: ~10% of the worker's requests to MinIO fail through the fault-injecting proxy
// (500s, 429/503 with Retry-After, reset connections, slow responses) during an initial sync of
// CHAOS_FILES files (1,000 by default, 500 in CI, 20,000 with CHAOS_FULL=1). Then: 100% synced,
// exactly once.
import assert from 'node:assert/strict';
import { createSync, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, faultSummary, FILES, s3Source, type S3Source } from './scenario';

describe(`chaos: 10% provider faults during a ${FILES}-file initial sync`, function () {
  this.timeout(1_800_000);
  let l: Lane;
  let src: S3Source;

  before(async function () {
    this.timeout(600_000);
    // Strides on, as in production (the suite's default is one page per activity).
    l = await chaosLane({ SYNC_PAGE_SIZE: '250', SYNC_STRIDE_MS: '1000' });
    src = await s3Source(l, FILES, { rate: 0.1, seed: 1301 });
  });
  after(async () => {
    await src?.close();
    await l?.close();
  });

  it('syncs 100% of the files exactly once', async () => {
    const t0 = Date.now();
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      sync_mode: 'initial_only',
    });
    const st = await waitForSync(l, src.bucketId, syncId, (x) => x.status === 'COMPLETED', 1_500_000);
    assert.equal(st.total_files_synced, FILES);
    const f = src.proxy.faults;
    for (const k of ['5xx', 'throttle', 'reset', 'slow'] as const) assert.ok(f[k] > 0, `some ${k} faults`);
    assert.equal(src.proxy.overlaps, 0, 'no file fetched by two attempts at once');
    const summary = await checkInvariants(l, src.expected(syncId));
    process.stdout.write(
      `      ${faultSummary(src.proxy)}; ${Math.round((Date.now() - t0) / 1000)} s\n      ${summary}\n`,
    );
  });
});
