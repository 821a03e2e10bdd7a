// The one place that reads the process environment. Every variable is declared here with its
// default; a bad value stops the process with a message that names the variable.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

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
  /** Folder of the embedded blob store (objects' bytes). */
  BLOB_DIR: z.string().min(1).default('.data/blobs'),
  /** Files copied at once within a page. */
  SYNC_FILE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Consecutive failed runs after which a sync suspends itself. */
  AUTO_SUSPEND_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(5),
  /** Entries a provider lists per page (one activity call handles one page). */
  SYNC_PAGE_SIZE: z.coerce.number().int().min(1).max(5000).default(1000),
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
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const name = i.path.join('.');
      const given = source[name] === undefined ? 'not set' : `got ${JSON.stringify(source[name])}`;
      return `  ${name}: ${i.message} (${given})`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
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
