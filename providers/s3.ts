// `s3` and `tigris`: any S3-compatible store through @aws-sdk/client-s3. source_path is `bucket/prefix`;
// the prefix is a folder (`prefix/`). Listing is ListObjectsV2 with StartAfter, so the cursor (the last
// key seen, relative to the prefix) resumes from any page on any instance. Content type and user
// metadata are not in the listing: a page is followed by one HeadObject per entry, or, when the engine
// lists lazily (ListOptions.details), only per entry it ingests (complete()).
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig, _Object } from '@aws-sdk/client-s3';
import type * as StsSdk from '@aws-sdk/client-sts';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { forEachLimit } from '../lib/pool';
import { ProviderError } from './types';
import type {
  Capabilities,
  FetchedFile,
  ListOptions,
  ListPage,
  LookupResult,
  SourceEntry,
  StorageProvider,
  TestResult,
} from './types';
import { codeClass, failedTest, parseCredentials } from './shared';

// Loaded on first use (lib/lazy-module.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const s3Sdk = lazyModule(() => require('@aws-sdk/client-s3') as typeof S3Sdk);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stsSdk = lazyModule(() => require('@aws-sdk/client-sts') as typeof StsSdk);

export const TIGRIS_ENDPOINT = 'https://fly.storage.tigris.dev';
/** HeadObject requests in flight per listed page. */
const HEAD_CONCURRENCY = 16;
/** ListObjectsV2 requests one list() call may make to skip pages holding only folder markers. */
const MAX_LIST_REQUESTS = 10;

/** `https://host[:port][/path]`, `http://…`, or a bare `host[:port]` (scheme from use_ssl). */
const endpointUrl = z
  .string()
  .min(1)
  .refine((s) => {
    try {
      const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL or host[:port]');

export const s3ConfigSchema = z.strictObject({
  region: z.string().min(1).default('us-east-1'),
  /** An S3-compatible endpoint; AWS S3 when absent. A scheme in it wins over use_ssl (as in boto3). */
  endpoint_url: endpointUrl.nullish(),
  use_ssl: z.boolean().default(true),
  verify_ssl: z.boolean().default(true),
  /** Defaults to true when endpoint_url is set (most S3-compatible servers), false for AWS. */
  force_path_style: z.boolean().nullish(),
});
export type S3Config = z.infer<typeof s3ConfigSchema>;

export const tigrisConfigSchema = z.strictObject({
  region: z.string().min(1).default('auto'),
  endpoint_url: endpointUrl.default(TIGRIS_ENDPOINT),
});
export type TigrisConfig = z.infer<typeof tigrisConfigSchema>;

const accessKeySchema = z.object({
  type: z.literal('access_key'),
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).nullish(),
});
const iamRoleSchema = z.object({
  type: z.literal('iam_role'),
  role_arn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
  external_id: z.string().min(2).max(1224),
});
export const s3CredentialsSchema = z.discriminatedUnion('type', [accessKeySchema, iamRoleSchema]);
export const tigrisCredentialsSchema = accessKeySchema;
export type S3Credentials = z.infer<typeof s3CredentialsSchema>;

/** Settings the engine does not expose: where to reach STS, and as whom (tests point these at fakes). */
export interface S3ProviderOptions {
  sts?: {
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
}

export interface ClientSettings {
  region: string;
  endpoint: string | null;
  useSsl: boolean;
  verifySsl: boolean;
  forcePathStyle: boolean;
}

// --- errors ------------------------------------------------------------------------------------------

const AUTH_CODES = new Set([
  'AccessDenied',
  'AccountProblem',
  'AllAccessDisabled',
  'CredentialsProviderError',
  'ExpiredToken',
  'Forbidden',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'InvalidSecurity',
  'InvalidToken',
  'NotSignedUp',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
  'UnrecognizedClientException',
]);
const NOT_FOUND_CODES = new Set(['NoSuchBucket', 'NoSuchKey', 'NoSuchVersion', 'NotFound']);
const THROTTLE_CODES = new Set([
  'BandwidthLimitExceeded',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
]);
const UNAVAILABLE_CODES = new Set([
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'TimeoutError',
  'IDPCommunicationError',
]);
interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** Classifies an SDK, STS or network error; `what` names the operation and the bucket/key. */
export function s3Error(err: unknown, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const code =
    e.Code ??
    (codeClass(e.code) === 'network' || codeClass(e.code) === 'tls' ? e.code : undefined) ??
    e.name ??
    'Error';
  const detail = [code, status ? `HTTP ${status}` : null].filter(Boolean).join(', ');
  const message = `${what}: ${e.message && e.message !== code ? `${e.message} (${detail})` : detail}`;
  const make = (kind: ProviderError['kind'], retryable: boolean, hint = '') =>
    new ProviderError(message + hint, kind, retryable, { cause: err });

  // An archived (Glacier) object cannot be read until restored; the other files still can.
  if (code === 'InvalidObjectState') return make('invalid', false, ' (archived: restore it first)');
  if (codeClass(code) === 'tls')
    return make('invalid', false, ' (a self-signed server needs verify_ssl: false)');
  if (AUTH_CODES.has(code)) return make('auth', false);
  if (NOT_FOUND_CODES.has(code)) return make('not_found', false);
  if (THROTTLE_CODES.has(code) || status === 429) return make('throttled', true);
  if (UNAVAILABLE_CODES.has(code) || codeClass(code) === 'network' || (status !== undefined && status >= 500))
    return make('unavailable', true);
  if (status === 401 || status === 403) return make('auth', false);
  if (status === 404) return make('not_found', false);
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || status === 301)
    return make('invalid', false, ' (is region right for this bucket?)');
  if (e.$fault === 'client' || (status !== undefined && status >= 400)) return make('invalid', false);
  if (code === 'AbortError') return make('unavailable', true);
  // No HTTP answer at all (an unparsed response, a socket error the SDK did not name): try again.
  return make('unavailable', true);
}

// --- iam_role: temporary credentials from STS, cached until shortly before they expire ---------------

interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}
const REFRESH_BEFORE_MS = 5 * 60_000;
const assumedRoles = new Map<string, Promise<TemporaryCredentials>>();

function assumeRoleProvider(
  cred: z.infer<typeof iamRoleSchema>,
  region: string,
  sts: S3ProviderOptions['sts'] = {},
): () => Promise<TemporaryCredentials> {
  const key = JSON.stringify([cred.role_arn, cred.external_id, region, sts.endpoint ?? null]);
  const fresh = async (): Promise<TemporaryCredentials> => {
    const { AssumeRoleCommand, STSClient } = stsSdk();
    const client = new STSClient({
      region,
      maxAttempts: 1,
      ...(sts.endpoint ? { endpoint: sts.endpoint } : {}),
      ...(sts.credentials ? { credentials: sts.credentials } : {}),
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 30_000, throwOnRequestTimeout: true },
    });
    try {
      const out = await client.send(
        new AssumeRoleCommand({
          RoleArn: cred.role_arn,
          ExternalId: cred.external_id,
          RoleSessionName: 'bucket-syncs',
          DurationSeconds: 3600,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration)
        throw new ProviderError(`assume role ${cred.role_arn}: STS returned no credentials`, 'auth', false);
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    } catch (err) {
      throw s3Error(err, `assume role ${cred.role_arn}`);
    } finally {
      client.destroy();
    }
  };
  return async () => {
    const cached = assumedRoles.get(key);
    if (cached) {
      const c = await cached.catch(() => null);
      if (c && c.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS) return c;
    }
    const p = fresh();
    assumedRoles.set(key, p);
    p.catch(() => {
      if (assumedRoles.get(key) === p) assumedRoles.delete(key);
    });
    return p;
  };
}

/** The SDK's credentials for a connection's: its access key, or the role it assumes (cached). */
export function sdkCredentials(
  credentials: S3Credentials,
  region: string,
  sts?: S3ProviderOptions['sts'],
): S3ClientConfig['credentials'] {
  return credentials.type === 'access_key'
    ? {
        accessKeyId: credentials.access_key_id,
        secretAccessKey: credentials.secret_access_key,
        ...(credentials.session_token ? { sessionToken: credentials.session_token } : {}),
      }
    : assumeRoleProvider(credentials, region, sts);
}

// --- the provider ------------------------------------------------------------------------------------

/** The headers of an object that HeadObject and GetObject both answer with. */
type ObjectHeaders = Pick<
  S3Sdk.HeadObjectCommandOutput,
  | 'ETag'
  | 'ServerSideEncryption'
  | 'SSECustomerAlgorithm'
  | 'ContentLength'
  | 'LastModified'
  | 'ContentType'
  | 'Metadata'
>;

/** A response body whose errors half-way (a reset connection) come out classified too. */
function classified(body: Readable, where: string): Readable {
  const out = new PassThrough();
  body.once('error', (err) => out.destroy(s3Error(err, where)));
  pipeline(body, out).catch(() => undefined);
  return out;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}

export class S3Provider implements StorageProvider {
  readonly capabilities: Capabilities;
  private readonly client: S3Client;
  private readonly settings: ClientSettings;

  constructor(
    settings: ClientSettings,
    credentials: S3Credentials,
    readonly providerType: 's3' | 'tigris' = 's3',
    options: S3ProviderOptions = {},
  ) {
    this.settings = settings;
    // Tigris and other look-alikes: polling only. s3 (AWS, MinIO): bucket notifications.
    this.capabilities = {
      serverSideModifiedFilter: false,
      deltaCursor: false,
      checksums: true,
      ...(providerType === 's3' ? { changeFeed: 'bucket_notifications' as const } : {}),
    };
    const config: S3ClientConfig = {
      region: settings.region,
      // One flaky request (a 5xx, a throttle, a reset connection) is retried by the SDK (standard mode:
      // backoff with jitter, a retry quota): a page makes one HeadObject per file, so failing the
      // page on any of them would redo the page for nothing (the Temporal activity still retries
      // what outlasts these attempts).
      maxAttempts: 4,
      forcePathStyle: settings.forcePathStyle,
      // Requests only read: no upload checksums needed; stay compatible with S3 look-alikes.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials: sdkCredentials(credentials, settings.region, options.sts),
      requestHandler: {
        connectionTimeout: 10_000,
        // Until the response headers; a streamed body is not bounded by it.
        requestTimeout: 120_000,
        throwOnRequestTimeout: true,
        ...(settings.verifySsl
          ? {}
          : { httpsAgent: new https.Agent({ keepAlive: true, rejectUnauthorized: false }) }),
      },
    };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    else {
      config.tls = settings.useSsl;
      config.followRegionRedirects = true; // AWS: a bucket in another region still works
    }
    this.client = new (s3Sdk().S3Client)(config);
  }

  /** `bucket/prefix` -> the bucket and the key prefix (`''` or ending in `/`). */
  private locate(sourcePath: string): { bucket: string; prefix: string } {
    const trimmed = sourcePath.replace(/^\/+/, '');
    const slash = trimmed.indexOf('/');
    const bucket = slash < 0 ? trimmed : trimmed.slice(0, slash);
    let prefix = slash < 0 ? '' : trimmed.slice(slash + 1).replace(/^\/+/, '');
    if (prefix && !prefix.endsWith('/')) prefix += '/';
    if (!bucket)
      throw new ProviderError(
        `source_path ${JSON.stringify(sourcePath)} must be bucket/prefix (a bucket name first)`,
        'invalid',
        false,
      );
    return { bucket, prefix };
  }

  /** `bucket/key`: open() gets only the entry, and one connection may serve several buckets. */
  private static objectId(bucket: string, key: string): string {
    return `${bucket}/${key}`;
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const { bucket, prefix } = this.locate(sourcePath);
    const pageSize = Math.max(1, Math.min(options.pageSize, 1000));
    const where = `list s3://${bucket}/${prefix}`;
    const listed: _Object[] = [];
    let after = options.cursor ? prefix + options.cursor : undefined;
    let truncated = true;
    // Folder markers (`a/`) are skipped; a page of nothing but them is followed by the next one.
    for (let requests = 0; truncated && listed.length === 0 && requests < MAX_LIST_REQUESTS; requests++) {
      let out;
      try {
        out = await this.client.send(
          new (s3Sdk().ListObjectsV2Command)({
            Bucket: bucket,
            Prefix: prefix || undefined,
            StartAfter: after,
            MaxKeys: pageSize,
          }),
        );
      } catch (err) {
        throw s3Error(err, where);
      }
      const contents = out.Contents ?? [];
      truncated = out.IsTruncated === true && contents.length > 0;
      if (contents.length > 0) after = contents.at(-1)!.Key;
      listed.push(
        ...contents
          .filter((o) => o.Key && o.Key.startsWith(prefix) && !o.Key.endsWith('/'))
          .slice(0, pageSize),
      );
    }

    if (options.details === 'lazy')
      // What ListObjectsV2 carries; complete() adds the rest for the files the engine ingests.
      return {
        entries: listed.map((o) => S3Provider.listedEntry(bucket, prefix, o)),
        nextCursor: truncated && after ? after.slice(prefix.length) : null,
      };
    const entries: (SourceEntry | null)[] = new Array(listed.length).fill(null);
    await forEachLimit(listed, HEAD_CONCURRENCY, async (o, i) => {
      entries[i] = await this.head(bucket, prefix, o.Key!, o); // null: deleted since the listing
    });
    return {
      entries: entries.filter((e): e is SourceEntry => e !== null),
      nextCursor: truncated && after ? after.slice(prefix.length) : null,
    };
  }

  /** Event-driven syncs: the announced `bucket/key` ids under the source path, or removed when gone. */
  async lookup(sourcePath: string, ids: string[], limit: number): Promise<LookupResult> {
    const { bucket, prefix } = this.locate(sourcePath);
    const mine = [...new Set(ids)].filter((id) => {
      const key = id.startsWith(`${bucket}/`) ? id.slice(bucket.length + 1) : null;
      return key !== null && key.startsWith(prefix) && key.length > prefix.length && !key.endsWith('/');
    });
    const take = mine.slice(0, Math.max(1, limit));
    const entries: (SourceEntry | null)[] = new Array(take.length).fill(null);
    const removed: string[] = [];
    await forEachLimit(take, HEAD_CONCURRENCY, async (id, i) => {
      entries[i] = await this.head(bucket, prefix, id.slice(bucket.length + 1));
      if (!entries[i]) removed.push(id);
    });
    return {
      entries: entries.filter((e): e is SourceEntry => e !== null),
      removed,
      incomplete: take.length < mine.length,
    };
  }

  /** A listed key as a partial entry: its version (ETag), size and time, as HeadObject gives them. */
  private static listedEntry(bucket: string, prefix: string, o: _Object): SourceEntry {
    const rel = o.Key!.slice(prefix.length);
    return {
      sourceObjectId: S3Provider.objectId(bucket, o.Key!),
      path: rel,
      name: rel.split('/').at(-1)!,
      size: o.Size ?? 0,
      modifiedAt: (o.LastModified ?? new Date(0)).toISOString(),
      version: unquote(o.ETag),
      metadata: {},
      partial: true,
    };
  }

  /** Lazy listings: the listed entries whole, one HeadObject each (null: deleted since the listing). */
  async complete(sourcePath: string, listed: SourceEntry[]): Promise<(SourceEntry | null)[]> {
    const { bucket, prefix } = this.locate(sourcePath);
    const out: (SourceEntry | null)[] = new Array(listed.length).fill(null);
    await forEachLimit(listed, HEAD_CONCURRENCY, async (e, i) => {
      const key = e.sourceObjectId.slice(bucket.length + 1);
      out[i] = e.partial ? await this.head(bucket, prefix, key) : e;
    });
    return out;
  }

  /** The entry of one key (HeadObject), or null when it does not exist. */
  private async head(bucket: string, prefix: string, key: string, o?: _Object): Promise<SourceEntry | null> {
    let head;
    try {
      head = await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: bucket, Key: key }));
    } catch (err) {
      const e = s3Error(err, `head s3://${bucket}/${key}`);
      if (e.kind === 'not_found') return null;
      throw e;
    }
    const rel = key.slice(prefix.length);
    return S3Provider.wholeEntry(
      { sourceObjectId: S3Provider.objectId(bucket, key), path: rel, name: rel.split('/').at(-1)! },
      head,
      o,
    );
  }

  /** An entry from the headers HeadObject and GetObject both answer with (the listing's as fallback). */
  private static wholeEntry(
    id: Pick<SourceEntry, 'sourceObjectId' | 'path' | 'name'>,
    head: ObjectHeaders,
    o?: _Object,
  ): SourceEntry {
    const etag = unquote(head.ETag ?? o?.ETag);
    const encrypted =
      head.ServerSideEncryption === 'aws:kms' ||
      head.ServerSideEncryption === 'aws:kms:dsse' ||
      head.SSECustomerAlgorithm !== undefined;
    return {
      sourceObjectId: id.sourceObjectId,
      path: id.path,
      name: id.name,
      size: head.ContentLength ?? o?.Size ?? 0,
      modifiedAt: (head.LastModified ?? o?.LastModified ?? new Date(0)).toISOString(),
      version: etag,
      ...(head.ContentType ? { contentType: head.ContentType } : {}),
      // An ETag is the content's MD5 only for single-part uploads without KMS / customer-key encryption.
      ...(/^[0-9a-f]{32}$/i.test(etag) && !encrypted ? { checksum: `md5:${etag.toLowerCase()}` } : {}),
      metadata: { ...(head.Metadata ?? {}) },
    };
  }

  /** One GetObject: the entry whole from its headers (no HeadObject first) and the bytes. */
  async fetch(entry: SourceEntry, maxBytes: number): Promise<FetchedFile | null> {
    const { bucket, key } = S3Provider.splitId(entry.sourceObjectId);
    const where = `get s3://${bucket}/${key}`;
    let out;
    try {
      out = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: bucket, Key: key }));
    } catch (err) {
      const e = s3Error(err, where);
      if (e.kind === 'not_found') return null; // gone since the listing, as complete() says
      throw e;
    }
    const body = out.Body as (Readable & { transformToByteArray(): Promise<Uint8Array> }) | undefined;
    if (!body) throw new ProviderError(`${where}: no body in the response`, 'unavailable', true);
    const whole = S3Provider.wholeEntry(entry, out);
    if (out.ContentLength === undefined || out.ContentLength > maxBytes)
      return { entry: whole, stream: classified(body, where) };
    let bytes: Uint8Array;
    try {
      bytes = await body.transformToByteArray();
    } catch (err) {
      throw s3Error(err, where);
    }
    return { entry: whole, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  }

  /** `bucket/key` -> its parts. */
  private static splitId(sourceObjectId: string): { bucket: string; key: string } {
    const slash = sourceObjectId.indexOf('/');
    return { bucket: sourceObjectId.slice(0, slash), key: sourceObjectId.slice(slash + 1) };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    const { bucket, key } = S3Provider.splitId(entry.sourceObjectId);
    const where = `open s3://${bucket}/${key}`;
    let body: Readable;
    try {
      const out = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: bucket, Key: key }));
      body = out.Body as Readable;
    } catch (err) {
      throw s3Error(err, where);
    }
    if (!body) throw new ProviderError(`${where}: no body in the response`, 'unavailable', true);
    return classified(body, where);
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const details: Record<string, unknown> = {
      provider_type: this.providerType,
      region: this.settings.region,
      endpoint: this.settings.endpoint ?? 'aws',
    };
    try {
      if (!sourcePath || !sourcePath.replace(/^\/+/, '')) {
        // No bucket yet: check the credentials. AccessDenied means they were accepted (signature and key
        // are checked first) but may not list buckets, which a sync does not need.
        try {
          await this.client.send(new (s3Sdk().ListBucketsCommand)({}));
          return { success: true, message: 'credentials accepted', details };
        } catch (err) {
          const e = s3Error(err, 'list buckets');
          if ((err as SdkError).name === 'AccessDenied')
            return {
              success: true,
              message: 'credentials accepted (not allowed to list buckets; each sync checks its own bucket)',
              details,
            };
          throw e;
        }
      }
      const { bucket, prefix } = this.locate(sourcePath);
      Object.assign(details, { bucket, prefix });
      try {
        await this.client.send(new (s3Sdk().HeadBucketCommand)({ Bucket: bucket }));
      } catch (err) {
        throw s3Error(err, `head bucket ${bucket}`);
      }
      let out;
      try {
        out = await this.client.send(
          new (s3Sdk().ListObjectsV2Command)({ Bucket: bucket, Prefix: prefix || undefined, MaxKeys: 1 }),
        );
      } catch (err) {
        throw s3Error(err, `list s3://${bucket}/${prefix}`);
      }
      const empty = (out.KeyCount ?? out.Contents?.length ?? 0) === 0;
      return {
        success: true,
        message: `bucket ${bucket} is readable${empty ? `; nothing under ${prefix || '/'} yet` : ''}`,
        details,
      };
    } catch (err) {
      return failedTest(s3Error(err, 'test'), details);
    }
  }
}

function hasScheme(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
}

/**
 * What an AWS SDK client of an `s3` connection uses: the settings and parsed credentials the s3
 * provider is made with (the SQS queue reader of event-driven syncs uses them too).
 */
export function s3ClientAccess(
  config: S3Config,
  credentials: Record<string, unknown> | null,
): { settings: ClientSettings; credentials: S3Credentials } {
  const creds = parseCredentials(s3CredentialsSchema, credentials, 's3', 'access_key or iam_role');
  const endpoint = config.endpoint_url
    ? hasScheme(config.endpoint_url)
      ? config.endpoint_url
      : `${config.use_ssl ? 'https' : 'http'}://${config.endpoint_url}`
    : null;
  return {
    settings: {
      region: config.region,
      endpoint,
      useSsl: config.use_ssl,
      verifySsl: config.verify_ssl,
      forcePathStyle: config.force_path_style ?? endpoint !== null,
    },
    credentials: creds,
  };
}

export function createS3Provider(
  config: S3Config,
  credentials: Record<string, unknown> | null,
  options: S3ProviderOptions = {},
): S3Provider {
  const access = s3ClientAccess(config, credentials);
  return new S3Provider(access.settings, access.credentials, 's3', options);
}

export function createTigrisProvider(
  config: TigrisConfig,
  credentials: Record<string, unknown> | null,
): S3Provider {
  const creds = parseCredentials(tigrisCredentialsSchema, credentials, 'tigris', 'access_key');
  return new S3Provider(
    {
      region: config.region,
      endpoint: hasScheme(config.endpoint_url) ? config.endpoint_url : `https://${config.endpoint_url}`,
      useSsl: true,
      verifySsl: true,
      // Tigris answers only virtual-hosted requests for buckets created after 2025-02-19.
      forcePathStyle: false,
    },
    creds,
    'tigris',
  );
}
