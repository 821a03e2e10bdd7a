// Sync activities: everything a sync does that touches the world. The workflow calls one
// `syncPage` per page of listed files and gets back counts and the next cursor, never file lists.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { compileFilters } from '../core/filters';
import type { SourceEntry } from '../core/entry';
import { forEachLimit } from '../lib/pool';
import { createProvider, ProviderError, type StorageProvider } from '../providers';
import type { ObjectDoc, Store, SyncConfigDoc } from '../store';
import { findBySource, knownContent, markSeen, unseenObjects } from '../store/objects';
import type { BlobStore } from '../store/blobs';
import type { SecretBox } from '../store/secrets';
import {
  commitNew,
  deleteObjects,
  ingestUpdate,
  prepareNew,
  type IngestContext,
  type IngestOutcome,
  type Prepared,
} from '../engine/ingest';
import { addBatches, type BatchTotals, type SyncState, type Totals } from '../workflows/messages';
import { batchPage, releaseHeld } from '../pipeline/batching';
import type { BatchRunner } from '../pipeline/submit';
import { lockForPage, writePageProgress, writeSyncState } from '../store/sync-document';

export interface SyncActivityDeps {
  store: Store;
  secrets: SecretBox;
  blobs: BlobStore;
  log: Logger;
  workerId: string;
  pageSize: number;
  /** Files copied at once within a page. */
  fileConcurrency: number;
  autoSuspendThreshold: number;
  /** Submits batches to the processing pipeline (starts batch workflows). */
  batches: BatchRunner;
}

export interface SyncSettings {
  found: boolean;
  syncMode: 'continuous' | 'initial_only';
  pollingIntervalSeconds: number;
  isActive: boolean;
  maxObjectsPerRun: number;
  autoSuspendThreshold: number;
  /** resume_enabled: an interrupted pass continues from its cursor (else it starts over). */
  resumeEnabled: boolean;
  /** skip_batch_submission: new objects' batches are held back (DRAFT) until it is switched off. */
  skipBatchSubmission: boolean;
}

export interface SyncPageInput {
  syncConfigId: string;
  runId: string;
  passId: string;
  cursor: string | null;
  modifiedSince: string | null;
  /**
   * The delta token the pass lists changes since (providers with delta cursors; it takes precedence
   * over modifiedSince there). Absent in histories from before delta cursors.
   */
  deltaToken?: string | null;
  /** Cumulative totals before this page; the projection written is totals + this page. */
  totals: Totals;
  /** This run's counts before this page. */
  run: Totals;
  objectsProcessed: number;
  /** Objects this run may still create (max_objects_per_run minus what it created). */
  remaining: number;
  /** The sync's first pass: files are assumed new (insert first, look up only conflicts). */
  assumeNew?: boolean;
  /** The sync's batch counters before this page (absent in histories from before batches). */
  batches?: BatchTotals;
}

export interface SyncPageResult {
  found: boolean;
  listed: number;
  discovered: number;
  created: number;
  updated: number;
  unchanged: number;
  duplicates: number;
  /** Files that went to the DLQ (pending retry or failed for good) on this page. */
  dlq: number;
  /** Files that reached FAILED on this page (counted in total_files_failed). */
  failed: number;
  /** Objects removed because they no longer match the filters (on_filter_drift). */
  drifted: number;
  /** Objects deleted because a delta listing reported their files removed (on_delete). */
  removed: number;
  bytes: number;
  /** The provider listed everything (no server-side modified filter applied). */
  listedAll: boolean;
  nextCursor: string | null;
  /**
   * On the last page of a listing of a delta-capable provider: the token the next incremental pass
   * lists changes since (null: none given). Absent otherwise.
   */
  deltaToken?: string | null;
  /** Batches of this page's new (and re-extracted) objects. */
  batches: BatchTotals;
}

export interface FinishPassInput {
  syncConfigId: string;
  /** Id of the run record (SyncRunMetric) this call writes. */
  recordId: string;
  runId: string;
  passId: string;
  startedAt: string;
  full: boolean;
  run: Totals;
  /** Objects this run's pages deleted for files a delta listing reported removed (run record only). */
  removed?: number;
  status: 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED' | 'CANCELED';
  /** Sweep objects not seen in this pass: only after a pass that listed everything, without error or cut. */
  sweep: boolean;
  error: string | null;
}

const LOCK_TTL_MS = 60_000;
/** Delta tokens travel in workflow history and state: longer ones are dropped (modifiedSince is used). */
export const MAX_DELTA_TOKEN_LENGTH = 1024;
const HEARTBEAT_MS = 3_000;

function add(a: Totals, b: Totals): Totals {
  return {
    discovered: a.discovered + b.discovered,
    synced: a.synced + b.synced,
    failed: a.failed + b.failed,
    bytes: a.bytes + b.bytes,
  };
}

function toFailure(err: unknown): never {
  if (err instanceof ProviderError) {
    throw ApplicationFailure.create({
      message: err.message,
      type: `ProviderError.${err.kind}`,
      nonRetryable: !err.retryable,
      cause: err,
    });
  }
  throw err;
}

/** Deletes on filter drift: `reconcile.on_filter_drift`, or the legacy `reconcile_on_sync` switch. */
export function driftDeletesEnabled(cfg: Pick<SyncConfigDoc, 'reconcile' | 'reconcile_on_sync'>): boolean {
  return cfg.reconcile_on_sync || cfg.reconcile?.on_filter_drift !== false;
}

export function createSyncActivities(deps: SyncActivityDeps) {
  const { store, secrets } = deps;

  async function providerFor(cfg: SyncConfigDoc): Promise<StorageProvider> {
    const conn = await store.connections.findOne({
      connection_id: cfg.connection_id,
      internal_id: cfg.internal_id,
    });
    if (!conn || conn.status === 'ARCHIVED')
      throw ApplicationFailure.nonRetryable(
        `connection ${cfg.connection_id} no longer exists`,
        'ConnectionMissing',
      );
    const credentials = conn.credentials_sealed
      ? secrets.open<Record<string, unknown>>(conn.credentials_sealed)
      : null;
    try {
      return createProvider(conn.provider_type, conn.provider_config, credentials);
    } catch (err) {
      if (err instanceof ProviderError) toFailure(err);
      throw ApplicationFailure.nonRetryable(
        `connection ${cfg.connection_id}: ${(err as Error).message}`,
        'BadConnection',
      );
    }
  }

  /**
   * A provider that filters by modification time server-side does not list an unchanged file
   * again, so files waiting in the DLQ would never be retried by incremental passes: at the end of
   * such a pass they are retried from their stored entries (a page's worth per run).
   */
  async function dlqToRetry(
    cfg: SyncConfigDoc,
    provider: StorageProvider,
    input: SyncPageInput,
    page: { entries: SourceEntry[]; nextCursor: string | null },
  ): Promise<SourceEntry[]> {
    if (page.nextCursor !== null || input.modifiedSince === null) return [];
    if (!provider.capabilities.serverSideModifiedFilter) return [];
    const listed = new Set(page.entries.map((e) => e.sourceObjectId));
    const waiting = await store.dlq
      .find({
        sync_config_id: cfg.sync_config_id,
        status: 'PENDING',
        last_attempt_run_id: { $ne: input.runId },
      })
      .limit(deps.pageSize)
      .toArray();
    return waiting.filter((d) => d.entry && !listed.has(d.source_object_id)).map((d) => d.entry);
  }

  const loadConfig = (syncConfigId: string) =>
    store.syncs.findOne({ sync_config_id: syncConfigId, deleted: { $ne: true } });

  return {
    async loadSyncSettings(syncConfigId: string): Promise<SyncSettings> {
      const cfg = await loadConfig(syncConfigId);
      return {
        found: cfg !== null,
        syncMode: cfg?.sync_mode ?? 'continuous',
        pollingIntervalSeconds: cfg?.polling_interval_seconds ?? 300,
        isActive: cfg?.is_active ?? false,
        maxObjectsPerRun: cfg?.max_objects_per_run ?? 0,
        resumeEnabled: cfg?.resume_enabled ?? true,
        skipBatchSubmission: cfg?.skip_batch_submission ?? false,
        autoSuspendThreshold: deps.autoSuspendThreshold,
      };
    },

    /** One page: list -> filter -> register objects under the idempotency key -> save progress. */
    async syncPage(input: SyncPageInput): Promise<SyncPageResult> {
      const cfg = await loadConfig(input.syncConfigId);
      const counts = {
        listed: 0,
        discovered: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        duplicates: 0,
        dlq: 0,
        failed: 0,
        drifted: 0,
        removed: 0,
        bytes: 0,
      };
      const noBatches: BatchTotals = { created: 0, batchIds: [], taskIds: [], held: 0 };
      if (!cfg) return { found: false, ...counts, listedAll: false, nextCursor: null, batches: noBatches };
      const ctx = Context.current();

      // The lock is this attempt's while the document still shows its locked_at (or an older one):
      // once a newer attempt took it (a force-unlock redo) or the workflow released it, an
      // abandoned attempt that is still running must not take it back.
      const refreshLock = (initial = false) =>
        lockForPage(store.syncs, {
          syncConfigId: cfg.sync_config_id,
          workerId: deps.workerId,
          lockedAt,
          ttlMs: LOCK_TTL_MS,
          runId: input.runId,
          initial,
        });
      const lockedAt = new Date();
      await refreshLock(true);
      let done = 0;
      // Heartbeats carry the position; the lock's expiry follows them.
      // FerretDB rewrites whole documents, so two concurrent $sets on the sync can lose one: the
      // lock refresh never overlaps the page's own projection write below.
      let refreshing: Promise<unknown> = Promise.resolve();
      const ticker = setInterval(() => {
        ctx.heartbeat({ cursor: input.cursor, done });
        refreshing = refreshLock().catch(() => undefined);
      }, HEARTBEAT_MS);
      // Cancelled (force-unlock abandons the page and the workflow redoes it at once, without waiting
      // for this attempt): stop heartbeating and refreshing the lock, and write nothing more. A
      // provider call that is stuck cannot always be interrupted, so the page also checks before
      // each write.
      const stopTicker = () => clearInterval(ticker);
      ctx.cancellationSignal.addEventListener('abort', stopTicker);
      const prepared: Prepared[] = [];
      const abandonIfCancelled = async () => {
        if (!ctx.cancellationSignal.aborted) return;
        // The bytes copied stay: the redo of this page writes the same keys (page-scoped ids, see
        // engine/ingest.ts), so deleting them here could remove the redo's copies.
        throw new CancelledFailure('page abandoned: the activity was cancelled');
      };
      try {
        const provider = await providerFor(cfg);
        const delta = provider.capabilities.deltaCursor;
        let page;
        try {
          page = await provider.list(cfg.source_path, {
            cursor: input.cursor,
            modifiedSince: input.modifiedSince,
            ...(delta && input.deltaToken ? { deltaToken: input.deltaToken } : {}),
            providerFilters: cfg.provider_filters,
            // A page is also a checkpoint: never more entries than resume_checkpoint_frequency.
            pageSize: Math.max(1, Math.min(deps.pageSize, input.remaining, cfg.resume_checkpoint_frequency)),
          });
        } catch (err) {
          toFailure(err);
        }
        await abandonIfCancelled();
        ctx.heartbeat({ cursor: input.cursor, done });
        counts.listed = page.entries.length;

        const keep = compileFilters(cfg.file_filters);
        const removedIds = delta ? [...new Set(page.removed ?? [])] : [];
        const gone = new Set(removedIds);
        const entries = [
          ...page.entries,
          ...(await dlqToRetry(cfg, provider, input, page)).filter((e) => !gone.has(e.sourceObjectId)),
        ];
        const matching: SourceEntry[] = [];
        const notMatching: SourceEntry[] = [];
        for (const e of entries) (keep(e).keep ? matching : notMatching).push(e);
        counts.discovered = matching.length;

        const ids = entries.map((e) => e.sourceObjectId);
        // A sync's first pass registers nearly every file anew: skip the per-file lookups and let
        // commitNew insert first (conflicts are looked up there).
        const existing = input.assumeNew
          ? new Map<string, ObjectDoc>()
          : await findBySource(store, cfg.bucket_id, cfg.source_type, ids);
        // The DLQ is small: one query for the page.
        const given = new Map(
          (
            await store.dlq
              .find({ sync_config_id: cfg.sync_config_id, source_object_id: { $in: ids } })
              .toArray()
          ).map((d) => [d.source_object_id, d]),
        );
        const checksums = matching
          .filter((e) => e.checksum && !existing.has(e.sourceObjectId))
          .map((e) => e.checksum!);
        const knownChecksums =
          cfg.skip_duplicates && checksums.length > 0 && !input.assumeNew
            ? await knownContent(store, cfg.bucket_id, checksums)
            : new Set<string>();

        // Filter drift: objects this sync made whose files no longer match the filters.
        if (driftDeletesEnabled(cfg)) {
          const drifted = notMatching
            .map((e) => existing.get(e.sourceObjectId))
            .filter(
              (d): d is NonNullable<typeof d> => d !== undefined && d.sync_config_id === cfg.sync_config_id,
            );
          counts.drifted = await deleteObjects(store, deps.blobs, drifted);
        }

        const pageKey = `${input.runId}|${input.cursor ?? ''}`;

        // Files the delta listing reports deleted, trashed or moved out: their objects go
        // (reconcile.on_delete). The set is written down before deleting, so a retried page deletes
        // what is left of it and counts it once.
        if (removedIds.length > 0 && cfg.reconcile?.on_delete !== false) {
          const ledgerId = `${cfg.sync_config_id}|${pageKey}`;
          let ledger = await store.pageRemovals.findOne({ _id: ledgerId });
          if (!ledger) {
            const doomed = await store.objects
              .find(
                {
                  sync_config_id: cfg.sync_config_id,
                  source_object_id: { $in: removedIds },
                },
                { projection: { _id: 1 } },
              )
              .toArray();
            await store.pageRemovals.updateOne(
              { _id: ledgerId },
              {
                $setOnInsert: {
                  sync_config_id: cfg.sync_config_id,
                  pass_id: input.passId,
                  object_keys: doomed.map((d) => d._id),
                  created_at: new Date(),
                },
              },
              { upsert: true },
            );
            ledger = await store.pageRemovals.findOne({ _id: ledgerId });
          }
          const keys = ledger?.object_keys ?? [];
          if (keys.length > 0) {
            const left = await store.objects
              .find(
                { _id: { $in: keys } },
                {
                  projection: { object_id: 1, bucket_id: 1, blobs: 1, content_hash: 1, source_checksum: 1 },
                },
              )
              .toArray();
            await deleteObjects(store, deps.blobs, left);
          }
          counts.removed = keys.length;
          await store.dlq.deleteMany({
            sync_config_id: cfg.sync_config_id,
            source_object_id: { $in: removedIds },
          });
        }
        const ictx: IngestContext = {
          store,
          blobs: deps.blobs,
          provider,
          cfg,
          runId: input.runId,
          passId: input.passId,
          pageKey,
        };
        const seen: string[] = [];
        const outcomes: IngestOutcome[] = [];
        const fresh: SourceEntry[] = [];
        for (const entry of matching) {
          const prior = existing.get(entry.sourceObjectId);
          const failedBefore = given.get(entry.sourceObjectId);
          if (prior && prior.created_by_page === pageKey) {
            // Created by an earlier attempt of this same run (a retried page): still ours to count.
            outcomes.push({
              kind: 'created',
              bytes: prior.blobs.reduce((s, b) => s + (b.details?.size_bytes ?? 0), 0),
              key: prior._id,
              objectId: prior.object_id,
            });
          } else if (
            prior &&
            (prior.source_version === entry.version || cfg.reconcile?.on_update === false)
          ) {
            seen.push(entry.sourceObjectId);
            counts.unchanged++;
          } else if (prior) {
            fresh.push(entry); // changed: handled below with the new ones
          } else if (failedBefore?.status === 'FAILED' && failedBefore.entry?.version === entry.version) {
            // Gave up on this version after 3 attempts; a new version is tried afresh.
            if (failedBefore.last_attempt_run_id === input.runId)
              outcomes.push({ kind: 'failed', final: true });
          } else if (cfg.skip_duplicates && entry.checksum && knownChecksums.has(entry.checksum)) {
            outcomes.push({ kind: 'duplicate' });
          } else {
            fresh.push(entry);
          }
        }

        // Copy the bytes of new and changed files, a few at a time.
        await forEachLimit(fresh, deps.fileConcurrency, async (entry) => {
          const prior = existing.get(entry.sourceObjectId);
          if (prior) {
            const o = await ingestUpdate(ictx, entry, prior);
            if (o.kind === 'failed') seen.push(entry.sourceObjectId); // keep the object; retry the update
            outcomes.push(o);
          } else {
            const p = await prepareNew(ictx, entry);
            if ('doc' in p) prepared.push(p);
            else outcomes.push(p);
          }
          done++;
        });
        await abandonIfCancelled();
        const committed = await commitNew(ictx, prepared);
        outcomes.push(...committed.outcomes.values());
        // Insert-first found these already registered (from before this sync's first pass).
        await forEachLimit(committed.existing, deps.fileConcurrency, async ({ entry, prior }) => {
          existing.set(entry.sourceObjectId, prior);
          if (prior.source_version === entry.version || cfg.reconcile?.on_update === false) {
            seen.push(entry.sourceObjectId);
            outcomes.push({ kind: 'raced' });
          } else outcomes.push(await ingestUpdate(ictx, entry, prior));
        });
        const recovered = [...committed.outcomes.entries()]
          .filter(([id, o]) => o.kind === 'created' && given.has(id))
          .map(([id]) => id);
        if (recovered.length > 0)
          await store.dlq.deleteMany({
            sync_config_id: cfg.sync_config_id,
            source_object_id: { $in: recovered },
          });

        // New objects, and changed ones with re_extract_on_update, go to the processing pipeline.
        const reExtract = cfg.reconcile?.re_extract_on_update !== false;
        const toBatch = outcomes.flatMap((o) =>
          o.kind === 'created' || (o.kind === 'updated' && reExtract)
            ? [{ key: o.key, objectId: o.objectId }]
            : [],
        );
        const batched =
          toBatch.length > 0 ? await batchPage(store, deps.batches, cfg, pageKey, toBatch) : noBatches;

        for (const outcome of outcomes) {
          switch (outcome.kind) {
            case 'created':
              counts.created++;
              counts.bytes += outcome.bytes;
              break;
            case 'updated':
              counts.updated++;
              counts.bytes += outcome.bytes;
              break;
            case 'duplicate':
              counts.duplicates++;
              break;
            case 'raced':
              counts.unchanged++;
              break;
            case 'failed':
              counts.dlq++;
              if (outcome.final) counts.failed++;
              break;
          }
        }
        await markSeen(
          store,
          { syncConfigId: cfg.sync_config_id, passId: input.passId, pageKey },
          seen
            .map((id) => existing.get(id)!)
            .filter((d) => d.last_seen_pass_id !== input.passId)
            .map((d) => d._id),
        );

        const pageTotals: Totals = {
          discovered: counts.discovered,
          synced: counts.created,
          failed: counts.failed,
          bytes: counts.bytes,
        };
        const totals = add(input.totals, pageTotals);
        const run = add(input.run, pageTotals);
        const processed = input.objectsProcessed + counts.listed;
        const batches = addBatches(input.batches, batched);
        clearInterval(ticker);
        await refreshing;
        if (ctx.cancellationSignal.aborted)
          throw new CancelledFailure('page abandoned: the activity was cancelled');
        // The token for the next pass: only at the end of a listing, and only a short one.
        let nextDeltaToken: string | null | undefined;
        if (delta && page.nextCursor === null) {
          nextDeltaToken = page.deltaToken ?? null;
          if (nextDeltaToken && nextDeltaToken.length > MAX_DELTA_TOKEN_LENGTH) {
            deps.log.warn(
              { syncConfigId: cfg.sync_config_id, length: nextDeltaToken.length },
              'delta token too long to keep; the next pass lists by modification time',
            );
            nextDeltaToken = null;
          }
        }
        await writePageProgress(store.syncs, cfg.sync_config_id, {
          runId: input.runId,
          passId: input.passId,
          modifiedSince: input.modifiedSince,
          deltaToken: input.deltaToken ?? null,
          nextDeltaToken: nextDeltaToken ?? null,
          nextCursor: page.nextCursor,
          objectsProcessed: processed,
          totals,
          run,
          batches,
        });
        return {
          found: true,
          ...counts,
          listedAll:
            !(delta && input.deltaToken) &&
            (input.modifiedSince === null || !provider.capabilities.serverSideModifiedFilter),
          nextCursor: page.nextCursor,
          ...(nextDeltaToken !== undefined ? { deltaToken: nextDeltaToken } : {}),
          batches: batched,
        };
      } finally {
        clearInterval(ticker);
        ctx.cancellationSignal.removeEventListener('abort', stopTicker);
      }
    },

    /** Ends a pass: mark-and-sweep deletes (when allowed) and the run record. */
    async finishPass(input: FinishPassInput): Promise<{ deleted: number }> {
      const cfg = await loadConfig(input.syncConfigId);
      if (!cfg) return { deleted: 0 };
      let deleted = 0;
      if (input.sweep && cfg.reconcile?.on_delete !== false) {
        const stale = await unseenObjects(store, cfg.sync_config_id, input.passId);
        for (let i = 0; i < stale.length; i += 500) {
          deleted += await deleteObjects(store, deps.blobs, stale.slice(i, i + 500));
          Context.current().heartbeat({ deleted });
        }
        // DLQ entries for files that are gone are gone too.
        await store.dlq.deleteMany({
          sync_config_id: cfg.sync_config_id,
          last_attempt_run_id: { $ne: input.runId },
          status: 'PENDING',
        });
      }
      // A finished run's pages are never retried: their removal ledgers can go (a failed run's pages are
      // redone under the same run id, so theirs stay until then).
      if (input.status !== 'FAILED')
        await store.pageRemovals.deleteMany({ sync_config_id: cfg.sync_config_id });
      // Marks of earlier passes are done with (a pass only ends once the one before it has).
      await store.passSeen.deleteMany({ sync_config_id: cfg.sync_config_id, pass_id: { $ne: input.passId } });
      const finished = new Date();
      const started = new Date(input.startedAt);
      const seconds = Math.max(0.001, (finished.getTime() - started.getTime()) / 1000);
      await store.runs.updateOne(
        { sync_run_id: input.recordId },
        {
          $set: {
            sync_run_id: input.recordId,
            sync_config_id: cfg.sync_config_id,
            bucket_id: cfg.bucket_id,
            internal_id: cfg.internal_id,
            namespace_id: cfg.namespace_id,
            provider_type: cfg.source_type,
            pass_id: input.passId,
            full: input.full,
            started_at: started,
            finished_at: finished,
            duration_seconds: Math.round(seconds * 1000) / 1000,
            files_discovered: input.run.discovered,
            files_synced: input.run.synced,
            files_failed: input.run.failed,
            bytes_synced: input.run.bytes,
            objects_deleted: deleted + (input.removed ?? 0),
            throughput_mbps: Math.round(((input.run.bytes * 8) / 1e6 / seconds) * 1000) / 1000,
            status: input.status,
            error: input.error,
          },
        },
        { upsert: true },
      );
      return { deleted };
    },

    /** skip_batch_submission was switched off: submit the batches the sync held back. */
    async releaseHeldBatches(syncConfigId: string): Promise<{ released: number; taskIds: string[] }> {
      return releaseHeld(store, deps.batches, syncConfigId);
    },

    /** Writes the workflow's state to the sync's MongoDB projection (what the API shows). */
    async recordSyncState(syncConfigId: string, state: SyncState): Promise<void> {
      await writeSyncState(store.syncs, syncConfigId, state);
    },
  };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
