import assert from 'node:assert/strict';
import { addRunFiles, progressOf, runRecordFigures, type ProgressInput } from '../../core/progress';

const pass = (
  over: Partial<NonNullable<ProgressInput['pass']>> = {},
): NonNullable<ProgressInput['pass']> => ({
  runId: 'run_1',
  full: true,
  startedAt: '2026-01-01T00:00:00.000Z',
  objectsProcessed: 250,
  inRun: true,
  cursor: 'c',
  run: { discovered: 240, synced: 200, failed: 1, bytes: 5000 },
  runFiles: { listed: 250, updated: 30, unchanged: 8, duplicates: 2, dlq: 3 },
  ...over,
});
const at = (seconds: number) => Date.parse('2026-01-01T00:00:00.000Z') + seconds * 1000;

describe('core/progress: live progress of a pass', () => {
  it('between passes: none', () => {
    assert.equal(progressOf({ paused: false, pass: null }, at(1)), null);
  });

  it('counts by outcome and rate; no total known: no percent or ETA', () => {
    const p = progressOf({ paused: false, pass: pass() }, at(10))!;
    assert.equal(p.phase, 'listing');
    assert.equal(p.files_listed, 250);
    assert.equal(p.files_created, 200);
    assert.equal(p.files_synced, 200);
    assert.equal(p.files_updated, 30);
    assert.equal(p.files_unchanged, 8);
    assert.equal(p.files_duplicate, 2);
    assert.equal(p.files_dlq, 3);
    assert.equal(p.files_failed, 1);
    assert.equal(p.bytes_synced, 5000);
    assert.equal(p.files_per_second, 25);
    assert.equal(p.bytes_per_second, 500);
    assert.equal(p.files_total, null);
    assert.equal(p.percent, null);
    assert.equal(p.eta_seconds, null);
    assert.deepEqual(p.stats, { total: null, processed: 250, succeeded: 238, failed: 3, skipped: 2 });
  });

  it('a full pass after a full pass: the last one’s count is the total, with percent and ETA', () => {
    const p = progressOf({ paused: false, pass: pass(), lastFullPassListed: 1000 }, at(10))!;
    assert.equal(p.files_total, 1000);
    assert.equal(p.percent, 25);
    assert.equal(p.eta_seconds, 30); // 750 left at 25/s
  });

  it('an incremental pass has no total; a listing longer than expected raises it; phases', () => {
    assert.equal(
      progressOf({ paused: false, pass: pass({ full: false }), lastFullPassListed: 1000 }, at(10))!
        .files_total,
      null,
    );
    const over = progressOf({ paused: false, pass: pass(), lastFullPassListed: 100 }, at(10))!;
    assert.equal(over.files_total, 250);
    assert.equal(over.eta_seconds, 0);
    assert.equal(progressOf({ paused: true, pass: pass({ inRun: false }) }, at(10))!.phase, 'paused');
    assert.equal(progressOf({ paused: false, pass: pass({ inRun: false }) }, at(10))!.phase, 'waiting');
  });

  it('run files add up per page; run records carry the same figures', () => {
    const f = addRunFiles(
      addRunFiles(undefined, { listed: 5, updated: 1, unchanged: 2, duplicates: 0, dlq: 1 }),
      {
        listed: 3,
        updated: 0,
        unchanged: 3,
        duplicates: 1,
        dlq: 0,
      },
    );
    assert.deepEqual(f, { listed: 8, updated: 1, unchanged: 5, duplicates: 1, dlq: 1 });
    assert.deepEqual(runRecordFigures(f, { synced: 2 }, 4), {
      files_listed: 8,
      files_created: 2,
      files_updated: 1,
      files_unchanged: 5,
      files_duplicate: 1,
      files_dlq: 1,
      files_per_second: 2,
    });
  });
});
