// A collection's processing pipeline: the built-in steps, their configs (zod, the single source of
// validation and defaults) and the pure helpers the batch workflow needs (step kinds, output keys,
// the webhook retry policy). Pure: no I/O, no Node; workflows may import it.
import { z } from 'zod';

export const STEP_NAMES = ['file_metadata', 'text_extract', 'webhook'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** 'map': one output per object (stored on its document); 'deliver': sends a chunk's documents out. */
export type StepKind = 'map' | 'deliver';
export const STEP_KINDS = {
  file_metadata: 'map',
  text_extract: 'map',
  webhook: 'deliver',
} as const satisfies Record<StepName, StepKind>;

export const fileMetadataConfigSchema = z.strictObject({
  /** Bytes read from the start of the blob to sniff its type (file-type wants 4100). */
  sniff_bytes: z.number().int().min(512).max(65536).default(4100),
});

export const textExtractConfigSchema = z.strictObject({
  /** The text is cut at this many characters; at most max_chars * 4 bytes are read. */
  max_chars: z.number().int().min(1).max(10_000_000).default(1_000_000),
});

/** Headers a webhook config may not set: the transport's own, and the ones the step signs with. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'user-agent',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const headersSchema = z
  .record(
    z
      .string()
      .min(1)
      .max(256)
      .regex(HEADER_NAME, 'not a valid header name')
      .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'this header is set by the step itself')
      .refine((h) => !h.toLowerCase().startsWith('x-bucketsyncs-'), 'X-BucketSyncs-* headers are reserved'),
    z
      .string()
      .max(8192)
      .refine((v) => !/[\r\n\0]/.test(v), 'header values may not contain CR, LF or NUL'),
  )
  .refine((h) => Object.keys(h).length <= 20, 'at most 20 headers')
  .refine(
    (h) => new Set(Object.keys(h).map((k) => k.toLowerCase())).size === Object.keys(h).length,
    'header names must differ in more than case',
  );

export const webhookConfigSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048),
  /** HMAC-SHA256 key of X-BucketSyncs-Signature; no signature without it. */
  secret: z.string().min(8).max(256).optional(),
  timeout_seconds: z.number().int().min(1).max(60).default(10),
  /** Attempts after the first (Temporal retries; each attempt is one POST). */
  retries: z.number().int().min(0).max(10).default(3),
  headers: headersSchema.optional(),
});

export type FileMetadataConfig = z.output<typeof fileMetadataConfigSchema>;
export type TextExtractConfig = z.output<typeof textExtractConfigSchema>;
export type WebhookConfig = z.output<typeof webhookConfigSchema>;

export const STEP_CONFIG_SCHEMAS = {
  file_metadata: fileMetadataConfigSchema,
  text_extract: textExtractConfigSchema,
  webhook: webhookConfigSchema,
} as const satisfies Record<StepName, z.ZodType>;

/** A step's config after parsing (defaults filled in). */
export type StepConfig<S extends StepName> = z.output<(typeof STEP_CONFIG_SCHEMAS)[S]>;
/** A step's config as written (defaults optional). */
export type StepConfigInput<S extends StepName> = z.input<(typeof STEP_CONFIG_SCHEMAS)[S]>;

// `prefault` parses the default through the config schema, so a missing config gets the config's
// own defaults (and a webhook without one reports the missing url at config.url).
export const pipelineStepSchema = z.discriminatedUnion('step', [
  z.strictObject({ step: z.literal('file_metadata'), config: fileMetadataConfigSchema.prefault({}) }),
  z.strictObject({ step: z.literal('text_extract'), config: textExtractConfigSchema.prefault({}) }),
  z.strictObject({ step: z.literal('webhook'), config: webhookConfigSchema.prefault({} as never) }),
]);

export const pipelineSchema = z.array(pipelineStepSchema).min(1).max(10);

export type PipelineStep = z.output<typeof pipelineStepSchema>;
export type Pipeline = z.output<typeof pipelineSchema>;

/**
 * The key a step's output is stored under on a document (and found under in `previous`): the step
 * name, or `<step>_<index>` for every occurrence of a step that occurs more than once.
 */
export function outputKeyOf(step: StepName, index: number, pipeline: readonly { step: string }[]): string {
  const occurrences = pipeline.filter((s) => s.step === step).length;
  return occurrences > 1 ? `${step}_${index}` : step;
}

/** The output keys of a pipeline, in step order (distinct by construction). */
export function outputKeys(pipeline: readonly { step: StepName }[]): string[] {
  return pipeline.map((s, i) => outputKeyOf(s.step, i, pipeline));
}

/** Retry policy of a webhook's deliver activity: each attempt is one POST of at most timeout_seconds. */
export function webhookRetryPolicy(config: Pick<WebhookConfig, 'retries' | 'timeout_seconds'>): {
  maximumAttempts: number;
  startToCloseSeconds: number;
} {
  return { maximumAttempts: config.retries + 1, startToCloseSeconds: config.timeout_seconds + 5 };
}
