// Sync activities: everything a sync does that touches the world. The workflow calls one
// `syncPage` per page of listed files and gets back counts and the next cursor, never file lists.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { compileFilters, filtersNeedDetails } from '../core/filters';
import { fileConcurrencyOf } from '../core/request-schemas';
import type { SourceEntry } from '../core/entry';
import { forEachLimit } from '../lib/pool';
import { createProvider, ProviderError, type ListPage, type StorageProvider } from '../providers';
import type { ObjectDoc, Store, SyncConfigDoc } from '../store';
import { dlqKey, findBySource, knownContent } from '../store/objects';
import {
  dropOtherPasses,
  KnownFilesCache,
  manifestTotals,
  passTotals,
  recordSeen,
  unseenByManifest,
  unseenByScan,
  type Manifest,
  type SeenFile,
} from '../store/seen-files';
import { initialManifest, manifestStep, type ManifestState } from '../core/manifest';
import {
  checksumsToCheck,
  fetchesNew,
  noCounts,
  planPage,
  retryEntries,
  toComplete,
  toLookUp,
  type PageCounts,
  type StoredObject,
} from '../core/sync-plan';
import type { BlobStore } from '../store/blobs';
import { refreshBucketStats, storeBucketStats } from '../store/bucket-stats';
import type { SecretBox } from '../store/secrets';
import {
  commitNew,
  deleteObjects,
  ingestUpdates,
  type Change,
  prepareNew,
  type IngestContext,
  type IngestOutcome,
  type Prepared,
} from '../engine/ingest';
import type { BatchTotals, SyncState, Totals } from '../workflows/messages';
import { batchPage, releaseHeld } from '../pipeline/batching';
import { runRecordFigures, type RunFiles } from '../core/progress';
import type { BatchRunner } from '../pipeline/submit';
import { mergePages, strideGoesOn, type PageResult } from '../core/stride';
import { lockForPage, writeSyncState } from '../store/sync-document';

export interface SyncActivityDeps {
  store: Store;
  secrets: SecretBox;
  blobs: BlobStore;
  log: Logger;
  workerId: string;
  pageSize: number;
  /** Files copied at once within a page (a sync's sync_concurrency overrides it, up to the max). */
  fileConcurrency: number;
  /** SYNC_FILE_CONCURRENCY_MAX: the most a sync's sync_concurrency gets. */
  fileConcurrencyMax?: number;
  autoSuspendThreshold: number;
  /** Submits batches to the processing pipeline (starts batch workflows). */
  batches: BatchRunner;
  /** Files of sync manifests a worker keeps in memory (SYNC_MANIFEST_CACHE_FILES). */
  manifestCacheFiles?: number;
  /** SYNC_STRIDE_MS: a syncPage call goes on to the next page while it has run less than this (0: one page). */
  strideMs?: number;
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
  /**
   * Ignored: sent by workflows from before the workflow wrote the totals itself (recordSyncState).
   * The page returns its counts and needs no running totals.
   */
  totals?: Totals;
  run?: Totals;
  objectsProcessed?: number;
  /** Objects this run may still create (max_objects_per_run minus what it created). */
  remaining: number;
  /** The sync's first pass: files are assumed new (insert first, look up only conflicts). */
  assumeNew?: boolean;
  /**
   * The pass whose documents are the manifest (core/manifest.ts): entries it holds at the same
   * version are unchanged without a lookup. Absent or null: every entry is looked up.
   */
  knownPassId?: string | null;
  /** Ignored, like `totals`. */
  batches?: BatchTotals;
  /**
   * A targeted pass (event-driven syncs): look up these announced source object ids instead of listing;
   * `cursor` is the offset into them. Removed ids delete their objects (and, for a folder, the objects
   * under it) as a delta listing's do.
   */
  targets?: string[];
}

/**
 * The pages of one call (a stride, core/stride.ts): their counts summed, `listedAll` (the provider
 * listed everything: no server-side modified filter applied), the cursor after the last page, on the
 * last page of a delta-capable provider's listing the `deltaToken` the next incremental pass lists
 * changes since (null: none given), the batches of their new (and re-extracted) objects, and
 * `incomplete` when a targeted page could not resolve every id exactly (the workflow lists next).
 */
export interface SyncPageResult extends PageResult {
  found: boolean;
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
  /** This run's files by outcome (absent in older histories). */
  files?: RunFiles;
  status: 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED' | 'CANCELED';
  /** Sweep objects not seen in this pass: only after a pass that listed everything, without error or cut. */
  sweep: boolean;
  error: string | null;
  /** The manifest before this run (absent in older histories: none, incomplete). */
  manifest?: ManifestState;
  /** The pass's listing ended in this run (absent in older histories: derived from `sweep`). */
  passComplete?: boolean;
  /** A pass over announced ids. */
  targeted?: boolean;
  /** Every page of the pass listed everything. */
  listedAll?: boolean;
  /** The sync's first pass (its objects are all its own new ones: nothing to verify). */
  firstPass?: boolean;
}

export interface FinishPassResult {
  deleted: number;
  /** The manifest after this run. */
  manifest: ManifestState;
}

const LOCK_TTL_MS = 60_000;
/** SYNC_STRIDE_MS by default: a call applies pages for about a second (the progress record's pace). */
export const DEFAULT_STRIDE_MS = 1_000;
const noBatches = (): BatchTotals => ({ created: 0, batchIds: [], taskIds: [], held: 0 });
/** Files of manifests a worker holds by default (~11 MB of heap per 100,000 short paths). */
export const DEFAULT_MANIFEST_CACHE_FILES = 500_000;
/** Delta tokens travel in workflow history and state: longer ones are dropped (modifiedSince is used). */
export const MAX_DELTA_TOKEN_LENGTH = 1024;
const HEARTBEAT_MS = 3_000;

/** An object's size: the sum of its blobs' bytes (what the bucket's total_size_bytes adds up). */
const bytesOf = (o: Pick<ObjectDoc, 'blobs'>): number =>
  o.blobs.reduce((sum, b) => sum + (b.details?.size_bytes ?? 0), 0);

/** Adds the outcomes of a page's files to its counts. */
function tally(counts: PageCounts, outcomes: IngestOutcome[]): void {
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
      case 'gone': // deleted since the listing: neither ingested nor failed
        break;
      case 'failed':
        counts.dlq++;
        if (outcome.final) counts.failed++;
        break;
    }
  }
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

/** One page of a targeted pass: the ids from offset `cursor`, looked up by the provider. */
async function lookupPage(
  provider: StorageProvider,
  sourcePath: string,
  targets: string[],
  cursor: string | null,
  pageSize: number,
): Promise<ListPage & { incomplete?: boolean }> {
  if (!provider.lookup)
    throw ApplicationFailure.nonRetryable('this provider cannot look up announced changes', 'NoChangeFeed');
  const from = Math.max(0, Number(cursor ?? 0) || 0);
  const ids = targets.slice(from, from + pageSize);
  const found = await provider.lookup(sourcePath, ids, pageSize);
  const next = from + ids.length;
  return {
    entries: found.entries,
    removed: found.removed,
    nextCursor: next < targets.length ? String(next) : null,
    ...(found.incomplete ? { incomplete: true } : {}),
  };
}

export function createSyncActivities(deps: SyncActivityDeps) {
  const { store, secrets } = deps;
  const manifests = new KnownFilesCache(deps.manifestCacheFiles ?? DEFAULT_MANIFEST_CACHE_FILES);

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
   * Files a delta listing reports deleted, trashed or moved out: their objects go (on_delete). The
   * set is written down first (one `_id`-keyed ledger per page), so a retried page deletes what is
   * left of it and counts it once.
   */
  async function applyRemovals(
    cfg: SyncConfigDoc,
    input: SyncPageInput,
    pageKey: string,
    doomed: Pick<StoredObject, '_id'>[],
    removedIds: string[],
  ): Promise<number> {
    if (removedIds.length === 0) return 0;
    const ledgerId = `${cfg.sync_config_id}|${pageKey}`;
    let ledger = await store.pageRemovals.findOne({ _id: ledgerId });
    if (!ledger) {
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
      const left = await store.lookupByIds(store.objects, keys, {
        object_id: 1,
        bucket_id: 1,
        created_at: 1,
        blobs: 1,
        content_hash: 1,
        source_checksum: 1,
      });
      await deleteObjects(store, deps.blobs, [...left.values()]);
    }
    await store.deleteByIds(
      store.dlq,
      removedIds.map((id) => dlqKey(cfg.sync_config_id, id)),
    );
    return keys.length;
  }

  /**
   * A removed id with no object of its own may have been a folder (moved or deleted whole): the
   * objects under it. A key range on the idempotency index, so it costs what it finds on MongoDB.
   */
  async function objectsUnderFolders(cfg: SyncConfigDoc, ids: string[]): Promise<{ _id: string }[]> {
    const out: { _id: string }[] = [];
    for (const id of ids) {
      out.push(
        ...(await store.objects
          .find(
            {
              bucket_id: cfg.bucket_id,
              source_provider: cfg.source_type,
              source_object_id: { $gt: `${id}/`, $lt: `${id}0` },
              sync_config_id: cfg.sync_config_id,
            },
            { projection: { _id: 1 } },
          )
          .toArray()),
      );
    }
    return out;
  }

  /**
   * The bucket's counts after a run that changed objects. After a sweep the pass's documents name
   * exactly the sync's objects, with their sizes: when the sync is the bucket's only source (no
   * other sync, deleted ones included, and no object created or deleted through the API) they are
   * the bucket's counts, without reading its objects. Otherwise a recount (store/bucket-stats.ts).
   */
  async function updateBucketStats(
    cfg: SyncConfigDoc,
    passId: string,
    swept: boolean,
    /** The pass's documents, when the sweep just read them (else they are read again). */
    read: Manifest | null,
  ): Promise<void> {
    if (swept) {
      const [bucket, syncs] = await Promise.all([
        store.buckets.findOne({ _id: cfg.bucket_id }, { projection: { has_api_objects: 1 } }),
        store.syncs.countDocuments({ bucket_id: cfg.bucket_id }),
      ]);
      if (bucket && bucket.has_api_objects !== true && syncs === 1) {
        const totals = read ? manifestTotals(read) : await passTotals(store, cfg.sync_config_id, passId);
        if (totals) {
          await storeBucketStats(store, cfg.bucket_id, {
            object_count: totals.objects,
            total_size_bytes: totals.bytes,
          });
          return;
        }
      }
    }
    await refreshBucketStats(store, cfg.bucket_id);
  }

  const loadConfig = (syncConfigId: string) =>
    store.syncs.findOne({ sync_config_id: syncConfigId, deleted: { $ne: true } });

  /**
   * The page's lease on the sync: the lock fields, refreshed with each heartbeat. The lock is this
   * attempt's while the document still shows its locked_at (or an older one): once a newer attempt
   * took it (a force-unlock redo) or the workflow released it, an abandoned attempt that is still
   * running must not take it back. FerretDB rewrites whole documents, so two concurrent $sets on the
   * sync can lose one: the refresh never overlaps another write of the page to the sync.
   */
  async function takeLease(cfg: SyncConfigDoc, input: SyncPageInput, progress: () => unknown) {
    const ctx = Context.current();
    const lockedAt = new Date();
    const refreshLock = (initial = false) =>
      lockForPage(store.syncs, {
        syncConfigId: cfg.sync_config_id,
        workerId: deps.workerId,
        lockedAt,
        ttlMs: LOCK_TTL_MS,
        runId: input.runId,
        initial,
      });
    await refreshLock(true);
    let refreshing: Promise<unknown> = Promise.resolve();
    // Heartbeats carry the position; the lock's expiry follows them.
    const ticker = setInterval(() => {
      ctx.heartbeat(progress());
      refreshing = refreshLock().catch(() => undefined);
    }, HEARTBEAT_MS);
    // Cancelled (force-unlock abandons the page and the workflow redoes it at once, without waiting
    // for this attempt): stop heartbeating and refreshing the lock, and write nothing more.
    const stop = () => clearInterval(ticker);
    ctx.cancellationSignal.addEventListener('abort', stop);
    return {
      /** Stops refreshing; resolves once no refresh is in flight. */
      async settle() {
        stop();
        await refreshing;
      },
      release() {
        stop();
        ctx.cancellationSignal.removeEventListener('abort', stop);
      },
    };
  }

  /** Stage 1: the provider's page, and (on the last page of an incremental pass) DLQ files to retry. */
  async function listEntries(cfg: SyncConfigDoc, provider: StorageProvider, input: SyncPageInput) {
    const targeted = input.targets !== undefined;
    const delta = provider.capabilities.deltaCursor && !targeted;
    // A page is also a checkpoint: never more entries than resume_checkpoint_frequency.
    const pageSize = Math.max(1, Math.min(deps.pageSize, input.remaining, cfg.resume_checkpoint_frequency));
    let page: ListPage & { incomplete?: boolean };
    try {
      page = targeted
        ? await lookupPage(provider, cfg.source_path, input.targets!, input.cursor, pageSize)
        : await provider.list(cfg.source_path, {
            cursor: input.cursor,
            modifiedSince: input.modifiedSince,
            ...(delta && input.deltaToken ? { deltaToken: input.deltaToken } : {}),
            providerFilters: cfg.provider_filters,
            pageSize,
            // Per-file details only for what the page ingests (lookUp completes those), unless the
            // filters read them.
            ...(provider.complete && !filtersNeedDetails(cfg.file_filters)
              ? { details: 'lazy' as const }
              : {}),
          });
    } catch (err) {
      toFailure(err);
    }
    const removed = delta || targeted ? [...new Set(page.removed ?? [])] : [];
    // A provider that filters by modification time server-side does not list an unchanged file
    // again, so files waiting in the DLQ would never be retried by incremental passes: at the end
    // of such a pass they are retried from their stored entries (a page's worth per run). One
    // query over the sync's DLQ, once per pass.
    let retries: SourceEntry[] = [];
    if (
      !targeted &&
      page.nextCursor === null &&
      input.modifiedSince !== null &&
      provider.capabilities.serverSideModifiedFilter
    ) {
      const waiting = await store.dlq
        .find({
          sync_config_id: cfg.sync_config_id,
          status: 'PENDING',
          last_attempt_run_id: { $ne: input.runId },
        })
        .limit(deps.pageSize)
        .toArray();
      retries = retryEntries(page.entries, removed, waiting);
    }
    return { page, delta, targeted, removed, entries: [...page.entries, ...retries] };
  }

  /**
   * Stage 2: what the plan needs to know: the manifest (cached per pass), then `_id` lookups (see
   * store.lookupByIds) of only what it does not settle.
   */
  async function lookUp(
    cfg: SyncConfigDoc,
    provider: StorageProvider,
    input: SyncPageInput,
    entries: SourceEntry[],
    removed: string[],
    matches: (e: SourceEntry) => boolean,
  ) {
    const onUpdate = cfg.reconcile?.on_update !== false;
    const known: Manifest | undefined =
      input.knownPassId && !input.assumeNew
        ? await manifests.get(store, cfg.sync_config_id, input.knownPassId)
        : undefined;
    const ids = toLookUp(entries, removed, matches, known?.versions, onUpdate);
    const looked = new Set(ids);
    // A sync's first pass registers nearly every file anew: skip the per-file lookups and let
    // commitNew insert first (conflicts are looked up there).
    const stored = input.assumeNew
      ? new Map<string, ObjectDoc>()
      : await findBySource(store, cfg.bucket_id, cfg.source_type, ids);
    const fetchNew = fetchesNew({
      canFetch: provider.fetch !== undefined,
      assumeNew: input.assumeNew === true,
      skipDuplicates: cfg.skip_duplicates,
    });
    entries = await completeEntries(
      provider,
      cfg,
      entries,
      matches,
      known?.versions,
      stored,
      onUpdate,
      fetchNew,
    );
    // The plan reads DLQ entries only for files without an object (did this version fail for
    // good? clear the entry once it is in); an update clears its file's entry by `_id` itself. So
    // a pass that changes nothing looks up no DLQ entries.
    const dlqDocs = await store.lookupByIds(
      store.dlq,
      entries
        .filter((e) => looked.has(e.sourceObjectId) && !stored.has(e.sourceObjectId))
        .map((e) => dlqKey(cfg.sync_config_id, e.sourceObjectId)),
    );
    const dlq = new Map([...dlqDocs.values()].map((d) => [d.source_object_id, d]));
    const checksums = checksumsToCheck(
      entries.filter((e) => looked.has(e.sourceObjectId)),
      matches,
      stored,
    );
    const knownChecksums =
      cfg.skip_duplicates && checksums.length > 0 && !input.assumeNew
        ? await knownContent(store, cfg.bucket_id, checksums)
        : new Set<string>();
    return { known, stored, dlq, knownChecksums, entries };
  }

  /**
   * A lazy listing's entries, with those the page may ingest completed (one provider request each,
   * core/sync-plan.ts toComplete; new files left to their copy with `fetchNew`); a file gone since
   * the listing drops out, as from a full listing.
   */
  async function completeEntries(
    provider: StorageProvider,
    cfg: SyncConfigDoc,
    entries: SourceEntry[],
    matches: (e: SourceEntry) => boolean,
    known: Manifest['versions'] | undefined,
    stored: Map<string, ObjectDoc>,
    onUpdate: boolean,
    fetchNew: boolean,
  ): Promise<SourceEntry[]> {
    const wanted = toComplete(entries, matches, known, stored, onUpdate, fetchNew);
    if (wanted.length === 0 || !provider.complete) return entries;
    let whole: (SourceEntry | null)[];
    try {
      whole = await provider.complete(cfg.source_path, wanted);
    } catch (err) {
      toFailure(err);
    }
    const byId = new Map(wanted.map((e, i) => [e.sourceObjectId, whole[i]]));
    return entries.flatMap((e) => {
      if (!byId.has(e.sourceObjectId)) return [e];
      const w = byId.get(e.sourceObjectId);
      return w ? [w] : [];
    });
  }

  // A provider call that is stuck cannot always be interrupted, so a page also checks before each
  // write. The bytes copied stay: the redo of the page writes the same keys (page-scoped blob ids,
  // see engine/ingest.ts), so deleting them here could remove the redo's copies.
  const abandonIfCancelled = async () => {
    if (!Context.current().cancellationSignal.aborted) return;
    throw new CancelledFailure('page abandoned: the activity was cancelled');
  };
  const versionOf = (o: Pick<ObjectDoc, 'source_version'>, e: SourceEntry) => o.source_version ?? e.version;
  const seenAs = (o: Pick<ObjectDoc, 'source_version' | 'blobs'>, e: SourceEntry): SeenFile => [
    e.sourceObjectId,
    versionOf(o, e),
    bytesOf(o),
  ];

  /**
   * A page's first half (list -> look up by `_id` -> plan, core/sync-plan.ts, pure -> deletes ->
   * intent record -> the copies of new files): everything up to the writes of its new objects.
   * `gate` (a stride's previous page still committing) is awaited before the page deletes anything,
   * so deletes never run beside another page's inserts; the rest runs beside them.
   * `at.done` counts the stride's files copied (the heartbeat's progress).
   */
  async function preparePage(
    cfg: SyncConfigDoc,
    provider: StorageProvider,
    input: SyncPageInput,
    at: { done: number },
    gate: Promise<void> = Promise.resolve(),
  ) {
    const ctx = Context.current();
    const prepared: Prepared[] = [];
    const listing = await listEntries(cfg, provider, input);
    await abandonIfCancelled();
    ctx.heartbeat({ cursor: input.cursor, done: at.done });

    const keep = compileFilters(cfg.file_filters, cfg.sync_from);
    const concurrency = fileConcurrencyOf(
      cfg.sync_concurrency,
      deps.fileConcurrency,
      deps.fileConcurrencyMax,
    );
    const matches = (e: SourceEntry) => keep(e).keep;
    const found = await lookUp(cfg, provider, input, listing.entries, listing.removed, matches);
    const pageKey = `${input.runId}|${input.cursor ?? ''}`;
    const plan = planPage({
      entries: found.entries,
      removed: listing.removed,
      matches,
      known: found.known?.versions,
      stored: found.stored,
      dlq: new Map(
        [...found.dlq].map(([id, d]) => [
          id,
          {
            status: d.status,
            version: d.entry?.version ?? null,
            last_attempt_run_id: d.last_attempt_run_id,
          },
        ]),
      ),
      knownChecksums: found.knownChecksums,
      settings: {
        syncConfigId: cfg.sync_config_id,
        runId: input.runId,
        passId: input.passId,
        pageKey,
        onUpdate: cfg.reconcile?.on_update !== false,
        driftDeletes: driftDeletesEnabled(cfg),
        deleteRemoved: cfg.reconcile?.on_delete !== false,
        skipDuplicates: cfg.skip_duplicates,
      },
    });
    const counts: PageCounts = { ...noCounts(), listed: listing.page.entries.length };
    counts.discovered = plan.discovered;

    // Stage 3: apply. Deletes first (drift, removals), then the copies, the inserts, the marks.
    const drifted = plan.decisions.flatMap((d) =>
      d.kind === 'drifted' ? [found.stored.get(d.entry.sourceObjectId)!] : [],
    );
    if (drifted.length > 0 || plan.removedIds.length > 0) await gate;
    counts.drifted = await deleteObjects(store, deps.blobs, drifted);
    // A targeted pass's removed id with no object of its own may have been a folder moved out.
    const underFolders = listing.targeted
      ? await objectsUnderFolders(
          cfg,
          plan.removedIds.filter((id) => !found.stored.has(id)),
        )
      : [];
    counts.removed = await applyRemovals(
      cfg,
      input,
      pageKey,
      [...plan.removed, ...underFolders],
      plan.removedIds,
    );

    const ictx: IngestContext = {
      store,
      blobs: deps.blobs,
      provider,
      cfg,
      runId: input.runId,
      passId: input.passId,
      pageKey,
    };
    // What the page saw, for the manifest: each file whose object it found, created or updated.
    const seen: SeenFile[] = [];
    const mark = { syncConfigId: cfg.sync_config_id, passId: input.passId, pageKey };
    const outcomes: IngestOutcome[] = [];
    const fresh: SourceEntry[] = [];
    const retried = new Set<string>();
    for (const d of plan.decisions) {
      switch (d.kind) {
        case 'created-by-page': {
          const prior = found.stored.get(d.entry.sourceObjectId)!;
          seen.push(seenAs(prior, d.entry));
          outcomes.push({
            kind: 'created',
            bytes: prior.blobs.reduce((s, b) => s + (b.details?.size_bytes ?? 0), 0),
            key: prior._id,
            objectId: prior.object_id,
          });
          break;
        }
        case 'unchanged': {
          counts.unchanged++;
          const id = d.entry.sourceObjectId;
          const prior = found.stored.get(id);
          seen.push([id, d.version, prior ? bytesOf(prior) : found.known?.sizes.get(id)]);
          break;
        }
        case 'gave-up':
          if (d.count) outcomes.push({ kind: 'failed', final: true });
          break;
        case 'duplicate':
          outcomes.push({ kind: 'duplicate' });
          break;
        case 'new':
          if (d.inDlq) retried.add(d.entry.sourceObjectId);
          fresh.push(d.entry);
          break;
        case 'changed':
          fresh.push(d.entry);
          break;
      }
    }

    // Before the first write of an object, the page names what it may create or change: an
    // attempt that dies half-way leaves no object that the manifest's sweep does not know of.
    if (fresh.length > 0)
      await recordSeen(store, mark, [...seen, ...fresh.map((e): SeenFile => [e.sourceObjectId, e.version])]);
    // Copy the bytes of new files, a few at a time (changed ones are copied with their writes).
    await forEachLimit(
      fresh.filter((e) => !found.stored.has(e.sourceObjectId)),
      concurrency,
      async (entry) => {
        const p = await prepareNew(ictx, entry);
        if ('doc' in p) prepared.push(p);
        else outcomes.push(p);
        at.done++;
      },
    );
    return {
      input,
      listing,
      found,
      counts,
      ictx,
      seen,
      mark,
      outcomes,
      fresh,
      retried,
      prepared,
      concurrency,
    };
  }

  type PreparedPage = Awaited<ReturnType<typeof preparePage>>;

  /** The most objects a prepared page can create (what the stride may still create after it). */
  const createdAtMost = (page: PreparedPage): number =>
    page.prepared.length + page.outcomes.filter((o) => o.kind === 'created').length;

  /**
   * A page the stride will not commit (it stopped first): the copies no object points at go. Not
   * when cancelled: a force-unlock's redo may be writing the same page-scoped keys already.
   */
  async function discardPage(page: PreparedPage): Promise<void> {
    if (Context.current().cancellationSignal.aborted) return;
    await forEachLimit(
      page.prepared.flatMap((p) => p.written),
      16,
      (k) => deps.blobs.delete(k),
    );
  }

  /**
   * A page's second half: the changed files (copies and writes), the new objects' inserts
   * (engine/ingest.ts commitNew), the DLQ, the batches and the manifest record. Returns the page's
   * counts and cursor.
   */
  async function commitPage(
    cfg: SyncConfigDoc,
    provider: StorageProvider,
    page: PreparedPage,
    at: { done: number },
  ) {
    const { input, listing, found, counts, ictx, seen, mark, outcomes, fresh, retried, prepared } = page;
    const updated = (entry: SourceEntry, prior: ObjectDoc, o: IngestOutcome) => {
      // A failed update keeps the object at its old version (the next pass retries it).
      if (o.kind === 'updated') seen.push([entry.sourceObjectId, entry.version, o.bytes]);
      else if (o.kind === 'failed') seen.push(seenAs(prior, entry));
      outcomes.push(o);
    };
    /** Changed files: copied a few at a time, then their objects' writes together (engine/ingest.ts). */
    const applyChanges = async (changes: Change[]) => {
      const res = await ingestUpdates(ictx, changes, page.concurrency, () => at.done++);
      for (const { entry, prior } of changes) updated(entry, prior, res.get(entry.sourceObjectId)!);
    };
    await applyChanges(
      fresh.flatMap((entry) => {
        const prior = found.stored.get(entry.sourceObjectId);
        return prior ? [{ entry, prior }] : [];
      }),
    );
    await abandonIfCancelled();
    const committed = await commitNew(ictx, prepared);
    outcomes.push(...committed.outcomes.values());
    for (const p of prepared) {
      const o = committed.outcomes.get(p.entry.sourceObjectId);
      if (o?.kind === 'created') seen.push([p.entry.sourceObjectId, versionOf(p.doc, p.entry), o.bytes]);
    }
    // Insert-first found these already registered (from before this sync's first pass).
    const stale: Change[] = [];
    for (const { entry, prior } of committed.existing) {
      if (prior.source_version === entry.version || cfg.reconcile?.on_update === false) {
        seen.push(seenAs(prior, entry));
        outcomes.push({ kind: 'raced' });
      } else stale.push({ entry, prior });
    }
    await applyChanges(stale);
    await store.deleteByIds(
      store.dlq,
      [...committed.outcomes.entries()]
        .filter(([id, o]) => o.kind === 'created' && retried.has(id))
        .map(([id]) => dlqKey(cfg.sync_config_id, id)),
    );

    // New objects, and changed ones with re_extract_on_update, go to the processing pipeline.
    const reExtract = cfg.reconcile?.re_extract_on_update !== false;
    const toBatch = outcomes.flatMap((o) =>
      o.kind === 'created' || (o.kind === 'updated' && reExtract)
        ? [{ key: o.key, objectId: o.objectId }]
        : [],
    );
    // The batches and the page's record of what it saw are independent writes: at once.
    const [batched] = await Promise.all([
      toBatch.length > 0 ? batchPage(store, deps.batches, cfg, ictx.pageKey, toBatch) : noBatches(),
      seen.length > 0 || fresh.length > 0 ? recordSeen(store, mark, seen) : undefined,
    ]);
    tally(counts, outcomes);

    // The token for the next pass: only at the end of a listing, and only a short one.
    let nextDeltaToken: string | null | undefined;
    if (listing.delta && listing.page.nextCursor === null) {
      nextDeltaToken = listing.page.deltaToken ?? null;
      if (nextDeltaToken && nextDeltaToken.length > MAX_DELTA_TOKEN_LENGTH) {
        deps.log.warn(
          { syncConfigId: cfg.sync_config_id, length: nextDeltaToken.length },
          'delta token too long to keep; the next pass lists by modification time',
        );
        nextDeltaToken = null;
      }
    }
    const result: SyncPageResult = {
      found: true,
      ...counts,
      listedAll:
        !listing.targeted &&
        !(listing.delta && input.deltaToken) &&
        (input.modifiedSince === null || !provider.capabilities.serverSideModifiedFilter),
      nextCursor: listing.page.nextCursor,
      ...(nextDeltaToken !== undefined ? { deltaToken: nextDeltaToken } : {}),
      batches: batched,
      ...(listing.page.incomplete ? { incomplete: true } : {}),
    };
    return result;
  }

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

    /**
     * Pages of the listing, one after another (applyPage) while the stride lasts (SYNC_STRIDE_MS,
     * core/sync-plan.ts strideGoesOn), under one lease. Returns their counts summed and the cursor
     * after the last; the workflow adds them to its totals and records them.
     */
    async syncPage(input: SyncPageInput): Promise<SyncPageResult> {
      const started = Date.now();
      const cfg = await loadConfig(input.syncConfigId);
      if (!cfg)
        return { found: false, ...noCounts(), listedAll: false, nextCursor: null, batches: noBatches() };
      const ctx = Context.current();
      const at = { cursor: input.cursor, done: 0 };
      const lease = await takeLease(cfg, input, () => ({ cursor: at.cursor, done: at.done }));
      try {
        const provider = await providerFor(cfg);
        const strideMs = deps.strideMs ?? DEFAULT_STRIDE_MS;
        const targeted = input.targets !== undefined;
        const pageAt = (cursor: string | null, remaining: number): SyncPageInput => ({
          ...input,
          cursor,
          remaining,
        });
        let result: SyncPageResult | null = null;
        /**
         * A later page of the stride failed: the pages before it stand (their counts and cursor go
         * back); the next call starts at this page, and retries it as any failed page.
         */
        const standsAfter = (err: unknown, cursor: string | null): boolean => {
          if (!result || ctx.cancellationSignal.aborted || err instanceof CancelledFailure) return false;
          deps.log.warn(
            { syncConfigId: cfg.sync_config_id, cursor, err: (err as Error).message },
            'a page failed after others in the same activity; the workflow retries it next',
          );
          return true;
        };
        let page = await preparePage(cfg, provider, pageAt(at.cursor, input.remaining), at);
        for (;;) {
          // While a page's objects are written, the next page lists, plans and copies (FerretDB and
          // the worker are separate processes: their work overlaps). Only when the stride goes on
          // anyway and the next page's size cannot depend on what this one creates.
          const remainingAhead = input.remaining - (result?.created ?? 0) - createdAtMost(page);
          const aheadCursor = page.listing.page.nextCursor;
          const goAhead =
            aheadCursor !== null &&
            !targeted &&
            !page.listing.page.incomplete &&
            remainingAhead >= deps.pageSize &&
            Date.now() - started < strideMs &&
            !ctx.cancellationSignal.aborted;
          const committing = commitPage(cfg, provider, page, at);
          // What the next page's deletes wait for; handled here, as the page may never wait for it.
          const committed = committing.then(() => undefined);
          committed.catch(() => undefined);
          const ahead = goAhead
            ? preparePage(cfg, provider, pageAt(aheadCursor, remainingAhead), at, committed)
            : null;
          ahead?.catch(() => undefined); // awaited below, or discarded
          let done: SyncPageResult;
          try {
            done = await committing;
          } catch (err) {
            if (ahead) await ahead.then(discardPage, () => undefined);
            if (!standsAfter(err, at.cursor)) throw err;
            break;
          }
          result = result ? mergePages(result, done) : done;
          at.cursor = done.nextCursor;
          const more = ahead
            ? !ctx.cancellationSignal.aborted
            : strideGoesOn(done, {
                targeted,
                remaining: input.remaining - result.created,
                elapsedMs: Date.now() - started,
                strideMs,
              });
          if (!more) {
            if (ahead) await ahead.then(discardPage, () => undefined);
            break;
          }
          try {
            page = await (ahead ??
              preparePage(cfg, provider, pageAt(at.cursor, input.remaining - result.created), at));
          } catch (err) {
            if (!standsAfter(err, at.cursor)) throw err;
            break;
          }
        }
        await lease.settle();
        if (ctx.cancellationSignal.aborted)
          throw new CancelledFailure('page abandoned: the activity was cancelled');
        return result!; // the loop ends only after a page committed (else it threw)
      } finally {
        lease.release();
      }
    },
    /**
     * Ends a run: the sweep's deletes (when allowed: by the manifest's documents, or by a scan when
     * they are not complete, see core/manifest.ts), the manifest's upkeep, and the run record.
     */
    async finishPass(input: FinishPassInput): Promise<FinishPassResult> {
      const prior = input.manifest ?? initialManifest(true);
      const cfg = await loadConfig(input.syncConfigId);
      if (!cfg) return { deleted: 0, manifest: prior };
      let deleted = 0;
      const step = manifestStep(prior, {
        passId: input.passId,
        failed: input.status === 'FAILED',
        passComplete: input.passComplete ?? input.sweep,
        sweep: input.sweep,
        onDelete: cfg.reconcile?.on_delete !== false,
        targeted: input.targeted ?? false,
        listedAll: input.listedAll ?? input.sweep,
        // A full pass verifies by scanning, except the first: a new sync has nothing else to find.
        full: input.full && input.firstPass !== true,
      });
      let earlierDocIds: string[] | undefined;
      let read: Manifest | null = null;
      if (step.sweep !== 'none') {
        let stale;
        if (step.sweep === 'manifest') {
          const swept = await unseenByManifest(store, cfg, input.passId);
          stale = swept.unseen;
          earlierDocIds = swept.earlierDocIds;
          read = swept.manifest;
          // The pass just read whole is the next pass's manifest: this worker need not load it again.
          if (swept.manifest && step.next.passId === input.passId)
            manifests.put(cfg.sync_config_id, input.passId, swept.manifest);
        } else stale = await unseenByScan(store, cfg, input.passId);
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
      // The bucket's object_count / total_size_bytes: recounted once per run that created, changed
      // or deleted objects (store/bucket-stats.ts); a run that changed nothing leaves them be.
      const f = input.files;
      const changedNothing =
        f !== undefined &&
        input.run.synced === 0 &&
        deleted === 0 &&
        !input.removed &&
        f.updated === 0 &&
        f.listed === f.unchanged + f.duplicates + f.dlq; // nothing drifted out of the filters either
      if (!changedNothing) await updateBucketStats(cfg, input.passId, step.sweep !== 'none', read);
      // Documents of earlier passes are done with once swept (a pass only ends once the one before it has).
      if (step.dropEarlier) await dropOtherPasses(store, cfg.sync_config_id, input.passId, earlierDocIds);
      const finished = new Date();
      const started = new Date(input.startedAt);
      const seconds = Math.max(0.001, (finished.getTime() - started.getTime()) / 1000);
      // Keyed by its id: one `_id` upsert, not a query over every run record.
      await store.runs.updateOne(
        { _id: input.recordId },
        {
          $set: {
            sync_run_id: input.recordId,
            run_id: input.runId,
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
            ...runRecordFigures(input.files, input.run, seconds),
            status: input.status,
            error: input.error,
          },
        },
        { upsert: true },
      );
      return { deleted, manifest: step.next };
    },

    /** skip_batch_submission was switched off: submit the batches the sync held back. */
    async releaseHeldBatches(syncConfigId: string): Promise<{ released: number; taskIds: string[] }> {
      return releaseHeld(store, deps.batches, syncConfigId);
    },

    /**
     * Writes the workflow's state to the sync's MongoDB projection (what the API shows): totals,
     * and, while a pass is in flight, its checkpoint (cursor, counts so far) and progress, in one
     * write, so a workflow restarted from MongoDB resumes with totals that match its cursor.
     */
    async recordSyncState(syncConfigId: string, state: SyncState): Promise<void> {
      await writeSyncState(store.syncs, syncConfigId, state);
    },
  };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
