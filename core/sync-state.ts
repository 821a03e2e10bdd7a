// The sync's state machine: what one sync's workflow knows (totals, the pass in flight, pause,
// pending trigger, failure count) and every way it changes. Pure: time and ids come in through a
// `Mint`, so the workflow (deterministic Date and uuid4), the API's restart path and the unit tests
// all run the same transitions. Every transition returns a new state; none mutates its input.
//
//   PENDING --run--> ACTIVE --pause / auto-suspend--> SUSPENDED --resume--> ACTIVE
//   ACTIVE (initial_only, pass completed) --> COMPLETED
import { initialManifest, type ManifestState } from './manifest';
import type { PendingChanges } from './change-feed';
import { syncStatusOf, type TaskStatus } from './status';
import { addRunFiles, type RunFiles } from './progress';

export { errorMessage } from './failures';

export interface PauseRequest {
  reason?: string | null;
  user?: string | null;
}

export interface TriggerRequest {
  full_sync?: boolean;
}

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
  /** This run's files by outcome besides `run` (live progress, run record); absent in older histories. */
  runFiles?: RunFiles;
  /**
   * A targeted pass (event-driven syncs, core/change-feed.ts): only these announced source object ids
   * are looked up, through the same page activity; the cursor is the offset into them.
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
  /** Entries the last completed full pass listed: the next full pass's expected total (progress ETA). */
  lastFullPassListed?: number | null;
  /** Announced changes not yet covered by a pass (event-driven syncs): one pending trigger. */
  announced?: PendingChanges | null;
  /**
   * When the current polling wait started: targeted passes do not re-time the poll (the safety net),
   * so a steady stream of events never postpones it. Null: the next wait starts afresh.
   */
  pollCycleStart?: string | null;
  /** The sync's manifest (core/manifest.ts). Absent in state from before it: see `manifestOf`. */
  manifest?: ManifestState;
}

/** The manifest of this state (state from before manifests: none, and not complete). */
export function manifestOf(s: Pick<SyncState, 'manifest' | 'lastCompletedPassStartedAt'>): ManifestState {
  return s.manifest ?? initialManifest(s.lastCompletedPassStartedAt !== null);
}

/** Where time and fresh ids come from: the workflow's deterministic Date and uuid4, or a test's. */
export interface Mint {
  /** ISO 8601 time. */
  now(): string;
  /** A random UUID (v4 text form). */
  uuid(): string;
}

/** The reason a pause without one gets. */
export const DEFAULT_PAUSE_REASON = 'paused by user';

export const zeroTotals = (): Totals => ({ discovered: 0, synced: 0, failed: 0, bytes: 0 });

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    discovered: a.discovered + b.discovered,
    synced: a.synced + b.synced,
    failed: a.failed + b.failed,
    bytes: a.bytes + b.bytes,
  };
}

export function addBatches(before: BatchTotals | undefined, page: BatchTotals): BatchTotals {
  const b = before ?? { created: 0, batchIds: [], taskIds: [], held: 0 };
  return {
    created: b.created + page.created,
    batchIds: [...b.batchIds, ...page.batchIds].slice(-RECENT_IDS),
    taskIds: [...b.taskIds, ...page.taskIds].slice(-RECENT_IDS),
    held: b.held + page.held,
  };
}

/** A run id (`run_<16 hex>`): a run of a pass, and the id of a run record. */
export const mintRunId = (uuid: string): string => `run_${uuid.replace(/-/g, '').slice(0, 16)}`;

/** A pass id starts with the pass's ISO start time, so a checkpoint tells when its pass began. */
export const mintPassId = (now: string, uuid: string): string => `${now}-${uuid.slice(0, 8)}`;

/** The start time encoded at the front of a pass id (`<ISO time>-<random>`). */
export function passStartOf(passId: string): string | null {
  const iso = passId.slice(0, 24);
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

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
    totals: zeroTotals(),
    runCounter: 0,
    consecutiveFailures: 0,
    lastError: null,
    lastSyncAt: null,
    nextSyncAt: null,
  };
}

/** A new pass: full the first time or when asked, else incremental since the last completed one. */
export function newPass(state: SyncState, now: string, uuid: string): PassState {
  const full = state.pendingFullSync || state.lastCompletedPassStartedAt === null;
  return {
    passId: mintPassId(now, uuid),
    runId: mintRunId(uuid),
    full,
    modifiedSince: full ? null : state.lastCompletedPassStartedAt,
    startedAt: now,
    cursor: null,
    pages: 0,
    objectsProcessed: 0,
    run: zeroTotals(),
    listedAll: true,
    cut: false,
    inRun: false,
    firstPass: state.lastCompletedPassStartedAt === null,
    fileErrors: 0,
    deleted: 0,
    deltaToken: full ? null : (state.deltaToken ?? null),
  };
}

// --- the status rule ---------------------------------------------------------------------------

/** Whether the sync has ever run (or runs now): PENDING until then. */
export const hasStarted = (s: SyncState): boolean => s.runCounter > 0 || s.pass?.inRun === true;

/**
 * The status a sync shows: COMPLETED and FAILED stay; otherwise SUSPENDED while paused, ACTIVE once
 * it has run, PENDING before. The one rule, for the workflow and the API's view of the live state.
 */
export function statusOf(s: SyncState): TaskStatus {
  if (s.status === 'COMPLETED' || s.status === 'FAILED') return s.status;
  return syncStatusOf({ started: hasStarted(s), paused: s.paused, completed: false, failed: false });
}

export const withStatus = (s: SyncState): SyncState => ({ ...s, status: statusOf(s) });

// --- what users and operators ask ---------------------------------------------------------------

/** Pause (a user, or is_active=false): the page in flight finishes, no new work starts. */
export function pause(s: SyncState, req: PauseRequest | undefined, mint: Pick<Mint, 'now'>): SyncState {
  if (s.paused) return s;
  return {
    ...s,
    paused: true,
    pauseReason: req?.reason ?? DEFAULT_PAUSE_REASON,
    pausedBy: req?.user ?? null,
    pausedAt: mint.now(),
  };
}

/** Resume: the pause is forgotten, and so are the failures that may have auto-suspended the sync. */
export function resume(s: SyncState): SyncState {
  if (!s.paused) return s;
  return {
    ...s,
    paused: false,
    pauseReason: null,
    pausedAt: null,
    pausedBy: null,
    consecutiveFailures: 0,
  };
}

/** Ask for a full pass (the next new pass lists everything and may sweep). */
export const requestFullSync = (s: SyncState): SyncState => ({ ...s, pendingFullSync: true });

/** Run now (cuts the wait short); full_sync also asks for a full pass. */
export function trigger(s: SyncState, req?: TriggerRequest): SyncState {
  const t = { ...s, triggerRequested: true };
  return req?.full_sync ? requestFullSync(t) : t;
}

/** The stored config was (re)loaded: mode and polling interval follow it. */
export function configChanged(
  s: SyncState,
  cfg: { syncMode: SyncState['syncMode']; pollingIntervalSeconds: number },
): SyncState {
  return { ...s, syncMode: cfg.syncMode, pollingIntervalSeconds: cfg.pollingIntervalSeconds };
}

/** skip_batch_submission was switched off and the held batches were submitted. */
export function heldBatchesReleased(s: SyncState, taskIds: string[]): SyncState {
  if (!s.batches) return s;
  return {
    ...s,
    batches: { ...s.batches, held: 0, taskIds: [...s.batches.taskIds, ...taskIds].slice(-RECENT_IDS) },
  };
}

/** The wait for the next cycle ends at `atMs` (none is shown while paused). */
export function nextCycleAt(s: SyncState, atMs: number): SyncState {
  return { ...s, nextSyncAt: s.paused ? null : new Date(atMs).toISOString() };
}

// --- runs and passes -----------------------------------------------------------------------------

/**
 * A run begins: it resumes the pass in flight or starts a new one. With resume_enabled false an
 * interrupted pass (paused, failed, cut) starts over. A continue-as-new in the middle of a run
 * (pass.inRun) is not a new run.
 */
export function startRun(s: SyncState, opts: { resumeEnabled: boolean }, mint: Mint): SyncState {
  let next = s;
  const p = s.pass;
  if (p && !p.inRun && p.pages > 0 && opts.resumeEnabled === false) next = { ...next, pass: null };
  if (!next.pass) next = { ...next, pass: newPass(next, mint.now(), mint.uuid()), pendingFullSync: false };
  if (!next.pass!.inRun)
    next = {
      ...next,
      pass: { ...next.pass!, inRun: true },
      triggerRequested: false,
      nextSyncAt: null,
      runCounter: next.runCounter + 1,
    };
  return next;
}

/** What one page did, as the sync's page activity reports it. */
export interface PageOutcome {
  listed: number;
  discovered: number;
  created: number;
  failed: number;
  bytes: number;
  dlq: number;
  drifted: number;
  removed?: number;
  /** By outcome, for live progress (core/progress.ts). */
  updated?: number;
  unchanged?: number;
  duplicates?: number;
  listedAll: boolean;
  nextCursor: string | null;
  deltaToken?: string | null;
  batches?: BatchTotals;
  /** Pages the activity applied (core/stride.ts; absent: one). */
  pages?: number;
}

/** What the run does after a page: list more, or stop (listing done, cut by max_objects_per_run, paused). */
export type AfterPage = 'more' | 'listed' | 'cut' | 'paused';

/** A page was applied: totals, the pass's cursor and counts move on. */
export function pageApplied(
  s: SyncState,
  page: PageOutcome,
  opts: { maxObjectsPerRun: number },
): { state: SyncState; next: AfterPage } {
  const pass = s.pass;
  if (!pass) throw new Error('pageApplied: no pass in flight');
  const delta: Totals = {
    discovered: page.discovered,
    synced: page.created,
    failed: page.failed,
    bytes: page.bytes,
  };
  const p: PassState = {
    ...pass,
    run: addTotals(pass.run, delta),
    cursor: page.nextCursor,
    pages: pass.pages + (page.pages ?? 1),
    objectsProcessed: pass.objectsProcessed + page.listed,
    listedAll: pass.listedAll && page.listedAll,
    fileErrors: pass.fileErrors + page.dlq,
    deleted: pass.deleted + page.drifted + (page.removed ?? 0),
    runFiles: addRunFiles(pass.runFiles, page),
  };
  if (page.removed) p.removedInRun = (pass.removedInRun ?? 0) + page.removed;
  if (page.deltaToken !== undefined) p.nextDeltaToken = page.deltaToken;
  const state: SyncState = {
    ...s,
    totals: addTotals(s.totals, delta),
    pass: p,
    ...(page.batches ? { batches: addBatches(s.batches, page.batches) } : {}),
  };
  if (page.nextCursor === null) return { state, next: 'listed' };
  // max_objects_per_run: the rest comes next run, from this cursor.
  if (p.run.synced >= opts.maxObjectsPerRun)
    return { state: { ...state, pass: { ...p, cut: true } }, next: 'cut' };
  if (s.paused) return { state, next: 'paused' }; // the page in flight finished; no new work
  return { state, next: 'more' };
}

/** A run failed (a page gave up): counted, and auto-suspended once failures reach the threshold. */
export function runFailed(
  s: SyncState,
  error: string,
  opts: { autoSuspendThreshold: number },
  mint: Pick<Mint, 'now'>,
): SyncState {
  const failed = { ...s, consecutiveFailures: s.consecutiveFailures + 1, lastError: error };
  return failed.consecutiveFailures >= opts.autoSuspendThreshold ? autoSuspend(failed, mint) : failed;
}

/** Too many failures in a row: paused by the system until someone resumes it. */
export function autoSuspend(s: SyncState, mint: Pick<Mint, 'now'>): SyncState {
  return {
    ...s,
    paused: true,
    pauseReason: `auto-suspended after ${s.consecutiveFailures} consecutive failures: ${s.lastError}`,
    pausedAt: mint.now(),
    pausedBy: 'system',
  };
}

/** How the run's pages ended. */
export type RunEnd = 'listed' | 'cut' | 'paused' | 'failed';

/** The run record a run's end writes (when it writes one), and whether the pass may sweep deletes. */
export interface RunRecord {
  recordId: string;
  status: 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED';
  sweep: boolean;
  error: string | null;
}

/**
 * The run's pages are done: the pass is no longer in a run, and the run record to write, if any (a
 * failed, completed or cut run writes one; a paused one does not).
 */
export function runEnded(
  s: SyncState,
  end: RunEnd,
  mint: Pick<Mint, 'uuid'>,
): { state: SyncState; record: RunRecord | null } {
  const pass = s.pass;
  if (!pass) throw new Error('runEnded: no pass in flight');
  const state = { ...s, pass: { ...pass, inRun: false } };
  const failed = end === 'failed';
  const completed = !failed && pass.cursor === null;
  if (!failed && !completed && !pass.cut) return { state, record: null };
  return {
    state,
    record: {
      recordId: mintRunId(mint.uuid()),
      status: failed ? 'FAILED' : pass.fileErrors > 0 ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED',
      sweep: completed && pass.listedAll && !pass.cut,
      error: failed ? s.lastError : null,
    },
  };
}

/**
 * The run's record was written (`deleted`: what the sweep deleted). A completed pass becomes the
 * last completed one (an initial_only sync is then COMPLETED); a cut pass goes on from its cursor in
 * a new run; after a failure the pass keeps its run id, so the retried page still counts the objects
 * the failed attempt created.
 */
export function passFinished(s: SyncState, end: RunEnd, deleted: number, mint: Mint): SyncState {
  const pass = s.pass;
  if (!pass) throw new Error('passFinished: no pass');
  const p = { ...pass, deleted: pass.deleted + deleted };
  const failed = end === 'failed';
  if (!failed && p.cursor === null) {
    const done: SyncState = {
      ...s,
      lastCompletedPassStartedAt: p.startedAt,
      ...(p.full ? { lastFullPassListed: p.objectsProcessed } : {}),
      // Only a token the provider gave at the end of this very pass: else the next pass falls back
      // to modifiedSince (or lists everything).
      deltaToken: p.nextDeltaToken ?? null,
      pass: null,
      lastSyncAt: mint.now(),
      consecutiveFailures: 0,
      lastError: null,
    };
    return done.syncMode === 'initial_only' ? { ...done, status: 'COMPLETED', nextSyncAt: null } : done;
  }
  if (p.cut && !failed) {
    return {
      ...s,
      lastSyncAt: mint.now(),
      consecutiveFailures: 0,
      pass: { ...p, runId: mintRunId(mint.uuid()), run: zeroTotals(), removedInRun: 0, runFiles: undefined },
    };
  }
  return { ...s, pass: p };
}

/** An initial_only sync whose pass completed: nothing more to do. */
export const isFinished = (s: SyncState): boolean => s.status === 'COMPLETED';
