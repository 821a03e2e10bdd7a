// Signals and queries of the sync workflow: the API sends them, the workflow handles them.
// Pure definitions, imported by both sides.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ChangesAnnounced, PendingChanges } from '../core/change-feed';
import type { TaskStatus } from '../core/status';

export interface PauseRequest {
  reason?: string | null;
  user?: string | null;
}

export interface TriggerRequest {
  full_sync?: boolean;
}

export const pauseSignal = defineSignal<[PauseRequest]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const triggerSignal = defineSignal<[TriggerRequest]>('trigger');
/** The stored config changed: reload it at once (a new polling interval applies to the current wait). */
export const configUpdatedSignal = defineSignal<[]>('configUpdated');
/** Operator recovery: cancel the page in flight (a stuck run) and redo it from the last checkpoint. */
export const forceUnlockSignal = defineSignal<[]>('forceUnlock');
/**
 * Event-driven syncs: the source announced changes (coalesced by the announcer: at most one signal per
 * sync per ANNOUNCE_WINDOW_MS). A trigger for a pass over the announced ids, or an incremental one.
 */
export const changesAnnouncedSignal = defineSignal<[ChangesAnnounced]>('changesAnnounced');

export interface Totals {
  discovered: number;
  synced: number;
  failed: number;
  bytes: number;
}

/** What a sync submitted to the processing pipeline (a page's share, or the sync's totals). */
export interface BatchTotals {
  /** Batches made (a page's: all attempts of that page). */
  created: number;
  /** Newest batch ids and task ids, at most RECENT_IDS each. */
  batchIds: string[];
  taskIds: string[];
  /** Batches held back by skip_batch_submission, not yet submitted. */
  held: number;
}

/** Ids kept on the sync (batch_ids / task_ids): the newest ones only. */
export const RECENT_IDS = 50;

export function addBatches(before: BatchTotals | undefined, page: BatchTotals): BatchTotals {
  const b = before ?? { created: 0, batchIds: [], taskIds: [], held: 0 };
  return {
    created: b.created + page.created,
    batchIds: [...b.batchIds, ...page.batchIds].slice(-RECENT_IDS),
    taskIds: [...b.taskIds, ...page.taskIds].slice(-RECENT_IDS),
    held: b.held + page.held,
  };
}

/** A pass over source_path in progress: what continue-as-new carries so a pass resumes mid-listing. */
export interface PassState {
  passId: string;
  runId: string;
  full: boolean;
  modifiedSince: string | null;
  startedAt: string;
  cursor: string | null;
  pages: number;
  objectsProcessed: number;
  run: Totals;
  /** Every page listed everything (no server-side modified filter): deletes can be inferred. */
  listedAll: boolean;
  /** Stopped early by max_objects_per_run at some point: no deletes for this pass. */
  cut: boolean;
  /** A run is executing this pass (survives continue-as-new mid-run). */
  inRun: boolean;
  /** The sync's first pass (no pass completed before): files are assumed new. */
  firstPass?: boolean;
  /** Files that went to the DLQ during this pass. */
  fileErrors: number;
  deleted: number;
  /**
   * The delta token this pass lists changes since (an incremental pass of a delta-capable provider);
   * absent or null: the pass lists by modifiedSince (or everything). Absent in older histories.
   */
  deltaToken?: string | null;
  /** The token the pass's last page returned: what the next incremental pass lists from. */
  nextDeltaToken?: string | null;
  /** Objects this run deleted for files the delta listing reported removed (for the run record). */
  removedInRun?: number;
  /**
   * A targeted pass (event-driven syncs): only these announced source object ids are looked up, through
   * the same page activity; the cursor is the offset into them. No sweep, no delta token.
   */
  targets?: string[];
}

export interface SyncState {
  status: TaskStatus;
  syncMode: 'continuous' | 'initial_only';
  pollingIntervalSeconds: number;
  paused: boolean;
  pauseReason: string | null;
  pausedAt: string | null;
  pausedBy: string | null;
  triggerRequested: boolean;
  pendingFullSync: boolean;
  pass: PassState | null;
  lastCompletedPassStartedAt: string | null;
  totals: Totals;
  runCounter: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSyncAt: string | null;
  nextSyncAt: string | null;
  /** Absent in state carried from before batches existed. */
  batches?: BatchTotals;
  /**
   * The delta token of the last completed pass (providers with delta cursors): the next incremental
   * pass lists the changes since it. Absent in state from before delta cursors: modifiedSince is used.
   */
  deltaToken?: string | null;
  /** Announced changes not yet covered by a pass (event-driven syncs): one pending trigger. */
  announced?: PendingChanges | null;
  /**
   * When the current polling wait started: targeted passes do not re-time the poll (the safety net),
   * so a steady stream of events never postpones it. Null: the next wait starts afresh.
   */
  pollCycleStart?: string | null;
}

export const stateQuery = defineQuery<SyncState>('state');

export interface SyncWorkflowInput {
  syncConfigId: string;
  /** Carried across continue-as-new; absent on the first start. */
  state?: SyncState;
}

export const workflowIdForSync = (syncConfigId: string): string => `sync-${syncConfigId}`;
