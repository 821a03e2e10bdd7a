// The sync document (collection sync_configs): the stored config plus the API's projection of the
// workflow's state. This module is the one place that maps between the two and writes the
// projection's fields: the initial document, state -> document (the workflow's records, a pass's
// checkpoint with them), document -> state (to restart a workflow), the live state as the API shows it, the run
// lock, and the deleted mark.
import type { Collection } from 'mongodb';
import {
  mintRunId,
  passStartOf,
  statusOf,
  zeroTotals,
  type BatchTotals,
  type Mint,
  type PassState,
  type SyncState,
  type Totals,
} from '../core/sync-state';
import { progressOf } from '../core/progress';
import type { SyncCreateRequest } from '../core/request-schemas';
import type { ConnectionDoc, SyncCheckpoint, SyncConfigDoc, Tenant } from './doc-types';

type Syncs = Collection<SyncConfigDoc>;
const byId = (syncConfigId: string) => ({ sync_config_id: syncConfigId });
const toDate = (s: string | null) => (s ? new Date(s) : null);

/** The longest last_error kept. */
export const MAX_ERROR_LENGTH = 1000;

// --- the initial document --------------------------------------------------------------------

/** A new sync's document: the request's config, nothing run yet, not locked. */
export function initialSyncDocument(args: {
  body: SyncCreateRequest;
  syncConfigId: string;
  bucketId: string;
  tenant: Tenant & { user_id: string };
  connection: Pick<ConnectionDoc, 'connection_id' | 'provider_type'>;
  now: Date;
}): SyncConfigDoc {
  const { body, now, tenant } = args;
  // event_feed in a request names a queue; the document's is the feed's state (set by the caller).
  const { event_feed: _feed, ...fields } = body;
  return {
    ...fields,
    // The public id as _id: reads by it are `_id` lookups.
    _id: args.syncConfigId,
    file_filters: body.file_filters ?? null,
    schema_mapping: body.schema_mapping ?? null,
    description: body.description ?? null,
    connection_id: args.connection.connection_id,
    sync_config_id: args.syncConfigId,
    bucket_id: args.bucketId,
    internal_id: tenant.internal_id,
    namespace_id: tenant.namespace_id,
    source_type: args.connection.provider_type,
    created_by_user_id: tenant.user_id,
    status: 'PENDING',
    is_active: true,
    deleted: false,
    total_files_discovered: 0,
    total_files_synced: 0,
    total_files_failed: 0,
    total_bytes_synced: 0,
    consecutive_failures: 0,
    created_at: now,
    updated_at: now,
    last_sync_at: null,
    next_sync_at: null,
    last_error: null,
    ...UNLOCKED,
    pending_full_sync: false,
    paused: false,
    pause_reason: null,
    paused_at: null,
    paused_by_user_id: null,
    current_sync_run_id: null,
    sync_run_counter: 0,
    batch_ids: [],
    task_ids: [],
    batches_created: 0,
    resume_cursor: null,
    resume_last_primary_key: null,
    resume_objects_processed: 0,
    current_cursor: null,
    per_shard_last_sync_at: {},
    sync_checkpoints: {},
    schedule: {
      mode: body.sync_mode,
      interval_seconds: body.polling_interval_seconds,
      next_run_at: null,
      last_successful_run_at: null,
    },
    sync_progress: {},
  };
}

// --- the run lock --------------------------------------------------------------------------------

const UNLOCKED = {
  locked: false,
  locked_by_worker_id: null,
  locked_at: null,
  lock_expires_at: null,
} as const;

/**
 * Takes (initial) or refreshes the run lock for a page. A refresh holds only while the document
 * still shows this attempt's locked_at (or an older one): once a newer attempt took the lock (a
 * force-unlock redo) or the workflow released it, an abandoned attempt must not take it back.
 */
export async function lockForPage(
  syncs: Syncs,
  lock: {
    syncConfigId: string;
    workerId: string;
    lockedAt: Date;
    ttlMs: number;
    runId: string;
    initial: boolean;
  },
): Promise<void> {
  await syncs.updateOne(
    lock.initial
      ? byId(lock.syncConfigId)
      : { ...byId(lock.syncConfigId), locked_at: { $lte: lock.lockedAt } },
    {
      $set: {
        locked: true,
        locked_by_worker_id: lock.workerId,
        locked_at: lock.lockedAt,
        lock_expires_at: new Date(Date.now() + lock.ttlMs),
        current_sync_run_id: lock.runId,
      },
    },
  );
}

/** Releases the lock that was stuck (its locked_at), not one a redone page may have taken meanwhile. */
export async function releaseStuckLock(
  syncs: Syncs,
  cfg: Pick<SyncConfigDoc, 'sync_config_id' | 'locked_at'>,
) {
  // FerretDB can lose this update to a concurrent write of the document (the workflow recording
  // its state as the force-unlock signal arrives, a write that read the document before this update
  // and lands after it): re-applied while the same lock is still there, until a read a moment after
  // the release still shows it released.
  const sameLockThere = async () => {
    const doc = await syncs.findOne(byId(cfg.sync_config_id), { projection: { locked: 1, locked_at: 1 } });
    return (
      doc?.locked === true && (doc.locked_at?.getTime?.() ?? null) === (cfg.locked_at?.getTime?.() ?? null)
    );
  };
  for (let attempt = 1; attempt <= 8; attempt++) {
    await syncs.updateOne(
      { ...byId(cfg.sync_config_id), locked_at: cfg.locked_at ?? null },
      { $set: { ...UNLOCKED } },
    );
    if (!(await sameLockThere())) {
      await new Promise((res) => setTimeout(res, 100));
      if (!(await sameLockThere())) return;
    } else await new Promise((res) => setTimeout(res, 20 * attempt));
  }
}

// --- state -> document ----------------------------------------------------------------------------

/** The projection of the workflow's state (what recordSyncState writes). */
export function stateToDocument(state: SyncState, now = new Date()): Record<string, unknown> {
  return {
    status: state.status,
    paused: state.paused,
    pause_reason: state.pauseReason,
    paused_at: toDate(state.pausedAt),
    paused_by_user_id: state.pausedBy,
    pending_full_sync: state.pendingFullSync,
    ...totalsFields(state.totals),
    ...(state.batches ? batchFields(state.batches) : {}),
    consecutive_failures: state.consecutiveFailures,
    last_error: state.lastError ? state.lastError.slice(0, MAX_ERROR_LENGTH) : null,
    last_sync_at: toDate(state.lastSyncAt),
    // One shard per sync here (a pass is one listing): its last completed sync.
    ...(state.lastSyncAt ? { 'per_shard_last_sync_at.default': toDate(state.lastSyncAt) } : {}),
    next_sync_at: toDate(state.nextSyncAt),
    sync_run_counter: state.runCounter,
    current_sync_run_id: state.pass?.runId ?? null,
    // A targeted pass's cursor is an offset into announced ids, not a listing position.
    resume_cursor: (!state.pass?.targets && state.pass?.cursor) || null,
    current_cursor: (!state.pass?.targets && state.pass?.cursor) || null,
    // Between runs nothing holds the lock.
    ...(state.pass?.inRun ? {} : UNLOCKED),
    ...(state.pass ? passFields(state, state.pass, now) : {}),
    schedule: {
      mode: state.syncMode,
      interval_seconds: state.pollingIntervalSeconds,
      next_run_at: toDate(state.nextSyncAt),
      last_successful_run_at: toDate(state.lastSyncAt),
    },
    updated_at: now,
  };
}

/**
 * A pass in flight: its checkpoint and progress. Written with the totals (the workflow's, after a
 * page), so a workflow restarted from the document resumes with totals that match its cursor.
 */
function passFields(state: SyncState, pass: PassState, now: Date): Record<string, unknown> {
  // The listing ended (its last page is done; the sweep and the run record follow).
  const listed = pass.pages > 0 && pass.cursor === null;
  // A targeted pass (event-driven syncs) walks announced ids, not a listing: it writes no checkpoint.
  const checkpoint = pass.targets
    ? {}
    : {
        resume_objects_processed: pass.objectsProcessed,
        'sync_checkpoints.default': {
          pass_id: pass.passId,
          cursor: pass.cursor,
          objects_processed: pass.objectsProcessed,
          modified_since: pass.modifiedSince,
          delta_token: pass.deltaToken ?? null,
          next_delta_token: pass.nextDeltaToken ?? null,
          completed_at: listed ? now : null,
          updated_at: now,
        } satisfies SyncCheckpoint,
      };
  return {
    ...checkpoint,
    // What GET sync and the dashboard show between live queries: the live shape (core/progress.ts)
    // as of this write.
    sync_progress: {
      ...progressOf(state, now.getTime()),
      sync_run_id: pass.runId,
      phase: listed ? 'finishing' : state.paused ? 'paused' : 'listing',
      files_listed: pass.objectsProcessed,
      files_synced: pass.run.synced,
      files_failed: pass.run.failed,
      bytes_synced: pass.run.bytes,
      updated_at: now,
    },
  };
}

/** Writes the workflow's state to the sync's projection. */
export async function writeSyncState(syncs: Syncs, syncConfigId: string, state: SyncState): Promise<void> {
  await syncs.updateOne(byId(syncConfigId), { $set: stateToDocument(state) });
}

const totalsFields = (t: Totals) => ({
  total_files_discovered: t.discovered,
  total_files_synced: t.synced,
  total_files_failed: t.failed,
  total_bytes_synced: t.bytes,
});

const batchFields = (b: BatchTotals) => ({
  batches_created: b.created,
  batch_ids: b.batchIds,
  task_ids: b.taskIds,
});

// --- the deleted mark -----------------------------------------------------------------------------

/** What DELETE sets: the document stays (its runs and objects refer to it), hidden and inactive. */
export const deletedFields = (now = new Date()) => ({ deleted: true, is_active: false, updated_at: now });

// --- document -> state ----------------------------------------------------------------------------

/** Workflow state rebuilt from the projection (when a workflow must be started again). */
export function documentToState(cfg: SyncConfigDoc, mint: Mint): SyncState {
  const cp = cfg.sync_checkpoints?.default;
  return {
    status: cfg.status === 'COMPLETED' || cfg.status === 'FAILED' ? 'ACTIVE' : cfg.status,
    syncMode: cfg.sync_mode,
    pollingIntervalSeconds: cfg.polling_interval_seconds,
    paused: cfg.paused,
    pauseReason: cfg.pause_reason,
    pausedAt: cfg.paused_at?.toISOString() ?? null,
    pausedBy: cfg.paused_by_user_id,
    triggerRequested: false,
    pendingFullSync: cfg.pending_full_sync,
    pass: cp && !cp.completed_at ? passFromCheckpoint(cfg, cp, mint) : null,
    // Pass ids start with the pass's ISO start time, so a completed checkpoint tells when it began.
    lastCompletedPassStartedAt: cp?.completed_at ? passStartOf(cp.pass_id) : null,
    totals: {
      discovered: cfg.total_files_discovered,
      synced: cfg.total_files_synced,
      failed: cfg.total_files_failed,
      bytes: cfg.total_bytes_synced,
    },
    runCounter: cfg.sync_run_counter,
    consecutiveFailures: cfg.consecutive_failures,
    lastError: cfg.last_error,
    lastSyncAt: cfg.last_sync_at?.toISOString() ?? null,
    nextSyncAt: null,
    // The token of the last completed pass, or, mid-pass, the one that pass lists from.
    deltaToken: (cp?.completed_at ? cp.next_delta_token : cp?.delta_token) ?? null,
  };
}

/** A pass interrupted mid-listing, rebuilt from its checkpoint (resumes at its cursor). */
function passFromCheckpoint(cfg: SyncConfigDoc, cp: SyncCheckpoint, mint: Mint): PassState {
  return {
    passId: cp.pass_id,
    // The same run id, so objects the interrupted page created are still counted once.
    runId: cfg.current_sync_run_id ?? mintRunId(mint.uuid()),
    full: cp.modified_since === null,
    modifiedSince: cp.modified_since,
    startedAt: passStartOf(cp.pass_id) ?? mint.now(),
    cursor: cp.cursor,
    pages: 0,
    objectsProcessed: cp.objects_processed,
    run: zeroTotals(),
    listedAll: true,
    cut: false,
    inRun: false,
    fileErrors: 0,
    deleted: 0,
    deltaToken: cp.delta_token ?? null,
  };
}

// --- the live state as the API shows it -------------------------------------------------------------

/** The fields the running workflow owns, from its live state (they win over the projection's). */
export function liveFields(live: SyncState): Record<string, unknown> {
  return {
    // The workflow refreshes its status at its next step; derived here by the same rule, so a pause
    // shows at once.
    status: statusOf(live),
    paused: live.paused,
    pause_reason: live.pauseReason,
    paused_at: live.pausedAt,
    paused_by_user_id: live.pausedBy,
    pending_full_sync: live.pendingFullSync,
    consecutive_failures: live.consecutiveFailures,
    last_error: live.lastError,
    sync_run_counter: live.runCounter,
    next_sync_at: live.nextSyncAt,
  };
}
