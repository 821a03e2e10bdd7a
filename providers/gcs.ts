// `gcs`: Google Cloud Storage (and emulators such as fake-gcs-server through `endpoint_url`).
// source_path is `bucket/prefix`; listing is flat under the prefix, in object-name order, and the
// cursor is the JSON API's page token.
import type { Readable } from 'node:stream';
import type * as GcsSdk from '@google-cloud/storage';
import type { File, Storage, StorageOptions } from '@google-cloud/storage';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { ProviderError } from './types';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (lib/lazy-module.ts)
const gcsSdk = lazyModule(() => require('@google-cloud/storage') as typeof GcsSdk);
import type { ListOptions, ListPage, SourceEntry, StorageProvider, TestResult } from './types';
import {
  checkPrivateKey,
  classifiedStream,
  codeClass,
  endpointUrlSchema,
  failedTest,
  googleServiceAccountSchema,
  parseCredentials,
  withoutTrailingSlash,
} from './shared';

export const gcsConfigSchema = z.strictObject({
  project_id: z.string().min(1).optional(),
  /** An emulator or a private endpoint, e.g. `http://127.0.0.1:4443`. */
  endpoint_url: endpointUrlSchema.optional(),
});
export type GcsConfig = z.infer<typeof gcsConfigSchema>;

const serviceAccountSchema = googleServiceAccountSchema;
export type GcsCredentials = z.infer<typeof serviceAccountSchema>;

const GOOGLE_HOST = /(^|\.)googleapis\.com$/i;

function gcsCredentials(
  config: GcsConfig,
  credentials: Record<string, unknown> | null,
): GcsCredentials | null {
  if (credentials === null) {
    // No credentials is for emulators only: never fall back to the server's ambient Google identity.
    if (!config.endpoint_url || GOOGLE_HOST.test(new URL(config.endpoint_url).hostname))
      throw new ProviderError(
        'gcs needs service_account credentials (only an emulator endpoint_url may go without)',
        'invalid',
        false,
      );
    return null;
  }
  const parsed = parseCredentials(serviceAccountSchema, credentials, 'gcs', 'service_account');
  checkPrivateKey(parsed.private_key, 'gcs');
  return parsed;
}

/** Classifies an error of the client (ApiError), of google-auth-library (GaxiosError) or of the socket. */
export function gcsError(err: unknown, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as {
    code?: unknown;
    status?: unknown;
    message?: string;
    response?: { status?: unknown; data?: { error?: unknown } };
  };
  const status = [e.code, e.status, e.response?.status].find((s): s is number => typeof s === 'number');
  const code = typeof e.code === 'string' ? e.code : undefined;
  let reason = e.message || code || String(err);
  // A failed download carries the raw JSON API error body as its message.
  if (reason.startsWith('{'))
    try {
      reason = (JSON.parse(reason) as { error?: { message?: string } }).error?.message ?? reason;
    } catch {
      // not JSON after all: keep it as it is
    }
  const msg = `${what}: ${reason}`;
  const make = (kind: ProviderError['kind'], retryable: boolean) =>
    new ProviderError(msg, kind, retryable, { cause: err });
  if (status === 401 || status === 403) return make('auth', false);
  if (status === 404) return make('not_found', false);
  if (status === 429) return make('throttled', true);
  if (status === 408 || (status !== undefined && status >= 500)) return make('unavailable', true);
  // The token endpoint refusing the key (revoked, deleted or wrong account) answers 400 invalid_grant.
  const oauthError = e.response?.data?.error;
  if (
    oauthError === 'invalid_grant' ||
    oauthError === 'unauthorized_client' ||
    oauthError === 'invalid_client'
  )
    return make('auth', false);
  if (status !== undefined && status >= 400) return make('invalid', false);
  if (codeClass(code) === 'network') return make('unavailable', true);
  if (codeClass(code) === 'key') return make('auth', false);
  if (/Could not load the default credentials|Could not refresh access token/i.test(reason))
    return make('auth', false);
  // Checksum mismatches of a download, sockets closed mid-body and the like: worth another attempt.
  return make('unavailable', true);
}

/** `bucket/prefix` (a leading `gs://` or `/` is accepted) -> bucket and a `/`-terminated prefix. */
export function parseGcsPath(sourcePath: string): { bucket: string; prefix: string } {
  const trimmed = sourcePath.replace(/^gs:\/\//, '').replace(/^\/+/, '');
  const slash = trimmed.indexOf('/');
  const bucket = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const rest = slash === -1 ? '' : trimmed.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (!bucket) throw new ProviderError(`source_path ${sourcePath} must be bucket/prefix`, 'invalid', false);
  return { bucket, prefix: rest ? `${rest}/` : '' };
}

export class GcsProvider implements StorageProvider {
  readonly capabilities = { serverSideModifiedFilter: false, deltaCursor: false, checksums: true };
  private readonly storage: Storage;
  private readonly credentials: GcsCredentials | null;

  constructor(
    private readonly config: GcsConfig,
    credentials: Record<string, unknown> | null,
  ) {
    this.credentials = gcsCredentials(config, credentials);
    const options: StorageOptions = {
      // The engine's Temporal activity owns retries: one attempt per call here.
      retryOptions: { autoRetry: false },
    };
    // Emulators take any project (listing buckets needs one); real GCS gets the configured or key's own.
    const projectId =
      config.project_id ?? this.credentials?.project_id ?? (this.credentials ? undefined : 'emulator');
    if (projectId) options.projectId = projectId;
    if (this.credentials)
      options.credentials = {
        client_email: this.credentials.client_email,
        private_key: this.credentials.private_key,
        ...(this.credentials.universe_domain ? { universe_domain: this.credentials.universe_domain } : {}),
      };
    if (config.endpoint_url) {
      options.apiEndpoint = withoutTrailingSlash(config.endpoint_url);
      // With a custom apiEndpoint the client sends no Authorization unless asked to. Emulators
      // (fake-gcs-server) take anonymous requests; a private Google endpoint with credentials needs them.
      options.useAuthWithCustomEndpoint = this.credentials !== null;
    }
    this.storage = new (gcsSdk().Storage)(options);
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const { bucket, prefix } = parseGcsPath(sourcePath);
    let files: File[];
    let nextQuery: { pageToken?: string } | null | undefined;
    try {
      [files, nextQuery] = await this.storage.bucket(bucket).getFiles({
        prefix: prefix || undefined,
        maxResults: Math.max(1, Math.min(options.pageSize, 1000)),
        pageToken: options.cursor ?? undefined,
        autoPaginate: false,
      });
    } catch (err) {
      throw gcsError(err, `gcs list gs://${bucket}/${prefix}`);
    }
    const entries: SourceEntry[] = [];
    for (const f of files) {
      const m = f.metadata;
      const rel = f.name.slice(prefix.length);
      // Zero-byte `folder/` placeholders (created by the console) are not files.
      if (!rel || rel.endsWith('/')) continue;
      entries.push({
        sourceObjectId: `${bucket}/${f.name}`,
        path: rel,
        name: rel.split('/').at(-1)!,
        size: Number(m.size ?? 0),
        modifiedAt: new Date(String(m.updated ?? m.timeCreated)).toISOString(),
        version: String(m.generation ?? m.etag),
        ...(m.contentType ? { contentType: m.contentType } : {}),
        ...(m.md5Hash ? { checksum: `md5:${Buffer.from(m.md5Hash, 'base64').toString('hex')}` } : {}),
        metadata: { ...(m.metadata ?? {}) },
      });
    }
    return { entries, nextCursor: nextQuery?.pageToken ?? null };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    // sourceObjectId is `bucket/object name`: an entry opens on its own, as the DLQ replays it.
    const slash = entry.sourceObjectId.indexOf('/');
    if (slash <= 0)
      throw new ProviderError(`gcs object id ${entry.sourceObjectId} is not bucket/name`, 'invalid', false);
    const bucket = entry.sourceObjectId.slice(0, slash);
    const name = entry.sourceObjectId.slice(slash + 1);
    const what = `gcs object gs://${bucket}/${name}`;
    try {
      return classifiedStream(this.storage.bucket(bucket).file(name).createReadStream(), (err) =>
        gcsError(err, what),
      );
    } catch (err) {
      throw gcsError(err, what);
    }
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const endpoint = this.config.endpoint_url ?? 'https://storage.googleapis.com';
    try {
      if (sourcePath) {
        const { bucket, prefix } = parseGcsPath(sourcePath);
        await this.storage
          .bucket(bucket)
          .getFiles({ prefix: prefix || undefined, maxResults: 1, autoPaginate: false });
        return {
          success: true,
          message: `can list gs://${bucket}/${prefix}`,
          details: { bucket, prefix, endpoint },
        };
      }
      if (this.credentials) {
        // No bucket to try: check that Google accepts the key (it signs a token request).
        await this.storage.authClient.getAccessToken();
        return {
          success: true,
          message: `credentials of ${this.credentials.client_email} are accepted`,
          details: { client_email: this.credentials.client_email, endpoint },
        };
      }
      await this.storage.getBuckets({ maxResults: 1, autoPaginate: false });
      return { success: true, message: `${endpoint} answers`, details: { endpoint } };
    } catch (err) {
      return failedTest(gcsError(err, sourcePath ? `gcs ${sourcePath}` : 'gcs'));
    }
  }
}
