// Request/response shapes of the contract (../shared/reference/api.md) as zod schemas: the single
// source of validation and defaults. Pure: no I/O, importable anywhere.
import { z } from 'zod';
import { pipelineSchema } from './pipeline';
import { TASK_STATUSES } from './status';

/** Accepts lowercase input, answers uppercase. */
export const taskStatusSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.toUpperCase() : v),
  z.enum(TASK_STATUSES),
);

const isoDate = z.iso.datetime({ offset: true });

/**
 * An integer query parameter: decimal digits only. `z.coerce.number()` would take `''` and `' '`
 * for 0 and `1e2` / `0x10` for numbers; those are 422s like any other bad number.
 */
export function queryInt(min: number, max: number, def: number, description?: string) {
  return z
    .preprocess(
      (v) => (typeof v === 'string' && /^-?[0-9]{1,16}$/.test(v) ? Number(v) : v),
      z.number().int().min(min).max(max),
    )
    .default(def)
    .meta({
      type: 'integer',
      minimum: min,
      maximum: max,
      default: def,
      ...(description ? { description } : {}),
    });
}

function isValidRegex(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

export const metadataSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 metadata keys');

export const METADATA_OPERATORS = [
  'equals',
  'not_equals',
  'contains',
  'not_contains',
  'gt',
  'lt',
  'gte',
  'lte',
  'exists',
] as const;

export const fileFiltersSchema = z
  .strictObject({
    include_patterns: z.array(z.string().min(1).max(1000)).max(100).optional(),
    exclude_patterns: z.array(z.string().min(1).max(1000)).max(100).optional(),
    min_size_bytes: z.number().int().min(0).optional(),
    max_size_bytes: z.number().int().min(0).optional(),
    modified_after: isoDate.optional(),
    modified_before: isoDate.optional(),
    mime_types: z.array(z.string().min(1).max(255)).max(100).optional(),
    metadata_filters: z
      .array(
        z.strictObject({
          field: z.string().min(1).max(255),
          operator: z.enum(METADATA_OPERATORS),
          value: z.unknown().optional(),
        }),
      )
      .max(50)
      .optional(),
    extensions: z.array(z.string().min(1).max(50)).max(100).optional(),
    patterns: z
      .array(z.string().min(1).max(1000).refine(isValidRegex, 'not a valid regular expression'))
      .max(100)
      .optional(),
  })
  .refine(
    (f) =>
      f.min_size_bytes === undefined ||
      f.max_size_bytes === undefined ||
      f.min_size_bytes <= f.max_size_bytes,
    { message: 'min_size_bytes must not exceed max_size_bytes', path: ['min_size_bytes'] },
  );

export type FileFilters = z.infer<typeof fileFiltersSchema>;

const sourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('tag'), key: z.string().min(1) }),
  z.strictObject({ type: z.literal('metadata'), key: z.string().min(1) }),
  z.strictObject({
    type: z.literal('filename_regex'),
    pattern: z.string().min(1).refine(isValidRegex, 'not a valid regular expression'),
    default: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('column'), name: z.string().min(1) }),
  z.strictObject({ type: z.literal('drive_property'), key: z.string().min(1) }),
  z.strictObject({
    type: z.literal('folder_path'),
    segment: z.number().int().optional(),
    full_path: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('file') }),
  z.strictObject({ type: z.literal('constant'), value: z.unknown() }),
]);

const mappingEntrySchema = z.discriminatedUnion('target_type', [
  z.strictObject({
    target_type: z.literal('field'),
    source: sourceSchema,
    transform: z.enum(['lowercase', 'uppercase', 'trim', 'json_parse']).optional(),
    required: z.boolean().default(false),
  }),
  z.strictObject({
    target_type: z.literal('blob'),
    source: sourceSchema,
    blob_type: z.enum(['auto', 'image', 'video', 'audio', 'text', 'pdf', 'excel']).default('auto'),
    blob_property: z.string().min(1).default('content'),
    mime_type_override: z.string().optional(),
  }),
]);

export const schemaMappingSchema = z.strictObject({
  mappings: z.record(z.string().min(1), mappingEntrySchema).optional(),
  /** Alias from Mixpeek's platform page: `{name: {source: "metadata.title"}}`. */
  field_mappings: z.record(z.string().min(1), z.strictObject({ source: z.string().min(1) })).optional(),
});

export type SchemaMapping = z.infer<typeof schemaMappingSchema>;

export const reconcileSchema = z.strictObject({
  on_delete: z.boolean().default(true),
  on_update: z.boolean().default(true),
  on_filter_drift: z.boolean().default(true),
  re_extract_on_update: z.boolean().default(true),
  re_extract_fields: z.array(z.string()).default([]),
});

/** Longest polling interval (Mixpeek's: one day). */
export const MAX_POLLING_INTERVAL_SECONDS = 86400;

/** Mixpeek's bounds for `sync_concurrency` (files of one sync processed at once). */
export const MAX_SYNC_CONCURRENCY = 100;

/**
 * Mixpeek's IngestFilter: a saved retriever every candidate object runs through. Accepted as a shape
 * (so the SDK's requests parse), refused when set: this service has no retrievers (see
 * `ingestFilterUnsupported`).
 */
export const ingestFilterSchema = z.strictObject({
  retriever_id: z.string().min(1),
  retriever_version: z.number().int().min(1).nullable().optional(),
  action: z.enum(['keep', 'drop', 'tag']).nullable().optional(),
  on_error: z.enum(['keep', 'drop']).nullable().optional(),
  timeout_seconds: z.number().int().min(1).max(300).default(30),
});

export const INGEST_FILTER_UNSUPPORTED =
  'not supported here: an ingest_filter runs a saved Mixpeek retriever on every candidate object, and this ' +
  'service has no retrievers; filter files with file_filters or sync_from instead';

/** `batch_collection_ids`: collections (ids or names) the sync's batches go to; null = every one. */
const batchCollectionIdsSchema = z.array(z.string().min(1).max(100)).max(100).nullable();

/**
 * Ours (not Mixpeek's): how an event-driven s3 sync hears of changes besides the webhook. With
 * `sqs_queue_url` the worker long-polls that SQS queue (S3 -> SQS bucket notifications, on AWS) with
 * the connection's credentials; null removes the queue.
 */
export const eventFeedRequestSchema = z.strictObject({
  sqs_queue_url: z
    .string()
    .min(1)
    .max(2048)
    .nullable()
    .meta({
      description:
        'SQS queue (https://sqs.<region>.amazonaws.com/<account>/<queue>, or on the host of the ' +
        'connection’s endpoint_url) that receives the bucket’s S3 event notifications; the worker ' +
        'reads it with the connection’s credentials. s3 syncs with event_driven true only.',
    }),
});

export const syncCreateSchema = z.strictObject({
  connection_id: z.string().min(1).max(100),
  source_path: z.string().min(1).max(2000),
  sync_mode: z.enum(['continuous', 'initial_only']).default('continuous'),
  file_filters: fileFiltersSchema.nullable().optional(),
  schema_mapping: schemaMappingSchema.nullable().optional(),
  polling_interval_seconds: z.number().int().min(30).max(MAX_POLLING_INTERVAL_SECONDS).default(300),
  batch_size: z.number().int().min(1).max(100).default(50),
  skip_duplicates: z.boolean().default(true),
  create_object_on_confirm: z.boolean().default(true),
  skip_batch_submission: z.boolean().default(false),
  // A factory, so each parse gets its own object (zod clones a default value only shallowly).
  reconcile: reconcileSchema.default(() => reconcileSchema.parse({})),
  reconcile_on_sync: z.boolean().default(false),
  provider_filters: z.record(z.string(), z.unknown()).default({}),
  max_objects_per_run: z.number().int().min(1).default(100000),
  batch_chunk_size: z.number().int().min(1).max(1000).default(100),
  max_batch_chunk_size: z.number().int().min(1).max(1000).default(1000),
  resume_enabled: z.boolean().default(true),
  resume_checkpoint_frequency: z.number().int().min(100).max(10000).default(1000),
  description: z.string().max(500).nullable().optional(),
  metadata: metadataSchema.default({}),
  /** Files of this sync processed at once; null: the worker's SYNC_FILE_CONCURRENCY. */
  sync_concurrency: z.number().int().min(1).max(MAX_SYNC_CONCURRENCY).nullable().default(null),
  batch_collection_ids: batchCollectionIdsSchema.default(null),
  ingest_filter: ingestFilterSchema.nullable().default(null),
  /** Only files modified after this instant are ingested (the historical backlog is skipped). */
  sync_from: isoDate.nullable().default(null),
  /** Listen to the provider's change feed (core/change-feed.ts) as well as polling (ours). */
  event_driven: z.boolean().default(false),
  /** Ours: an s3 sync's SQS queue (eventFeedRequestSchema). */
  event_feed: eventFeedRequestSchema.nullable().optional(),
});

export type SyncCreateRequest = z.infer<typeof syncCreateSchema>;

export const syncUpdateSchema = z
  .strictObject({
    description: z.string().max(500).nullable(),
    metadata: metadataSchema,
    status: taskStatusSchema,
    is_active: z.boolean(),
    polling_interval_seconds: z.number().int().min(30).max(MAX_POLLING_INTERVAL_SECONDS),
    batch_size: z.number().int().min(1).max(100),
    schema_mapping: schemaMappingSchema.nullable(),
    file_filters: fileFiltersSchema.nullable(),
    skip_batch_submission: z.boolean(),
    reconcile: reconcileSchema,
    max_objects_per_run: z.number().int().min(1),
    sync_concurrency: z.number().int().min(1).max(MAX_SYNC_CONCURRENCY).nullable(),
    batch_collection_ids: batchCollectionIdsSchema,
    ingest_filter: ingestFilterSchema.nullable(),
    provider_filters: z.record(z.string(), z.unknown()),
    event_driven: z.boolean(),
    event_feed: eventFeedRequestSchema.nullable(),
  })
  .partial()
  .refine((u) => Object.keys(u).length > 0, 'at least one field must be given');

export type SyncUpdateRequest = z.infer<typeof syncUpdateSchema>;

export const bucketCreateSchema = z.strictObject({
  bucket_name: z.string().min(1).max(100),
  description: z.string().max(500).nullable().optional(),
  bucket_schema: z.record(z.string(), z.unknown()).nullable().optional(),
  metadata: metadataSchema.default({}),
});

export const PROVIDER_TYPES = [
  's3',
  'tigris',
  'gcs',
  'azure_blob',
  'google_drive',
  'sharepoint',
  'snowflake',
  'local',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export const connectionCreateSchema = z.strictObject({
  name: z.string().min(1).max(100),
  provider_type: z.enum(PROVIDER_TYPES),
  provider_config: z.record(z.string(), z.unknown()).default({}),
  description: z.string().max(500).nullable().optional(),
  metadata: metadataSchema.default({}),
  test_before_save: z.boolean().default(true),
  /** Mixpeek: the connection may be written to (export destinations). Stored and shown. */
  write_enabled: z.boolean().default(false),
});

export type ConnectionCreateRequest = z.infer<typeof connectionCreateSchema>;

// ---------------------------------------------------------------------------------------------
// API-level schemas (added for the REST API; the ones above keep their meaning).

/** Deepest nesting a request body may have (MongoDB / FerretDB store bodies as documents). */
export const MAX_JSON_DEPTH = 32;

/**
 * Why a key or value cannot be stored as given, or null. Portable across MongoDB and FerretDB:
 * FerretDB rejects keys with `.` or a leading `$`, nested arrays and infinite numbers; BSON keys
 * cannot hold NUL.
 */
function storableProblem(key: string | null, value: unknown, parentIsArray: boolean): string | null {
  if (key !== null) {
    if (key.startsWith('$')) return 'keys must not start with "$"';
    if (key.includes('.')) return 'keys must not contain "."';
    if (key.includes('\u0000')) return 'keys must not contain NUL characters';
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'numbers must be finite';
  if (parentIsArray && Array.isArray(value)) return 'arrays must not directly contain arrays';
  return null;
}

/**
 * Any JSON body, checked to be storable: keys without `.`, a leading `$` or NUL, no array directly
 * inside an array, finite numbers, at most MAX_JSON_DEPTH levels. Iterative, so a deeply nested
 * body cannot exhaust the stack. Issues carry the path of the offending key or value.
 */
export const storableJsonSchema = z.unknown().superRefine((root, ctx) => {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  let reported = 0;
  while (stack.length > 0 && reported < 10) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) {
      ctx.addIssue({ code: 'custom', path, message: `nested more than ${MAX_JSON_DEPTH} levels deep` });
      reported++;
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value);
    for (const [k, v] of entries) {
      const problem = storableProblem(typeof k === 'string' ? k : null, v, Array.isArray(value));
      if (problem) {
        ctx.addIssue({ code: 'custom', path: [...path, k], message: problem });
        reported++;
      } else stack.push({ value: v, path: [...path, k] });
    }
  }
});

/**
 * Why a glob pattern is malformed, or null: an unclosed `[` class, unbalanced `{}` braces or an
 * unclosed extglob `(`. (minimatch would quietly match such a pattern literally.)
 */
export function globProblem(pattern: string): string | null {
  let braces = 0;
  let parens = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // A class ends at the first `]` that is not its first character.
      let j = i + 1;
      if (pattern[j] === '!' || pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      if (j >= pattern.length) return `unclosed "[" at ${i} (write \\[ to match it literally)`;
      i = j;
    } else if (c === '{') braces++;
    else if (c === '}') {
      if (--braces < 0) return `unbalanced "}" at ${i}`;
    } else if (c === '(' && i > 0 && '@!?+*'.includes(pattern[i - 1])) parens++;
    else if (c === ')' && parens > 0) parens--;
  }
  if (braces > 0) return 'unclosed "{"';
  if (parens > 0) return 'unclosed "("';
  if (pattern.includes('\u0000')) return 'must not contain NUL characters';
  return null;
}

type FilterRefineCtx = z.core.$RefinementCtx<unknown>;

/** Globs well-formed, and modified_after not later than modified_before. */
function checkFileFilters(filters: FileFilters | null | undefined, ctx: FilterRefineCtx): void {
  if (!filters) return;
  for (const key of ['include_patterns', 'exclude_patterns'] as const) {
    filters[key]?.forEach((p, i) => {
      const problem = globProblem(p);
      if (problem)
        ctx.addIssue({ code: 'custom', path: ['file_filters', key, i], message: `bad glob: ${problem}` });
    });
  }
  if (
    filters.modified_after &&
    filters.modified_before &&
    Date.parse(filters.modified_after) > Date.parse(filters.modified_before)
  )
    ctx.addIssue({
      code: 'custom',
      path: ['file_filters', 'modified_after'],
      message: 'modified_after must not be later than modified_before',
    });
}

/** SyncCreateRequest as the API validates it: syncCreateSchema plus well-formed globs and dates. */
export const syncCreateRequestSchema = syncCreateSchema.superRefine((b, ctx) => {
  checkFileFilters(b.file_filters, ctx);
  if (b.ingest_filter)
    ctx.addIssue({ code: 'custom', path: ['ingest_filter'], message: INGEST_FILTER_UNSUPPORTED });
});

/** Sync statuses a client may set through PATCH (the others are the workflow's to decide). */
export const SETTABLE_SYNC_STATUSES = ['ACTIVE', 'SUSPENDED'] as const;

/**
 * SyncUpdateRequest as the API validates it: syncUpdateSchema plus well-formed globs and dates, and
 * a status the client may set (ACTIVE resumes, SUSPENDED pauses).
 */
export const syncUpdateRequestSchema = syncUpdateSchema.superRefine((b, ctx) => {
  checkFileFilters(b.file_filters, ctx);
  if (b.ingest_filter)
    ctx.addIssue({ code: 'custom', path: ['ingest_filter'], message: INGEST_FILTER_UNSUPPORTED });
  if (b.status !== undefined && !(SETTABLE_SYNC_STATUSES as readonly string[]).includes(b.status))
    ctx.addIssue({
      code: 'custom',
      path: ['status'],
      message: `can be set to ${SETTABLE_SYNC_STATUSES.join(' or ')} only (the others follow the sync’s runs)`,
    });
});

export const syncListFilterSchema = z
  .strictObject({
    connection_id: z.string().min(1).max(100).optional(),
    status: taskStatusSchema.optional(),
    is_active: z.boolean().optional(),
  })
  .default({});

export const pauseRequestSchema = z.strictObject({ reason: z.string().max(500).nullable().optional() });

export const triggerQuerySchema = z.object({
  full_sync: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
});

export const dlqRetryRequestSchema = z.strictObject({
  source_object_ids: z.array(z.string().min(1).max(2000)).min(1).max(10000).optional(),
});

export const bucketUpdateSchema = z
  .strictObject({
    bucket_name: z.string().min(1).max(100),
    description: z.string().max(500).nullable(),
    bucket_schema: z.record(z.string(), z.unknown()).nullable(),
    metadata: metadataSchema,
  })
  .partial()
  .refine((u) => Object.keys(u).length > 0, 'at least one field must be given');

/** Paging a list request may carry in its body (Mixpeek's list requests do); the query's win. */
const bodyPaging = {
  limit: z.number().int().min(1).max(1000).nullable().optional(),
  page_size: z.number().int().min(1).max(1000).nullable().optional(),
  offset: z.number().int().min(0).max(10000).nullable().optional(),
  page: z.number().int().min(1).nullable().optional(),
};

/** What this service cannot do with a list request's `filters` / `sort` / `sorts` (yet). */
export const LIST_FILTERS_UNSUPPORTED = 'not supported here: filter with the named fields of this request';

export const bucketListFilterSchema = z
  .strictObject({
    bucket_name: z.string().min(1).max(100).optional(),
    ...bodyPaging,
    /** Free-text search over bucket names (a substring; case_sensitive decides the case). */
    search: z.string().max(200).nullable().optional(),
    case_sensitive: z.boolean().default(false),
    filters: z.record(z.string(), z.unknown()).nullable().optional(),
    sort: z.record(z.string(), z.unknown()).nullable().optional(),
    sorts: z.array(z.record(z.string(), z.unknown())).nullable().optional(),
  })
  .superRefine((b, ctx) => {
    for (const k of ['filters', 'sort', 'sorts'] as const)
      if (b[k] != null) ctx.addIssue({ code: 'custom', path: [k], message: LIST_FILTERS_UNSUPPORTED });
  })
  .default({ case_sensitive: false });

export const connectionUpdateSchema = z
  .strictObject({
    name: z.string().min(1).max(100),
    description: z.string().max(500).nullable(),
    metadata: metadataSchema,
    /**
     * Merged into the stored settings key by key. `credentials` replaces the stored ones (sealed
     * again); absent or `"[redacted]"` keeps them; null removes them.
     */
    provider_config: z.record(z.string(), z.unknown()),
    is_active: z.boolean(),
    write_enabled: z.boolean(),
    /** Only ACTIVE (with is_active true); archiving is DELETE. */
    status: taskStatusSchema,
    /** Test the connection before saving; defaults to true when provider_config changes. */
    test_before_save: z.boolean(),
  })
  .partial()
  .refine(
    (u) => Object.keys(u).filter((k) => k !== 'test_before_save').length > 0,
    'at least one field must be given',
  );

export const connectionListFilterSchema = z
  .strictObject({
    provider_type: z.enum(PROVIDER_TYPES).optional(),
    status: taskStatusSchema.optional(),
    is_active: z.boolean().optional(),
  })
  .default({});

export const connectionTestRequestSchema = z.strictObject({
  /** A path to probe (format of the provider's source_path); the root when absent. */
  source_path: z.string().min(1).max(2000).optional(),
});

export const OBJECT_BLOB_TYPES = [
  'text',
  'image',
  'video',
  'audio',
  'pdf',
  'excel',
  'json',
  'document',
  // Mixpeek's other BucketSchemaFieldType values.
  'string',
  'number',
  'integer',
  'float',
  'boolean',
  'object',
  'array',
  'date',
  'datetime',
] as const;

export const objectBlobCreateSchema = z.strictObject({
  property: z.string().min(1).max(255),
  type: z.enum(OBJECT_BLOB_TYPES),
  /** Inline content (text, JSON) or a URL; kept as `properties.value`. */
  data: z.unknown().optional(),
  key_prefix: z.string().max(1000).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  details: z
    .strictObject({
      filename: z.string().max(1000).optional(),
      size_bytes: z.number().int().min(0).optional(),
      mime_type: z.string().max(255).optional(),
      hash: z.string().max(200).nullable().optional(),
    })
    .optional(),
});

export const objectCreateSchema = z.strictObject({
  key_prefix: z.string().max(1000).default('/'),
  blobs: z.array(objectBlobCreateSchema).max(100).default([]),
  metadata: metadataSchema.default({}),
});

export const PRESIGNED_URLS_UNSUPPORTED =
  'not supported here: this service does not hand out blob download URLs (return_presigned_urls must be false)';

export const objectListFilterSchema = z
  .strictObject({
    /** Objects whose key_prefix starts with this. */
    key_prefix: z.string().max(1000).optional(),
    status: taskStatusSchema.optional(),
    sync_config_id: z.string().min(1).max(100).optional(),
    return_presigned_urls: z.boolean().default(false),
    filters: z.record(z.string(), z.unknown()).nullable().optional(),
    sort: z.record(z.string(), z.unknown()).nullable().optional(),
    search: z.string().max(200).nullable().optional(),
    select: z.array(z.string()).nullable().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.return_presigned_urls)
      ctx.addIssue({ code: 'custom', path: ['return_presigned_urls'], message: PRESIGNED_URLS_UNSUPPORTED });
    for (const k of ['filters', 'sort', 'search', 'select'] as const)
      if (b[k] != null) ctx.addIssue({ code: 'custom', path: [k], message: LIST_FILTERS_UNSUPPORTED });
  })
  .default({ return_presigned_urls: false });

const queryFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const objectGetQuerySchema = z.object({
  return_presigned_urls: queryFlag
    .refine((v) => !v, PRESIGNED_URLS_UNSUPPORTED)
    .default(false)
    .meta({ default: 'false', description: 'must be false: no blob download URLs here' }),
  include_document_count: queryFlag
    .default(true)
    .meta({ default: 'true', description: 'count the collection documents made from the object' }),
});

export const syncPerformanceQuerySchema = z.object({
  sync_config_id: z.string().min(1).max(100).optional(),
  hours: queryInt(1, 720, 168),
  limit: queryInt(1, 1000, 100),
});

export const syncComparisonQuerySchema = z.object({
  hours: queryInt(1, 720, 168),
});

// ---------------------------------------------------------------------------------------------
// Collections, batches, tasks.

const resourceId = z.string().min(1).max(100);

export const BATCH_STATUSES = [
  'DRAFT',
  'PENDING',
  'IN_PROGRESS',
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'CANCELED',
] as const;

export const collectionSourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bucket'), bucket_ids: z.array(resourceId).min(1).max(20) }),
  z.strictObject({ type: z.literal('collection'), collection_ids: z.array(resourceId).min(1).max(20) }),
]);

export const collectionCreateSchema = z.strictObject({
  collection_name: z.string().min(1).max(100),
  description: z.string().max(500).nullable().optional(),
  source: collectionSourceSchema,
  pipeline: pipelineSchema,
  metadata: metadataSchema.default({}),
});

export const collectionListFilterSchema = z
  .strictObject({
    collection_name: z.string().max(100).optional(),
    /** Collections that read from this bucket. */
    bucket_id: resourceId.optional(),
  })
  .default({});

export const documentListFilterSchema = z
  .strictObject({
    object_id: resourceId.optional(),
    batch_id: resourceId.optional(),
    status: z.enum(['IN_PROGRESS', 'COMPLETED', 'FAILED']).optional(),
  })
  .default({});

export const batchCreateSchema = z.strictObject({
  object_ids: z
    .array(resourceId)
    .min(1)
    .max(1000)
    .refine((ids) => new Set(ids).size === ids.length, 'object_ids must not repeat'),
  metadata: metadataSchema.default({}),
});

export const batchListFilterSchema = z
  .strictObject({ status: z.enum(BATCH_STATUSES).optional() })
  .default({});

export const taskListFilterSchema = z
  .strictObject({
    status: z.enum(BATCH_STATUSES).optional(),
    task_type: z.literal('BATCH_PROCESSING').optional(),
  })
  .default({});

// ---------------------------------------------------------------------------------------------
// Mixpeek's sync job and DLQ list requests.

export const SYNC_JOB_STATUSES = ['running', 'completed', 'failed', 'interrupted', 'skipped'] as const;

export const syncJobListFilterSchema = z
  .strictObject({ status: z.enum(SYNC_JOB_STATUSES).nullable().optional() })
  .default({});

export const dlqListRequestSchema = z
  .strictObject({
    /** Only the files given up on (status FAILED, after 3 attempts). */
    only_max_retries: z.boolean().default(false),
    /** Only these error types (`error_type` of an entry). */
    error_types: z.array(z.string().min(1).max(100)).max(50).nullable().optional(),
  })
  .default({ only_max_retries: false });

/**
 * Files of one sync processed at once: its sync_concurrency, else the worker's default
 * (SYNC_FILE_CONCURRENCY), never above the worker's cap (SYNC_FILE_CONCURRENCY_MAX).
 */
export function fileConcurrencyOf(
  syncConcurrency: number | null | undefined,
  workerDefault: number,
  workerMax: number = MAX_SYNC_CONCURRENCY,
): number {
  return Math.max(1, Math.min(syncConcurrency ?? workerDefault, workerMax));
}
