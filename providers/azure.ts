// `azure_blob`: Azure Blob Storage (and Azurite through `endpoint_url`). source_path is
// `container/prefix`; listing is flat under the prefix, in blob-name order, and the cursor is the
// service's continuation marker.
import type { Readable } from 'node:stream';
import type * as AzureSdk from '@azure/storage-blob';
import type { BlobServiceClient, StoragePipelineOptions } from '@azure/storage-blob';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { ProviderError } from './types';
import type { ListOptions, ListPage, SourceEntry, StorageProvider, TestResult } from './types';
import { classifiedStream, endpointUrlSchema, failedTest, withoutTrailingSlash } from './shared';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (lib/lazy-module.ts)
const azureSdk = lazyModule(() => require('@azure/storage-blob') as typeof AzureSdk);

export const azureConfigSchema = z.strictObject({
  account_name: z.string().regex(/^[a-z0-9]{3,24}$/, 'must be 3-24 lowercase letters and digits'),
  /** Azurite or a custom domain, e.g. `http://127.0.0.1:10000/devstoreaccount1`. */
  endpoint_url: endpointUrlSchema.optional(),
});
export type AzureConfig = z.infer<typeof azureConfigSchema>;

const azureCredentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('account_key'), account_key: z.string().min(1) }),
  z.strictObject({ type: z.literal('connection_string'), connection_string: z.string().min(1) }),
  z.strictObject({ type: z.literal('sas'), sas_token: z.string().min(1) }),
]);
export type AzureCredentials = z.infer<typeof azureCredentialsSchema>;

// The engine's Temporal activity owns retries: one attempt per request here.
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

function serviceClient(config: AzureConfig, credentials: Record<string, unknown> | null): BlobServiceClient {
  const parsed = azureCredentialsSchema.safeParse(credentials ?? {});
  if (!parsed.success)
    throw new ProviderError(
      'azure_blob credentials must be {type: "account_key", account_key} | ' +
        '{type: "connection_string", connection_string} | {type: "sas", sas_token}',
      'invalid',
      false,
    );
  const c = parsed.data;
  const url = withoutTrailingSlash(
    config.endpoint_url ?? `https://${config.account_name}.blob.core.windows.net`,
  );
  const { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential } = azureSdk();
  try {
    switch (c.type) {
      case 'account_key':
        return new BlobServiceClient(
          url,
          new StorageSharedKeyCredential(config.account_name, c.account_key),
          PIPELINE,
        );
      case 'connection_string':
        // The connection string names its own account and endpoint.
        return BlobServiceClient.fromConnectionString(c.connection_string, PIPELINE);
      case 'sas':
        return new BlobServiceClient(
          `${url}?${c.sas_token.replace(/^\?/, '')}`,
          new AnonymousCredential(),
          PIPELINE,
        );
    }
  } catch (err) {
    throw new ProviderError(`azure_blob ${c.type} credentials: ${(err as Error).message}`, 'invalid', false, {
      cause: err,
    });
  }
}

const AUTH_CODES = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationProtocolMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationServiceMismatch',
  'AuthorizationSourceIPMismatch',
  'InsufficientAccountPermissions',
  'InvalidAuthenticationInfo',
  'NoAuthenticationInformation',
]);
const NOT_FOUND_CODES = new Set(['ContainerNotFound', 'BlobNotFound', 'ResourceNotFound']);

/** Classifies a RestError of the client (statusCode + the service's error code) or a socket error. */
export function azureError(err: unknown, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as { statusCode?: unknown; code?: unknown; details?: { errorCode?: unknown } };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = [e.details?.errorCode, e.code].find((c): c is string => typeof c === 'string');
  const first = ((err as Error)?.message ?? String(err)).split('\n')[0];
  const msg = `${what}: ${code && !first.includes(code) ? `${code}: ` : ''}${first}`;
  const make = (kind: ProviderError['kind'], retryable: boolean) =>
    new ProviderError(msg, kind, retryable, { cause: err });
  if (status === 401 || status === 403 || (code && AUTH_CODES.has(code))) return make('auth', false);
  if (status === 404 || (code && NOT_FOUND_CODES.has(code))) return make('not_found', false);
  if (status === 429 || code === 'ServerBusy' || code === 'TooManyRequests') return make('throttled', true);
  if (status === 408 || (status !== undefined && status >= 500)) return make('unavailable', true);
  if (status !== undefined && status >= 400) return make('invalid', false);
  // No HTTP answer: REQUEST_SEND_ERROR, ECONNRESET, ECONNREFUSED, a body cut short...
  return make('unavailable', true);
}

/** `container/prefix` (a leading `/` is accepted) -> container and a `/`-terminated prefix. */
export function parseAzurePath(sourcePath: string): { container: string; prefix: string } {
  const trimmed = sourcePath.replace(/^\/+/, '');
  const slash = trimmed.indexOf('/');
  const container = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const rest = slash === -1 ? '' : trimmed.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (!container)
    throw new ProviderError(`source_path ${sourcePath} must be container/prefix`, 'invalid', false);
  return { container, prefix: rest ? `${rest}/` : '' };
}

export class AzureBlobProvider implements StorageProvider {
  readonly capabilities = { serverSideModifiedFilter: false, deltaCursor: false, checksums: true };
  private readonly client: BlobServiceClient;
  private readonly credentialType: AzureCredentials['type'] | undefined;

  constructor(config: AzureConfig, credentials: Record<string, unknown> | null) {
    this.client = serviceClient(config, credentials);
    this.credentialType = (credentials as { type?: AzureCredentials['type'] } | null)?.type;
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const { container, prefix } = parseAzurePath(sourcePath);
    const what = `azure_blob list ${container}/${prefix}`;
    let page;
    try {
      const pages = this.client
        .getContainerClient(container)
        .listBlobsFlat({ prefix: prefix || undefined, includeMetadata: true })
        .byPage({
          maxPageSize: Math.max(1, Math.min(options.pageSize, 5000)),
          continuationToken: options.cursor ?? undefined,
        });
      page = (await pages.next()).value;
    } catch (err) {
      throw azureError(err, what);
    }
    const entries: SourceEntry[] = [];
    for (const b of page?.segment.blobItems ?? []) {
      const rel = b.name.slice(prefix.length);
      // Directories of a hierarchical-namespace account, and `folder/` placeholders, are not files.
      if (!rel || rel.endsWith('/') || b.metadata?.hdi_isfolder === 'true') continue;
      const p = b.properties;
      entries.push({
        sourceObjectId: `${container}/${b.name}`,
        path: rel,
        name: rel.split('/').at(-1)!,
        size: p.contentLength ?? 0,
        modifiedAt: p.lastModified.toISOString(),
        version: p.etag,
        ...(p.contentType ? { contentType: p.contentType } : {}),
        ...(p.contentMD5?.length ? { checksum: `md5:${Buffer.from(p.contentMD5).toString('hex')}` } : {}),
        metadata: { ...(b.metadata ?? {}) },
      });
    }
    return { entries, nextCursor: page?.continuationToken || null };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    // sourceObjectId is `container/blob name`: an entry opens on its own, as the DLQ replays it.
    const slash = entry.sourceObjectId.indexOf('/');
    if (slash <= 0)
      throw new ProviderError(
        `azure_blob id ${entry.sourceObjectId} is not container/name`,
        'invalid',
        false,
      );
    const container = entry.sourceObjectId.slice(0, slash);
    const name = entry.sourceObjectId.slice(slash + 1);
    const what = `azure_blob ${container}/${name}`;
    try {
      // A body cut short is resumed by the client with a ranged request pinned to the first answer's
      // etag (maxRetryRequests), so it never mixes two versions of the blob.
      const res = await this.client.getContainerClient(container).getBlobClient(name).download();
      if (!res.readableStreamBody)
        throw new ProviderError(`${what}: no body in the answer`, 'unavailable', true);
      return classifiedStream(res.readableStreamBody, (err) => azureError(err, what));
    } catch (err) {
      throw azureError(err, what);
    }
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const endpoint = this.client.url.split('?')[0];
    try {
      if (sourcePath) {
        const { container, prefix } = parseAzurePath(sourcePath);
        await this.client
          .getContainerClient(container)
          .listBlobsFlat({ prefix: prefix || undefined })
          .byPage({ maxPageSize: 1 })
          .next();
        return {
          success: true,
          message: `can list ${container}/${prefix}`,
          details: { container, prefix, endpoint },
        };
      }
      if (this.credentialType === 'sas') {
        // A container-scoped SAS can do nothing at the account level: without a container to try,
        // check what the token itself says.
        const expiry = new URL(this.client.url).searchParams.get('se');
        if (expiry && Date.parse(expiry) < Date.now())
          return { success: false, message: `the SAS token expired at ${expiry}`, details: { endpoint } };
        return {
          success: true,
          message: 'SAS token accepted as given; it is checked against a container when a sync lists it',
          details: { endpoint, expires: expiry },
        };
      }
      await this.client.getProperties();
      return { success: true, message: `account ${this.client.accountName} answers`, details: { endpoint } };
    } catch (err) {
      return failedTest(azureError(err, sourcePath ? `azure_blob ${sourcePath}` : 'azure_blob'));
    }
  }
}
