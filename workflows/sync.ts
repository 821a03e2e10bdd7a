// One long-running workflow per sync configuration (id `sync-<sync_config_id>`).
//
// cycle: [wait while paused] -> pass over source_path, one activity per page -> record ->
//        initial_only? COMPLETED : wait polling_interval (a trigger cuts it short) -> continue-as-new
//
// The workflow owns the state (totals, cursor, pause, pending trigger, failure count); MongoDB holds
// a projection written by activities. Continue-as-new carries the state, including a pass that is
// mid-listing, so history stays small however large the source is.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
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
  pauseSignal,
  resumeSignal,
  stateQuery,
  triggerSignal,
  type PassState,
  type SyncState,
  type SyncWorkflowInput,
  type Totals,
} from './messages';

/** Consecutive failed runs after which a sync suspends itself. */
export const AUTO_SUSPEND_THRESHOLD = 5;
/** Continue-as-new well before Temporal's 51,200-event limit even if the server never suggests it. */
const MAX_HISTORY_EVENTS = 10_000;

const { syncPage } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

const { loadSyncSettings, recordSyncState } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
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

function errorMessage(err: unknown): string {
  let e: unknown = err;
  // ActivityFailure wraps the ApplicationFailure that says what went wrong.
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(err);
}

export async function syncWorkflow(input: SyncWorkflowInput): Promise<void> {
  const { syncConfigId } = input;
  const state: SyncState = input.state ?? initialSyncState();
  let configChanged = false;
  let running = false;

  const setStatus = () => {
    const status =
      state.status === 'COMPLETED' || state.status === 'FAILED'
        ? state.status
        : syncStatusOf({
            started: state.runCounter > 0 || running,
            paused: state.paused,
            completed: false,
            failed: false,
          });
    if (status !== state.status || workflowInfo().typedSearchAttributes.get(SA_SYNC_STATUS) !== status) {
      state.status = status;
      upsertSearchAttributes([{ key: SA_SYNC_STATUS, value: status }]);
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
  if (!state.paused && !settings.isActive) {
    state.paused = true;
    state.pauseReason = 'is_active is false';
  }

  try {
    // Paused (by a user, by is_active=false or by auto-suspend): no new work until resumed.
    while (state.paused) {
      await record();
      await condition(() => !state.paused || configChanged);
      if (configChanged && !(await reloadSettings())) return;
    }

    // A pass: resume the one in flight, or start a new one (full the first time or when asked).
    if (!state.pass) {
      const full = state.pendingFullSync || state.lastCompletedPassStartedAt === null;
      state.pass = {
        passId: `${new Date().toISOString()}-${uuid4().slice(0, 8)}`,
        runId: `run_${uuid4().replace(/-/g, '').slice(0, 16)}`,
        full,
        modifiedSince: full ? null : state.lastCompletedPassStartedAt,
        startedAt: new Date().toISOString(),
        cursor: null,
        pages: 0,
        objectsProcessed: 0,
        run: zero(),
      };
      state.pendingFullSync = false;
      state.triggerRequested = false;
      state.runCounter += 1;
    }
    running = true;
    await record();

    const pass: PassState = state.pass;
    let failed = false;
    try {
      for (;;) {
        const res = await syncPage({
          syncConfigId,
          runId: pass.runId,
          passId: pass.passId,
          cursor: pass.cursor,
          modifiedSince: pass.modifiedSince,
          totals: state.totals,
          run: pass.run,
          objectsProcessed: pass.objectsProcessed,
          remaining: Math.max(0, settings.maxObjectsPerRun - pass.run.synced),
        });
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
        if (res.nextCursor === null) break;
        // max_objects_per_run: the rest comes next run, from this cursor.
        if (pass.run.synced >= settings.maxObjectsPerRun) break;
        if (state.paused) break; // the page in flight finished; no new work
        if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
          await condition(allHandlersFinished);
          await continueAsNew<typeof syncWorkflow>({ syncConfigId, state });
        }
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      failed = true;
      state.consecutiveFailures += 1;
      state.lastError = errorMessage(err);
      log.warn('sync run failed', {
        syncConfigId,
        error: state.lastError,
        consecutive: state.consecutiveFailures,
      });
      if (state.consecutiveFailures >= AUTO_SUSPEND_THRESHOLD) {
        state.paused = true;
        state.pauseReason = `auto-suspended after ${state.consecutiveFailures} consecutive failures: ${state.lastError}`;
        state.pausedAt = new Date().toISOString();
        state.pausedBy = 'system';
      }
    }
    running = false;

    const finished = !failed && pass.cursor === null;
    if (finished) {
      state.lastCompletedPassStartedAt = pass.startedAt;
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
    } else if (!failed && !state.paused) {
      // Cut by max_objects_per_run: the pass goes on from its cursor at the next run.
      state.lastSyncAt = new Date().toISOString();
    }

    if (!(await waitForNextCycle())) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof syncWorkflow>({ syncConfigId, state });
  } catch (err) {
    if (isCancellation(err)) {
      log.info('sync workflow cancelled (sync deleted or stopped)', { syncConfigId });
      return;
    }
    throw err;
  }

  /**
   * Waits polling_interval_seconds; a trigger or a pause cuts the wait short, a config change
   * re-times it. False when the sync was deleted meanwhile.
   */
  async function waitForNextCycle(): Promise<boolean> {
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
  }

  /** Reloads the stored config; false when the sync was deleted. */
  async function reloadSettings(): Promise<boolean> {
    configChanged = false;
    settings = await loadSyncSettings(syncConfigId);
    if (!settings.found) return false;
    state.syncMode = settings.syncMode;
    state.pollingIntervalSeconds = settings.pollingIntervalSeconds;
    return true;
  }
}
