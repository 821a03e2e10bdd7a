// Unit tests for core/stride.ts: when a syncPage call goes on to the next page, and how pages add up.
import assert from 'node:assert/strict';
import { mergePages, strideGoesOn, type PageResult } from '../../core/stride';
import { noCounts } from '../../core/sync-plan';

const page = (over: Partial<PageResult> = {}): PageResult => ({
  ...noCounts(),
  listedAll: true,
  nextCursor: 'c1',
  batches: { created: 0, batchIds: [], taskIds: [], held: 0 },
  ...over,
});
const soFar = { targeted: false, remaining: 100, elapsedMs: 200, strideMs: 1000 };

describe('strides (core/stride.ts)', () => {
  it('goes on while the stride lasts and the listing has more', () => {
    assert.equal(strideGoesOn(page(), soFar), true);
    assert.equal(strideGoesOn(page(), { ...soFar, elapsedMs: 1000 }), false, 'the stride is over');
    assert.equal(strideGoesOn(page(), { ...soFar, strideMs: 0 }), false, 'SYNC_STRIDE_MS=0: one page');
  });

  it('stops at the end of the listing, at max_objects_per_run, on targeted or incomplete pages', () => {
    assert.equal(strideGoesOn(page({ nextCursor: null }), soFar), false);
    assert.equal(strideGoesOn(page(), { ...soFar, remaining: 0 }), false);
    assert.equal(strideGoesOn(page(), { ...soFar, targeted: true }), false);
    assert.equal(strideGoesOn(page({ incomplete: true }), soFar), false);
  });

  it('sums the counts, keeps the later cursor and token, appends batches and counts pages', () => {
    const a = page({
      listed: 10,
      discovered: 10,
      created: 4,
      unchanged: 6,
      bytes: 100,
      nextCursor: 'c1',
      batches: { created: 4, batchIds: ['b1'], taskIds: ['t1'], held: 0 },
    });
    const b = page({
      listed: 5,
      discovered: 4,
      created: 1,
      updated: 2,
      duplicates: 1,
      dlq: 1,
      failed: 1,
      drifted: 1,
      removed: 2,
      bytes: 50,
      listedAll: false,
      nextCursor: null,
      deltaToken: 'tok',
      batches: { created: 1, batchIds: ['b2'], taskIds: ['t2'], held: 1 },
    });
    const m = mergePages(mergePages(a, b), page({ listed: 1, nextCursor: 'c9' }));
    assert.deepEqual(
      { ...mergePages(a, b) },
      {
        listed: 15,
        discovered: 14,
        created: 5,
        updated: 2,
        unchanged: 6,
        duplicates: 1,
        dlq: 1,
        failed: 1,
        drifted: 1,
        removed: 2,
        bytes: 150,
        listedAll: false,
        nextCursor: null,
        deltaToken: 'tok',
        batches: { created: 5, batchIds: ['b1', 'b2'], taskIds: ['t1', 't2'], held: 1 },
        pages: 2,
      },
    );
    assert.equal(m.pages, 3);
    assert.equal(m.listed, 16);
    assert.equal(m.nextCursor, 'c9');
  });
});
