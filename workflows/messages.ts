// Signals and queries of the sync workflow: the API sends them, the workflow handles them.
// Pure definitions, imported by both sides.
// The state they carry and change is core/sync-state.ts.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ChangesAnnounced } from '../core/change-feed';
import type { PauseRequest, SyncState, TriggerRequest } from '../core/sync-state';

// The state's types, for the modules that know them from here.
export type {
  BatchTotals,
  PassState,
  PauseRequest,
  SyncState,
  Totals,
  TriggerRequest,
} from '../core/sync-state';
export { addBatches, RECENT_IDS } from '../core/sync-state';

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

export const stateQuery = defineQuery<SyncState>('state');

export interface SyncWorkflowInput {
  syncConfigId: string;
  /** Carried across continue-as-new; absent on the first start. */
  state?: SyncState;
}

export const workflowIdForSync = (syncConfigId: string): string => `sync-${syncConfigId}`;
