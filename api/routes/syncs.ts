// Bucket syncs: the stored config lives in MongoDB, the running sync is a Temporal workflow.
// Every change that needs the workflow is all-or-nothing: Temporal unreachable -> 503, and what
// was written for the change is undone.
import { Router } from 'express';
import { releaseHeld } from '../../pipeline/batching';
import {
  dlqRetryRequestSchema,
  pauseRequestSchema,
  syncCreateRequestSchema,
  syncListFilterSchema,
  syncUpdateRequestSchema,
  triggerQuerySchema,
} from '../../core/request-schemas';
import { progressOf } from '../../core/progress';
import { changeFeedOf, PUSH_FEEDS } from '../../core/change-feed';
import type { ProviderType } from '../../core/request-schemas';
import type { SyncState } from '../../core/sync-state';
import type { EventFeedState, Store, SyncConfigDoc, Tenant } from '../../store';
import { newId } from '../../store/ids';
import { deletedFields, initialSyncDocument, liveFields, releaseStuckLock } from '../../store/sync-document';
import { ApiError, notFound } from '../errors';
import { hashChannelToken, newChannelToken, s3NotificationPath } from '../notifications';
import { listPage, listQuerySchema, publicFields } from '../list';
import {
  deleteModel,
  dlqEntryModel,
  dlqRetryModel,
  listModel,
  syncConfigModel,
  syncRunModel,
  triggerModel,
} from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';
import { BucketScopes, findBucket, findSync } from '../tenancy';
import { ReadCache } from '../read-cache';
import { checkSourcePath, checkSyncFields } from '../sync-checks';
import { queueOfRequest, withQueue } from '../queue-feed';

/** 422 naming event_driven when the sync cannot listen for changes. */
function checkEventDriven(provider: ProviderType, syncMode: string, publicUrl?: string): void {
  const feed = changeFeedOf(provider);
  const problem =
    feed === null
      ? `provider ${provider} has no change feed (polling only)`
      : syncMode === 'initial_only'
        ? 'an initial_only sync does not listen for changes (use sync_mode continuous)'
        : PUSH_FEEDS.includes(feed) && !publicUrl
          ? `${provider} change notifications need an address to post to: this server has no PUBLIC_API_URL`
          : null;
  if (problem)
    throw new ApiError(422, `validation failed: body.event_driven: ${problem}`, 'ValidationError', {
      issues: [{ loc: ['body', 'event_driven'], msg: problem, type: 'value_error' }],
    });
}

/**
 * Switches a sync's change feed on: feeds that receive notifications get a channel with a new secret
 * (its hash stored as the channel's _id). The secret is in the returned path, shown once.
 */
async function enableFeed(
  store: Store,
  syncConfigId: string,
  provider: ProviderType,
): Promise<{ feed: EventFeedState; notificationPath: string | null }> {
  const kind = changeFeedOf(provider)!;
  const now = new Date();
  if (kind !== 'bucket_notifications')
    return { feed: { kind, channel_id: null, enabled_at: now }, notificationPath: null };
  const token = newChannelToken();
  const channelId = hashChannelToken(token);
  await store.eventChannels.insertOne({
    _id: channelId,
    sync_config_id: syncConfigId,
    kind,
    created_at: now,
  });
  return {
    feed: { kind, channel_id: channelId, enabled_at: now },
    notificationPath: s3NotificationPath(token),
  };
}

async function dropChannel(store: Store, feed: EventFeedState | null | undefined): Promise<void> {
  if (feed?.channel_id) await store.eventChannels.deleteOne({ _id: feed.channel_id });
}

/** The response of the call that made a channel: its notification path (with the secret), once. */
function withNotificationPath(out: Record<string, unknown>, notificationPath: string | null) {
  if (notificationPath && out.event_feed)
    out.event_feed = { ...out.event_feed, notification_path: notificationPath };
  return out;
}

export function serializeSync(d: SyncConfigDoc, live?: SyncState | null): Record<string, unknown> {
  // Mixpeek's fields, null on syncs made before they were kept.
  const out: Record<string, unknown> = {
    sync_concurrency: null,
    batch_collection_ids: null,
    ingest_filter: null,
    sync_from: null,
    ...publicFields(d, ['deleted']),
  };
  out.event_driven = d.event_driven ?? false;
  // The channel's secret is never stored; its hash is not shown either.
  out.event_feed = d.event_feed
    ? {
        kind: d.event_feed.kind,
        enabled_at: d.event_feed.enabled_at,
        receives_notifications: d.event_feed.channel_id !== null || PUSH_FEEDS.includes(d.event_feed.kind),
        ...(d.event_feed.sqs_queue_url ? { sqs_queue_url: d.event_feed.sqs_queue_url } : {}),
      }
    : null;
  if (live) {
    // The workflow's live state wins over the projection for what it owns.
    Object.assign(out, liveFields(live));
    // A pass in progress: its live figures (core/progress.ts) instead of the last page's projection.
    const progress = progressOf(live, Date.now());
    if (progress) out.sync_progress = progress;
  }
  out.is_active = out.status !== 'SUSPENDED' && d.is_active;
  return out;
}

export const serializeRun = (d: {
  sync_run_id: string;
  sync_config_id: string;
  started_at: Date;
  duration_seconds: number;
  files_discovered: number;
  files_synced: number;
  files_failed: number;
  bytes_synced: number;
  throughput_mbps: number;
  status: string;
  provider_type: string;
  files_listed?: number;
  files_created?: number;
  files_updated?: number;
  files_unchanged?: number;
  files_duplicate?: number;
  files_dlq?: number;
  files_per_second?: number;
}) => ({
  sync_run_id: d.sync_run_id,
  sync_config_id: d.sync_config_id,
  started_at: d.started_at,
  duration_seconds: d.duration_seconds,
  files_discovered: d.files_discovered,
  files_synced: d.files_synced,
  files_failed: d.files_failed,
  bytes_synced: d.bytes_synced,
  throughput_mbps: d.throughput_mbps,
  status: d.status,
  provider_type: d.provider_type,
  // By outcome (run records from before these figures have none).
  ...(d.files_listed !== undefined
    ? {
        files_listed: d.files_listed,
        files_created: d.files_created ?? 0,
        files_updated: d.files_updated ?? 0,
        files_unchanged: d.files_unchanged ?? 0,
        files_duplicate: d.files_duplicate ?? 0,
        files_dlq: d.files_dlq ?? 0,
        files_per_second: d.files_per_second ?? 0,
      }
    : {}),
});

const createBody = syncCreateRequestSchema.meta({ id: 'SyncCreateRequest' });
const updateBody = syncUpdateRequestSchema.meta({ id: 'SyncUpdateRequest' });
const listBody = syncListFilterSchema.meta({ id: 'SyncListRequest' });
const pauseBody = pauseRequestSchema.meta({ id: 'SyncPauseRequest' });
const retryBody = dlqRetryRequestSchema.meta({ id: 'DlqRetryRequest' });
const syncList = listModel(syncConfigModel, 'SyncConfiguration');
const runList = listModel(syncRunModel, 'SyncRunMetric');
const dlqList = listModel(dlqEntryModel, 'DlqEntry');
const triggerQuery = triggerQuerySchema.extend({
  full_sync: triggerQuerySchema.shape.full_sync.meta({ default: 'false', description: 'force a full sweep' }),
});

/** How long a trigger waits to name the run it started. */
const TRIGGER_WAIT_MS = 3_000;

export function syncRoutes({ store, control, secrets, env, reads = new ReadCache(0) }: AppDeps): Router {
  const r = Router();
  const base = '/v1/buckets/:bucket_id/syncs';
  const tag = 'syncs';

  const bucketOf = (t: Tenant, bucketId: string) => findBucket(store, t, bucketId);

  const scopes = new BucketScopes(store, env.AUTH_CACHE_SECONDS * 1000);
  /** An existing sync: its bucket checked from the scope cache (api/tenancy.ts), the sync read fresh. */
  async function syncOf(t: Tenant, params: Record<string, string>): Promise<SyncConfigDoc> {
    const bucket = await scopes.check(t, params.bucket_id);
    return findSync(store, bucket.bucket_id, params.sync_config_id); // an _id lookup
  }

  const fresh = async (id: string) => (await store.syncs.findOne({ sync_config_id: id }))!;

  /**
   * A $set on a sync that sticks. The workflow writes the same document all the time, and on
   * FerretDB (SQLite) two concurrent updates of one document can silently lose one of them; so the
   * change is read back (twice, a moment apart) and applied again until it holds.
   */
  async function setSync(id: string, set: Record<string, unknown>): Promise<void> {
    const keys = Object.keys(set).filter((k) => k !== 'updated_at');
    const holds = async () => {
      const doc = (await store.syncs.findOne({ sync_config_id: id })) as Record<string, unknown> | null;
      return !!doc && keys.every((k) => JSON.stringify(doc[k] ?? null) === JSON.stringify(set[k] ?? null));
    };
    for (let attempt = 1; attempt <= 8; attempt++) {
      await store.syncs.updateOne({ sync_config_id: id }, { $set: set });
      if (await holds()) {
        await new Promise((res) => setTimeout(res, 25));
        if (await holds()) return;
      }
      await new Promise((res) => setTimeout(res, 10 * attempt));
    }
  }
  const current = async (id: string) => serializeSync(await fresh(id), await control.state(id));

  route(r, {
    method: 'post',
    path: base,
    tag,
    summary: 'Create a sync and start its workflow',
    description:
      'The config is stored and its workflow started together, or neither (503 when Temporal is down).',
    body: createBody,
    response: syncConfigModel,
    errors: [409, 503],
    handler: async ({ t, params, body }) => {
      const bucket = await bucketOf(t, params.bucket_id);
      const collections = await checkSyncFields(store, env.SYNC_FILE_CONCURRENCY_MAX, t, body);
      const conn = await store.connections.findOne({
        internal_id: t.internal_id,
        $or: [{ connection_id: body.connection_id }, { name: body.connection_id }],
        status: { $ne: 'ARCHIVED' },
      });
      if (!conn) throw notFound('connection', body.connection_id);
      if (!conn.is_active)
        throw new ApiError(409, `connection ${conn.connection_id} is not active`, 'ConflictError');
      // What the request alone decides first, then the provider's answer on source_path.
      if (body.event_driven) checkEventDriven(conn.provider_type, body.sync_mode, env.PUBLIC_API_URL);
      const queueUrl = queueOfRequest(body.event_feed, {
        provider: conn.provider_type,
        eventDriven: body.event_driven,
        providerConfig: conn.provider_config,
      });
      await checkSourcePath(secrets, conn, body.source_path);
      const syncConfigId = newId('sync');
      const enabled = body.event_driven ? await enableFeed(store, syncConfigId, conn.provider_type) : null;
      const doc = initialSyncDocument({
        body: { ...body, batch_collection_ids: collections ?? null },
        syncConfigId,
        bucketId: bucket.bucket_id,
        tenant: t,
        connection: conn,
        now: new Date(),
      });
      doc.event_feed = enabled ? withQueue(enabled.feed, queueUrl) : null;
      await store.syncs.insertOne({ ...doc });
      try {
        await control.start(doc);
      } catch (err) {
        // No workflow, no config: nothing half-written.
        await store.syncs.deleteOne({ sync_config_id: doc.sync_config_id });
        await dropChannel(store, doc.event_feed);
        throw err;
      }
      return withNotificationPath(serializeSync(doc), enabled?.notificationPath ?? null);
    },
  });

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List the bucket’s syncs',
      description: 'Filters are ANDed.',
      query: listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: syncList,
      handler: async ({ t, params, req, body }) => {
        const bucket = await bucketOf(t, params.bucket_id);
        const f = body ?? {};
        const filter: Record<string, unknown> = { bucket_id: bucket.bucket_id, deleted: { $ne: true } };
        if (f.connection_id) filter.connection_id = f.connection_id;
        if (f.status) filter.status = f.status;
        if (f.is_active !== undefined) filter.is_active = f.is_active;
        return listPage(store.syncs, filter, req.query, (d) => serializeSync(d));
      },
    });
  list('post', `${base}/list`);
  list('get', base);

  route(r, {
    method: 'get',
    path: `${base}/:sync_config_id`,
    tag,
    summary: 'Get a sync (its stored state, which the workflow writes at every change)',
    response: syncConfigModel,
    handler: ({ t, params }) =>
      // Kept for API_READ_CACHE_MS (api/read-cache.ts).
      reads.get('sync', params.sync_config_id, t, params.bucket_id, async () => {
        const cfg = await syncOf(t, params);
        // The projection; the workflow is asked only right after this API signalled it, until it has
        // recorded the change (SyncControl.liveIfProjectionBehind).
        return serializeSync(cfg, await control.liveIfProjectionBehind(cfg));
      }),
  });

  route(r, {
    method: 'patch',
    path: `${base}/:sync_config_id`,
    tag,
    summary: 'Update a sync',
    description:
      'Applies from the next cycle (a new polling interval re-times the current wait). is_active false or ' +
      'status SUSPENDED pauses, is_active true or status ACTIVE resumes; other statuses are the workflow’s.',
    body: updateBody,
    response: syncConfigModel,
    errors: [503],
    handler: async ({ t, params, body }) => {
      const cfg = await syncOf(t, params);
      const collections = await checkSyncFields(store, env.SYNC_FILE_CONCURRENCY_MAX, t, body);
      const { status, is_active, event_feed: feedRequest, ...fields } = body;
      const set: Record<string, unknown> = { ...fields, updated_at: new Date() };
      if (collections !== undefined) set.batch_collection_ids = collections;
      if (is_active !== undefined) set.is_active = is_active;
      // event_feed: the SQS queue of an s3 sync, checked before anything is made; set on the feed.
      const queueUrl =
        feedRequest === undefined
          ? undefined
          : queueOfRequest(feedRequest, {
              provider: cfg.source_type,
              eventDriven: fields.event_driven ?? cfg.event_driven ?? false,
              providerConfig:
                (
                  await store.connections.findOne({
                    connection_id: cfg.connection_id,
                    internal_id: cfg.internal_id,
                  })
                )?.provider_config ?? {},
            });
      // event_driven: a feed (and its channel) is made when it is switched on, dropped when off.
      let enabled: Awaited<ReturnType<typeof enableFeed>> | null = null;
      if (fields.event_driven === true && !(cfg.event_driven && cfg.event_feed)) {
        checkEventDriven(cfg.source_type, cfg.sync_mode, env.PUBLIC_API_URL);
        enabled = await enableFeed(store, cfg.sync_config_id, cfg.source_type);
        set.event_feed = enabled.feed;
      } else if (fields.event_driven === false) set.event_feed = null;
      if (queueUrl !== undefined) {
        const feed = ('event_feed' in set ? set.event_feed : cfg.event_feed) as EventFeedState | null;
        if (feed) set.event_feed = withQueue(feed, queueUrl);
      }
      const undo: Record<string, unknown> = {};
      for (const k of Object.keys(set)) undo[k] = (cfg as unknown as Record<string, unknown>)[k] ?? null;
      await setSync(cfg.sync_config_id, set);
      if (fields.event_driven === false) await dropChannel(store, cfg.event_feed);
      try {
        const updated = await fresh(cfg.sync_config_id);
        if (is_active === false || status === 'SUSPENDED')
          await control.pause(updated, { reason: 'is_active set to false', user: t.user_id });
        else if (is_active === true || status === 'ACTIVE') await control.resume(updated);
        await control.configUpdated(updated);
      } catch (err) {
        await setSync(cfg.sync_config_id, undo);
        if (enabled) await dropChannel(store, enabled.feed);
        throw err;
      }
      // skip_batch_submission off: what the sync held back is submitted now (also for a sync whose
      // workflow has ended, e.g. a COMPLETED initial_only one). Repeating the PATCH retries it.
      if (fields.skip_batch_submission === false)
        await control.call(() => releaseHeld(store, control.batches, cfg.sync_config_id));
      return withNotificationPath(await current(cfg.sync_config_id), enabled?.notificationPath ?? null);
    },
  });

  route(r, {
    method: 'delete',
    path: `${base}/:sync_config_id`,
    tag,
    summary: 'Delete a sync',
    description: 'Stops its workflow; the objects it created stay in the bucket.',
    response: deleteModel,
    errors: [503],
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      await control.stop(cfg.sync_config_id);
      await dropChannel(store, cfg.event_feed);
      await setSync(cfg.sync_config_id, deletedFields());
      return { success: true, message: `sync ${cfg.sync_config_id} deleted; its objects stay in the bucket` };
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:sync_config_id/pause`,
    tag,
    summary: 'Pause a sync',
    description: 'The page in flight finishes, no new work starts. Pausing a paused sync answers its state.',
    body: pauseBody,
    bodyOptional: true,
    response: syncConfigModel,
    errors: [503],
    handler: async ({ t, params, body }) => {
      const cfg = await syncOf(t, params);
      const live = await control.state(cfg.sync_config_id);
      if (!(live ? live.paused : cfg.paused))
        await control.pause(cfg, { reason: body.reason ?? 'paused by user', user: t.user_id });
      return current(cfg.sync_config_id);
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:sync_config_id/resume`,
    tag,
    summary: 'Resume a paused sync',
    description:
      'The interrupted pass continues, then incremental runs. Resuming an active sync answers its state.',
    response: syncConfigModel,
    errors: [503],
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      const live = await control.state(cfg.sync_config_id);
      if (live ? live.paused : cfg.paused || cfg.status === 'SUSPENDED') await control.resume(cfg);
      return current(cfg.sync_config_id);
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:sync_config_id/trigger`,
    tag,
    summary: 'Run a sync now',
    description:
      '?full_sync=true forces a full sweep. While a run holds the lock the request is remembered ' +
      '(pending_full_sync) and runs right after it; while the sync is paused it runs after resume.',
    query: triggerQuery,
    response: triggerModel,
    errors: [503],
    handler: async ({ t, params, query }) => {
      const cfg = await syncOf(t, params);
      const before = await control.state(cfg.sync_config_id);
      await control.trigger(cfg, query.full_sync);
      const full = query.full_sync ? 'full ' : '';
      const reply = (sync_job_id: string | null, status: string, message: string) => ({
        sync_config_id: cfg.sync_config_id,
        sync_job_id,
        status,
        message,
      });
      if (before?.paused || (!before && cfg.paused))
        return reply(null, 'SUSPENDED', `the sync is paused; the ${full}sync runs after it is resumed`);
      if (before?.pass?.inRun)
        return reply(
          before.pass.runId,
          'IN_PROGRESS',
          `a run is in progress; the ${full}sync requested runs right after it`,
        );
      // Name the run the trigger started (a short wait: the workflow picks the signal up at once).
      const deadline = Date.now() + TRIGGER_WAIT_MS;
      const runsBefore = before?.runCounter ?? cfg.sync_run_counter;
      while (Date.now() < deadline) {
        const live = await control.state(cfg.sync_config_id);
        if (live?.pass?.inRun) return reply(live.pass.runId, 'IN_PROGRESS', `${full}sync triggered`);
        if (live && live.runCounter > runsBefore) {
          // Finished already: the job is the run the projection last reported on.
          const [doc, run] = await Promise.all([
            fresh(cfg.sync_config_id),
            store.runs.findOne({ sync_config_id: cfg.sync_config_id }, { sort: { started_at: -1 } }),
          ]);
          const jobId = (doc.sync_progress as { sync_run_id?: string }).sync_run_id ?? null;
          return reply(jobId, run?.status ?? 'COMPLETED', `${full}sync triggered and already finished`);
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      return reply(null, 'PENDING', `${full}sync triggered; it starts shortly`);
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:sync_config_id/force-unlock`,
    tag,
    summary: 'Release a stuck run lock',
    description: 'Cancels the stuck page and redoes it from the last checkpoint.',
    response: syncConfigModel,
    errors: [503],
    handler: async ({ t, params }) => {
      const cfg = await syncOf(t, params);
      await control.forceUnlock(cfg);
      await releaseStuckLock(store.syncs, cfg);
      return current(cfg.sync_config_id);
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/:sync_config_id/runs`,
    tag,
    summary: 'Run history, newest first',
    query: listQuerySchema,
    response: runList,
    handler: async ({ t, params, req }) => {
      const cfg = await syncOf(t, params);
      return listPage(store.runs, { sync_config_id: cfg.sync_config_id }, req.query, serializeRun, {
        started_at: -1,
        _id: -1,
      });
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/:sync_config_id/dlq`,
    tag,
    summary: 'Files that failed (dead letter queue)',
    query: listQuerySchema,
    response: dlqList,
    handler: async ({ t, params, req }) => {
      const cfg = await syncOf(t, params);
      return listPage(
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
      );
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:sync_config_id/dlq/retry`,
    tag,
    summary: 'Re-queue DLQ files for the next run',
    description: 'All of them, or the given source_object_ids.',
    body: retryBody,
    bodyOptional: true,
    response: dlqRetryModel,
    handler: async ({ t, params, body }) => {
      const cfg = await syncOf(t, params);
      const filter: Record<string, unknown> = { sync_config_id: cfg.sync_config_id };
      if (body.source_object_ids) filter.source_object_id = { $in: body.source_object_ids };
      const res = await store.dlq.updateMany(filter, {
        $set: { status: 'PENDING', attempts: 0, last_attempt_run_id: '' },
      });
      return {
        success: true,
        requeued: res.modifiedCount,
        message: `${res.modifiedCount} file(s) will be retried by the next run`,
      };
    },
  });

  return r;
}
