// Documents as stored in MongoDB. Field names follow the API contract so responses are projections.
import type { FileFilters, ProviderType, SchemaMapping, SyncCreateRequest } from '../core/schemas';
import type { TaskStatus } from '../core/status';
import type { Sealed } from './secrets';

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
  bucket_id: string;
  bucket_name: string;
  description: string | null;
  bucket_schema: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
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
  completed_at: Date | null;
  updated_at: Date;
}

export interface SyncConfigDoc extends Tenant, Omit<SyncCreateRequest, 'file_filters' | 'schema_mapping'> {
  sync_config_id: string;
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
  /** objectKey(bucket_id, source_provider, source_object_id) for synced objects (see store/objects.ts). */
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
}

export interface SyncRunDoc {
  sync_run_id: string;
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
}
