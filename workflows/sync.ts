// One long-running workflow per sync configuration (id `sync-<sync_config_id>`).
//
// cycle: [wait while paused] -> run: a pass over source_path, one activity per page -> end the run
//        (sweep deletes, run record) -> initial_only? COMPLETED : wait polling_interval (a trigger
//        cuts it short) -> continue-as-new
//
// The state and every change to it are core/sync-state.ts; this file only wires them to Temporal:
// handlers call the transitions, the stages below call activities. MongoDB holds a projection
// written by activities. Continue-as-new carries the state, including a pass that is mid-listing, so
// history stays small however large the source is.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SyncSettings } from '../activities/sync';
import { afterPass, changesAnnounced, passForAnnouncements } from '../core/change-feed';
import { SA_SYNC_STATUS } from '../core/search-attributes';
import {
  configChanged,
  errorMessage,
  heldBatchesReleased,
  initialSyncState,
  isFinished,
  manifestOf,
  nextCycleAt,
  pageApplied,
  passFinished,
  pause,
  resume,
  runEnded,
  runFailed,
  startRun,
  trigger,
  withStatus,
  type Mint,
  type PassState,
  type RunEnd,
  type SyncState,
} from '../core/sync-state';
import {
  changesAnnouncedSignal,
  configUpdatedSignal,
  forceUnlockSignal,
  pauseSignal,
  resumeSignal,
  stateQuery,
  triggerSignal,
  type SyncWorkflowInput,
} from './messages';

/** Continue-as-new mid-pass well before the history grows large (Temporal's hard limit is 51,200). */
export const MAX_HISTORY_EVENTS = 1_000;

/**
 * During a pass the projection (totals, checkpoint, progress: what GET sync and the dashboard show) is
 * written after a page at most this often. Workflows that started under the first rule (5 s) keep it
 * on replay (the `progress-every-second` patch).
 */
export const PROGRESS_RECORD_MS = 1_000;
const PROGRESS_RECORD_MS_BEFORE = 5_000;

const { syncPage } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

const { loadSyncSettings, recordSyncState, finishPass, releaseHeldBatches } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** Workflow time and uuid4 are deterministic (replayed from history). */
const mint: Mint = { now: () => new Date().toISOString(), uuid: () => uuid4() };

/** What the stages share: the state (replaced by each transition), the settings, the flags. */
interface Sync {
  readonly syncConfigId: string;
  state: SyncState;
  settings: SyncSettings;
  configChanged: boolean;
  /** The page in flight (force-unlock cancels it). */
  pageScope: CancellationScope | null;
  unlockRequested: boolean;
}

export async function syncWorkflow(input: SyncWorkflowInput): Promise<void> {
  const { syncConfigId } = input;
  const sync: Omit<Sync, 'settings'> & { settings: SyncSettings | null } = {
    syncConfigId,
    state: input.state ?? initialSyncState(),
    settings: null,
    configChanged: false,
    pageScope: null,
    unlockRequested: false,
  };
  // Handlers first: a signal or query that comes while the settings load is not left waiting.
  setHandlers(sync);
  sync.settings = await loadSyncSettings(syncConfigId);
  if (!sync.settings.found) {
    log.info('sync configuration is gone; workflow ends', { syncConfigId });
    return;
  }
  return runCycle(sync as Sync);
}

/** A cycle: [wait while paused] -> run -> end the run -> wait for the next -> continue-as-new. */
async function runCycle(sync: Sync): Promise<void> {
  const { syncConfigId } = sync;
  sync.state = configChanged(sync.state, sync.settings);
  await releaseHeld(sync);

  try {
    // Paused (by a user, by is_active=false or by auto-suspend): no new work until resumed.
    if (!(await waitWhilePaused(sync))) return;
    const end = await runPass(sync);
    if (end === 'gone') return;
    await endRun(sync, end);
    if (isFinished(sync.state)) {
      await condition(allHandlersFinished);
      return;
    }
    if ((end === 'paused' || end === 'cut') && sync.state.paused) {
      // Paused mid-pass: record and let the next run wait for resume, then continue the pass.
      await record(sync);
    } else if (!(await waitForNextCycle(sync))) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof syncWorkflow>({ syncConfigId, state: sync.state });
  } catch (err) {
    if (isCancellation(err)) {
      log.info('sync workflow cancelled (sync deleted or stopped)', { syncConfigId });
      return;
    }
    throw err;
  }
}

/** Signals and the query: each one transition of the state. */
function setHandlers(sync: Pick<Sync, 'state' | 'configChanged' | 'pageScope' | 'unlockRequested'>): void {
  setHandler(stateQuery, () => sync.state);
  setHandler(pauseSignal, (req) => {
    sync.state = pause(sync.state, req, mint);
  });
  setHandler(resumeSignal, () => {
    sync.state = resume(sync.state);
  });
  setHandler(triggerSignal, (req) => {
    sync.state = trigger(sync.state, req);
  });
  // Event-driven syncs: counted and coalesced into one pending trigger, never kept one by one.
  setHandler(changesAnnouncedSignal, (req) => {
    sync.state = changesAnnounced(sync.state, req);
  });
  setHandler(configUpdatedSignal, () => {
    sync.configChanged = true;
  });
  setHandler(forceUnlockSignal, () => {
    if (!sync.pageScope) return;
    sync.unlockRequested = true;
    sync.pageScope.cancel();
  });
}

/** The status is refreshed (and the search attribute with it), then the projection written. */
async function record(sync: Sync): Promise<void> {
  sync.state = withStatus(sync.state);
  if (workflowInfo().typedSearchAttributes.get(SA_SYNC_STATUS) !== sync.state.status)
    upsertSearchAttributes([{ key: SA_SYNC_STATUS, value: sync.state.status }]);
  await recordSyncState(sync.syncConfigId, sync.state);
}

/** skip_batch_submission switched off: the batches held back are submitted now. */
async function releaseHeld(sync: Sync): Promise<void> {
  const b = sync.state.batches;
  if (sync.settings.skipBatchSubmission || !b || b.held === 0) return;
  const { taskIds } = await releaseHeldBatches(sync.syncConfigId);
  sync.state = heldBatchesReleased(sync.state, taskIds);
  await recordSyncState(sync.syncConfigId, sync.state);
}

/** Reloads the stored config; false when the sync was deleted. */
async function reloadSettings(sync: Sync): Promise<boolean> {
  sync.configChanged = false;
  sync.settings = await loadSyncSettings(sync.syncConfigId);
  if (!sync.settings.found) return false;
  sync.state = configChanged(sync.state, sync.settings);
  await releaseHeld(sync);
  return true;
}

/** Waits while paused (config changes are still read); false when the sync was deleted meanwhile. */
async function waitWhilePaused(sync: Sync): Promise<boolean> {
  while (sync.state.paused) {
    await record(sync);
    await condition(() => !sync.state.paused || sync.configChanged);
    if (sync.configChanged && !(await reloadSettings(sync))) return false;
  }
  return true;
}

/**
 * One run: resumes the pass in flight or starts one, then a page activity at a time until the listing
 * ends, max_objects_per_run cuts it, a pause stops it or a page fails. Continues as new in the middle
 * when history grows. 'gone': the sync was deleted.
 */
async function runPass(sync: Sync): Promise<RunEnd | 'gone'> {
  sync.state = startRun(
    passForAnnouncements(sync.state, mint),
    { resumeEnabled: sync.settings.resumeEnabled },
    mint,
  );
  await record(sync);
  let lastProgressAt = Date.now();
  for (;;) {
    const pass: PassState = sync.state.pass!;
    const { settings } = sync;
    let res;
    try {
      sync.pageScope = new CancellationScope();
      res = await sync.pageScope.run(() =>
        syncPage({
          syncConfigId: sync.syncConfigId,
          runId: pass.runId,
          passId: pass.passId,
          cursor: pass.cursor,
          modifiedSince: pass.modifiedSince,
          deltaToken: pass.deltaToken ?? null,
          remaining: Math.max(1, settings.maxObjectsPerRun - pass.run.synced),
          assumeNew: pass.firstPass === true,
          // A full pass (first, or full_sync) verifies every file against its object.
          knownPassId: pass.full ? null : manifestOf(sync.state).passId,
          ...(pass.targets ? { targets: pass.targets } : {}),
        }),
      );
    } catch (err) {
      if (isCancellation(err) && sync.unlockRequested) {
        // force-unlock: the stuck page is abandoned and redone from the last checkpoint.
        sync.unlockRequested = false;
        log.warn('force-unlock: redoing the page from the last checkpoint', {
          syncConfigId: sync.syncConfigId,
          cursor: pass.cursor,
        });
        continue;
      }
      if (isCancellation(err)) throw err;
      sync.state = runFailed(sync.state, errorMessage(err), settings, mint);
      log.warn('sync run failed', {
        syncConfigId: sync.syncConfigId,
        error: sync.state.lastError,
        consecutive: sync.state.consecutiveFailures,
      });
      return 'failed';
    } finally {
      sync.pageScope = null;
    }
    if (!res.found) return 'gone';
    const applied = pageApplied(sync.state, res, settings);
    sync.state = applied.state;
    // The workflow owns the totals: it writes them (with the checkpoint) to the projection after
    // the listing's last page, and otherwise at most every PROGRESS_RECORD_MS.
    if (
      patched('workflow-records-page-progress') &&
      (applied.next !== 'more' ||
        Date.now() - lastProgressAt >=
          (patched('progress-every-second') ? PROGRESS_RECORD_MS : PROGRESS_RECORD_MS_BEFORE))
    ) {
      lastProgressAt = Date.now();
      await recordSyncState(sync.syncConfigId, sync.state);
    }
    // A targeted page that could not resolve an id exactly (a large folder...): a listing pass follows.
    if (res.incomplete) sync.state = changesAnnounced(sync.state, { count: 0 });
    if (applied.next !== 'more') return applied.next;
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof syncWorkflow>({ syncConfigId: sync.syncConfigId, state: sync.state });
    }
  }
}

/** The run's end: its run record (mark-and-sweep when allowed), then the pass moves on. */
async function endRun(sync: Sync, end: RunEnd): Promise<void> {
  const ended = runEnded(sync.state, end, mint);
  sync.state = ended.state;
  let deleted = 0;
  if (ended.record) {
    const pass = sync.state.pass!;
    const finished = await finishPass({
      syncConfigId: sync.syncConfigId,
      recordId: ended.record.recordId,
      runId: pass.runId,
      passId: pass.passId,
      startedAt: pass.startedAt,
      full: pass.full,
      run: pass.run,
      ...(pass.runFiles ? { files: pass.runFiles } : {}),
      ...(pass.removedInRun ? { removed: pass.removedInRun } : {}),
      status: ended.record.status,
      sweep: ended.record.sweep,
      error: ended.record.error,
      manifest: manifestOf(sync.state),
      passComplete: end !== 'failed' && pass.cursor === null,
      targeted: pass.targets !== undefined,
      listedAll: pass.listedAll,
      firstPass: pass.firstPass === true,
    });
    deleted = finished.deleted;
    // (Results recorded before manifests carry none.)
    if (finished.manifest) sync.state = { ...sync.state, manifest: finished.manifest };
  }
  const before = sync.state;
  sync.state = afterPass(before, passFinished(before, end, deleted, mint));
  if (isFinished(sync.state)) await record(sync);
}

/**
 * Waits polling_interval_seconds; a trigger or a pause cuts the wait short, a config change
 * re-times it. False when the sync was deleted meanwhile.
 */
async function waitForNextCycle(sync: Sync): Promise<boolean> {
  // A targeted pass (events) leaves the poll's timing alone: the safety net is never postponed.
  const cycleStart = sync.state.pollCycleStart ? Date.parse(sync.state.pollCycleStart) : Date.now();
  sync.state = { ...sync.state, pollCycleStart: new Date(cycleStart).toISOString() };
  for (;;) {
    const intervalMs = sync.state.pollingIntervalSeconds * 1000;
    const remaining = Math.max(0, cycleStart + intervalMs - Date.now());
    const wasPaused = sync.state.paused;
    sync.state = nextCycleAt(sync.state, cycleStart + intervalMs);
    await record(sync);
    // Paused: the next run waits for resume. Resumed while the record was written (a resume that
    // came just as the sync auto-suspended): the next run starts at once, not a polling interval later.
    if (wasPaused || sync.state.paused) return true;
    const woke = await condition(
      () => sync.state.triggerRequested || sync.configChanged || sync.state.paused || !!sync.state.announced,
      remaining,
    );
    // The poll is due: the next pass lists (announcements pending or not).
    if (!woke) sync.state = { ...sync.state, triggerRequested: true };
    if (!woke || sync.state.triggerRequested || sync.state.paused || sync.state.announced) return true;
    if (!(await reloadSettings(sync))) return false;
  }
}
