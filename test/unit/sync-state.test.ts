// Unit tests for core/sync-state.ts: every transition of the sync's state, without Temporal.
import assert from 'node:assert/strict';
import {
  addBatches,
  autoSuspend,
  configChanged,
  errorMessage,
  heldBatchesReleased,
  initialSyncState,
  mintPassId,
  mintRunId,
  newPass,
  nextCycleAt,
  pageApplied,
  passFinished,
  passStartOf,
  pause,
  RECENT_IDS,
  resume,
  runEnded,
  runFailed,
  startRun,
  statusOf,
  trigger,
  type Mint,
  type PageOutcome,
  type SyncState,
} from '../../core/sync-state';

/** A mint with a fixed clock and numbered uuids, like the workflow's deterministic ones. */
function testMint(now = '2026-01-02T03:04:05.000Z'): Mint & { uuids: number } {
  const m = {
    uuids: 0,
    now: () => now,
    uuid: () => {
      m.uuids++;
      return `${String(m.uuids).padStart(8, '0')}-aaaa-4bbb-8ccc-dddddddddddd`;
    },
  };
  return m;
}

const page = (over: Partial<PageOutcome> = {}): PageOutcome => ({
  listed: 10,
  discovered: 8,
  created: 5,
  failed: 1,
  bytes: 100,
  dlq: 1,
  drifted: 0,
  listedAll: true,
  nextCursor: 'c1',
  ...over,
});

/** A sync in the middle of its first run. */
function running(m = testMint()): SyncState {
  return startRun(initialSyncState(), { resumeEnabled: true }, m);
}

/** Deep-frozen: a transition that mutated its input would throw. */
function frozen<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) frozen(v);
    Object.freeze(o);
  }
  return o;
}

describe('sync state: ids and the initial state', () => {
  it('mints run ids and pass ids from a uuid (and a pass id tells its start time)', () => {
    assert.equal(mintRunId('0123abcd-ef01-4234-8567-89abcdef0123'), 'run_0123abcdef014234');
    const passId = mintPassId('2026-01-02T03:04:05.000Z', '0123abcd-ef01');
    assert.equal(passId, '2026-01-02T03:04:05.000Z-0123abcd');
    assert.equal(passStartOf(passId), '2026-01-02T03:04:05.000Z');
    assert.equal(passStartOf('not-a-time-at-the-front-x'), null);
  });

  it('starts PENDING, unpaused, with nothing counted', () => {
    const s = initialSyncState();
    assert.equal(s.status, 'PENDING');
    assert.equal(statusOf(s), 'PENDING');
    assert.equal(s.paused, false);
    assert.equal(s.pass, null);
    assert.deepEqual(s.totals, { discovered: 0, synced: 0, failed: 0, bytes: 0 });
    assert.equal(s.runCounter, 0);
  });

  it('a new pass is full the first time, then incremental since the last completed pass', () => {
    const first = newPass(initialSyncState(), '2026-01-01T00:00:00.000Z', 'abcdef01-2345');
    assert.equal(first.full, true);
    assert.equal(first.firstPass, true);
    assert.equal(first.modifiedSince, null);
    assert.equal(first.runId, 'run_abcdef012345');
    const later: SyncState = {
      ...initialSyncState(),
      lastCompletedPassStartedAt: '2026-01-01T00:00:00.000Z',
      deltaToken: 'tok',
    };
    const inc = newPass(later, '2026-01-02T00:00:00.000Z', 'ffffffff-0000');
    assert.equal(inc.full, false);
    assert.equal(inc.firstPass, false);
    assert.equal(inc.modifiedSince, '2026-01-01T00:00:00.000Z');
    assert.equal(inc.deltaToken, 'tok');
    const full = newPass({ ...later, pendingFullSync: true }, '2026-01-02T00:00:00.000Z', 'ffffffff');
    assert.equal(full.full, true);
    assert.equal(full.modifiedSince, null);
    assert.equal(full.deltaToken, null);
  });
});

describe('sync state: pause, resume, trigger, full sync, config change', () => {
  it('pause records who, why and when; pausing again changes nothing', () => {
    const s = frozen(initialSyncState());
    const p = pause(s, { reason: 'maintenance', user: 'u1' }, testMint('2026-05-05T00:00:00.000Z'));
    assert.equal(p.paused, true);
    assert.equal(p.pauseReason, 'maintenance');
    assert.equal(p.pausedBy, 'u1');
    assert.equal(p.pausedAt, '2026-05-05T00:00:00.000Z');
    assert.equal(statusOf(p), 'SUSPENDED');
    assert.equal(pause(frozen(p), { reason: 'other' }, testMint()), p);
    const d = pause(s, undefined, testMint());
    assert.equal(d.pauseReason, 'paused by user');
    assert.equal(d.pausedBy, null);
  });

  it('resume clears the pause and the failure count (the auto-suspend reason)', () => {
    const m = testMint();
    let s = running(m);
    for (let i = 0; i < 3; i++) s = runFailed(s, 'boom', { autoSuspendThreshold: 3 }, m);
    assert.equal(s.paused, true);
    const r = resume(frozen(s));
    assert.equal(r.paused, false);
    assert.equal(r.pauseReason, null);
    assert.equal(r.pausedAt, null);
    assert.equal(r.pausedBy, null);
    assert.equal(r.consecutiveFailures, 0);
    assert.equal(statusOf(r), 'ACTIVE');
    // Not paused: nothing to do (the failure count stays).
    const failing = runFailed(running(), 'x', { autoSuspendThreshold: 5 }, m);
    assert.equal(resume(failing), failing);
  });

  it('trigger asks for a run; full_sync also for a full pass, which the next new pass consumes', () => {
    const s = frozen(initialSyncState());
    const t = trigger(s);
    assert.equal(t.triggerRequested, true);
    assert.equal(t.pendingFullSync, false);
    const f = trigger(s, { full_sync: true });
    assert.equal(f.pendingFullSync, true);
    const done: SyncState = { ...f, lastCompletedPassStartedAt: '2026-01-01T00:00:00.000Z' };
    const run = startRun(done, { resumeEnabled: true }, testMint());
    assert.equal(run.pass!.full, true);
    assert.equal(run.pendingFullSync, false);
    assert.equal(run.triggerRequested, false);
  });

  it('a config change sets mode and polling interval', () => {
    const s = configChanged(frozen(initialSyncState()), {
      syncMode: 'initial_only',
      pollingIntervalSeconds: 60,
    });
    assert.equal(s.syncMode, 'initial_only');
    assert.equal(s.pollingIntervalSeconds, 60);
  });

  it('the next cycle time shows unless paused', () => {
    const at = Date.parse('2026-01-01T00:05:00.000Z');
    assert.equal(nextCycleAt(initialSyncState(), at).nextSyncAt, '2026-01-01T00:05:00.000Z');
    const paused = pause(initialSyncState(), {}, testMint());
    assert.equal(nextCycleAt(paused, at).nextSyncAt, null);
  });

  it('released held batches: held is zero and their task ids are kept (newest RECENT_IDS)', () => {
    const s: SyncState = {
      ...initialSyncState(),
      batches: { created: 2, batchIds: ['b1', 'b2'], taskIds: ['t1'], held: 1 },
    };
    const r = heldBatchesReleased(frozen(s), ['t2']);
    assert.deepEqual(r.batches, { created: 2, batchIds: ['b1', 'b2'], taskIds: ['t1', 't2'], held: 0 });
    assert.equal(heldBatchesReleased(initialSyncState(), ['t']).batches, undefined);
    const many = addBatches(undefined, {
      created: 60,
      batchIds: Array.from({ length: 60 }, (_, i) => `b${i}`),
      taskIds: [],
      held: 0,
    });
    assert.equal(many.batchIds.length, RECENT_IDS);
    assert.equal(many.batchIds.at(-1), 'b59');
  });
});

describe('sync state: runs, pages, the end of a pass', () => {
  it('a run starts a pass, counts itself and makes the sync ACTIVE; a continue-as-new mid-run is not a new run', () => {
    const m = testMint();
    const s = startRun(
      frozen({ ...initialSyncState(), triggerRequested: true, nextSyncAt: 'x' }),
      { resumeEnabled: true },
      m,
    );
    assert.equal(s.runCounter, 1);
    assert.equal(s.pass!.inRun, true);
    assert.equal(s.triggerRequested, false);
    assert.equal(s.nextSyncAt, null);
    assert.equal(statusOf(s), 'ACTIVE');
    assert.equal(m.uuids, 1);
    const again = startRun(frozen(s), { resumeEnabled: true }, m);
    assert.equal(again.runCounter, 1);
    assert.equal(again.pass!.passId, s.pass!.passId);
    assert.equal(m.uuids, 1, 'no new ids for a run already in flight');
  });

  it('an interrupted pass continues from its cursor, or starts over with resume_enabled false', () => {
    const m = testMint();
    let s = running(m);
    s = pageApplied(s, page({ nextCursor: 'c7' }), { maxObjectsPerRun: 1000 }).state;
    s = { ...s, pass: { ...s.pass!, inRun: false } };
    const resumed = startRun(frozen(s), { resumeEnabled: true }, m);
    assert.equal(resumed.pass!.cursor, 'c7');
    assert.equal(resumed.runCounter, 2);
    const over = startRun(s, { resumeEnabled: false }, m);
    assert.equal(over.pass!.cursor, null);
    assert.notEqual(over.pass!.passId, s.pass!.passId);
  });

  it('a page adds to totals and the pass, and says what comes next', () => {
    const s = frozen(running());
    const a = pageApplied(
      s,
      page({
        removed: 2,
        drifted: 1,
        deltaToken: 'tok-2',
        batches: { created: 1, batchIds: ['b'], taskIds: ['t'], held: 0 },
      }),
      { maxObjectsPerRun: 1000 },
    );
    assert.equal(a.next, 'more');
    assert.deepEqual(a.state.totals, { discovered: 8, synced: 5, failed: 1, bytes: 100 });
    assert.deepEqual(a.state.pass!.run, { discovered: 8, synced: 5, failed: 1, bytes: 100 });
    assert.equal(a.state.pass!.cursor, 'c1');
    assert.equal(a.state.pass!.pages, 1);
    assert.equal(a.state.pass!.objectsProcessed, 10);
    assert.equal(a.state.pass!.fileErrors, 1);
    assert.equal(a.state.pass!.deleted, 3);
    assert.equal(a.state.pass!.removedInRun, 2);
    assert.equal(a.state.pass!.nextDeltaToken, 'tok-2');
    assert.equal(a.state.batches!.created, 1);
    // A page that listed with a server-side filter: no deletes can be inferred for the pass.
    const b = pageApplied(a.state, page({ listedAll: false, nextCursor: null }), { maxObjectsPerRun: 1000 });
    assert.equal(b.next, 'listed');
    assert.equal(b.state.pass!.listedAll, false);
    assert.equal(b.state.totals.synced, 10);
  });

  it('max_objects_per_run cuts the pass; a pause stops the run after the page in flight', () => {
    const cut = pageApplied(running(), page({ created: 5 }), { maxObjectsPerRun: 5 });
    assert.equal(cut.next, 'cut');
    assert.equal(cut.state.pass!.cut, true);
    const paused = pause(running(), {}, testMint());
    const p = pageApplied(paused, page(), { maxObjectsPerRun: 1000 });
    assert.equal(p.next, 'paused');
    assert.equal(p.state.pass!.cut, false);
  });

  it('a completed pass: run record (sweep when it listed everything), then the last completed pass', () => {
    const m = testMint('2026-03-03T00:00:00.000Z');
    let s = running(m);
    s = pageApplied(s, page({ nextCursor: null, deltaToken: 'next' }), { maxObjectsPerRun: 1000 }).state;
    const ended = runEnded(frozen(s), 'listed', m);
    assert.equal(ended.state.pass!.inRun, false);
    assert.equal(ended.record!.status, 'COMPLETED_WITH_ERRORS'); // one file went to the DLQ
    assert.equal(ended.record!.sweep, true);
    assert.equal(ended.record!.error, null);
    assert.match(ended.record!.recordId, /^run_[0-9a-f]{16}$/);
    assert.notEqual(ended.record!.recordId, s.pass!.runId);
    const failing = { ...ended.state, consecutiveFailures: 2, lastError: 'old' };
    const done = passFinished(frozen(failing), 'listed', 4, m);
    assert.equal(done.pass, null);
    assert.equal(done.lastCompletedPassStartedAt, s.pass!.startedAt);
    assert.equal(done.deltaToken, 'next');
    assert.equal(done.lastSyncAt, '2026-03-03T00:00:00.000Z');
    assert.equal(done.consecutiveFailures, 0);
    assert.equal(done.lastError, null);
    assert.equal(statusOf(done), 'ACTIVE');
    // The next pass is incremental since this one.
    const next = startRun(done, { resumeEnabled: true }, m);
    assert.equal(next.pass!.modifiedSince, s.pass!.startedAt);
    assert.equal(next.pass!.deltaToken, 'next');
  });

  it('a pass without errors that listed with a filter: COMPLETED, no sweep', () => {
    const m = testMint();
    let s = running(m);
    s = pageApplied(s, page({ dlq: 0, listedAll: false, nextCursor: null }), {
      maxObjectsPerRun: 1000,
    }).state;
    const { record } = runEnded(s, 'listed', m);
    assert.equal(record!.status, 'COMPLETED');
    assert.equal(record!.sweep, false);
  });

  it('initial_only: the completed pass makes the sync COMPLETED, and it stays so', () => {
    const m = testMint();
    let s = configChanged(running(m), { syncMode: 'initial_only', pollingIntervalSeconds: 300 });
    s = pageApplied(s, page({ nextCursor: null }), { maxObjectsPerRun: 1000 }).state;
    s = runEnded(s, 'listed', m).state;
    const done = passFinished(s, 'listed', 0, m);
    assert.equal(done.status, 'COMPLETED');
    assert.equal(statusOf(done), 'COMPLETED');
    assert.equal(statusOf(pause(done, {}, m)), 'COMPLETED');
    assert.equal(done.nextSyncAt, null);
  });

  it('a cut pass: a record without sweep, and the pass goes on from its cursor under a new run id', () => {
    const m = testMint();
    const cut = pageApplied(running(m), page({ created: 5 }), { maxObjectsPerRun: 5 }).state;
    const ended = runEnded(cut, 'cut', m);
    assert.equal(ended.record!.status, 'COMPLETED_WITH_ERRORS');
    assert.equal(ended.record!.sweep, false);
    const after = passFinished(ended.state, 'cut', 0, m);
    assert.equal(after.pass!.cursor, 'c1');
    assert.notEqual(after.pass!.runId, cut.pass!.runId);
    assert.deepEqual(after.pass!.run, { discovered: 0, synced: 0, failed: 0, bytes: 0 });
    assert.equal(after.pass!.cut, true, 'a cut pass never sweeps');
    assert.equal(after.lastSyncAt, m.now());
    const resumed = startRun(after, { resumeEnabled: true }, m);
    assert.equal(resumed.pass!.cursor, 'c1');
  });

  it('a paused run writes no record and keeps its run id', () => {
    const m = testMint();
    const s = pageApplied(pause(running(m), {}, m), page(), { maxObjectsPerRun: 1000 }).state;
    const ended = runEnded(s, 'paused', m);
    assert.equal(ended.record, null);
    const after = passFinished(ended.state, 'paused', 0, m);
    assert.equal(after.pass!.runId, s.pass!.runId);
    assert.equal(after.pass!.inRun, false);
  });

  it('a failure counts, keeps the run id (the retried page counts its objects once) and records FAILED', () => {
    const m = testMint();
    const s = runFailed(frozen(running(m)), 'listing failed: 503', { autoSuspendThreshold: 3 }, m);
    assert.equal(s.consecutiveFailures, 1);
    assert.equal(s.lastError, 'listing failed: 503');
    assert.equal(s.paused, false);
    const ended = runEnded(s, 'failed', m);
    assert.equal(ended.record!.status, 'FAILED');
    assert.equal(ended.record!.sweep, false);
    assert.equal(ended.record!.error, 'listing failed: 503');
    const after = passFinished(ended.state, 'failed', 0, m);
    assert.equal(after.pass!.runId, s.pass!.runId);
    assert.equal(after.lastSyncAt, null);
  });

  it('auto-suspend: failures reaching the threshold pause the sync by the system', () => {
    const m = testMint('2026-04-04T00:00:00.000Z');
    let s = running(m);
    s = runFailed(s, 'e1', { autoSuspendThreshold: 2 }, m);
    assert.equal(s.paused, false);
    s = runFailed(s, 'e2', { autoSuspendThreshold: 2 }, m);
    assert.equal(s.paused, true);
    assert.equal(s.pausedBy, 'system');
    assert.equal(s.pausedAt, '2026-04-04T00:00:00.000Z');
    assert.equal(s.pauseReason, 'auto-suspended after 2 consecutive failures: e2');
    assert.equal(statusOf(s), 'SUSPENDED');
    const direct = autoSuspend({ ...initialSyncState(), consecutiveFailures: 7, lastError: 'x' }, m);
    assert.equal(direct.pauseReason, 'auto-suspended after 7 consecutive failures: x');
  });
});

describe('sync state: error messages', () => {
  it('unwraps Temporal wrappers to the failure that says what went wrong', () => {
    const inner = new Error('listing failed: access denied');
    const wrapper = new Error('Activity task failed', { cause: inner });
    wrapper.name = 'ActivityFailure';
    assert.equal(errorMessage(wrapper), 'listing failed: access denied');
    // An error that is not a wrapper keeps its own message.
    assert.equal(errorMessage(new Error('top', { cause: new Error('low') })), 'top');
    assert.equal(errorMessage('plain'), 'plain');
  });
});
