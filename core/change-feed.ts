// Event-driven syncs (issue 14): which providers announce changes, and how announcements coalesce.
// Pure: the API (422 for providers without a feed), the announcers (API and worker) and the sync
// workflow all use these rules.
import type { ProviderType } from './request-schemas';
import { newPass, type Mint, type SyncState } from './sync-state';

/** How a provider announces changes; absent: polling only. */
export type ChangeFeedKind = 'filesystem' | 'bucket_notifications' | 'drive_channels' | 'graph_subscriptions';

/**
 * Providers with a change feed implemented. `drive_channels` (Drive `changes.watch`) and
 * `graph_subscriptions` (Graph change notifications) are push channels the worker opens and renews
 * (worker/push-channels.ts); their notifications name no files, so they run incremental passes (delta
 * cursors).
 */
export const CHANGE_FEEDS: Partial<Record<ProviderType, ChangeFeedKind>> = {
  local: 'filesystem',
  s3: 'bucket_notifications',
  google_drive: 'drive_channels',
  sharepoint: 'graph_subscriptions',
};

/** Feeds whose channels the worker opens at the provider, posting to PUBLIC_API_URL. */
export const PUSH_FEEDS: readonly ChangeFeedKind[] = ['drive_channels', 'graph_subscriptions'];

/**
 * When a push channel of lifetime `ttlMs` expiring at `expiresAt` is renewed: once a quarter of its
 * lifetime is left (a day-long channel 6 h before it ends, so a worker down for less still renews it).
 */
export function renewAt(expiresAt: number, ttlMs: number): number {
  return expiresAt - Math.floor(ttlMs / 4);
}

export function changeFeedOf(provider: ProviderType): ChangeFeedKind | null {
  return CHANGE_FEEDS[provider] ?? null;
}

/**
 * Announced source object ids a workflow keeps for a targeted pass; more (or more bytes) and the
 * pass lists incrementally instead. Bounds the signal payloads and the workflow state.
 */
export const MAX_ANNOUNCED_KEYS = 500;
export const MAX_ANNOUNCED_KEY_CHARS = 64 * 1024;
/** An announcer sends at most one signal per sync per window: a burst becomes one signal per window. */
export const ANNOUNCE_WINDOW_MS = 250;

/** What a changesAnnounced signal carries: how many events, and the ids they named (if any). */
export interface ChangesAnnounced {
  count: number;
  /** Source object ids (the provider's `sourceObjectId`); absent: the feed does not say what changed. */
  keys?: string[];
}

/** Announcements waiting for a pass, coalesced: a counter and a bounded set of ids, never one by one. */
export interface PendingChanges {
  count: number;
  keys: string[];
  /** Some announcement named no ids, or too many: the next pass lists (incrementally) instead. */
  overflow: boolean;
}

/** Folds one announcement into what is pending (null: nothing pending). */
export function coalesceChanges(
  pending: PendingChanges | null | undefined,
  add: ChangesAnnounced,
): PendingChanges {
  const base: PendingChanges = pending
    ? { count: pending.count, keys: pending.keys, overflow: pending.overflow }
    : { count: 0, keys: [], overflow: false };
  const count = base.count + Math.max(0, Math.trunc(Number(add.count) || 0));
  if (base.overflow || !Array.isArray(add.keys) || add.keys.length === 0)
    return { count, keys: [], overflow: true };
  const set = new Set(base.keys);
  let chars = base.keys.reduce((n, k) => n + k.length, 0);
  for (const k of add.keys) {
    if (typeof k !== 'string' || k.length === 0) continue;
    if (set.has(k)) continue;
    set.add(k);
    chars += k.length;
    if (set.size > MAX_ANNOUNCED_KEYS || chars > MAX_ANNOUNCED_KEY_CHARS)
      return { count, keys: [], overflow: true };
  }
  return { count, keys: [...set], overflow: false };
}

/** What the next pass is, given what woke the workflow. */
export type NextPass = { kind: 'targeted'; keys: string[] } | { kind: 'listing' };

/**
 * A targeted pass (only the announced ids, through the same page activity) when announcements are
 * all that is pending and they name their ids; anything else (a poll, a trigger, a full sync, the
 * first pass, a feed that names nothing) lists.
 */
export function nextPass(s: {
  pending: PendingChanges | null | undefined;
  triggerRequested: boolean;
  pendingFullSync: boolean;
  hasCompletedPass: boolean;
}): NextPass {
  const p = s.pending;
  if (!p || p.overflow || p.keys.length === 0) return { kind: 'listing' };
  if (s.triggerRequested || s.pendingFullSync || !s.hasCompletedPass) return { kind: 'listing' };
  return { kind: 'targeted', keys: p.keys };
}

// --- the sync state machine's event transitions (core/sync-state.ts holds the others) -----------

/** A changesAnnounced signal: counted and coalesced into one pending trigger. */
export function changesAnnounced(s: SyncState, req: ChangesAnnounced): SyncState {
  return { ...s, announced: coalesceChanges(s.announced, req) };
}

/**
 * Before a run starts (startRun): with no pass in flight, the pending announcements become a
 * targeted pass when they can (see nextPass), else the listing pass startRun makes covers them. A
 * pass in flight resumes first; announcements wait for the pass after it.
 */
export function passForAnnouncements(s: SyncState, mint: Mint): SyncState {
  if (s.pass || !s.announced) return s;
  const next = nextPass({
    pending: s.announced,
    triggerRequested: s.triggerRequested,
    pendingFullSync: s.pendingFullSync,
    hasCompletedPass: s.lastCompletedPassStartedAt !== null,
  });
  if (next.kind === 'listing') return { ...s, announced: null };
  return {
    ...s,
    announced: null,
    pass: { ...newPass(s, mint.now(), mint.uuid()), targets: next.keys, listedAll: false },
  };
}

/**
 * After passFinished: a targeted pass listed nothing, so what the next incremental pass lists since
 * (lastCompletedPassStartedAt, the delta token) stays as before it, and the poll keeps its timing; a
 * listing pass re-times the poll.
 */
export function afterPass(before: SyncState, after: SyncState): SyncState {
  if (!before.pass?.targets) return { ...after, pollCycleStart: null };
  return {
    ...after,
    lastCompletedPassStartedAt: before.lastCompletedPassStartedAt,
    deltaToken: before.deltaToken ?? null,
  };
}
