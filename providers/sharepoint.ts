// `sharepoint`: document libraries of SharePoint Online (and OneDrive for Business) through Microsoft
// Graph v1.0 with @microsoft/microsoft-graph-client.
//
// source_path is `/sites/{Name}/{Library}/{folder…}` (e.g. `/sites/Marketing/Shared Documents/2024`), or,
// when provider_config names the drive (`drive_id`) or the site (`site_id`), a folder in it (`/{folder…}`,
// with `{Library}/` first when only the site is named). `folder_path` is a base folder every source_path is
// taken under.
//
// Listing (a full pass) walks the folder depth-first through `children` (each page followed by its
// @odata.nextLink). The cursor is the walk's stack: per open folder its id, name, the $skiptoken of the
// children page it is in and the position within that page, so a resumed listing continues inside nested
// folders on any instance; it stays a few hundred bytes. An incremental pass (modifiedSince) reads the
// drive's changes instead: `root/delta` with the documented timestamp token, followed by @odata.nextLink
// until the @odata.deltaLink; changed files under the folder are kept (the cursor is then the delta
// nextLink). sourceObjectId is `{driveId}/{driveItemId}`, the way Graph addresses an item, so that
// open() works from the entry alone; version is the eTag, checksum the file's sha256Hash or quickXorHash.
//
// The Graph client's default middleware retries and uses the global fetch; here the chain is
// authentication -> redirects -> telemetry -> a node:https sender of our own: no SDK-level retries (the
// engine's Temporal activity owns them), an https.Agent that trusts `ca_cert` besides the system CAs
// (nothing global changes), and the bearer token is sent to the Graph host only, never to the
// pre-authenticated download URL that `/content` redirects to.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import tls from 'node:tls';
import type * as GraphSdk from '@microsoft/microsoft-graph-client';
import type {
  AuthenticationProvider,
  Client,
  Context,
  GraphError,
  Middleware,
} from '@microsoft/microsoft-graph-client';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { forEachLimit } from '../lib/pool';
import { ProviderError } from './types';
import type { ListOptions, ListPage, SourceEntry, StorageProvider, TestResult } from './types';
import { codeClass, failedTest, parseCredentials } from './shared';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (lib/lazy-module.ts)
const graphSdk = lazyModule(() => require('@microsoft/microsoft-graph-client') as typeof GraphSdk);

export const GRAPH_ENDPOINT = 'https://graph.microsoft.com';
export const AUTHORITY_HOST = 'https://login.microsoftonline.com';
/** Graph requests one list() call may make before it returns what it has (possibly nothing) and a cursor. */
const MAX_REQUESTS_PER_PAGE = 40;
/** Items per children / delta request. */
const GRAPH_PAGE = 200;
/** Item lookups in flight while resolving the files of a delta page. */
const LOOKUP_CONCURRENCY = 8;
const REFRESH_BEFORE_MS = 5 * 60_000;

const httpsRoot = z
  .string()
  .min(1)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' && u.hostname !== '' && !u.search && !u.hash && /^\/?$/.test(u.pathname);
    } catch {
      return false;
    }
  }, 'must be an https:// origin (scheme, host and port only)')
  .transform((s) => new URL(s).origin);

export const sharepointConfigSchema = z.strictObject({
  site_id: z.string().min(1).nullish(),
  drive_id: z.string().min(1).nullish(),
  /** A base folder inside the drive; source paths are taken under it. */
  folder_path: z.string().nullish(),
  /** Microsoft Graph's origin: national clouds (`https://graph.microsoft.us`, …), proxies, tests. */
  graph_endpoint: httpsRoot.nullish(),
  /** The Microsoft identity platform's origin (`https://login.microsoftonline.us`, …), proxies, tests. */
  authority_host: httpsRoot.nullish(),
  /** PEM certificate(s) trusted besides the system CAs for these two hosts (a TLS-inspecting proxy, tests). */
  ca_cert: z
    .string()
    .refine((s) => s.includes('-----BEGIN CERTIFICATE-----'), 'must be PEM certificate(s)')
    .nullish(),
});
export type SharePointConfig = z.infer<typeof sharepointConfigSchema>;

const tenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'must be a tenant id (GUID) or domain (contoso.onmicrosoft.com)');
const clientCredentialsSchema = z.object({
  type: z.literal('client_credentials'),
  tenant_id: tenantId,
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
});
const delegatedSchema = clientCredentialsSchema.extend({
  type: z.literal('delegated'),
  refresh_token: z.string().min(1),
});
export const sharepointCredentialsSchema = z.discriminatedUnion('type', [
  clientCredentialsSchema,
  delegatedSchema,
]);
export type SharePointCredentials = z.infer<typeof sharepointCredentialsSchema>;

const sharepointCredentials = (credentials: Record<string, unknown> | null): SharePointCredentials =>
  parseCredentials(sharepointCredentialsSchema, credentials, 'sharepoint', 'client_credentials or delegated');

// --- errors ------------------------------------------------------------------------------------------

/** Classifies by HTTP status as Graph documents its errors; `retryAfter` is the server's Retry-After. */
function byStatus(
  status: number,
  message: string,
  cause: unknown,
  retryAfter?: string | null,
): ProviderError {
  const make = (kind: ProviderError['kind'], retryable: boolean, extra = '') =>
    new ProviderError(`${message} (HTTP ${status})${extra}`, kind, retryable, { cause });
  const after = retryAfter ? `; retry after ${retryAfter} s` : '';
  if (status === 401 || status === 403) return make('auth', false);
  if (status === 404) return make('not_found', false);
  if (status === 429) return make('throttled', true, after);
  if (status === 408 || status >= 500) return make('unavailable', true, after);
  // 410 resyncRequired: a delta token Graph no longer knows; a full sync starts over.
  if (status === 410) return make('invalid', false, ' (delta token expired: run a full sync)');
  return make('invalid', false);
}

/** A socket-level failure (no HTTP answer). */
function networkError(err: unknown, what: string, code = (err as { code?: string })?.code): ProviderError {
  const reason = (err as Error)?.message || code || String(err);
  if (codeClass(code) === 'tls')
    return new ProviderError(
      `${what}: ${reason} (the server's certificate is not trusted; a private CA goes in provider_config.ca_cert)`,
      'invalid',
      false,
      { cause: err },
    );
  return new ProviderError(`${what}: ${reason}`, 'unavailable', true, { cause: err });
}

/** Classifies what the Graph client throws: GraphError (with the HTTP status) or a socket error. */
export function sharepointError(err: unknown, what: string, tokens?: TokenSource): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof graphSdk().GraphError) {
    // The token source failed inside the client's AuthenticationHandler: the client keeps only its message.
    if (err.statusCode === -1 && tokens?.lastError && err.message === tokens.lastError.message)
      return tokens.lastError;
    if (err.statusCode > 0) {
      const code = err.code ? `${err.code}: ` : '';
      return byStatus(
        err.statusCode,
        `${what}: ${code}${err.message || 'no message'}`,
        err,
        retryAfterOf(err),
      );
    }
    // A socket error in the sender: its code came through as GraphError.code (see NodeHttpsHandler).
    return networkError(err, what, err.code ?? undefined);
  }
  const code = (err as { code?: string })?.code;
  if (codeClass(code) === 'network' || codeClass(code) === 'tls') return networkError(err, what);
  return new ProviderError(`${what}: ${(err as Error)?.message ?? String(err)}`, 'unavailable', true, {
    cause: err,
  });
}

/** An answered expirationDateTime, else what was asked. */
function expiryOf(answered: string | undefined, asked: Date): Date {
  const t = answered ? Date.parse(answered) : NaN;
  return Number.isNaN(t) ? asked : new Date(t);
}

function retryAfterOf(err: GraphError): string | null {
  const h = err.headers as { get?: (k: string) => string | null } | undefined;
  return typeof h?.get === 'function' ? h.get('retry-after') : null;
}

// --- HTTP: one node:https sender for the token endpoint and the Graph client --------------------------

interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  agent: https.Agent;
}

function send(url: string, o: SendOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: o.method, headers: o.headers, agent: o.agent }, resolve);
    // Idle socket for two minutes (connect, headers or mid-body): give up; the engine retries.
    req.setTimeout(120_000, () =>
      req.destroy(
        Object.assign(new Error(`no answer from ${new URL(url).host} in 120 s`), { code: 'ETIMEDOUT' }),
      ),
    );
    req.once('error', reject);
    req.end(o.body);
  });
}

async function readBody(res: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      break;
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function headersOf(init: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!init) return out;
  if (typeof (init as Headers).forEach === 'function' && !Array.isArray(init))
    (init as Headers).forEach((v, k) => (out[k.toLowerCase()] = v));
  else if (Array.isArray(init)) for (const [k, v] of init as [string, string][]) out[k.toLowerCase()] = v;
  else for (const [k, v] of Object.entries(init as Record<string, string>)) out[k.toLowerCase()] = String(v);
  return out;
}

/**
 * The last middleware: sends the request with node:https through our agent and hands the client a
 * WHATWG Response whose body streams from the socket. Redirects are left to the RedirectHandler.
 */
class NodeHttpsHandler implements Middleware {
  constructor(
    private readonly agent: https.Agent,
    private readonly graphOrigin: string,
  ) {}

  async execute(context: Context): Promise<void> {
    const request = context.request as unknown as string | { url: string };
    const url = typeof request === 'string' ? request : request.url;
    const options = context.options ?? {};
    const headers = headersOf(options.headers);
    // Download URLs are pre-authenticated and live on another host: the bearer token stays with Graph.
    if (new URL(url).origin !== this.graphOrigin) delete headers.authorization;
    const body = typeof options.body === 'string' ? options.body : undefined;
    let res: IncomingMessage;
    try {
      res = await send(url, { method: options.method ?? 'GET', headers, body, agent: this.agent });
    } catch (err) {
      // The client keeps only the name and message of what a middleware throws: the name carries the code.
      const e = err as Error & { code?: string };
      if (e.code) e.name = e.code;
      throw e;
    }
    const status = res.statusCode ?? 0;
    const h = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
    const empty =
      status === 204 || status === 304 || (status >= 300 && status < 400) || options.method === 'HEAD';
    if (empty) res.resume(); // a redirect's body is never read: free the socket
    context.response = new Response(empty ? null : Readable.toWeb(res), {
      status,
      statusText: res.statusMessage ?? '',
      headers: h,
    });
  }
}

// --- tokens: OAuth 2.0 client credentials / refresh token grant at the identity platform -----------------

interface Token {
  accessToken: string;
  expiresAt: number;
}

/** Cached per credentials, authority and scope, shared by the provider instances of one process. */
const tokenCache = new Map<string, Promise<Token>>();
/** Refresh tokens rotate: the newest one per delegated credential (memory only; the stored one stays valid). */
const latestRefreshToken = new Map<string, string>();

export class TokenSource implements AuthenticationProvider {
  lastError: ProviderError | null = null;
  private readonly key: string;

  constructor(
    private readonly creds: SharePointCredentials,
    private readonly authority: string,
    private readonly scope: string,
    private readonly agent: https.Agent,
  ) {
    this.key = createHash('sha256')
      .update(JSON.stringify([creds, authority, scope]))
      .digest('hex');
  }

  private get endpoint(): string {
    return `${this.authority}/${encodeURIComponent(this.creds.tenant_id)}/oauth2/v2.0/token`;
  }

  private async fresh(): Promise<Token> {
    const form = new URLSearchParams({
      client_id: this.creds.client_id,
      client_secret: this.creds.client_secret,
    });
    if (this.creds.type === 'client_credentials') {
      form.set('grant_type', 'client_credentials');
      form.set('scope', this.scope);
    } else {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', latestRefreshToken.get(this.key) ?? this.creds.refresh_token);
      form.set('scope', `${this.scope} offline_access`);
    }
    const what = `token request for tenant ${this.creds.tenant_id} at ${this.authority}`;
    let res: IncomingMessage;
    let text: string;
    try {
      res = await send(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        agent: this.agent,
      });
      text = await readBody(res);
    } catch (err) {
      throw networkError(err, what);
    }
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON (a proxy's page): the status decides
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300 && typeof json.access_token === 'string') {
      if (typeof json.refresh_token === 'string') latestRefreshToken.set(this.key, json.refresh_token);
      const seconds = Number(json.expires_in ?? 3600);
      return {
        accessToken: json.access_token,
        expiresAt: Date.now() + (Number.isFinite(seconds) ? seconds : 3600) * 1000,
      };
    }
    const code = typeof json.error === 'string' ? json.error : 'no error code';
    // error_description starts `AADSTS7000215: Invalid client secret provided. …`; it never echoes the secret.
    const description =
      typeof json.error_description === 'string'
        ? json.error_description.split(/\r?\n/)[0].slice(0, 300)
        : '';
    const message = `${what}: ${code}${description ? `: ${description}` : ''}`;
    if (status === 429 || status >= 500) throw byStatus(status, message, null, res.headers['retry-after']);
    // invalid_client (wrong secret), unauthorized_client, invalid_grant (revoked refresh token), unknown
    // tenant or application: the credentials are refused.
    if (
      status === 401 ||
      status === 403 ||
      [
        'invalid_client',
        'unauthorized_client',
        'invalid_grant',
        'access_denied',
        'interaction_required',
      ].includes(code) ||
      /AADSTS(90002|700016|7000215|7000222|700082)/.test(description)
    )
      throw new ProviderError(message, 'auth', false);
    throw new ProviderError(status ? `${message} (HTTP ${status})` : message, 'invalid', false);
  }

  /** An access token, from the cache while it has five minutes left. */
  async getAccessToken(): Promise<string> {
    const cached = tokenCache.get(this.key);
    if (cached) {
      const t = await cached.catch(() => null);
      if (t && t.expiresAt - Date.now() > REFRESH_BEFORE_MS) return t.accessToken;
    }
    const p = this.fresh();
    tokenCache.set(this.key, p);
    p.catch(() => {
      if (tokenCache.get(this.key) === p) tokenCache.delete(this.key);
    });
    try {
      this.lastError = null;
      return (await p).accessToken;
    } catch (err) {
      this.lastError = err instanceof ProviderError ? err : networkError(err, 'token request');
      throw this.lastError;
    }
  }
}

// --- Graph shapes (the fields used) ------------------------------------------------------------------

interface DriveItem {
  id: string;
  name?: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  description?: string;
  lastModifiedDateTime?: string;
  createdDateTime?: string;
  root?: object;
  deleted?: object;
  folder?: { childCount?: number };
  package?: object;
  file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha256Hash?: string; sha1Hash?: string } };
  parentReference?: { driveId?: string; id?: string; path?: string };
  listItem?: { fields?: Record<string, unknown> };
}

interface Collection<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface Drive {
  id: string;
  name?: string;
  webUrl?: string;
  driveType?: string;
}

/** Columns every document library has; the rest of listItem.fields are the library's own columns. */
const SYSTEM_FIELDS = new Set([
  'id',
  'ContentType',
  'Created',
  'Modified',
  'AuthorLookupId',
  'EditorLookupId',
  'AppAuthorLookupId',
  'AppEditorLookupId',
  'FileLeafRef',
  'FileRef',
  'FileDirRef',
  'LinkFilename',
  'LinkFilenameNoMenu',
  'DocIcon',
  'FileSizeDisplay',
  'ItemChildCount',
  'FolderChildCount',
  'Edit',
  'ParentVersionStringLookupId',
  'ParentLeafNameLookupId',
  'CheckoutUserLookupId',
  'Attachments',
]);

function metadataOf(item: DriveItem): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item.listItem?.fields ?? {}))
    if (!SYSTEM_FIELDS.has(k) && !k.startsWith('_') && !k.startsWith('@') && !k.includes('.')) out[k] = v;
  if (item.description) out.description = item.description;
  return out;
}

function checksumOf(item: DriveItem): string | undefined {
  const h = item.file?.hashes;
  if (h?.sha256Hash) return `sha256:${h.sha256Hash.toLowerCase()}`;
  if (h?.quickXorHash) return `quickxor:${Buffer.from(h.quickXorHash, 'base64').toString('hex')}`;
  return undefined;
}

// --- the cursor ----------------------------------------------------------------------------------------

/** One open folder of the walk: id, name (`''` for the source folder), page token, position in the page. */
type Frame = [id: string, name: string, token: string | null, index: number];
type Cursor =
  /** A walk: the drive, the open folders, and the delta token taken when the walk began. */
  | { v: 1; d: string; w: Frame[]; t?: string }
  /** An incremental pass: the drive, the source folder's id, the delta page's link and the files of it done. */
  | { v: 1; d: string; r: string; n: string; k: number };
type DeltaCursor = Extract<Cursor, { n: string }>;

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Cursor;
    if (c.v === 1 && typeof c.d === 'string' && (('w' in c && Array.isArray(c.w)) || ('n' in c && 'r' in c)))
      return c;
  } catch {
    // below
  }
  throw new ProviderError('sharepoint: the cursor is not one this provider made', 'invalid', false);
}

/**
 * The delta token of an @odata.deltaLink: its `token` parameter (short; the link is rebuilt from the
 * drive id), or the whole link when it has none.
 */
function deltaTokenOf(deltaLink: string | null): string | null {
  if (!deltaLink) return null;
  const m = /[?&]token=([^&]*)/.exec(deltaLink);
  return m ? decodeURIComponent(m[1]) : deltaLink;
}

/** `$skiptoken` of a nextLink (as `$token`), or the whole link when it has none. */
function pageToken(nextLink: string): string {
  const m = /[?&]\$skiptoken=([^&]*)/i.exec(nextLink);
  return m ? `$${m[1]}` : nextLink;
}

// --- paths ---------------------------------------------------------------------------------------------

const segments = (p: string | null | undefined) =>
  (p ?? '')
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '.');

const encodePath = (segs: string[]) => segs.map(encodeURIComponent).join('/');

interface Located {
  driveId: string;
  folder: string[];
  /** What the user would recognise, for messages. */
  label: string;
}

// --- the provider ----------------------------------------------------------------------------------------

export class SharePointProvider implements StorageProvider {
  /**
   * modifiedSince is answered from the drive's delta feed (changes only); a listing's last page carries
   * the feed's deltaLink token, and a deltaToken lists the changes since it.
   */
  readonly capabilities = {
    serverSideModifiedFilter: true,
    deltaCursor: true,
    checksums: true,
    changeFeed: 'graph_subscriptions' as const,
  };
  private readonly client: Client;
  private readonly tokens: TokenSource;
  private readonly graph: string;
  private readonly located = new Map<string, Promise<Located>>();

  constructor(
    private readonly config: SharePointConfig,
    credentials: Record<string, unknown> | null,
  ) {
    const creds = sharepointCredentials(credentials);
    this.graph = config.graph_endpoint ?? GRAPH_ENDPOINT;
    const agent = new https.Agent({
      keepAlive: true,
      ...(config.ca_cert ? { ca: [...tls.rootCertificates, config.ca_cert] } : {}),
    });
    this.tokens = new TokenSource(
      creds,
      config.authority_host ?? AUTHORITY_HOST,
      `${this.graph}/.default`,
      agent,
    );
    const { AuthenticationHandler, Client, RedirectHandler, RedirectHandlerOptions, TelemetryHandler } =
      graphSdk();
    const chain: Middleware[] = [
      new AuthenticationHandler(this.tokens),
      new RedirectHandler(new RedirectHandlerOptions(5)),
      new TelemetryHandler(),
      new NodeHttpsHandler(agent, this.graph),
    ];
    this.client = Client.initWithMiddleware({
      middleware: chain,
      baseUrl: this.graph,
      defaultVersion: 'v1.0',
      // The client attaches the token only to Graph's own hosts and these.
      customHosts: new Set([new URL(this.graph).hostname]),
    });
  }

  private async get<T>(path: string, what: string, headers: Record<string, string> = {}): Promise<T> {
    try {
      return (await this.client.api(path).headers(headers).get()) as T;
    } catch (err) {
      throw sharepointError(err, what, this.tokens);
    }
  }

  /** source_path (+ folder_path) -> the drive and the folder's segments in it. */
  private locate(sourcePath: string): Promise<Located> {
    let p = this.located.get(sourcePath);
    if (!p) {
      p = this.resolve(sourcePath);
      this.located.set(sourcePath, p);
      p.catch(() => this.located.delete(sourcePath));
    }
    return p;
  }

  private async resolve(sourcePath: string): Promise<Located> {
    let segs = segments(sourcePath);
    const base = segments(this.config.folder_path);
    const fullForm = segs[0]?.toLowerCase() === 'sites' && segs.length >= 2;
    let driveId = this.config.drive_id ?? null;
    if (driveId) {
      // The full form names the configured drive: its site and library segments are dropped.
      if (fullForm) segs = segs.slice(3);
      return { driveId, folder: [...base, ...segs], label: sourcePath };
    }
    let siteId = this.config.site_id ?? null;
    if (fullForm) {
      const siteName = segs[1];
      segs = segs.slice(2);
      if (!siteId) {
        const root = await this.get<{ siteCollection?: { hostname?: string } }>(
          '/sites/root?$select=id,siteCollection',
          'sharepoint: look up the tenant root site',
        );
        const host = root.siteCollection?.hostname;
        if (!host) throw new ProviderError('sharepoint: the root site has no hostname', 'invalid', false);
        const site = await this.get<{ id: string }>(
          `/sites/${encodeURIComponent(host)}:/sites/${encodeURIComponent(siteName)}?$select=id`,
          `sharepoint: site /sites/${siteName}`,
        );
        siteId = site.id;
      }
    }
    if (!siteId)
      throw new ProviderError(
        `source_path ${JSON.stringify(sourcePath)} must be /sites/{Name}/{Library}/{folder} (or set site_id or drive_id)`,
        'invalid',
        false,
      );
    const library = segs[0];
    if (!library) {
      const drive = await this.get<Drive>(
        `/sites/${encodeURIComponent(siteId)}/drive?$select=id`,
        `sharepoint: default library of site ${siteId}`,
      );
      return { driveId: drive.id, folder: base, label: sourcePath };
    }
    const drives = await this.get<Collection<Drive>>(
      `/sites/${encodeURIComponent(siteId)}/drives?$select=id,name,webUrl,driveType`,
      `sharepoint: libraries of site ${siteId}`,
    );
    const wanted = library.toLowerCase();
    const urlName = (d: Drive) => {
      try {
        return decodeURIComponent(new URL(d.webUrl ?? '').pathname.split('/').filter(Boolean).at(-1) ?? '');
      } catch {
        return '';
      }
    };
    // `Shared Documents` is the URL name of the library shown as `Documents`: either matches.
    const drive =
      drives.value.find((d) => urlName(d).toLowerCase() === wanted) ??
      drives.value.find((d) => (d.name ?? '').toLowerCase() === wanted);
    if (!drive)
      throw new ProviderError(
        `sharepoint: no document library ${JSON.stringify(library)} in site ${siteId} (there are: ${drives.value
          .map((d) => urlName(d) || d.name)
          .join(', ')})`,
        'not_found',
        false,
      );
    driveId = drive.id;
    return { driveId, folder: [...base, ...segs.slice(1)], label: sourcePath };
  }

  private folderItem(loc: Located): Promise<DriveItem> {
    const d = encodeURIComponent(loc.driveId);
    const path = loc.folder.length ? `/drives/${d}/root:/${encodePath(loc.folder)}` : `/drives/${d}/root`;
    return this.get<DriveItem>(`${path}?$select=id,name,folder,file,root`, `sharepoint: folder ${loc.label}`);
  }

  private async sourceFolder(loc: Located): Promise<DriveItem> {
    const item = await this.folderItem(loc);
    if (!item.folder && !item.root)
      throw new ProviderError(`sharepoint: ${loc.label} is a file, not a folder`, 'invalid', false);
    return item;
  }

  private childrenUrl(driveId: string, folderId: string, token: string | null, top: number): string {
    if (token && !token.startsWith('$')) return this.checkedLink(token); // a whole nextLink, kept as is
    const base = `/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(folderId)}/children`;
    const q = [`$top=${top}`, '$expand=listItem($expand=fields)'];
    if (token) q.push(`$skiptoken=${token.slice(1)}`);
    return `${base}?${q.join('&')}`;
  }

  private entryOf(driveId: string, item: DriveItem, rel: string): SourceEntry {
    const checksum = checksumOf(item);
    return {
      sourceObjectId: `${driveId}/${item.id}`,
      path: rel,
      name: rel.split('/').at(-1)!,
      size: Number(item.size ?? 0),
      modifiedAt: new Date(item.lastModifiedDateTime ?? item.createdDateTime ?? 0).toISOString(),
      // eTag changes with the content and with the columns (cTag, content only, is not in delta answers).
      version: item.eTag ?? item.cTag ?? item.lastModifiedDateTime ?? '',
      ...(item.file?.mimeType ? { contentType: item.file.mimeType } : {}),
      ...(checksum ? { checksum } : {}),
      metadata: metadataOf(item),
    };
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const pageSize = Math.max(1, Math.min(options.pageSize, 1000));
    const cursor = options.cursor ? decodeCursor(options.cursor) : null;
    if (cursor && 'n' in cursor) return this.listChanges(sourcePath, cursor, pageSize);
    if (!cursor) {
      const loc = await this.locate(sourcePath);
      const folder = await this.sourceFolder(loc);
      const delta = `/drives/${encodeURIComponent(loc.driveId)}/root/delta`;
      const token = options.deltaToken
        ? options.deltaToken
        : options.modifiedSince
          ? new Date(options.modifiedSince).toISOString()
          : null;
      if (token) {
        // A whole link (a deltaLink without a token parameter) is followed as it is.
        const first = /^(\/|https:)/.test(token)
          ? token
          : `${delta}?token=${encodeURIComponent(token)}&$top=${GRAPH_PAGE}`;
        return this.listChanges(sourcePath, { v: 1, d: loc.driveId, r: folder.id, n: first, k: 0 }, pageSize);
      }
      // A full listing: first where the delta feed stands now (`token=latest` answers no items and a
      // deltaLink), so changes made while the folder is walked come with the next delta listing.
      const latest = await this.get<Collection<DriveItem>>(
        `${delta}?token=latest`,
        `sharepoint: delta token of ${sourcePath}`,
      );
      const t = deltaTokenOf(latest['@odata.deltaLink'] ?? null);
      return this.walk(
        sourcePath,
        { v: 1, d: loc.driveId, w: [[folder.id, '', null, 0]], ...(t ? { t } : {}) },
        pageSize,
      );
    }
    return this.walk(sourcePath, cursor, pageSize);
  }

  /**
   * A change-notification subscription on the root of the drive that holds source_path (Graph supports
   * `updated` on a drive's root only): Graph validates `notificationUrl` first (a POST with
   * `validationToken`), then posts `{value: [{subscriptionId, clientState, …}]}` on changes until the
   * expiration it answers (it may shorten what was asked). Event-driven syncs (worker/push-channels.ts).
   */
  async subscribe(
    sourcePath: string,
    sub: { notificationUrl: string; clientState: string; expiresAt: Date },
  ): Promise<{ id: string; expiresAt: Date }> {
    const loc = await this.locate(sourcePath);
    const what = `sharepoint: subscribe to changes of ${loc.label}`;
    try {
      const res = (await this.client.api('/subscriptions').post({
        changeType: 'updated',
        notificationUrl: sub.notificationUrl,
        resource: `/drives/${loc.driveId}/root`,
        expirationDateTime: sub.expiresAt.toISOString(),
        clientState: sub.clientState,
      })) as { id?: string; expirationDateTime?: string };
      if (!res?.id) throw new ProviderError(`${what}: no subscription id`, 'unavailable', true);
      return { id: res.id, expiresAt: expiryOf(res.expirationDateTime, sub.expiresAt) };
    } catch (err) {
      throw sharepointError(err, what, this.tokens);
    }
  }

  /** PATCH /subscriptions/{id}: a later expiration (an unknown or expired subscription: not_found). */
  async renewSubscription(id: string, expiresAt: Date): Promise<Date> {
    try {
      const res = (await this.client
        .api(`/subscriptions/${encodeURIComponent(id)}`)
        .patch({ expirationDateTime: expiresAt.toISOString() })) as { expirationDateTime?: string };
      return expiryOf(res?.expirationDateTime, expiresAt);
    } catch (err) {
      throw sharepointError(err, `sharepoint: renew subscription ${id}`, this.tokens);
    }
  }

  /** DELETE /subscriptions/{id}. */
  async unsubscribe(id: string): Promise<void> {
    try {
      await this.client.api(`/subscriptions/${encodeURIComponent(id)}`).delete();
    } catch (err) {
      throw sharepointError(err, `sharepoint: delete subscription ${id}`, this.tokens);
    }
  }

  /** A full listing: depth-first through `children`, resumable from the stack in the cursor. */
  private async walk(
    sourcePath: string,
    cursor: { v: 1; d: string; w: Frame[]; t?: string },
    pageSize: number,
  ): Promise<ListPage> {
    const driveId = cursor.d;
    const stack: Frame[] = cursor.w.map((f) => [...f]);
    const entries: SourceEntry[] = [];
    const pages = new Map<string, Collection<DriveItem>>();
    let requests = 0;
    const top = Math.min(GRAPH_PAGE, Math.max(pageSize, 10));
    while (stack.length > 0 && entries.length < pageSize && requests < MAX_REQUESTS_PER_PAGE) {
      const frame = stack[stack.length - 1];
      const [folderId, , token] = frame;
      const url = this.childrenUrl(driveId, folderId, token, top);
      let page = pages.get(url);
      if (!page) {
        const folderPath = stack
          .map((f) => f[1])
          .filter(Boolean)
          .join('/');
        page = await this.get<Collection<DriveItem>>(
          url,
          `sharepoint: list ${sourcePath}${folderPath ? `/${folderPath}` : ''}`,
        );
        pages.set(url, page);
        requests++;
      }
      let i = frame[3];
      let descended = false;
      while (i < page.value.length && entries.length < pageSize) {
        const item = page.value[i++];
        if (item.deleted || !item.name) continue;
        if (item.folder) {
          frame[3] = i;
          stack.push([item.id, item.name, null, 0]);
          descended = true;
          break;
        }
        // Files only: OneNote notebooks (`package`) and the like have no content to copy.
        if (!item.file) continue;
        const rel = [...stack.slice(1).map((f) => f[1]), item.name].join('/');
        entries.push(this.entryOf(driveId, item, rel));
      }
      if (descended) continue;
      frame[3] = i;
      if (i >= page.value.length) {
        const next = page['@odata.nextLink'];
        if (next) {
          frame[2] = pageToken(this.checkedLink(next));
          frame[3] = 0;
        } else stack.pop();
      }
    }
    const t = cursor.t;
    if (stack.length)
      return { entries, nextCursor: encodeCursor({ v: 1, d: driveId, w: stack, ...(t ? { t } : {}) }) };
    return { entries, nextCursor: null, ...(t ? { deltaToken: t } : {}) };
  }

  /** A nextLink / deltaLink must point at the Graph endpoint (the bearer token goes there). */
  private checkedLink(link: string): string {
    if (link.startsWith('/') || link.startsWith(`${this.graph}/`)) return link;
    throw new ProviderError(
      `sharepoint: a page link outside ${this.graph}: ${link.slice(0, 200)}`,
      'invalid',
      false,
    );
  }

  /**
   * An incremental listing: the drive's delta feed since a delta token (or modifiedSince). Delta answers
   * carry no paths (documented), so each changed file's place is found by walking parentReference ids up
   * to the source folder; the files are then read again whole (with their list item's columns). Deleted
   * files, and files whose parents lead elsewhere (moved out), are `removed`. The cursor is the link of
   * the delta page and how many of its files were already returned; the last page's @odata.deltaLink
   * gives the next delta token.
   */
  private async listChanges(sourcePath: string, cursor: DeltaCursor, pageSize: number): Promise<ListPage> {
    const driveId = cursor.d;
    const d = encodeURIComponent(driveId);
    const what = `sharepoint: changes under ${sourcePath}`;
    // id -> name and parent id; null for the drive's root and folders that are gone.
    const folders = new Map<string, { name: string; parent: string | null } | null>();
    let requests = 0;
    const relOf = async (parentId: string | undefined, name: string): Promise<string | null> => {
      const names = [name];
      let id = parentId;
      for (let depth = 0; id && depth < 500; depth++) {
        if (id === cursor.r) return names.reverse().join('/');
        if (!folders.has(id)) {
          try {
            const f = await this.get<DriveItem>(
              `/drives/${d}/items/${encodeURIComponent(id)}?$select=id,name,parentReference,root`,
              what,
            );
            requests++;
            folders.set(id, f.root ? null : { name: f.name ?? '', parent: f.parentReference?.id ?? null });
          } catch (err) {
            if (err instanceof ProviderError && err.kind === 'not_found') folders.set(id, null);
            else throw err;
          }
        }
        const f = folders.get(id);
        if (!f) return null;
        names.push(f.name);
        id = f.parent ?? undefined;
      }
      return null;
    };

    let link: string | null = cursor.n;
    let skip = cursor.k;
    // Removed ids are cheap (no lookups) and do not count against pageSize; they come with the first
    // slice of their delta page (at most MAX_REQUESTS_PER_PAGE pages of GRAPH_PAGE items per call).
    const removed: string[] = [];
    while (link && requests < MAX_REQUESTS_PER_PAGE) {
      const page: Collection<DriveItem> = await this.get<Collection<DriveItem>>(this.checkedLink(link), what);
      requests++;
      for (const item of page.value)
        if (item.folder && !item.deleted && !item.root && item.name)
          folders.set(item.id, { name: item.name, parent: item.parentReference?.id ?? null });
        else if (item.folder && item.deleted) folders.set(item.id, null);
      // The feed may name an item twice: its last occurrence counts (documented). Deleted items may
      // come without a file facet; a deleted folder's files are reported on their own.
      const last = new Map<string, DriveItem>();
      for (const item of page.value) {
        last.delete(item.id);
        if (item.deleted ? !item.folder : item.file && item.name) last.set(item.id, item);
      }
      const files = [...last.values()];
      const rels: (string | null)[] = new Array(files.length).fill(null);
      await forEachLimit(files, LOOKUP_CONCURRENCY, async (f, k) => {
        if (!f.deleted) rels[k] = await relOf(f.parentReference?.id, f.name!);
      });
      // A changed file under the folder is an entry; a deleted one, or one whose parents lead elsewhere
      // (moved out, or never under the folder), is removed.
      const under = files.map((f, k) => ({ id: f.id, rel: rels[k] })).filter((x) => x.rel !== null);
      if (skip === 0) files.forEach((f, k) => rels[k] === null && removed.push(`${driveId}/${f.id}`));
      const next = page['@odata.nextLink'] ?? null;
      const deltaLink = page['@odata.deltaLink'] ?? null;
      if (under.length <= skip) {
        if (!next) return { entries: [], removed, nextCursor: null, deltaToken: deltaTokenOf(deltaLink) };
        link = next;
        skip = 0;
        continue;
      }
      const taken = under.slice(skip, skip + pageSize);
      const found: (SourceEntry | null)[] = new Array(taken.length).fill(null);
      await forEachLimit(taken, LOOKUP_CONCURRENCY, async (t, k) => {
        try {
          const item = await this.get<DriveItem>(
            `/drives/${d}/items/${encodeURIComponent(t.id)}?$expand=listItem($expand=fields)`,
            `sharepoint: ${sourcePath}/${t.rel}`,
          );
          if (item.file) found[k] = this.entryOf(driveId, item, t.rel!);
        } catch (err) {
          if (!(err instanceof ProviderError && err.kind === 'not_found')) throw err; // else deleted since
        }
      });
      taken.forEach((t, k) => {
        if (!found[k]) removed.push(`${driveId}/${t.id}`);
      });
      const entries = found.filter((e): e is SourceEntry => e !== null);
      const done = skip + taken.length;
      const nextCursor: DeltaCursor | null =
        done < under.length
          ? { v: 1, d: driveId, r: cursor.r, n: link, k: done }
          : next
            ? { v: 1, d: driveId, r: cursor.r, n: next, k: 0 }
            : null;
      if (nextCursor) return { entries, removed, nextCursor: encodeCursor(nextCursor) };
      return { entries, removed, nextCursor: null, deltaToken: deltaTokenOf(deltaLink) };
    }
    // Out of requests for this call (pages of changes elsewhere in the drive): continue on the next.
    return {
      entries: [],
      removed,
      nextCursor: link ? encodeCursor({ v: 1, d: driveId, r: cursor.r, n: link, k: skip }) : null,
    };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    const slash = entry.sourceObjectId.indexOf('/');
    if (slash <= 0)
      throw new ProviderError(
        `sharepoint item id ${entry.sourceObjectId} is not driveId/itemId`,
        'invalid',
        false,
      );
    const driveId = entry.sourceObjectId.slice(0, slash);
    const itemId = entry.sourceObjectId.slice(slash + 1);
    const what = `sharepoint: open ${entry.path}`;
    let res: Response;
    try {
      // /content answers 302 to a pre-authenticated download URL; the RedirectHandler follows it.
      res = (await this.client
        .api(`/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}/content`)
        .responseType(graphSdk().ResponseType.RAW)
        .get()) as Response;
    } catch (err) {
      throw sharepointError(err, what, this.tokens);
    }
    if (!res.ok || !res.body) {
      let code = '';
      let message = res.statusText;
      try {
        const body = (await res.json()) as { error?: { code?: string; message?: string } };
        code = body.error?.code ? `${body.error.code}: ` : '';
        message = body.error?.message ?? message;
      } catch {
        // no JSON error body
      }
      throw byStatus(res.status, `${what}: ${code}${message}`, null, res.headers.get('retry-after'));
    }
    const src = Readable.fromWeb(res.body);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    src.once('error', (err) => out.destroy(sharepointError(err, what)));
    out.once('close', () => {
      if (!src.destroyed) src.destroy();
    });
    src.pipe(out);
    return out;
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const details: Record<string, unknown> = { graph_endpoint: this.graph };
    try {
      if (sourcePath && sourcePath.replace(/^\/+/, '')) {
        const loc = await this.locate(sourcePath);
        Object.assign(details, { drive_id: loc.driveId, folder: `/${loc.folder.join('/')}` });
        const folder = await this.sourceFolder(loc);
        await this.get<Collection<DriveItem>>(
          this.childrenUrl(loc.driveId, folder.id, null, 1),
          `sharepoint: list ${sourcePath}`,
        );
        return { success: true, message: `can list ${sourcePath}`, details };
      }
      await this.tokens.getAccessToken();
      if (this.config.drive_id) {
        await this.get<Drive>(
          `/drives/${encodeURIComponent(this.config.drive_id)}?$select=id`,
          `sharepoint: drive ${this.config.drive_id}`,
        );
        return { success: true, message: `drive ${this.config.drive_id} is readable`, details };
      }
      if (this.config.site_id) {
        await this.get<{ id: string }>(
          `/sites/${encodeURIComponent(this.config.site_id)}?$select=id`,
          `sharepoint: site ${this.config.site_id}`,
        );
        return { success: true, message: `site ${this.config.site_id} is readable`, details };
      }
      return {
        success: true,
        message: 'credentials accepted (each sync checks its own site and folder)',
        details,
      };
    } catch (err) {
      return failedTest(sharepointError(err, 'sharepoint test', this.tokens), details);
    }
  }
}
