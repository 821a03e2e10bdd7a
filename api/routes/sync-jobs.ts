// Mixpeek's sync routes beyond the config itself: run history as SyncJobModel (`POST …/jobs`,
// `GET …/jobs/{id}`), health metrics (`GET …/metrics`), the DLQ as SyncDeadLetterObjectModel
// (`POST …/dlq`) and `POST …/unlock` (the same as our `…/force-unlock`).
import { createHash } from 'node:crypto';
import { Router } from 'express';
import {
  dlqListRequestSchema,
  syncJobListFilterSchema,
  type SYNC_JOB_STATUSES,
} from '../../core/request-schemas';
import type { SyncConfigDoc, SyncRunDoc, Tenant } from '../../store';
import type { SyncState } from '../../workflows/messages';
import { notFound } from '../errors';
import { listQuerySchema, pageOf, pagingOf } from '../list';
import { dlqObjectListModel, listModel, syncConfigModel, syncJobModel, syncMetricsModel } from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';
import { findBucket } from '../tenancy';
import { serializeSync } from './syncs';

type JobStatus = (typeof SYNC_JOB_STATUSES)[number];

/** Mixpeek's lowercase job status of a run record. */
export function jobStatusOf(status: SyncRunDoc['status']): JobStatus {
  if (status === 'FAILED') return 'failed';
  if (status === 'CANCELED') return 'interrupted';
  return 'completed';
}

export function serializeJob(cfg: SyncConfigDoc, run: SyncRunDoc) {
  const minutes = run.duration_seconds / 60;
  return {
    sync_job_id: run.sync_run_id,
    sync_config_id: run.sync_config_id,
    internal_id: cfg.internal_id,
    namespace_id: cfg.namespace_id,
    bucket_id: cfg.bucket_id,
    status: jobStatusOf(run.status),
    trigger: null,
    phase: 'completed',
    full_sync: run.full,
    total_files: run.files_discovered,
    files_synced: run.files_synced,
    files_failed: run.files_failed,
    bytes_synced: run.bytes_synced,
    started_at: run.started_at,
    completed_at: run.finished_at,
    updated_at: run.finished_at,
    error: run.error ? run.error.slice(0, 1000) : null,
    throughput_files_per_min: minutes > 0 ? Math.round((run.files_synced / minutes) * 100) / 100 : 0,
    current_cursor: null,
    progress: null,
  };
}

/** The run in flight, from the workflow's live state, as a job. */
function runningJob(cfg: SyncConfigDoc, live: SyncState) {
  const pass = live.pass!;
  const now = new Date();
  const minutes = (now.getTime() - Date.parse(pass.startedAt)) / 60_000;
  return {
    sync_job_id: pass.runId,
    sync_config_id: cfg.sync_config_id,
    internal_id: cfg.internal_id,
    namespace_id: cfg.namespace_id,
    bucket_id: cfg.bucket_id,
    status: 'running' as const,
    trigger: null,
    phase: pass.cursor === null && pass.pages > 0 ? 'finishing' : 'listing',
    full_sync: pass.full,
    total_files: null,
    files_synced: pass.run.synced,
    files_failed: pass.run.failed,
    bytes_synced: pass.run.bytes,
    started_at: pass.startedAt,
    completed_at: null,
    updated_at: now,
    error: null,
    throughput_files_per_min: minutes > 0 ? Math.round((pass.run.synced / minutes) * 100) / 100 : 0,
    current_cursor: pass.cursor,
    progress: {
      pages: pass.pages,
      objects_processed: pass.objectsProcessed,
      discovered: pass.run.discovered,
    },
  };
}

const jobList = listModel(syncJobModel, 'SyncJob');
const jobListBody = syncJobListFilterSchema.meta({ id: 'ListSyncJobsRequest' });
const dlqBody = dlqListRequestSchema.meta({ id: 'ListDLQRequest' });

export function syncJobRoutes({ store, control }: AppDeps): Router {
  const r = Router();
  const base = '/v1/buckets/:bucket_id/syncs/:sync_config_id';
  const tag = 'syncs';

  async function syncOf(t: Tenant, params: Record<string, string>): Promise<SyncConfigDoc> {
    const bucket = await findBucket(store, t, params.bucket_id);
    const cfg = await store.syncs.findOne({
      sync_config_id: params.sync_config_id,
      bucket_id: bucket.bucket_id,
      deleted: { $ne: true },
    });
    if (!cfg) throw notFound('sync configuration', params.sync_config_id);
    return cfg;
  }

  route(r, {
    method: 'post',
    path: `${base}/jobs`,
    tag,
    summary: 'Sync jobs (runs), newest first',
    description:
      'One job per run: the run in flight first (status running, from the workflow), then the recorded runs. ' +
      'Filter with {"status": "completed" | "failed" | "interrupted" | "running"}.',
    query: listQuerySchema,
    body: jobListBody,
    bodyOptional: true,
    response: jobList,
    handler: async ({ t, params, req, body }) => {
      const cfg = await syncOf(t, params);
      const { limit, offset } = pagingOf(req.query);
      const live = await control.state(cfg.sync_config_id);
      const running = live?.pass?.inRun ? [runningJob(cfg, live)] : [];
      const wanted = body.status ?? null;
      const head = wanted === null || wanted === 'running' ? running : [];
      if (wanted === 'running' || wanted === 'skipped')
        return pageOf(head.slice(offset, offset + limit), head.length, limit, offset);
      const filter: Record<string, unknown> = { sync_config_id: cfg.sync_config_id };
      if (wanted === 'failed') filter.status = 'FAILED';
      else if (wanted === 'interrupted') filter.status = 'CANCELED';
      else if (wanted === 'completed') filter.status = { $in: ['COMPLETED', 'COMPLETED_WITH_ERRORS'] };
      const skip = Math.max(0, offset - head.length);
      const [runs, recorded] = await Promise.all([
        store.runs.find(filter).sort({ started_at: -1, _id: -1 }).skip(skip).limit(limit).toArray(),
        store.runs.countDocuments(filter),
      ]);
      const results = [...head.slice(offset, offset + limit), ...runs.map((run) => serializeJob(cfg, run))];
      return pageOf(results.slice(0, limit), recorded + head.length, limit, offset);
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/jobs/:sync_job_id`,
    tag,
    summary: 'One sync job',
    description:
      'By the run record’s id, or by the run id a trigger answered (the run in flight or its newest record).',
    response: syncJobModel,
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      const id = params.sync_job_id;
      const live = await control.state(cfg.sync_config_id);
      if (live?.pass?.inRun && live.pass.runId === id) return runningJob(cfg, live);
      // Run records are keyed by their id; older ones (ObjectId keys) and run ids are found by query.
      const byId = await store.runs.findOne({ _id: id });
      const run =
        (byId?.sync_config_id === cfg.sync_config_id ? byId : null) ??
        (await store.runs.findOne({ sync_config_id: cfg.sync_config_id, sync_run_id: id })) ??
        (await store.runs.findOne(
          { sync_config_id: cfg.sync_config_id, run_id: id },
          { sort: { started_at: -1 } },
        ));
      if (run) return serializeJob(cfg, run);
      // The run has just ended and its record is being written (the workflow leaves the run, then
      // its finishPass activity writes the record: core/sync-state.ts runEnded): still in flight.
      if (live?.pass?.runId === id) return runningJob(cfg, live);
      throw notFound('sync job', id);
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/metrics`,
    tag,
    summary: 'Health metrics of a sync',
    description:
      'Staleness (no run finished for two polling intervals), failure rate over the recorded runs, DLQ size by ' +
      'error type, the run in flight, and whether its lock has expired (stalled).',
    response: syncMetricsModel,
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      const live = await control.state(cfg.sync_config_id);
      const s = serializeSync(cfg, live) as Record<string, unknown> & SyncConfigDoc;
      const [runs, failed, dlq, last] = await Promise.all([
        store.runs.countDocuments({ sync_config_id: cfg.sync_config_id }),
        store.runs.countDocuments({ sync_config_id: cfg.sync_config_id, status: 'FAILED' }),
        store.dlq
          .find({ sync_config_id: cfg.sync_config_id }, { projection: { error_type: 1 } })
          .limit(100_000)
          .toArray(),
        store.runs.findOne({ sync_config_id: cfg.sync_config_id }, { sort: { started_at: -1 } }),
      ]);
      const byError: Record<string, number> = {};
      for (const d of dlq) byError[d.error_type ?? 'error'] = (byError[d.error_type ?? 'error'] ?? 0) + 1;
      const lastSync = s.last_sync_at ? new Date(s.last_sync_at) : null;
      const now = Date.now();
      const since = lastSync ? Math.max(0, Math.floor((now - lastSync.getTime()) / 1000)) : null;
      const interval = cfg.polling_interval_seconds;
      const staleAfter = 2 * interval;
      const active = s.is_active === true && s.paused !== true;
      const isStale =
        active && cfg.sync_mode === 'continuous' && (since === null ? runs > 0 : since > staleAfter);
      const running = !!live?.pass?.inRun;
      const lockExpired =
        !!cfg.locked && !!cfg.lock_expires_at && new Date(cfg.lock_expires_at).getTime() < now;
      return {
        sync_config_id: cfg.sync_config_id,
        status: s.status,
        is_active: s.is_active,
        paused: s.paused,
        total_files_discovered: cfg.total_files_discovered,
        total_files_synced: cfg.total_files_synced,
        total_files_failed: cfg.total_files_failed,
        batches_created: cfg.batches_created,
        sync_run_counter: s.sync_run_counter,
        consecutive_failures: s.consecutive_failures,
        last_error: s.last_error ?? null,
        last_sync_at: cfg.last_sync_at,
        next_sync_at: s.next_sync_at ?? null,
        seconds_since_last_sync: since,
        is_stale: isStale,
        intervals_since_last_sync: since === null ? null : Math.round((since / interval) * 100) / 100,
        stale_after_seconds: staleAfter,
        failure_rate: runs > 0 ? Math.round((failed / runs) * 1000) / 1000 : 0,
        healthy: active && !isStale && s.consecutive_failures === 0 && !lockExpired,
        dlq_total: dlq.length,
        dlq_by_error: byError,
        running_job: running,
        stalled: lockExpired,
        stalled_reason: lockExpired ? `the run lock of ${cfg.locked_by_worker_id} expired` : null,
        last_job: last ? serializeJob(cfg, last) : null,
      };
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/dlq`,
    tag,
    summary: 'Dead letter queue, Mixpeek’s shape',
    description:
      'Files that failed: {only_max_retries} lists only those given up on (after 3 attempts), {error_types} ' +
      'only those error types. GET …/dlq answers our own shape.',
    body: dlqBody,
    bodyOptional: true,
    response: dlqObjectListModel,
    handler: async ({ t, params, body }) => {
      const cfg = await syncOf(t, params);
      const filter: Record<string, unknown> = { sync_config_id: cfg.sync_config_id };
      if (body.only_max_retries) filter.status = 'FAILED';
      const docs = await store.dlq.find(filter).sort({ last_failed_at: -1, _id: -1 }).limit(10_000).toArray();
      const types = body.error_types ?? null;
      const results = docs
        .filter((d) => types === null || types.includes(d.error_type ?? 'error'))
        .map((d) => ({
          dlq_id: `dlq_${createHash('sha256').update(`${cfg.sync_config_id}\u0000${d.source_object_id}`).digest('hex').slice(0, 16)}`,
          sync_config_id: cfg.sync_config_id,
          sync_job_id: d.last_attempt_run_id || null,
          source_object_id: d.source_object_id,
          source_path: d.path,
          error_type: d.error_type ?? 'error',
          error_message: d.last_error,
          first_seen_at: d.first_failed_at,
          last_seen_at: d.last_failed_at,
          retry_count: d.attempts,
          max_retries_reached: d.status === 'FAILED',
          internal_id: cfg.internal_id,
          namespace_id: cfg.namespace_id,
          bucket_id: cfg.bucket_id,
        }));
      return { results, total: results.length };
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/unlock`,
    tag,
    summary: 'Release a stuck run lock (Mixpeek’s name for …/force-unlock)',
    description: 'Cancels the stuck page and redoes it from the last checkpoint; answers the sync.',
    response: syncConfigModel,
    errors: [503],
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      await control.forceUnlock(cfg);
      await store.syncs.updateOne(
        { sync_config_id: cfg.sync_config_id, locked_at: cfg.locked_at ?? null },
        { $set: { locked: false, locked_by_worker_id: null, locked_at: null, lock_expires_at: null } },
      );
      const fresh = (await store.syncs.findOne({ sync_config_id: cfg.sync_config_id }))!;
      return serializeSync(fresh, await control.state(cfg.sync_config_id));
    },
  });

  return r;
}
