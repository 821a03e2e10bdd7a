// Response shapes of the contract, as zod schemas: they document the API (GET /openapi.json) and the
// tests check real responses against them. Request schemas live in core/request-schemas.ts.
import { z } from 'zod';
import {
  BATCH_STATUSES,
  bucketCreateSchema,
  collectionSourceSchema,
  connectionCreateSchema,
  fileFiltersSchema,
  PROVIDER_TYPES,
  SYNC_JOB_STATUSES,
  reconcileSchema,
  schemaMappingSchema,
  syncCreateSchema,
} from '../core/request-schemas';
import { MIXPEEK_BLOB_TYPES } from '../core/mapping';
import { TASK_STATUSES } from '../core/status';

// Name the shared request parts so the document refers to them instead of repeating them (the
// registry holds metadata beside the schemas; the schemas themselves are untouched).
for (const [schema, id] of [
  [fileFiltersSchema, 'FileFilters'],
  [schemaMappingSchema, 'SchemaMapping'],
  [reconcileSchema, 'ReconcileSettings'],
] as const)
  if (!z.globalRegistry.has(schema)) z.globalRegistry.add(schema, { id });

const time = z.iso.datetime({ offset: true });
const nullableTime = time.nullable();
const count = z.number().int().min(0);
const json = z.record(z.string(), z.unknown());
export const taskStatus = z.enum(TASK_STATUSES).meta({ id: 'TaskStatus' });

export const validationIssueModel = z
  .object({
    loc: z
      .array(z.union([z.string(), z.number()]))
      .meta({ description: 'where: body|query|path, then the field path' }),
    msg: z.string(),
    type: z.string(),
  })
  .meta({ id: 'ValidationIssue' });

export const errorModel = z
  .object({
    success: z.literal(false),
    status: z.number().int(),
    error: z.object({
      message: z.string(),
      type: z.string(),
      details: json.nullable().meta({ description: 'ValidationError: {issues: [ValidationIssue]}' }),
    }),
  })
  .meta({ id: 'ErrorResponse', description: 'The one error format, every status.' });

export const paginationModel = z
  .object({
    total: count.nullable(),
    page: z.number().int().min(1),
    page_size: z.number().int().min(1),
    total_pages: count.nullable(),
    next_page: z.string().nullable().meta({ description: 'the next page number, as text (Mixpeek’s type)' }),
    previous_page: z.string().nullable().meta({ description: 'the previous page number, as text' }),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'Pagination', description: 'total and total_pages are always counted.' });

export function listModel(item: z.ZodType, name: string) {
  return z
    .object({ results: z.array(item), pagination: paginationModel, total: count })
    .meta({ id: `${name}List` });
}

export const deleteModel = z
  .object({ success: z.literal(true), message: z.string() })
  .meta({ id: 'DeleteResponse' });

export const bucketModel = z
  .object({
    bucket_id: z.string(),
    internal_id: z.string(),
    namespace_id: z.string(),
    bucket_name: bucketCreateSchema.shape.bucket_name,
    description: z.string().nullable(),
    bucket_schema: json.nullable(),
    metadata: json,
    object_count: count.meta({ description: 'objects in the bucket, counted when answering' }),
    total_size_bytes: count.meta({ description: 'sum of the objects’ blob sizes' }),
    stats_updated_at: time.meta({ description: 'when object_count and total_size_bytes were counted' }),
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'BucketResponse' });

/** Mixpeek's ListBucketsResponse: total_count (not total), besides our pagination. */
export const bucketListModel = z
  .object({ results: z.array(bucketModel), pagination: paginationModel, total_count: count, total: count })
  .meta({ id: 'ListBucketsResponse' });

export const connectionModel = z
  .object({
    connection_id: z.string(),
    internal_id: z.string(),
    name: connectionCreateSchema.shape.name,
    provider_type: z.enum(PROVIDER_TYPES),
    provider_config: json.meta({ description: 'provider settings; credentials answered as "[redacted]"' }),
    write_enabled: z.boolean(),
    description: z.string().nullable(),
    status: taskStatus,
    is_active: z.boolean(),
    last_used_at: nullableTime,
    last_error: z.string().nullable(),
    consecutive_failures: count,
    created_at: time,
    updated_at: time,
    created_by_user_id: z.string(),
    metadata: json,
  })
  .meta({ id: 'StorageConnectionModel' });

export const connectionTestModel = z
  .object({ success: z.boolean(), message: z.string(), details: json.nullable().optional() })
  .meta({ id: 'ConnectionTestResponse' });

const checkpointModel = z.object({
  pass_id: z.string(),
  cursor: z.string().nullable(),
  objects_processed: count,
  modified_since: z.string().nullable(),
  delta_token: z.string().nullable().optional(),
  next_delta_token: z.string().nullable().optional(),
  completed_at: nullableTime,
  updated_at: time,
});

const c = syncCreateSchema.shape;
export const syncConfigModel = z
  .object({
    sync_config_id: z.string(),
    bucket_id: z.string(),
    connection_id: z.string(),
    internal_id: z.string(),
    namespace_id: z.string(),
    source_path: z.string(),
    source_type: z.enum(PROVIDER_TYPES),
    created_by_user_id: z.string(),
    sync_mode: c.sync_mode,
    file_filters: fileFiltersSchema.nullable(),
    schema_mapping: schemaMappingSchema.nullable(),
    polling_interval_seconds: c.polling_interval_seconds,
    batch_size: c.batch_size,
    skip_duplicates: z.boolean(),
    create_object_on_confirm: z.boolean(),
    skip_batch_submission: z.boolean(),
    reconcile: reconcileSchema,
    reconcile_on_sync: z.boolean(),
    provider_filters: json,
    max_objects_per_run: c.max_objects_per_run,
    batch_chunk_size: c.batch_chunk_size,
    max_batch_chunk_size: c.max_batch_chunk_size,
    resume_enabled: z.boolean(),
    resume_checkpoint_frequency: c.resume_checkpoint_frequency,
    description: z.string().nullable(),
    metadata: json,
    sync_concurrency: c.sync_concurrency,
    batch_collection_ids: c.batch_collection_ids.meta({ description: 'collection ids (names resolved)' }),
    ingest_filter: z.null().meta({ description: 'always null: ingest filters are refused (no retrievers)' }),
    sync_from: nullableTime,
    status: taskStatus,
    is_active: z.boolean(),
    total_files_discovered: count,
    total_files_synced: count,
    total_files_failed: count,
    total_bytes_synced: count,
    consecutive_failures: count,
    created_at: time,
    updated_at: time,
    last_sync_at: nullableTime,
    next_sync_at: nullableTime,
    last_error: z.string().max(1000).nullable(),
    locked: z.boolean().meta({ description: 'read-only: a worker holds the run lock' }),
    locked_by_worker_id: z.string().nullable(),
    locked_at: nullableTime,
    lock_expires_at: nullableTime,
    pending_full_sync: z.boolean(),
    paused: z.boolean(),
    pause_reason: z.string().nullable(),
    paused_at: nullableTime,
    paused_by_user_id: z.string().nullable(),
    current_sync_run_id: z.string().nullable(),
    sync_run_counter: count,
    batch_ids: z.array(z.string()),
    task_ids: z.array(z.string()),
    batches_created: count,
    resume_cursor: z.string().nullable(),
    resume_last_primary_key: z.string().nullable(),
    resume_objects_processed: count,
    current_cursor: z.string().nullable(),
    per_shard_last_sync_at: z.record(z.string(), time),
    sync_checkpoints: z.record(z.string(), checkpointModel),
    schedule: json.meta({ description: '{mode, interval_seconds, next_run_at, last_successful_run_at}' }),
    sync_progress: json,
    event_driven: z.boolean().meta({
      description:
        'listens to the provider’s change feed (local: filesystem events, s3: bucket notifications, ' +
        'google_drive: Drive channels, sharepoint: Graph subscriptions); polling stays the safety net',
    }),
    event_feed: z
      .object({
        kind: z.enum(['filesystem', 'bucket_notifications', 'drive_channels', 'graph_subscriptions']),
        enabled_at: time,
        receives_notifications: z.boolean(),
        notification_path: z
          .string()
          .optional()
          .meta({
            description:
              'where the storage service posts notifications (bucket_notifications), with the channel’s ' +
              'secret: in the response of the call that switched event_driven on only, never again',
          }),
        sqs_queue_url: z
          .string()
          .optional()
          .meta({ description: 's3: the SQS queue the worker reads the bucket’s event notifications from' }),
      })
      .nullable(),
  })
  .meta({ id: 'SyncConfigurationModel' });

export const triggerModel = z
  .object({
    sync_config_id: z.string(),
    sync_job_id: z
      .string()
      .nullable()
      .meta({ description: 'the run started (or in progress) for this trigger; null while queued' }),
    status: taskStatus.meta({
      description:
        'of the job: PENDING queued, IN_PROGRESS running, SUSPENDED sync paused, or the finished run',
    }),
    message: z.string(),
  })
  .meta({ id: 'SyncTriggerResponse' });

export const syncRunModel = z
  .object({
    sync_run_id: z.string(),
    sync_config_id: z.string(),
    started_at: time,
    duration_seconds: z.number().min(0),
    files_discovered: count,
    files_synced: count,
    files_failed: count,
    bytes_synced: count,
    throughput_mbps: z.number().min(0),
    status: taskStatus,
    provider_type: z.string(),
    files_listed: count.optional().meta({ description: 'entries listed by the run (before filters)' }),
    files_created: count.optional(),
    files_updated: count.optional(),
    files_unchanged: count.optional(),
    files_duplicate: count.optional().meta({ description: 'skipped by skip_duplicates' }),
    files_dlq: count.optional().meta({ description: 'sent to the DLQ (including those failed for good)' }),
    files_per_second: z.number().min(0).optional(),
  })
  .meta({ id: 'SyncRunMetric' });

export const dlqEntryModel = z
  .object({
    source_object_id: z.string(),
    path: z.string(),
    attempts: count,
    last_error: z.string(),
    first_failed_at: time,
    last_failed_at: time,
    status: z.enum(['PENDING', 'FAILED']),
  })
  .meta({ id: 'DlqEntry' });

export const dlqRetryModel = z
  .object({ success: z.literal(true), requeued: count, message: z.string() })
  .meta({ id: 'DlqRetryResponse' });

export const objectModel = z
  .object({
    object_id: z.string(),
    bucket_id: z.string(),
    key_prefix: z.string(),
    blobs: z.array(
      z
        .object({
          blob_id: z.string(),
          property: z.string(),
          key_prefix: z.string(),
          type: z.enum(MIXPEEK_BLOB_TYPES).meta({
            description: 'Mixpeek’s BucketSchemaFieldType; a synced file’s type follows its MIME type',
          }),
          properties: json,
          details: z.object({
            filename: z.string(),
            size_bytes: count,
            mime_type: z.string(),
            hash: z.string().nullable(),
          }),
        })
        .meta({ id: 'BlobModel' }),
    ),
    source_details: z.array(
      z.object({
        type: z.enum(['bucket', 'direct_upsert']).meta({
          description:
            'bucket: brought in by a sync (source_id: the file’s id at the source); direct_upsert: created over the API',
        }),
        source_id: z.string(),
      }),
    ),
    source_provider: z.string().meta({ description: 'the sync’s provider_type, or "api"' }),
    metadata: json,
    status: taskStatus,
    error: z.string().nullable(),
    document_count: count.optional().meta({
      description: 'collection documents made from the object (get, unless include_document_count=false)',
    }),
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'ObjectResponse' });

const timeRangeModel = z
  .object({ start: time, end: time, hours: z.number().int().min(1).max(720) })
  .meta({ id: 'TimeRange' });

export const syncPerformanceModel = z
  .object({
    bucket_id: z.string(),
    sync_config_id: z.string().nullable(),
    time_range: timeRangeModel,
    runs: z.array(syncRunModel),
    summary: z
      .object({
        total_runs: count,
        successful_runs: count,
        failed_runs: count,
        success_rate: z.number().min(0).max(1),
        total_files_discovered: count,
        total_files_synced: count,
        total_files_failed: count,
        total_bytes_synced: count,
        avg_duration_seconds: z.number().min(0),
        avg_throughput_mbps: z.number().min(0),
      })
      .meta({
        id: 'SyncPerformanceSummary',
        description: 'over every run in the time range; successful = COMPLETED or COMPLETED_WITH_ERRORS',
      }),
  })
  .meta({ id: 'SyncPerformanceResponse' });

export const syncConfigMetricModel = z
  .object({
    sync_config_id: z.string(),
    provider_type: z.string(),
    total_runs: count,
    avg_duration_seconds: z.number().min(0),
    avg_throughput_mbps: z.number().min(0),
    success_rate: z.number().min(0).max(1),
    total_files_synced: count,
    total_bytes_synced: count,
  })
  .meta({ id: 'SyncConfigMetric' });

export const syncComparisonModel = z
  .object({ bucket_id: z.string(), time_range: timeRangeModel, configs: z.array(syncConfigMetricModel) })
  .meta({ id: 'SyncComparisonResponse' });

const batchStatus = z.enum(BATCH_STATUSES).meta({ id: 'BatchStatus' });

export const collectionModel = z
  .object({
    collection_id: z.string(),
    collection_name: z.string(),
    description: z.string().nullable(),
    namespace_id: z.string(),
    source: collectionSourceSchema,
    pipeline: z.array(
      z.object({
        step: z.string(),
        config: json.meta({ description: 'a webhook secret shows as "[redacted]"' }),
      }),
    ),
    metadata: json,
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'CollectionModel' });

export const documentModel = z
  .looseObject({
    document_id: z.string(),
    collection_id: z.string(),
    object_id: z.string(),
    bucket_id: z.string(),
    batch_id: z.string(),
    status: z.enum(['IN_PROGRESS', 'COMPLETED', 'FAILED']),
    error: z.string().nullable(),
    failed_step: z.string().nullable(),
    created_at: time,
    updated_at: time,
  })
  .meta({
    id: 'DocumentModel',
    description: 'Plus one field per pipeline step with its output (file_metadata, text_extract, webhook).',
  });

export const batchModel = z
  .object({
    batch_id: z.string(),
    bucket_id: z.string(),
    status: batchStatus,
    object_ids: z.array(z.string()),
    collection_ids: z.array(z.string()),
    type: z.enum(['BUCKET', 'COLLECTION']),
    task_id: z.string().nullable(),
    current_tier: count.nullable(),
    total_tiers: count.nullable(),
    dag_tiers: z.array(z.array(z.string())),
    error_summary: json.nullable(),
    metadata: json,
    sync_config_id: z.string().nullable(),
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'BatchModel' });

export const taskModel = z
  .object({
    task_id: z.string(),
    task_type: z.string(),
    status: batchStatus,
    inputs: json.nullable(),
    outputs: json.nullable(),
    additional_data: json.nullable(),
    error: z.string().nullable(),
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'TaskResponse' });

export const failedDocumentModel = z
  .object({
    document_id: z.string(),
    object_id: z.string(),
    collection_id: z.string(),
    failed_step: z.string().nullable(),
    error: z.string().nullable(),
    updated_at: time,
  })
  .meta({ id: 'FailedDocument' });

export const syncJobModel = z
  .object({
    sync_job_id: z.string().meta({ description: 'the run record’s id (the run id while it runs)' }),
    sync_config_id: z.string(),
    internal_id: z.string(),
    namespace_id: z.string(),
    bucket_id: z.string(),
    status: z.enum(SYNC_JOB_STATUSES).meta({
      description:
        'running; completed (also COMPLETED_WITH_ERRORS: see files_failed); failed; interrupted (canceled)',
    }),
    trigger: z.null().meta({ description: 'not recorded here (always null)' }),
    phase: z.string().nullable(),
    full_sync: z.boolean(),
    total_files: count.nullable(),
    files_synced: count,
    files_failed: count,
    bytes_synced: count,
    started_at: time,
    completed_at: nullableTime,
    updated_at: time,
    error: z.string().max(1000).nullable(),
    throughput_files_per_min: z.number().min(0).nullable(),
    current_cursor: z.string().nullable(),
    progress: json.nullable(),
  })
  .meta({ id: 'SyncJobModel' });

export const syncMetricsModel = z
  .object({
    sync_config_id: z.string(),
    status: taskStatus,
    is_active: z.boolean(),
    paused: z.boolean(),
    total_files_discovered: count,
    total_files_synced: count,
    total_files_failed: count,
    batches_created: count,
    sync_run_counter: count,
    consecutive_failures: count,
    last_error: z.string().nullable(),
    last_sync_at: nullableTime,
    next_sync_at: nullableTime,
    seconds_since_last_sync: count.nullable(),
    is_stale: z.boolean().meta({ description: 'no run finished for more than two polling intervals' }),
    intervals_since_last_sync: z.number().min(0).nullable(),
    stale_after_seconds: count,
    failure_rate: z
      .number()
      .min(0)
      .max(1)
      .meta({ description: 'failed runs / runs, over the recorded runs' }),
    healthy: z.boolean().meta({ description: 'active, not stale, no consecutive failures' }),
    dlq_total: count,
    dlq_by_error: z.record(z.string(), count),
    running_job: z.boolean(),
    stalled: z.boolean().meta({ description: 'a run holds a lock that has expired' }),
    stalled_reason: z.string().nullable(),
    last_job: json.nullable().meta({ description: 'the newest finished run, as a SyncJobModel' }),
  })
  .meta({ id: 'SyncMetricsResponse' });

export const dlqObjectModel = z
  .object({
    dlq_id: z.string(),
    sync_config_id: z.string(),
    sync_job_id: z.string().nullable(),
    source_object_id: z.string(),
    source_path: z.string(),
    error_type: z.string().meta({ description: 'not_found, auth, invalid, throttled, unavailable or error' }),
    error_message: z.string(),
    first_seen_at: time,
    last_seen_at: time,
    retry_count: count,
    max_retries_reached: z.boolean(),
    internal_id: z.string(),
    namespace_id: z.string(),
    bucket_id: z.string(),
  })
  .meta({ id: 'SyncDeadLetterObjectModel' });

export const dlqObjectListModel = z
  .object({ results: z.array(dlqObjectModel), total: count })
  .meta({ id: 'DLQListResponse' });
