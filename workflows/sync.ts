// One long-running workflow per sync configuration (id `sync-<sync_config_id>`).
//
// cycle: [wait while paused] -> pass over source_path, one activity per page -> finish the pass
//        (sweep deletes, run record) -> initial_only? COMPLETED : wait polling_interval (a trigger
//        cuts it short) -> continue-as-new
//
// The workflow owns the state (totals, cursor, pause, pending trigger, failure count); MongoDB holds
// a projection written by activities. Continue-as-new carries the state, including a pass that is
// mid-listing, so history stays small however large the source is.
import {
  ActivityFailure,
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
import { SA_SYNC_STATUS } from '../core/search-attributes';
import { syncStatusOf } from '../core/status';
import {
  configUpdatedSignal,
  forceUnlockSignal,
  pauseSignal,
  resumeSignal,
  stateQuery,
  triggerSignal,
  type PassState,
  type SyncState,
  type SyncWorkflowInput,
  type Totals,
  addBatches,
  RECENT_IDS,
} from './messages';

/** Continue-as-new mid-pass well before the history grows large (Temporal's hard limit is 51,200). */
export const MAX_HISTORY_EVENTS = 1_000;

/** During a pass the projection (totals, checkpoint) is written after a page at most this often. */
export const PROGRESS_RECORD_MS = 5_000;

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

const zero = (): Totals => ({ discovered: 0, synced: 0, failed: 0, bytes: 0 });

export function initialSyncState(): SyncState {
  return {
    status: 'PENDING',
    syncMode: 'continuous',
    pollingIntervalSeconds: 300,
    paused: false,
    pauseReason: null,
    pausedAt: null,
    pausedBy: null,
    triggerRequested: false,
    pendingFullSync: false,
    pass: null,
    lastCompletedPassStartedAt: null,
    totals: zero(),
    runCounter: 0,
    consecutiveFailures: 0,
    lastError: null,
    lastSyncAt: null,
    nextSyncAt: null,
  };
}

export function newPass(state: SyncState, now: string, id: string): PassState {
  const full = state.pendingFullSync || state.lastCompletedPassStartedAt === null;
  return {
    passId: `${now}-${id.slice(0, 8)}`,
    runId: `run_${id.replace(/-/g, '').slice(0, 16)}`,
    full,
    modifiedSince: full ? null : state.lastCompletedPassStartedAt,
    startedAt: now,
    cursor: null,
    pages: 0,
    objectsProcessed: 0,
    run: zero(),
    listedAll: true,
    cut: false,
    inRun: false,
    firstPass: state.lastCompletedPassStartedAt === null,
    fileErrors: 0,
    deleted: 0,
    deltaToken: full ? null : (state.deltaToken ?? null),
  };
}

function errorMessage(err: unknown): string {
  let e: unknown = err;
  // ActivityFailure wraps the ApplicationFailure that says what went wrong.
  while (e instanceof ActivityFailure && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}

export async function syncWorkflow(input: SyncWorkflowInput): Promise<void> {
  const { syncConfigId } = input;
  const state: SyncState = input.state ?? initialSyncState();
  let configChanged = false;
  let running = false;
  let pageScope: CancellationScope | null = null;
  let unlockRequested = false;

  const setStatus = () => {
    if (state.status !== 'COMPLETED' && state.status !== 'FAILED') {
      state.status = syncStatusOf({
        started: state.runCounter > 0 || running,
        paused: state.paused,
        completed: false,
        failed: false,
      });
    }
    if (workflowInfo().typedSearchAttributes.get(SA_SYNC_STATUS) !== state.status) {
      upsertSearchAttributes([{ key: SA_SYNC_STATUS, value: state.status }]);
    }
  };

  setHandler(stateQuery, () => state);
  setHandler(pauseSignal, (req) => {
    if (state.paused) return;
    state.paused = true;
    state.pauseReason = req?.reason ?? 'paused by user';
    state.pausedBy = req?.user ?? null;
    state.pausedAt = new Date().toISOString();
  });
  setHandler(resumeSignal, () => {
    if (!state.paused) return;
    state.paused = false;
    state.pauseReason = null;
    state.pausedAt = null;
    state.pausedBy = null;
    state.consecutiveFailures = 0;
  });
  setHandler(triggerSignal, (req) => {
    state.triggerRequested = true;
    if (req?.full_sync) state.pendingFullSync = true;
  });
  setHandler(configUpdatedSignal, () => {
    configChanged = true;
  });
  setHandler(forceUnlockSignal, () => {
    if (!pageScope) return;
    unlockRequested = true;
    pageScope.cancel();
  });

  const record = async () => {
    setStatus();
    await recordSyncState(syncConfigId, state);
  };

  let settings = await loadSyncSettings(syncConfigId);
  if (!settings.found) {
    log.info('sync configuration is gone; workflow ends', { syncConfigId });
    return;
  }
  state.syncMode = settings.syncMode;
  state.pollingIntervalSeconds = settings.pollingIntervalSeconds;

  /** skip_batch_submission switched off: the batches held back are submitted now. */
  const releaseHeld = async () => {
    if (settings.skipBatchSubmission || !state.batches || state.batches.held === 0) return;
    const { taskIds } = await releaseHeldBatches(syncConfigId);
    state.batches = {
      ...state.batches,
      held: 0,
      taskIds: [...state.batches.taskIds, ...taskIds].slice(-RECENT_IDS),
    };
    await recordSyncState(syncConfigId, state);
  };
  await releaseHeld();

  /** Reloads the stored config; false when the sync was deleted. */
  const reloadSettings = async (): Promise<boolean> => {
    configChanged = false;
    settings = await loadSyncSettings(syncConfigId);
    if (!settings.found) return false;
    state.syncMode = settings.syncMode;
    state.pollingIntervalSeconds = settings.pollingIntervalSeconds;
    await releaseHeld();
    return true;
  };

  /**
   * Waits polling_interval_seconds; a trigger or a pause cuts the wait short, a config change
   * re-times it. False when the sync was deleted meanwhile.
   */
  const waitForNextCycle = async (): Promise<boolean> => {
    const cycleStart = Date.now();
    for (;;) {
      const intervalMs = state.pollingIntervalSeconds * 1000;
      const remaining = Math.max(0, cycleStart + intervalMs - Date.now());
      state.nextSyncAt = state.paused ? null : new Date(cycleStart + intervalMs).toISOString();
      await record();
      if (state.paused) return true;
      const woke = await condition(() => state.triggerRequested || configChanged || state.paused, remaining);
      if (!woke || state.triggerRequested || state.paused) return true;
      if (!(await reloadSettings())) return false;
    }
  };

  try {
    // Paused (by a user, by is_active=false or by auto-suspend): no new work until resumed.
    while (state.paused) {
      await record();
      await condition(() => !state.paused || configChanged);
      if (configChanged && !(await reloadSettings())) return;
    }

    // A pass: resume the one in flight, or start a new one (full the first time or when asked).
    // resume_enabled false: an interrupted pass (paused, failed, cut) starts over instead.
    if (state.pass && !state.pass.inRun && state.pass.pages > 0 && settings.resumeEnabled === false)
      state.pass = null;
    if (!state.pass) {
      state.pass = newPass(state, new Date().toISOString(), uuid4());
      state.pendingFullSync = false;
    }
    if (!state.pass.inRun) {
      // A new run (not a continue-as-new in the middle of one).
      state.pass.inRun = true;
      state.triggerRequested = false;
      state.nextSyncAt = null;
      state.runCounter += 1;
    }
    running = true;
    await record();

    const pass: PassState = state.pass;
    let lastProgressAt = Date.now();
    let failed = false;
    let stoppedEarly = false;
    for (;;) {
      let res;
      try {
        pageScope = new CancellationScope();
        res = await pageScope.run(() =>
          syncPage({
            syncConfigId,
            runId: pass.runId,
            passId: pass.passId,
            cursor: pass.cursor,
            modifiedSince: pass.modifiedSince,
            deltaToken: pass.deltaToken ?? null,
            remaining: Math.max(1, settings.maxObjectsPerRun - pass.run.synced),
            assumeNew: pass.firstPass === true,
          }),
        );
      } catch (err) {
        if (isCancellation(err) && unlockRequested) {
          // force-unlock: the stuck page is abandoned and redone from the last checkpoint.
          unlockRequested = false;
          log.warn('force-unlock: redoing the page from the last checkpoint', {
            syncConfigId,
            cursor: pass.cursor,
          });
          continue;
        }
        if (isCancellation(err)) throw err;
        failed = true;
        state.consecutiveFailures += 1;
        state.lastError = errorMessage(err);
        log.warn('sync run failed', {
          syncConfigId,
          error: state.lastError,
          consecutive: state.consecutiveFailures,
        });
        if (state.consecutiveFailures >= settings.autoSuspendThreshold) {
          state.paused = true;
          state.pauseReason = `auto-suspended after ${state.consecutiveFailures} consecutive failures: ${state.lastError}`;
          state.pausedAt = new Date().toISOString();
          state.pausedBy = 'system';
        }
        break;
      } finally {
        pageScope = null;
      }
      if (!res.found) return;
      const page: Totals = {
        discovered: res.discovered,
        synced: res.created,
        failed: res.failed,
        bytes: res.bytes,
      };
      for (const k of Object.keys(page) as (keyof Totals)[]) {
        state.totals[k] += page[k];
        pass.run[k] += page[k];
      }
      pass.cursor = res.nextCursor;
      pass.pages += 1;
      pass.objectsProcessed += res.listed;
      pass.listedAll &&= res.listedAll;
      pass.fileErrors += res.dlq;
      pass.deleted += res.drifted + (res.removed ?? 0);
      if (res.removed) pass.removedInRun = (pass.removedInRun ?? 0) + res.removed;
      if (res.deltaToken !== undefined) pass.nextDeltaToken = res.deltaToken;
      if (res.batches) state.batches = addBatches(state.batches, res.batches);
      // The workflow owns the totals: it writes them (with the checkpoint) to the projection, after
      // the listing's last page and otherwise at most every PROGRESS_RECORD_MS.
      if (
        patched('workflow-records-page-progress') &&
        (res.nextCursor === null || Date.now() - lastProgressAt >= PROGRESS_RECORD_MS)
      ) {
        lastProgressAt = Date.now();
        await recordSyncState(syncConfigId, state);
      }
      if (res.nextCursor === null) break;
      // max_objects_per_run: the rest comes next run, from this cursor.
      if (pass.run.synced >= settings.maxObjectsPerRun) {
        pass.cut = true;
        stoppedEarly = true;
        break;
      }
      if (state.paused) {
        stoppedEarly = true; // the page in flight finished; no new work
        break;
      }
      if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof syncWorkflow>({ syncConfigId, state });
      }
    }
    running = false;
    pass.inRun = false;

    const completed = !failed && pass.cursor === null;
    if (failed || completed || pass.cut) {
      const { deleted } = await finishPass({
        syncConfigId,
        recordId: `run_${uuid4().replace(/-/g, '').slice(0, 16)}`,
        runId: pass.runId,
        passId: pass.passId,
        startedAt: pass.startedAt,
        full: pass.full,
        run: pass.run,
        ...(pass.removedInRun ? { removed: pass.removedInRun } : {}),
        status: failed ? 'FAILED' : pass.fileErrors > 0 ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED',
        sweep: completed && pass.listedAll && !pass.cut,
        error: failed ? state.lastError : null,
      });
      pass.deleted += deleted;
    }
    if (completed) {
      state.lastCompletedPassStartedAt = pass.startedAt;
      // Only a token the provider gave at the end of this very pass: else the next pass falls back to
      // modifiedSince (or lists everything).
      state.deltaToken = pass.nextDeltaToken ?? null;
      state.pass = null;
      state.lastSyncAt = new Date().toISOString();
      state.consecutiveFailures = 0;
      state.lastError = null;
      if (settings.syncMode === 'initial_only') {
        state.status = 'COMPLETED';
        state.nextSyncAt = null;
        await record();
        await condition(allHandlersFinished);
        return;
      }
    } else if (pass.cut && !failed) {
      // The run ends here; the pass goes on from its cursor in a new run.
      state.lastSyncAt = new Date().toISOString();
      state.consecutiveFailures = 0;
      pass.runId = `run_${uuid4().replace(/-/g, '').slice(0, 16)}`;
      pass.run = zero();
      pass.removedInRun = 0;
    }
    // After a failure the pass keeps its run id, so the retried page still counts the objects the
    // failed attempt created; each finishPass above wrote its own run record.
    if (stoppedEarly && state.paused) {
      // Paused mid-pass: record and let the next run wait for resume, then continue the pass.
      await record();
    } else if (!(await waitForNextCycle())) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof syncWorkflow>({ syncConfigId, state });
  } catch (err) {
    if (isCancellation(err)) {
      log.info('sync workflow cancelled (sync deleted or stopped)', { syncConfigId });
      return;
    }
    throw err;
  }
}
