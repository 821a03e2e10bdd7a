// Unit tests for core/manifest.ts: what the end of a run does with the sync's manifest.
import assert from 'node:assert/strict';
import { initialManifest, manifestStep, type RunEndFacts } from '../../core/manifest';

const facts = (over: Partial<RunEndFacts> = {}): RunEndFacts => ({
  passId: 'pass_2',
  passComplete: true,
  failed: false,
  sweep: true,
  onDelete: true,
  targeted: false,
  listedAll: true,
  full: false,
  ...over,
});

describe('sync manifest upkeep (core/manifest.ts)', () => {
  const complete = { passId: 'pass_1', complete: true };

  it('a new sync starts complete (no objects yet); state from before manifests does not', () => {
    assert.deepEqual(initialManifest(false), { passId: null, complete: true });
    assert.deepEqual(initialManifest(true), { passId: null, complete: false });
  });

  it('a complete listing sweeps by the manifest, then becomes the manifest', () => {
    assert.deepEqual(manifestStep(complete, facts()), {
      sweep: 'manifest',
      dropEarlier: true,
      next: { passId: 'pass_2', complete: true },
    });
  });

  it('an incomplete manifest, or a full pass, sweeps by scanning; the result is complete', () => {
    for (const [prior, f] of [
      [{ passId: 'pass_1', complete: false }, facts()],
      [complete, facts({ full: true })],
    ] as const) {
      const step = manifestStep(prior, f);
      assert.equal(step.sweep, 'scan');
      assert.deepEqual(step.next, { passId: 'pass_2', complete: true });
    }
  });

  it('failed and cut runs change nothing and keep every document', () => {
    for (const f of [facts({ failed: true }), facts({ passComplete: false, sweep: false })])
      assert.deepEqual(manifestStep(complete, f), { sweep: 'none', dropEarlier: false, next: complete });
  });

  it('deletes off: no sweep, earlier documents go, so the manifest is no longer complete', () => {
    assert.deepEqual(manifestStep(complete, facts({ onDelete: false })), {
      sweep: 'none',
      dropEarlier: true,
      next: { passId: 'pass_2', complete: false },
    });
  });

  it('a targeted pass keeps everything; a cut but complete listing becomes the fast path only', () => {
    assert.deepEqual(manifestStep(complete, facts({ sweep: false, targeted: true, listedAll: false })), {
      sweep: 'none',
      dropEarlier: false,
      next: complete,
    });
    const cut = manifestStep({ passId: 'pass_1', complete: false }, facts({ sweep: false }));
    assert.deepEqual(cut, { sweep: 'none', dropEarlier: false, next: { passId: 'pass_2', complete: false } });
  });

  it('an incremental listing drops earlier documents and the manifest', () => {
    assert.deepEqual(manifestStep(complete, facts({ sweep: false, listedAll: false })), {
      sweep: 'none',
      dropEarlier: true,
      next: { passId: null, complete: false },
    });
  });
});
