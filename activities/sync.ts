// Sync activities: everything a sync does that touches the world. The workflow calls one
// `syncPage` per page of listed files and gets back counts and the next cursor, never file lists.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { compileFilters, mimeTypeOf } from '../core/filters';
import type { SourceEntry } from '../core/entry';
import { createProvider, ProviderError, type StorageProvider } from '../providers';
import { newId } from '../store/ids';
import type { ObjectDoc, Store, SyncConfigDoc } from '../store';
import type { SecretBox } from '../store/secrets';
import type { SyncState, Totals } from '../workflows/messages';

export interface SyncActivityDeps {
  store: Store;
  secrets: SecretBox;
  log: Logger;
  workerId: string;
  pageSize: number;
}

export interface SyncSettings {
  found: boolean;
  syncMode: 'continuous' | 'initial_only';
  pollingIntervalSeconds: number;
  isActive: boolean;
  maxObjectsPerRun: number;
}

export interface SyncPageInput {
  syncConfigId: string;
  runId: string;
  passId: string;
  cursor: string | null;
  modifiedSince: string | null;
  /** Cumulative totals before this page; the projection written is totals + this page. */
  totals: Totals;
  /** This run's counts before this page. */
  run: Totals;
  objectsProcessed: number;
  /** Objects this run may still create (max_objects_per_run minus what it created). */
  remaining: number;
}

export interface SyncPageResult {
  found: boolean;
  listed: number;
  discovered: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  bytes: number;
  nextCursor: string | null;
}

const LOCK_TTL_MS = 2 * 60_000;

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

function newObjectDoc(cfg: SyncConfigDoc, entry: SourceEntry, runId: string, now: Date): ObjectDoc {
  const keyPrefix = entry.path.includes('/') ? `/${entry.path.slice(0, entry.path.lastIndexOf('/'))}` : '/';
  return {
    object_id: newId('obj'),
    bucket_id: cfg.bucket_id,
    internal_id: cfg.internal_id,
    namespace_id: cfg.namespace_id,
    key_prefix: keyPrefix,
    blobs: [
      {
        blob_id: newId('obj').replace('obj_', 'blob_'),
        property: 'content',
        key_prefix: keyPrefix,
        type: 'auto',
        properties: {},
        details: {
          filename: entry.name,
          size_bytes: entry.size,
          mime_type: mimeTypeOf(entry),
          hash: entry.checksum ?? null,
        },
      },
    ],
    source_details: [{ type: cfg.source_type, source_id: entry.sourceObjectId }],
    metadata: { ...entry.metadata },
    status: 'COMPLETED',
    error: null,
    source_provider: cfg.source_type,
    source_object_id: entry.sourceObjectId,
    source_version: entry.version,
    sync_config_id: cfg.sync_config_id,
    created_by_run_id: runId,
    created_at: now,
    updated_at: now,
  };
}

function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number })?.code === 11000;
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

  return {
    async loadSyncSettings(syncConfigId: string): Promise<SyncSettings> {
      const cfg = await store.syncs.findOne({ sync_config_id: syncConfigId, deleted: { $ne: true } });
      if (!cfg)
        return {
          found: false,
          syncMode: 'continuous',
          pollingIntervalSeconds: 300,
          isActive: false,
          maxObjectsPerRun: 0,
        };
      return {
        found: true,
        syncMode: cfg.sync_mode,
        pollingIntervalSeconds: cfg.polling_interval_seconds,
        isActive: cfg.is_active,
        maxObjectsPerRun: cfg.max_objects_per_run,
      };
    },

    /** One page: list -> filter -> register objects under the idempotency key -> save progress. */
    async syncPage(input: SyncPageInput): Promise<SyncPageResult> {
      const cfg = await store.syncs.findOne({ sync_config_id: input.syncConfigId, deleted: { $ne: true } });
      const empty = { listed: 0, discovered: 0, created: 0, updated: 0, unchanged: 0, failed: 0, bytes: 0 };
      if (!cfg) return { found: false, ...empty, nextCursor: null };

      const now = new Date();
      await store.syncs.updateOne(
        { sync_config_id: cfg.sync_config_id },
        {
          $set: {
            locked: true,
            locked_by_worker_id: deps.workerId,
            locked_at: now,
            lock_expires_at: new Date(now.getTime() + LOCK_TTL_MS),
            current_sync_run_id: input.runId,
          },
        },
      );

      const provider = await providerFor(cfg);
      let page;
      try {
        page = await provider.list(cfg.source_path, {
          cursor: input.cursor,
          modifiedSince: input.modifiedSince,
          providerFilters: cfg.provider_filters,
          pageSize: Math.max(1, Math.min(deps.pageSize, input.remaining)),
        });
      } catch (err) {
        toFailure(err);
      }
      Context.current().heartbeat({ cursor: input.cursor, listed: page.entries.length });

      const keep = compileFilters(cfg.file_filters);
      const matching = page.entries.filter((e) => keep(e).keep);
      const counts = { ...empty, listed: page.entries.length, discovered: matching.length };

      if (matching.length > 0) {
        const existing = new Map(
          (
            await store.objects
              .find(
                {
                  bucket_id: cfg.bucket_id,
                  source_provider: cfg.source_type,
                  source_object_id: { $in: matching.map((e) => e.sourceObjectId) },
                },
                { projection: { source_object_id: 1, source_version: 1, created_by_run_id: 1 } },
              )
              .toArray()
          ).map((d) => [d.source_object_id, d]),
        );
        const fresh: ObjectDoc[] = [];
        for (const entry of matching) {
          const prior = existing.get(entry.sourceObjectId);
          if (!prior) {
            fresh.push(newObjectDoc(cfg, entry, input.runId, now));
          } else if (prior.created_by_run_id === input.runId) {
            // Created by an earlier attempt of this same run (a retried page): still ours to count.
            counts.created++;
            counts.bytes += entry.size;
          } else if (prior.source_version !== entry.version) {
            await store.objects.updateOne(
              { _id: prior._id },
              {
                $set: {
                  source_version: entry.version,
                  'blobs.0.details.size_bytes': entry.size,
                  'blobs.0.details.mime_type': mimeTypeOf(entry),
                  'blobs.0.details.hash': entry.checksum ?? null,
                  metadata: { ...entry.metadata },
                  updated_at: now,
                },
              },
            );
            counts.updated++;
          } else {
            counts.unchanged++;
          }
        }
        if (fresh.length > 0) {
          let inserted = fresh.length;
          try {
            await store.objects.insertMany(fresh, { ordered: false });
          } catch (err) {
            // Another writer registered some of these first: the unique key kept them single.
            const writeErrors = (err as { writeErrors?: unknown[] }).writeErrors;
            if (!isDuplicateKey(err) && !(Array.isArray(writeErrors) && writeErrors.every(isDuplicateKey)))
              throw err;
            inserted = fresh.length - (Array.isArray(writeErrors) ? writeErrors.length : 1);
            counts.unchanged += fresh.length - inserted;
          }
          counts.created += inserted;
          const sizeOf = new Map(matching.map((e) => [e.sourceObjectId, e.size]));
          counts.bytes += fresh
            .slice(0, inserted)
            .reduce((s, d) => s + (sizeOf.get(d.source_object_id) ?? 0), 0);
        }
      }

      const pageTotals: Totals = {
        discovered: counts.discovered,
        synced: counts.created,
        failed: counts.failed,
        bytes: counts.bytes,
      };
      const totals = add(input.totals, pageTotals);
      const run = add(input.run, pageTotals);
      const processed = input.objectsProcessed + counts.listed;
      const done = new Date();
      await store.syncs.updateOne(
        { sync_config_id: cfg.sync_config_id },
        {
          $set: {
            status: 'ACTIVE',
            total_files_discovered: totals.discovered,
            total_files_synced: totals.synced,
            total_files_failed: totals.failed,
            total_bytes_synced: totals.bytes,
            resume_cursor: page.nextCursor,
            current_cursor: page.nextCursor,
            resume_objects_processed: processed,
            'sync_checkpoints.default': {
              pass_id: input.passId,
              cursor: page.nextCursor,
              objects_processed: processed,
              modified_since: input.modifiedSince,
              completed_at: page.nextCursor === null ? done : null,
              updated_at: done,
            },
            sync_progress: {
              sync_run_id: input.runId,
              phase: page.nextCursor === null ? 'finishing' : 'listing',
              files_listed: processed,
              files_synced: run.synced,
              files_failed: run.failed,
              bytes_synced: run.bytes,
              updated_at: done,
            },
            lock_expires_at: new Date(done.getTime() + LOCK_TTL_MS),
            updated_at: done,
          },
        },
      );
      return { found: true, ...counts, nextCursor: page.nextCursor };
    },

    /** Writes the workflow's state to the sync's MongoDB projection (what the API shows). */
    async recordSyncState(syncConfigId: string, state: SyncState): Promise<void> {
      const d = (s: string | null) => (s ? new Date(s) : null);
      await store.syncs.updateOne(
        { sync_config_id: syncConfigId },
        {
          $set: {
            status: state.status,
            paused: state.paused,
            pause_reason: state.pauseReason,
            paused_at: d(state.pausedAt),
            paused_by_user_id: state.pausedBy,
            pending_full_sync: state.pendingFullSync,
            total_files_discovered: state.totals.discovered,
            total_files_synced: state.totals.synced,
            total_files_failed: state.totals.failed,
            total_bytes_synced: state.totals.bytes,
            consecutive_failures: state.consecutiveFailures,
            last_error: state.lastError ? state.lastError.slice(0, 1000) : null,
            last_sync_at: d(state.lastSyncAt),
            next_sync_at: d(state.nextSyncAt),
            sync_run_counter: state.runCounter,
            current_sync_run_id: state.pass?.runId ?? null,
            resume_cursor: state.pass?.cursor ?? null,
            current_cursor: state.pass?.cursor ?? null,
            ...(state.pass
              ? {}
              : { locked: false, locked_by_worker_id: null, locked_at: null, lock_expires_at: null }),
            schedule: {
              mode: state.syncMode,
              interval_seconds: state.pollingIntervalSeconds,
              next_run_at: d(state.nextSyncAt),
              last_successful_run_at: d(state.lastSyncAt),
            },
            updated_at: new Date(),
          },
        },
      );
    },
  };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
