// The one place that reads the process environment. Every variable is declared here with its
// default; a bad value stops the process with a message that names the variable.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

/** Parses as a URL with an http(s) scheme; `more` adds a condition on it. */
function isHttpUrl(s: string, more: (u: URL) => boolean = () => true): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && more(u);
  } catch {
    return false;
  }
}

export const envSchema = z.object({
  /** MongoDB connection string. `npm run dev` starts FerretDB and sets it when unset. */
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://'),
  /** Database name inside MONGODB_URI. */
  MONGODB_DB: z.string().min(1).default('bucket_syncs'),
  /** Temporal frontend host:port. */
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^:\s]+:\d+$/, 'must be host:port')
    .default('localhost:7233'),
  /** Temporal namespace the workflows run in. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the worker polls and the API starts workflows on. */
  TASK_QUEUE: z.string().min(1).default('bucket-syncs'),
  /** HTTP port of the REST API. */
  PORT: port.default(8080),
  /** Seconds the API trusts a looked-up API key / namespace (a revoked key works this long); 0: no cache. */
  AUTH_CACHE_SECONDS: z.coerce.number().min(0).max(300).default(5),
  /**
   * How long the API keeps a GET answer of one sync, bucket or object (api/read-cache.ts); any write
   * through this process empties it. 0: off.
   */
  API_READ_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  /** Port of the worker's Prometheus endpoint (`/metrics`); 0: any free port. */
  WORKER_METRICS_PORT: port.default(9464),
  /** 32-byte key (64 hex chars or base64) that encrypts connection credentials at rest. */
  SECRETS_KEY: z
    .string()
    .refine((v) => decodeKey(v) !== null, 'must be 32 bytes as 64 hex characters or base64'),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Identifies this worker in lock fields (`locked_by_worker_id`). */
  WORKER_ID: z.string().min(1).optional(),
  /** Folders `local` connections may read, separated by `:`; empty allows any absolute path. */
  LOCAL_ROOTS: z
    .string()
    .default('')
    .transform((v) => v.split(':').filter(Boolean))
    .refine((roots) => roots.every((r) => r.startsWith('/')), 'every entry must be an absolute path'),
  /** Where objects' bytes are stored: `folder` (BLOB_DIR) or `s3` (an S3-compatible bucket, BLOB_S3_*). */
  BLOB_STORE: z.enum(['folder', 's3']).default('folder'),
  /** Folder of the embedded blob store (objects' bytes) when BLOB_STORE=folder. */
  BLOB_DIR: z.string().min(1).default('.data/blobs'),
  /** Bucket of the `s3` blob store; required when BLOB_STORE=s3. */
  BLOB_S3_BUCKET: z
    .string()
    .regex(/^[^\s/]+$/, 'must be a bucket name (no "/" or spaces)')
    .optional(),
  /** Key prefix (a folder) inside BLOB_S3_BUCKET; empty stores at the top. */
  BLOB_S3_PREFIX: z
    .string()
    .default('')
    .transform((v) => v.replace(/^\/+|\/+$/g, ''))
    .refine(
      (v) =>
        v === '' ||
        (/^[A-Za-z0-9_\-./]+$/.test(v) && v.split('/').every((p) => p && p !== '.' && p !== '..')),
      'must be folder names of letters, digits, "_", "-", "." separated by "/"',
    ),
  /** S3-compatible endpoint (MinIO, R2, Tigris...); AWS S3 when unset. */
  BLOB_S3_ENDPOINT: z
    .string()
    .refine((s) => isHttpUrl(s, (u) => u.hostname !== ''), 'must be an http(s) URL')
    .optional(),
  /** Region of the `s3` blob store. */
  BLOB_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Path-style requests (`endpoint/bucket/key`); defaults to true when BLOB_S3_ENDPOINT is set. */
  BLOB_S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', '1', '0'], 'must be true, false, 1 or 0')
    .transform((v) => v === 'true' || v === '1')
    .optional(),
  /** Access key of the `s3` blob store; with the secret below, or neither (AWS default credential chain). */
  BLOB_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  /** Secret of BLOB_S3_ACCESS_KEY_ID. Never logged or echoed. */
  BLOB_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Files copied at once within a page. */
  SYNC_FILE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
  /** The most files one sync may process at once (a sync's sync_concurrency above it is refused). */
  SYNC_FILE_CONCURRENCY_MAX: z.coerce.number().int().min(1).max(100).default(100),
  /** Consecutive failed runs after which a sync suspends itself. */
  AUTO_SUSPEND_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(5),
  /**
   * Partial blob files (copies cut by a killed worker) untouched this long are swept, when a worker
   * starts and then every half of it (the folder store; a live copy keeps its file's mtime fresh).
   */
  BLOB_PARTIAL_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(604_800).default(3600),
  /**
   * OpenTelemetry: base URL of an OTLP/HTTP collector (`http://collector:4318`); traces go to
   * `<url>/v1/traces` (JSON). Unset: no tracer, no spans, nothing exported.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .refine((s) => isHttpUrl(s, (u) => u.hostname !== ''), 'must be an http(s) URL')
      .optional(),
  ),
  /** `service.name` of the exported spans; default bucket-syncs-api / bucket-syncs-worker. */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Entries a provider lists per page (a page is a checkpoint; see SYNC_STRIDE_MS). */
  SYNC_PAGE_SIZE: z.coerce.number().int().min(1).max(5000).default(1000),
  /**
   * A syncPage activity goes on to the next page while it has run less than this many milliseconds
   * (core/stride.ts): fewer round trips through Temporal per page. 0: one page per activity.
   */
  SYNC_STRIDE_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** Files of sync manifests a worker keeps in memory (~11 MB of heap per 100,000 short paths; least recently used go first). */
  SYNC_MANIFEST_CACHE_FILES: z.coerce.number().int().min(0).default(500_000),
  /**
   * The API's base URL as storage services reach it (`https://api.example.com`, a path prefix allowed):
   * where Drive channels and Graph subscriptions of event-driven syncs post their notifications.
   * Unset: google_drive and sharepoint syncs cannot be event-driven (422).
   */
  PUBLIC_API_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .refine(
        (s) => isHttpUrl(s, (u) => !u.search && !u.hash),
        'must be an http(s) URL without query or fragment',
      )
      .transform((s) => s.replace(/\/+$/, ''))
      .optional(),
  ),
  /** Lifetime asked for a Drive channel / Graph subscription; renewed when a quarter of it is left. */
  PUSH_CHANNEL_TTL_SECONDS: z.coerce.number().int().min(10).max(604_800).default(86_400),
});

export type Env = z.infer<typeof envSchema>;

export function decodeKey(value: string): Buffer | null {
  const hex = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : null;
  if (hex) return hex;
  const b64 = Buffer.from(value, 'base64');
  return b64.length === 32 ? b64 : null;
}

export class ConfigError extends Error {}

/** Parses the given environment (process.env by default); throws ConfigError naming each bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source);
  const issues = result.success
    ? []
    : result.error.issues.map((i) => ({ name: i.path.join('.'), message: i.message }));
  for (const d of dependentIssues(source)) if (!issues.some((i) => i.name === d.name)) issues.push(d);
  if (!result.success || issues.length > 0) {
    const lines = issues.map(({ name, message }) => {
      const given =
        source[name] === undefined
          ? 'not set'
          : HIDDEN_VALUES.has(name)
            ? 'set; value not shown'
            : `got ${JSON.stringify(source[name])}`;
      return `  ${name}: ${message} (${given})`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Variables whose value an error message never repeats. */
const HIDDEN_VALUES = new Set(['SECRETS_KEY', 'BLOB_S3_SECRET_ACCESS_KEY']);

/** Rules across variables (checked on the raw values, so they are reported with every other issue). */
function dependentIssues(source: NodeJS.ProcessEnv): { name: string; message: string }[] {
  const issues: { name: string; message: string }[] = [];
  const set = (name: string) => (source[name] ?? '') !== '';
  if (source.BLOB_STORE === 's3' && !set('BLOB_S3_BUCKET'))
    issues.push({ name: 'BLOB_S3_BUCKET', message: 'required when BLOB_STORE=s3' });
  if (set('BLOB_S3_ACCESS_KEY_ID') && !set('BLOB_S3_SECRET_ACCESS_KEY'))
    issues.push({ name: 'BLOB_S3_SECRET_ACCESS_KEY', message: 'required with BLOB_S3_ACCESS_KEY_ID' });
  if (set('BLOB_S3_SECRET_ACCESS_KEY') && !set('BLOB_S3_ACCESS_KEY_ID'))
    issues.push({ name: 'BLOB_S3_ACCESS_KEY_ID', message: 'required with BLOB_S3_SECRET_ACCESS_KEY' });
  return issues;
}

/** For process entry points: load or exit(2) with the message. */
export function loadEnvOrExit(): Env {
  try {
    return loadEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
