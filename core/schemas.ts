// Request/response shapes of the contract (../shared/reference/api.md) as zod schemas: the single
// source of validation and defaults. Pure: no I/O, importable anywhere.
import { z } from 'zod';
import { TASK_STATUSES } from './status';

/** Accepts lowercase input, answers uppercase. */
export const taskStatusSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.toUpperCase() : v),
  z.enum(TASK_STATUSES),
);

const isoDate = z.iso.datetime({ offset: true });

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

export const syncCreateSchema = z.strictObject({
  connection_id: z.string().min(1).max(100),
  source_path: z.string().min(1).max(2000),
  sync_mode: z.enum(['continuous', 'initial_only']).default('continuous'),
  file_filters: fileFiltersSchema.nullable().optional(),
  schema_mapping: schemaMappingSchema.nullable().optional(),
  polling_interval_seconds: z.number().int().min(30).max(900).default(300),
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
});

export type SyncCreateRequest = z.infer<typeof syncCreateSchema>;

export const syncUpdateSchema = z
  .strictObject({
    description: z.string().max(500).nullable(),
    metadata: metadataSchema,
    status: taskStatusSchema,
    is_active: z.boolean(),
    polling_interval_seconds: z.number().int().min(30).max(900),
    batch_size: z.number().int().min(1).max(100),
    schema_mapping: schemaMappingSchema.nullable(),
    file_filters: fileFiltersSchema.nullable(),
    skip_batch_submission: z.boolean(),
    reconcile: reconcileSchema,
    max_objects_per_run: z.number().int().min(1),
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
});

export type ConnectionCreateRequest = z.infer<typeof connectionCreateSchema>;
