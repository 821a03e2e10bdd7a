// Poison files among good ones, on an `s3` source through the proxy: one unreadable (GET answers
// 403 AccessDenied), one that vanishes between the listing and the open (listed and HEAD-ed, then
// GET answers 404 NoSuchKey), one whose mapping fails (a required metadata field is missing).
// Expect: the good files synced; each poison file in the DLQ, FAILED after 3 runs (3 attempts);
// once fixed, `…/dlq/retry` re-queues them and the next run syncs them; the invariants hold.
import assert from 'node:assert/strict';
import { createSync, http, idleAfter, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, SOURCE_BUCKET, type S3Source } from './scenario';

const GOOD = 200;
const UNREADABLE = `/${SOURCE_BUCKET}/data/poison/unreadable.txt`;
const VANISHING = `/${SOURCE_BUCKET}/data/poison/vanishing.txt`;
const UNMAPPABLE = 'poison/unmappable.txt';

describe('chaos: poison files (unreadable, vanishing, failing mapping) among good ones', function () {
  this.timeout(600_000);
  let l: Lane;
  let src: S3Source;
  let broken = true;

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane();
    src = await s3Source(l, GOOD);
    // Good files carry the metadata the mapping requires; the poison ones are put below.
    for (const id of [...src.files.keys()])
      await src.put(id.slice(`${SOURCE_BUCKET}/data/`.length), `good ${id}`, { owner: 'ops' });
    // These two map fine (they have the metadata); their bytes cannot be read.
    await src.put('poison/unreadable.txt', 'unreadable until fixed', { owner: 'ops' });
    await src.put('poison/vanishing.txt', 'vanishes between list and open until fixed', { owner: 'ops' });
    // No `owner` metadata: the required field is missing.
    await src.put(UNMAPPABLE, 'no owner metadata');
    src.proxy.answer = (method, p) => {
      if (!broken || method !== 'GET') return null;
      if (p === UNREADABLE) return { status: 403, code: 'AccessDenied' };
      if (p === VANISHING) return { status: 404, code: 'NoSuchKey' };
      return null;
    };
  });
  after(async () => {
    await src?.close();
    await l?.close();
  });

  it('syncs the good files, DLQs the poison ones for good after 3 runs, and retries them once fixed', async () => {
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      schema_mapping: {
        mappings: {
          owner: { target_type: 'field', source: { type: 'metadata', key: 'owner' }, required: true },
        },
      },
    });
    const dlq = async () =>
      (await http(l, 'GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}/dlq`)).body.results as any[];
    let st = await waitForSync(l, src.bucketId, syncId, idleAfter(1), 300_000);
    assert.equal(st.total_files_synced, GOOD, 'the good files are synced on the first run');
    for (let run = 2; run <= 3; run++) {
      const t = await http(l, 'POST', `/v1/buckets/${src.bucketId}/syncs/${syncId}/trigger`);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      st = await waitForSync(l, src.bucketId, syncId, idleAfter(run), 300_000);
    }
    const entries = await dlq();
    assert.equal(entries.length, 3, JSON.stringify(entries));
    for (const e of entries) {
      assert.equal(e.attempts, 3, `${e.source_object_id}: 3 attempts`);
      assert.equal(e.status, 'FAILED', `${e.source_object_id}: FAILED`);
    }
    const errors = Object.fromEntries(
      entries.map((e) => [e.source_object_id.split('/').at(-1), e.last_error]),
    );
    assert.match(errors['unreadable.txt'], /AccessDenied/);
    assert.match(errors['vanishing.txt'], /NoSuchKey|not found/i);
    assert.match(errors['unmappable.txt'], /required field owner/);
    assert.equal(st.total_files_failed, 3);
    const runs = await http(l, 'GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}/runs`);
    assert.deepEqual(
      runs.body.results.map((r: any) => r.status),
      ['COMPLETED_WITH_ERRORS', 'COMPLETED_WITH_ERRORS', 'COMPLETED_WITH_ERRORS'],
    );

    // Fixed at the source: readable, there when opened, with its metadata. Then retry.
    broken = false;
    await src.put(UNMAPPABLE, 'no owner metadata', { owner: 'fixed' });
    const retry = await http(l, 'POST', `/v1/buckets/${src.bucketId}/syncs/${syncId}/dlq/retry`, {});
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.requeued, 3);
    await http(l, 'POST', `/v1/buckets/${src.bucketId}/syncs/${syncId}/trigger`);
    st = await waitForSync(l, src.bucketId, syncId, idleAfter(4), 300_000);
    assert.deepEqual(await dlq(), [], 'the DLQ is empty');
    const summary = await checkInvariants(
      l,
      src.expected(syncId, { failed: 3, discovered: 'at-least-files' }),
    );
    process.stdout.write(`      ${summary}\n`);
  });
});
