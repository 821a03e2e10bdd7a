// Documents as stored in MongoDB. Field names follow the API contract so responses are projections.
import type { FileFilters, ProviderType, SchemaMapping, SyncCreateRequest } from '../core/request-schemas';
import type { ChangeFeedKind } from '../core/change-feed';
import type { StepName } from '../core/pipeline';
import type { TaskStatus } from '../core/status';
import type { Sealed } from './secrets';
import type { ObjectId } from 'mongodb';

export interface Tenant {
  internal_id: string;
  namespace_id: string;
}

export interface OrganizationDoc {
  internal_id: string;
  name: string;
  created_at: Date;
}

export interface NamespaceDoc {
  namespace_id: string;
  internal_id: string;
  namespace_name: string;
  created_at: Date;
}

export interface ApiKeyDoc {
  key_hash: string;
  key_id: string;
  internal_id: string;
  user_id: string;
  name: string;
  created_at: Date;
}

export interface BucketDoc extends Tenant {
  /** The public id, so a lookup by it is an `_id` lookup (documents stored before this have an ObjectId). */
  _id?: string;
  bucket_id: string;
  bucket_name: string;
  description: string | null;
  bucket_schema: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  /** Set (once) before the API registers the bucket's first object directly (POST …/objects). */
  has_api_objects?: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ConnectionDoc {
  connection_id: string;
  internal_id: string;
  name: string;
  provider_type: ProviderType;
  /** Non-secret provider settings. */
  provider_config: Record<string, unknown>;
  /** provider_config.credentials, sealed; never returned, never handed to Temporal. */
  credentials_sealed: Sealed | null;
  /** Mixpeek's write_enabled (stored and shown; absent on connections made before it). */
  write_enabled?: boolean;
  description: string | null;
  status: TaskStatus;
  is_active: boolean;
  last_used_at: Date | null;
  last_error: string | null;
  consecutive_failures: number;
  created_at: Date;
  updated_at: Date;
  created_by_user_id: string;
  metadata: Record<string, unknown>;
}

export interface SyncCheckpoint {
  pass_id: string;
  cursor: string | null;
  objects_processed: number;
  modified_since: string | null;
  /** The delta token the pass lists changes since (absent / null: by modified_since or everything). */
  delta_token?: string | null;
  /** The token the pass's last page returned: what the next incremental pass lists from. */
  next_delta_token?: string | null;
  completed_at: Date | null;
  updated_at: Date;
}

/**
 * What one page of a pass saw (one document per page, see store/seen-files.ts): the files whose
 * objects it found unchanged, created or updated, with the version each object holds. The last
 * pass that listed everything is the next pass's manifest (a page compares its listing with it and
 * looks up only what differs); the union of the kept documents is every object of the sync, so the
 * sweep deletes what they hold and the pass did not see, without scanning the objects. One write
 * per page: FerretDB's SQLite backend scans the collection for every update.
 */
export interface PassSeenDoc {
  /** `<pass id>|<page key>` */
  _id: string;
  sync_config_id: string;
  pass_id: string;
  /** Written before the manifest existed: object `_id`s of the files the page saw unchanged. */
  keys?: string[];
  /** JSON of `[source_object_id, version][]` (one string: FerretDB decodes it in one piece). */
  files?: string;
}

/**
 * The objects one page of a delta listing deletes (files removed at the source), written before they
 * are deleted: a retried page deletes what is left of the same set and counts it once.
 */
export interface PageRemovalDoc {
  /** `{sync_config_id}|{page key}` */
  _id: string;
  sync_config_id: string;
  pass_id: string;
  /** Keys (_id) of the objects this page deletes. */
  object_keys: string[];
  created_at: Date;
}

/**
 * A notification channel of an event-driven sync (issue 14): `_id` is the SHA-256 of the secret the
 * storage service presents (the token in the webhook URL), so a notification costs one `_id` lookup.
 */
export interface EventChannelDoc {
  _id: string;
  sync_config_id: string;
  kind: ChangeFeedKind;
  created_at: Date;
  /** A push channel the worker opened at the provider (drive_channels, graph_subscriptions). */
  push?: PushChannelState;
}

/** A Drive channel or Graph subscription (worker/push-channels.ts); its secret is the doc's `_id` hash. */
export interface PushChannelState {
  /** Drive: the channel id (ours, X-Goog-Channel-ID); Graph: the subscription id (null until answered). */
  remote_id: string | null;
  /** Drive: the watched resource's id (channels.stop needs it); null until answered. */
  resource_id: string | null;
  /** As the provider answered; null while being opened. */
  expires_at: Date | null;
  /** The sync's event_feed.enabled_at it was opened for: switched off and on again, a new one. */
  feed_enabled_at: Date;
}

/** What a sync's change feed is (absent / null: none). The secret itself is never stored. */
export interface EventFeedState {
  kind: ChangeFeedKind;
  /** `_id` of its EventChannelDoc, for feeds that receive notifications. */
  channel_id: string | null;
  enabled_at: Date;
  /** s3: the SQS queue the worker reads the bucket's notifications from (absent / null: none). */
  sqs_queue_url?: string | null;
}

export interface SyncConfigDoc
  extends Tenant, Omit<SyncCreateRequest, 'file_filters' | 'schema_mapping' | 'event_driven' | 'event_feed'> {
  /** The public id, so a lookup by it is an `_id` lookup (documents stored before this have an ObjectId). */
  _id?: string;
  sync_config_id: string;
  /** Absent in syncs from before event-driven syncs: false. */
  event_driven?: boolean;
  event_feed?: EventFeedState | null;
  bucket_id: string;
  source_type: ProviderType;
  created_by_user_id: string;
  file_filters: FileFilters | null;
  schema_mapping: SchemaMapping | null;
  status: TaskStatus;
  is_active: boolean;
  deleted: boolean;
  total_files_discovered: number;
  total_files_synced: number;
  total_files_failed: number;
  total_bytes_synced: number;
  consecutive_failures: number;
  created_at: Date;
  updated_at: Date;
  last_sync_at: Date | null;
  next_sync_at: Date | null;
  last_error: string | null;
  locked: boolean;
  locked_by_worker_id: string | null;
  locked_at: Date | null;
  lock_expires_at: Date | null;
  pending_full_sync: boolean;
  paused: boolean;
  pause_reason: string | null;
  paused_at: Date | null;
  paused_by_user_id: string | null;
  current_sync_run_id: string | null;
  sync_run_counter: number;
  batch_ids: string[];
  task_ids: string[];
  batches_created: number;
  resume_cursor: string | null;
  resume_last_primary_key: string | null;
  resume_objects_processed: number;
  current_cursor: string | null;
  per_shard_last_sync_at: Record<string, Date>;
  sync_checkpoints: Record<string, SyncCheckpoint>;
  schedule: Record<string, unknown>;
  sync_progress: Record<string, unknown>;
}

export interface ObjectDoc extends Tenant {
  /** = object_id: objectKey(bucket_id, source_provider, source_object_id) for synced objects (see store/objects.ts). */
  _id: string;
  object_id: string;
  bucket_id: string;
  key_prefix: string;
  blobs: {
    blob_id: string;
    property: string;
    key_prefix: string;
    type: string;
    properties: Record<string, unknown>;
    details: { filename: string; size_bytes: number; mime_type: string; hash: string | null };
  }[];
  source_details: { type: string; source_id: string }[];
  metadata: Record<string, unknown>;
  status: TaskStatus;
  error: string | null;
  /** Idempotency key: (bucket_id, source_provider, source_object_id) is unique. */
  source_provider: string;
  source_object_id: string;
  source_version: string | null;
  /** Provider checksum (`algo:hex`) when the provider gives one. */
  source_checksum: string | null;
  /** SHA-256 of the file blob's bytes, computed while copying: the basis of skip_duplicates. */
  content_hash: string | null;
  sync_config_id: string | null;
  /** Mark-and-sweep: the last full pass that listed this object's source file. */
  last_seen_pass_id: string | null;
  /** The sync run that created the object. */
  created_by_run_id: string | null;
  /**
   * The page (`<run id>|<cursor>`) that created the object: a retried page counts its own earlier
   * inserts, while a file some provider lists on two pages is counted once.
   */
  created_by_page: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface ContentIndexDoc {
  /** `<bucket_id>:<algo>:<hex>` */
  _id: string;
  object_id: string;
  /** `_id` of the object (its source file) that claimed these bytes. */
  source_key?: string;
}

export interface DlqDoc {
  /** dlqKey(sync_config_id, source_object_id) (see store/objects.ts). */
  _id: string;
  sync_config_id: string;
  bucket_id: string;
  source_object_id: string;
  path: string;
  /** The listed entry, so a retry can open the file again. */
  entry: import('../core/entry').SourceEntry;
  attempts: number;
  last_error: string;
  first_failed_at: Date;
  last_failed_at: Date;
  /** PENDING: retried by later runs; FAILED: gave up after 3 attempts (counted in total_files_failed). */
  status: 'PENDING' | 'FAILED';
  last_attempt_run_id: string;
  /** The provider's error kind (not_found, auth, …), `mapping`, or `error` (absent before it was kept). */
  error_type?: string;
}

export interface SyncRunDoc {
  /** The run record's id (= sync_run_id); records written before it was are keyed by an ObjectId. */
  _id?: string | ObjectId;
  sync_run_id: string;
  /** The pass's run id (what the trigger answer and the live state call the run; absent before it was kept). */
  run_id?: string;
  sync_config_id: string;
  bucket_id: string;
  internal_id: string;
  namespace_id: string;
  provider_type: string;
  pass_id: string;
  full: boolean;
  started_at: Date;
  finished_at: Date;
  duration_seconds: number;
  files_discovered: number;
  files_synced: number;
  files_failed: number;
  bytes_synced: number;
  objects_deleted: number;
  throughput_mbps: number;
  status: 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED' | 'CANCELED';
  error: string | null;
  /** By outcome (core/progress.ts runRecordFigures); absent on records from before them. */
  files_listed?: number;
  files_created?: number;
  files_updated?: number;
  files_unchanged?: number;
  files_duplicate?: number;
  files_dlq?: number;
  files_per_second?: number;
}

// ---------------------------------------------------------------------------------------------
// The processing pipeline: collections, batches, tasks and the documents steps produce.

export interface CollectionDoc extends Tenant {
  /** The public id, so a lookup by it is an `_id` lookup (documents stored before this have an ObjectId). */
  _id?: string;
  collection_id: string;
  collection_name: string;
  description: string | null;
  source: { type: 'bucket'; bucket_ids: string[] } | { type: 'collection'; collection_ids: string[] };
  /** Steps in order; a webhook's `secret` is kept sealed in `secrets_sealed`, never here. */
  pipeline: { step: StepName; config: Record<string, unknown> }[];
  /** Step index -> sealed `{secret?, headers?}` of a webhook step. */
  secrets_sealed: Record<string, Sealed>;
  /** Step index -> how its sealed fields show in responses (every value "[redacted]"). */
  redacted?: Record<string, Record<string, unknown>>;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export type BatchStatus =
  'DRAFT' | 'PENDING' | 'IN_PROGRESS' | 'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED' | 'CANCELED';

export interface BatchDoc extends Tenant {
  /** = batch_id: batches are looked up by _id (the one lookup FerretDB pushes down). */
  _id: string;
  batch_id: string;
  bucket_id: string;
  status: BatchStatus;
  object_ids: string[];
  /** The objects' `_id`s, parallel to object_ids (processing reads objects by _id). */
  object_keys: string[];
  collection_ids: string[];
  type: 'BUCKET' | 'COLLECTION';
  task_id: string | null;
  task_ids: string[];
  current_tier: number | null;
  total_tiers: number | null;
  /** Collections per tier (objects, not nested arrays: FerretDB cannot store those). */
  dag_tiers: { collection_ids: string[] }[];
  error_summary: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  /** Objects per processing chunk (the sync's batch_chunk_size, capped by max_batch_chunk_size). */
  chunk_size: number;
  /** Set when a sync made the batch. */
  sync_config_id: string | null;
  /** The sync's batch_collection_ids (resolved ids): only these of the bucket's collections run it. */
  only_collection_ids?: string[] | null;
  /** Created by a sync with skip_batch_submission: submitted when the flag is switched off. */
  held: boolean;
  /** `<run id>|<cursor>` of the sync page that made it. */
  page_key: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface TaskDoc extends Tenant {
  _id: string;
  task_id: string;
  task_type: 'BATCH_PROCESSING';
  status: BatchStatus;
  batch_id: string;
  bucket_id: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  additional_data: Record<string, unknown>;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** One object's document in one collection: the outputs of the collection's steps. */
export interface DocumentDoc extends Tenant {
  /** documentKey(collection_id, object_id) = document_id. */
  _id: string;
  document_id: string;
  collection_id: string;
  object_id: string;
  bucket_id: string;
  /** The batch that last processed it. */
  batch_id: string;
  /** Steps of the pipeline done for batch_id. */
  progress: number;
  status: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  error: string | null;
  failed_step: string | null;
  /** Step outputs by output key. */
  outputs: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}
