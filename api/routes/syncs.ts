// Bucket syncs: the stored config lives in MongoDB, the running sync is a Temporal workflow.
// Create writes the config and starts its workflow together, or neither.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { syncCreateSchema, syncUpdateSchema, taskStatusSchema } from '../../core/schemas';
import type { SyncConfigDoc } from '../../store';
import { newId } from '../../store/ids';
import { tenantOf } from '../auth';
import { notFound, parse } from '../errors';
import { listPage, publicFields } from '../list';
import type { AppDeps } from '../app';
import type { SyncState } from '../../workflows/messages';

export function serializeSync(d: SyncConfigDoc, live?: SyncState | null): Record<string, unknown> {
  const out = publicFields(d, ['deleted']);
  if (live) {
    // The workflow's live state wins over the projection for what it owns.
    Object.assign(out, {
      status: live.status,
      paused: live.paused,
      pause_reason: live.pauseReason,
      paused_at: live.pausedAt,
      paused_by_user_id: live.pausedBy,
      pending_full_sync: live.pendingFullSync,
      consecutive_failures: live.consecutiveFailures,
      sync_run_counter: live.runCounter,
      next_sync_at: live.nextSyncAt,
    });
  }
  out.is_active = out.status !== 'SUSPENDED' && d.is_active;
  return out;
}

const listFilterSchema = z
  .strictObject({
    connection_id: z.string().optional(),
    status: taskStatusSchema.optional(),
    is_active: z.boolean().optional(),
  })
  .default({});

const pauseBodySchema = z.strictObject({ reason: z.string().max(500).nullable().optional() }).default({});
const triggerQuerySchema = z.object({
  full_sync: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  namespace: z.string().optional(),
});

export function syncRoutes({ store, control }: AppDeps): Router {
  const r = Router();
  const base = '/v1/buckets/:bucket_id/syncs';

  async function bucketOf(req: Request) {
    const t = tenantOf(req);
    const bucket = await store.buckets.findOne({
      bucket_id: String(req.params.bucket_id),
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
    });
    if (!bucket) throw notFound('bucket', String(req.params.bucket_id));
    return { t, bucket };
  }

  async function syncOf(req: Request) {
    const { t, bucket } = await bucketOf(req);
    const id = String(req.params.sync_config_id);
    const cfg = await store.syncs.findOne({
      sync_config_id: id,
      bucket_id: bucket.bucket_id,
      deleted: { $ne: true },
    });
    if (!cfg) throw notFound('sync configuration', id);
    return { t, bucket, cfg };
  }

  const fresh = async (id: string) => (await store.syncs.findOne({ sync_config_id: id }))!;

  r.post(base, async (req, res) => {
    const { t, bucket } = await bucketOf(req);
    const body = parse(syncCreateSchema, req.body, 'body');
    const conn = await store.connections.findOne({
      internal_id: t.internal_id,
      $or: [{ connection_id: body.connection_id }, { name: body.connection_id }],
      status: { $ne: 'ARCHIVED' },
    });
    if (!conn) throw notFound('connection', body.connection_id);
    const now = new Date();
    const doc: SyncConfigDoc = {
      ...body,
      file_filters: body.file_filters ?? null,
      schema_mapping: body.schema_mapping ?? null,
      description: body.description ?? null,
      connection_id: conn.connection_id,
      sync_config_id: newId('sync'),
      bucket_id: bucket.bucket_id,
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
      source_type: conn.provider_type,
      created_by_user_id: t.user_id,
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
      locked: false,
      locked_by_worker_id: null,
      locked_at: null,
      lock_expires_at: null,
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
    await store.syncs.insertOne({ ...doc });
    try {
      await control.start(doc);
    } catch (err) {
      // No workflow, no config: nothing half-written.
      await store.syncs.deleteOne({ sync_config_id: doc.sync_config_id });
      throw err;
    }
    res.status(201).json(serializeSync(doc));
  });

  r.post(`${base}/list`, async (req, res) => {
    const { bucket } = await bucketOf(req);
    const f = parse(listFilterSchema, req.body ?? {}, 'body');
    const filter: Record<string, unknown> = { bucket_id: bucket.bucket_id, deleted: { $ne: true } };
    if (f.connection_id) filter.connection_id = f.connection_id;
    if (f.status) filter.status = f.status;
    if (f.is_active !== undefined) filter.is_active = f.is_active;
    res.json(await listPage(store.syncs, filter, req.query, (d) => serializeSync(d)));
  });
  r.get(base, async (req, res) => {
    const { bucket } = await bucketOf(req);
    res.json(
      await listPage(store.syncs, { bucket_id: bucket.bucket_id, deleted: { $ne: true } }, req.query, (d) =>
        serializeSync(d),
      ),
    );
  });

  r.get(`${base}/:sync_config_id`, async (req, res) => {
    const { cfg } = await syncOf(req);
    res.json(serializeSync(cfg, await control.state(cfg.sync_config_id)));
  });

  r.patch(`${base}/:sync_config_id`, async (req, res) => {
    const { t, cfg } = await syncOf(req);
    const body = parse(syncUpdateSchema, req.body, 'body');
    const { status, is_active, ...fields } = body;
    await store.syncs.updateOne(
      { sync_config_id: cfg.sync_config_id },
      { $set: { ...fields, updated_at: new Date() } },
    );
    const updated = await fresh(cfg.sync_config_id);
    // is_active / status map to the workflow's own pause and resume.
    const wantPause = is_active === false || status === 'SUSPENDED';
    const wantResume = is_active === true || status === 'ACTIVE';
    if (wantPause) await control.pause(updated, { reason: 'is_active set to false', user: t.user_id });
    else if (wantResume) await control.resume(updated);
    if (is_active !== undefined)
      await store.syncs.updateOne({ sync_config_id: cfg.sync_config_id }, { $set: { is_active } });
    await control.configUpdated(updated);
    res.json(serializeSync(await fresh(cfg.sync_config_id), await control.state(cfg.sync_config_id)));
  });

  r.delete(`${base}/:sync_config_id`, async (req, res) => {
    const { cfg } = await syncOf(req);
    await control.stop(cfg.sync_config_id);
    await store.syncs.updateOne(
      { sync_config_id: cfg.sync_config_id },
      { $set: { deleted: true, is_active: false, updated_at: new Date() } },
    );
    res.json({
      success: true,
      message: `sync ${cfg.sync_config_id} deleted; its objects stay in the bucket`,
    });
  });

  r.post(`${base}/:sync_config_id/pause`, async (req, res) => {
    const { t, cfg } = await syncOf(req);
    const body = parse(pauseBodySchema, req.body ?? {}, 'body');
    await control.pause(cfg, { reason: body.reason ?? 'paused by user', user: t.user_id });
    const live = await control.state(cfg.sync_config_id);
    res.json(serializeSync(await fresh(cfg.sync_config_id), live));
  });

  r.post(`${base}/:sync_config_id/resume`, async (req, res) => {
    const { cfg } = await syncOf(req);
    await control.resume(cfg);
    res.json(serializeSync(await fresh(cfg.sync_config_id), await control.state(cfg.sync_config_id)));
  });

  r.post(`${base}/:sync_config_id/trigger`, async (req, res) => {
    const { cfg } = await syncOf(req);
    const q = parse(triggerQuerySchema, req.query, 'query');
    await control.trigger(cfg, q.full_sync);
    const live = await control.state(cfg.sync_config_id);
    const running = live?.pass != null;
    res.json({
      sync_config_id: cfg.sync_config_id,
      sync_job_id: live?.pass?.runId ?? null,
      status: live?.status ?? cfg.status,
      message: running
        ? `a run is in progress; the ${q.full_sync ? 'full ' : ''}sync requested runs right after it`
        : `${q.full_sync ? 'full ' : ''}sync triggered`,
    });
  });

  r.post(`${base}/:sync_config_id/force-unlock`, async (req, res) => {
    const { cfg } = await syncOf(req);
    await control.forceUnlock(cfg);
    await store.syncs.updateOne(
      { sync_config_id: cfg.sync_config_id },
      { $set: { locked: false, locked_by_worker_id: null, locked_at: null, lock_expires_at: null } },
    );
    res.json(serializeSync(await fresh(cfg.sync_config_id), await control.state(cfg.sync_config_id)));
  });

  r.get(`${base}/:sync_config_id/runs`, async (req, res) => {
    const { cfg } = await syncOf(req);
    res.json(
      await listPage(
        store.runs,
        { sync_config_id: cfg.sync_config_id },
        req.query,
        (d) => publicFields(d, ['internal_id']),
        {
          started_at: -1,
          _id: -1,
        },
      ),
    );
  });

  r.get(`${base}/:sync_config_id/dlq`, async (req, res) => {
    const { cfg } = await syncOf(req);
    res.json(
      await listPage(
        store.dlq,
        { sync_config_id: cfg.sync_config_id },
        req.query,
        (d) => ({
          source_object_id: d.source_object_id,
          path: d.path,
          attempts: d.attempts,
          last_error: d.last_error,
          first_failed_at: d.first_failed_at,
          last_failed_at: d.last_failed_at,
          status: d.status,
        }),
        { last_failed_at: -1, _id: -1 },
      ),
    );
  });

  r.post(`${base}/:sync_config_id/dlq/retry`, async (req, res) => {
    const { cfg } = await syncOf(req);
    const body = parse(dlqRetrySchema, req.body ?? {}, 'body');
    const filter: Record<string, unknown> = { sync_config_id: cfg.sync_config_id };
    if (body.source_object_ids) filter.source_object_id = { $in: body.source_object_ids };
    const r2 = await store.dlq.updateMany(filter, {
      $set: { status: 'PENDING', attempts: 0, last_attempt_run_id: '' },
    });
    res.json({
      success: true,
      requeued: r2.modifiedCount,
      message: `${r2.modifiedCount} file(s) will be retried by the next run`,
    });
  });

  return r;
}

const dlqRetrySchema = z
  .strictObject({ source_object_ids: z.array(z.string().min(1)).min(1).max(10000).optional() })
  .default({});
