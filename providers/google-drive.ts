// `google_drive`: Google Drive through the `googleapis` client (Drive API v3).
//
// source_path is a folder id (or a `https://drive.google.com/drive/folders/<id>` link), a path of
// folder names from the root (`My Folder/sub`; `/` or empty: the root of My Drive or of the shared
// drive), resolved with files.list name queries. list() walks the folder tree depth first with
// files.list (`'<folder>' in parents and trashed = false`, ordered by name, 1,000 per request). The
// cursor is the walk's stack, one level per folder being listed — `[folder id, name, Drive
// pageToken, items of that Drive page already consumed]` — so its size follows the tree's depth,
// not its width, and any instance resumes it. modifiedSince is pushed down (`modifiedTime >= …`;
// folders are always descended). Entries: sourceObjectId = the Drive file id (stable across renames
// and moves), version = Drive's `version` (bumped by every change, content or metadata), checksum
// `md5:` for binary files, metadata = properties and appProperties (flat, and nested as
// `properties` / `appProperties` for the `drive_property` mapping source) plus `description`.
//
// Docs Editors files have no bytes of their own: Docs, Sheets and Slides are exported as
// .docx / .xlsx / .pptx (`google_docs_export: "pdf"` exports PDF instead), Drawings as PDF; the
// extension is appended to the name, size is 0 (unknown before the export) and Drive caps exports
// at 10 MB (larger ones fail as `invalid`). Other Google types (forms, sites, maps, shortcuts) are
// not files and are skipped. A `/` inside a Drive name becomes `／` in paths.
import type { Readable } from 'node:stream';
import type * as GoogleApis from 'googleapis';
import type { drive_v3 } from 'googleapis';
import { z } from 'zod';
import { lazyModule } from '../lib/lazy-module';
import { ProviderError } from './types';
import type { ListOptions, ListPage, SourceEntry, StorageProvider, TestResult } from './types';
import {
  checkPrivateKey,
  classifiedStream,
  codeClass,
  failedTest,
  googleServiceAccountSchema,
  httpUrlSchema,
  parseCredentials,
} from './shared';

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive.readonly';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (lib/lazy-module.ts)
const googleapis = lazyModule(() => require('googleapis') as typeof GoogleApis);

const FOLDER = 'application/vnd.google-apps.folder';
const GOOGLE_APPS = 'application/vnd.google-apps.';
/** Items per files.list request. Constant: a cursor's skip count refers to a page of this size. */
const DRIVE_PAGE_SIZE = 1000;
/** files.list requests one list() call may make (a tree of many empty folders yields empty pages). */
const MAX_LIST_REQUESTS = 25;
const LIST_TIMEOUT_MS = 120_000;
const FILE_FIELDS =
  'id,name,mimeType,size,modifiedTime,md5Checksum,version,properties,appProperties,description,parents';

const OOXML = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};
const PDF = { mime: 'application/pdf', ext: '.pdf' };
/** Export target of each Docs Editors type, per `google_docs_export`. */
const EXPORTS: Record<string, { office: { mime: string; ext: string }; pdf: { mime: string; ext: string } }> =
  {
    'application/vnd.google-apps.document': { office: { mime: OOXML.docx, ext: '.docx' }, pdf: PDF },
    'application/vnd.google-apps.spreadsheet': { office: { mime: OOXML.xlsx, ext: '.xlsx' }, pdf: PDF },
    'application/vnd.google-apps.presentation': { office: { mime: OOXML.pptx, ext: '.pptx' }, pdf: PDF },
    'application/vnd.google-apps.drawing': { office: PDF, pdf: PDF },
  };
const EXPORT_MIMES = new Set(Object.values(EXPORTS).flatMap((e) => [e.office.mime, e.pdf.mime]));

export const googleDriveConfigSchema = z.strictObject({
  /** List a shared drive (corpora=drive); its root is the default source_path root. */
  shared_drive_id: z.string().min(1).nullish(),
  /** Domain-wide delegation: the user a service account acts as. */
  impersonate_user: z.string().min(3).nullish(),
  /**
   * The API root instead of https://www.googleapis.com/ (a proxy, a private endpoint, a test server).
   * Only its origin counts: the client puts `/drive/v3/…` right after it.
   */
  endpoint_url: httpUrlSchema('endpoint_url')
    .refine((u) => new URL(u).pathname === '/', 'endpoint_url must be an origin (no path)')
    .nullish(),
  /** The OAuth 2.0 token endpoint; default: the key's token_uri, else https://oauth2.googleapis.com/token. */
  token_url: httpUrlSchema('token_url').nullish(),
  /** What Docs, Sheets and Slides are exported as: Office files (default) or PDF. */
  google_docs_export: z.enum(['office', 'pdf']).default('office'),
});
export type GoogleDriveConfig = z.infer<typeof googleDriveConfigSchema>;

const serviceAccountSchema = googleServiceAccountSchema;
const oauthSchema = z.looseObject({
  type: z.literal('oauth'),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  refresh_token: z.string().min(1),
});
const credentialsSchema = z.discriminatedUnion('type', [serviceAccountSchema, oauthSchema]);
export type GoogleDriveCredentials = z.infer<typeof credentialsSchema>;

function driveCredentials(credentials: Record<string, unknown> | null): GoogleDriveCredentials {
  const c = parseCredentials(credentialsSchema, credentials, 'google_drive', 'service_account or oauth');
  if (c.type === 'service_account') checkPrivateKey(c.private_key, 'google_drive');
  return c;
}

// --- errors ------------------------------------------------------------------------------------------

/** 403 reasons that are rate limits (Drive answers them with 403 as well as 429). */
const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'dailyLimitExceeded']);
/** 403 reasons about one file that no retry or credential fixes. */
const FILE_REASONS = new Set([
  'exportSizeLimitExceeded',
  'fileNotDownloadable',
  'fileNotExportable',
  'cannotDownloadAbusiveFile',
  'cannotExportFile',
]);

interface GaxiosLike {
  code?: unknown;
  status?: unknown;
  message?: string;
  response?: { status?: number; data?: unknown };
}

/** The Drive (`{error: {code, message, errors: [{reason}]}}`) or OAuth (`{error, error_description}`) error. */
function errorBody(data: unknown): { reason?: string; message?: string; oauth?: string } {
  let d = data;
  if (typeof d === 'string')
    try {
      d = JSON.parse(d);
    } catch {
      return {};
    }
  if (!d || typeof d !== 'object') return {};
  const e = (d as { error?: unknown; error_description?: unknown }).error;
  if (typeof e === 'string') {
    const desc = (d as { error_description?: unknown }).error_description;
    return { oauth: e, message: typeof desc === 'string' ? `${e}: ${desc}` : e };
  }
  if (e && typeof e === 'object') {
    const o = e as { message?: unknown; errors?: { reason?: unknown }[] };
    const reason = o.errors?.find((x) => typeof x.reason === 'string')?.reason as string | undefined;
    return { reason, message: typeof o.message === 'string' ? o.message : undefined };
  }
  return {};
}

/**
 * Classifies an error of the Drive client, of google-auth-library or of the socket. The client's
 * error is not kept as the cause: its request config can hold the refresh token.
 */
export function driveError(err: unknown, what: string): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as GaxiosLike;
  const status = [e.response?.status, e.status, e.code].find((s): s is number => typeof s === 'number');
  const code = typeof e.code === 'string' ? e.code : undefined;
  let body = errorBody(e.response?.data);
  // A failed download carries the raw error body as its message instead.
  if (!body.reason && !body.oauth && e.message?.startsWith('{')) body = errorBody(e.message);
  const detail = [body.reason ?? body.oauth, status ? `HTTP ${status}` : code].filter(Boolean).join(', ');
  const reason = body.message ?? e.message ?? String(err);
  const make = (kind: ProviderError['kind'], retryable: boolean) =>
    new ProviderError(`${what}: ${reason}${detail ? ` (${detail})` : ''}`, kind, retryable);

  // The token endpoint: a revoked / unknown key or client, a refused delegation.
  if (body.oauth) {
    if (status === 429) return make('throttled', true);
    if (status !== undefined && status >= 500) return make('unavailable', true);
    if (['invalid_grant', 'invalid_client', 'unauthorized_client', 'access_denied'].includes(body.oauth))
      return make('auth', false);
    return make('invalid', false);
  }
  if (status === 429) return make('throttled', true);
  if (status === 403 && body.reason && RATE_LIMIT_REASONS.has(body.reason)) return make('throttled', true);
  if (status === 403 && body.reason && FILE_REASONS.has(body.reason)) return make('invalid', false);
  if (status === 401 || status === 403) return make('auth', false);
  if (status === 404) return make('not_found', false);
  if (status === 408 || (status !== undefined && status >= 500)) return make('unavailable', true);
  if (status !== undefined && status >= 400) return make('invalid', false);
  if (codeClass(code) === 'key') return make('auth', false);
  // No HTTP answer at all (a socket closed mid-body and the like): worth another attempt.
  return make('unavailable', true);
}

// --- the cursor --------------------------------------------------------------------------------------

/** One folder being listed: its id, its (path-safe) name, the Drive page token, items of it consumed. */
type Level = [id: string, name: string, token: string | null, skip: number];
/** A walk (and the changes start page token taken when it began), or a position in the changes feed. */
type Cursor = { stack: Level[]; start: string | null } | { changes: ChangesPosition };
/** The source folder's id, the changes page token, and changes of that page already consumed. */
interface ChangesPosition {
  f: string;
  p: string;
  k: number;
}

function encodeCursor(stack: Level[], start: string | null): string {
  return JSON.stringify(start ? { v: 1, s: stack, t: start } : { v: 1, s: stack });
}

const encodeChanges = (c: ChangesPosition) => JSON.stringify({ v: 1, c });

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(cursor) as { v?: unknown; s?: unknown; t?: unknown; c?: Partial<ChangesPosition> };
    if (
      c.v === 1 &&
      c.c &&
      typeof c.c.f === 'string' &&
      typeof c.c.p === 'string' &&
      Number.isInteger(c.c.k) &&
      (c.c.k as number) >= 0
    )
      return { changes: c.c as ChangesPosition };
    if (
      c.v === 1 &&
      (c.t === undefined || typeof c.t === 'string') &&
      Array.isArray(c.s) &&
      c.s.length > 0 &&
      c.s.every(
        (l) =>
          Array.isArray(l) &&
          l.length === 4 &&
          typeof l[0] === 'string' &&
          typeof l[1] === 'string' &&
          (l[2] === null || typeof l[2] === 'string') &&
          Number.isInteger(l[3]) &&
          (l[3] as number) >= 0,
      )
    )
      return { stack: c.s as Level[], start: c.t ?? null };
  } catch {
    // fall through
  }
  throw new ProviderError('google_drive: the cursor is not one this provider made', 'invalid', false);
}

// --- helpers -------------------------------------------------------------------------------------------

/** A Drive query string literal. */
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
/** Drive names may hold `/`; paths use it as the separator (rclone does the same). */
const pathSafe = (name: string) => name.replace(/\//g, '／');
const FOLDER_LINK =
  /^https?:\/\/drive\.google\.com\/(?:drive\/(?:u\/\d+\/)?folders\/|open\?id=)([A-Za-z0-9_-]+)/;
const LOOKS_LIKE_ID = /^[A-Za-z0-9_-]{15,}$/;

interface FolderInfo {
  id: string;
  name: string;
  parents: string[];
  trashed: boolean;
}

interface DriveListResponse {
  files: drive_v3.Schema$File[];
  nextPageToken: string | null;
}

// --- the provider ------------------------------------------------------------------------------------

export class GoogleDriveProvider implements StorageProvider {
  readonly capabilities = {
    serverSideModifiedFilter: true,
    deltaCursor: true,
    checksums: true,
    changeFeed: 'drive_channels' as const,
  };
  private readonly drive: drive_v3.Drive;
  private readonly credentials: GoogleDriveCredentials;
  private readonly sharedDrive: string | null;

  constructor(
    private readonly config: GoogleDriveConfig,
    credentials: Record<string, unknown> | null,
  ) {
    this.credentials = driveCredentials(credentials);
    this.sharedDrive = config.shared_drive_id ?? null;
    const c = this.credentials;
    const tokenUrl =
      config.token_url ?? (c.type === 'service_account' ? c.token_uri : undefined) ?? GOOGLE_TOKEN_URL;
    const { google } = googleapis();
    let auth: InstanceType<typeof google.auth.JWT> | InstanceType<typeof google.auth.OAuth2>;
    if (c.type === 'service_account') {
      auth = new google.auth.JWT({
        email: c.client_email,
        key: c.private_key,
        ...(c.private_key_id ? { keyId: c.private_key_id } : {}),
        scopes: [DRIVE_SCOPE],
        ...(config.impersonate_user ? { subject: config.impersonate_user } : {}),
      });
    } else {
      if (config.impersonate_user)
        throw new ProviderError('impersonate_user needs service_account credentials', 'invalid', false);
      auth = new google.auth.OAuth2({
        clientId: c.client_id,
        clientSecret: c.client_secret,
        endpoints: { oauth2TokenUrl: tokenUrl },
      });
      auth.setCredentials({ refresh_token: c.refresh_token });
    }
    const transporter = auth.transporter;
    transporter.interceptors.request.add({
      resolved: async (opts) => {
        // The engine's Temporal activity owns retries: one attempt per request here, token requests too.
        opts.retry = false;
        opts.retryConfig = { ...opts.retryConfig, retry: 0, noResponseRetries: 0 };
        // google-auth-library signs service-account JWTs for Google's token endpoint and posts them
        // there; another endpoint (a key's token_uri, token_url) gets the same request.
        if (tokenUrl !== GOOGLE_TOKEN_URL && String(opts.url) === GOOGLE_TOKEN_URL)
          opts.url = new URL(tokenUrl);
        return opts;
      },
    });
    this.drive = google.drive({
      version: 'v3',
      auth,
      retry: false,
      ...(config.endpoint_url ? { rootUrl: config.endpoint_url.replace(/\/*$/, '/') } : {}),
    });
  }

  private get corpus() {
    return this.sharedDrive
      ? {
          corpora: 'drive',
          driveId: this.sharedDrive,
          includeItemsFromAllDrives: true,
          supportsAllDrives: true,
        }
      : { includeItemsFromAllDrives: true, supportsAllDrives: true };
  }

  private async listFolder(
    folderId: string,
    pageToken: string | null,
    since: string | null,
    what: string,
  ): Promise<DriveListResponse> {
    let q = `${quote(folderId)} in parents and trashed = false`;
    // Folders are always listed (their modifiedTime says nothing about what is inside them).
    if (since) q += ` and (mimeType = ${quote(FOLDER)} or modifiedTime >= ${quote(since)})`;
    try {
      const res = await this.drive.files.list(
        {
          ...this.corpus,
          q,
          orderBy: 'name,createdTime',
          pageSize: DRIVE_PAGE_SIZE,
          ...(pageToken ? { pageToken } : {}),
          fields: `nextPageToken,incompleteSearch,files(${FILE_FIELDS})`,
        },
        { timeout: LIST_TIMEOUT_MS },
      );
      return { files: res.data.files ?? [], nextPageToken: res.data.nextPageToken ?? null };
    } catch (err) {
      throw driveError(err, what);
    }
  }

  /** The folder `sourcePath` names: an id, a folder link, or a path of names from the root. */
  async resolveFolder(sourcePath: string): Promise<{ id: string; name: string }> {
    const root = this.sharedDrive ?? 'root';
    const trimmed = sourcePath.trim();
    const link = FOLDER_LINK.exec(trimmed);
    const path = trimmed.replace(/^\/+|\/+$/g, '');
    if (!path || path === 'root') return { id: root, name: '' };
    const candidate = link ? link[1] : !path.includes('/') && LOOKS_LIKE_ID.test(path) ? path : null;
    if (candidate) {
      let res;
      try {
        res = await this.drive.files.get(
          { fileId: candidate, supportsAllDrives: true, fields: 'id,name,mimeType,trashed' },
          { timeout: LIST_TIMEOUT_MS },
        );
      } catch (err) {
        const e = driveError(err, `google_drive folder ${candidate}`);
        // An id-like name that is no id: resolve it as a folder name below (a link has to be an id).
        if (e.kind !== 'not_found' || link) throw e;
      }
      if (res) {
        if (res.data.mimeType !== FOLDER)
          throw new ProviderError(`google_drive: ${candidate} is not a folder`, 'invalid', false);
        if (res.data.trashed)
          throw new ProviderError(`google_drive: folder ${candidate} is in the trash`, 'not_found', false);
        return { id: res.data.id ?? candidate, name: res.data.name ?? '' };
      }
    }
    let id = root;
    const walked: string[] = [];
    for (const name of path.split('/').filter(Boolean)) {
      const where = `google_drive folder ${[...walked, name].join('/')}`;
      let res;
      try {
        res = await this.drive.files.list(
          {
            ...this.corpus,
            q: `${quote(id)} in parents and name = ${quote(name)} and mimeType = ${quote(FOLDER)} and trashed = false`,
            pageSize: 10,
            fields: 'files(id,name)',
          },
          { timeout: LIST_TIMEOUT_MS },
        );
      } catch (err) {
        throw driveError(err, where);
      }
      const found = res.data.files ?? [];
      if (found.length === 0)
        throw new ProviderError(
          `${where}: not found${walked.length ? ` in ${walked.join('/')}` : ' at the root'}`,
          'not_found',
          false,
        );
      if (found.length > 1)
        throw new ProviderError(
          `${where}: ${found.length} folders have this name; use the folder id as source_path`,
          'invalid',
          false,
        );
      id = found[0].id!;
      walked.push(name);
    }
    return { id, name: walked.at(-1) ?? '' };
  }

  private exportOf(mimeType: string): { mime: string; ext: string } | undefined {
    return EXPORTS[mimeType]?.[this.config.google_docs_export];
  }

  private toEntry(f: drive_v3.Schema$File, folder: string): SourceEntry | null {
    if (!f.id || !f.name || !f.mimeType) return null;
    const exported = this.exportOf(f.mimeType);
    // Forms, sites, shortcuts and other Google types have no bytes to sync.
    if (!exported && f.mimeType.startsWith(GOOGLE_APPS)) return null;
    let name = pathSafe(f.name);
    if (exported && !name.toLowerCase().endsWith(exported.ext)) name += exported.ext;
    const properties = { ...(f.properties ?? {}) };
    const appProperties = { ...(f.appProperties ?? {}) };
    return {
      sourceObjectId: f.id,
      path: folder ? `${folder}/${name}` : name,
      name,
      size: exported ? 0 : Number(f.size ?? 0),
      modifiedAt: new Date(f.modifiedTime ?? 0).toISOString(),
      version: String(f.version ?? f.modifiedTime ?? ''),
      contentType: exported ? exported.mime : f.mimeType,
      ...(f.md5Checksum ? { checksum: `md5:${f.md5Checksum.toLowerCase()}` } : {}),
      metadata: {
        ...(f.description ? { description: f.description } : {}),
        ...appProperties,
        ...properties,
        properties,
        appProperties,
      },
    };
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const pageSize = Math.max(1, Math.min(options.pageSize, 1000));
    let since: string | null = null;
    if (options.modifiedSince) {
      const t = Date.parse(options.modifiedSince);
      if (Number.isNaN(t))
        throw new ProviderError(`modifiedSince ${options.modifiedSince} is not a date`, 'invalid', false);
      since = new Date(t).toISOString();
    }
    const where = `google_drive list ${sourcePath || '/'}`;
    const cursor = options.cursor ? decodeCursor(options.cursor) : null;
    if (cursor && 'changes' in cursor) return this.listChanges(cursor.changes, pageSize, where);
    if (!cursor && options.deltaToken) {
      let { id } = await this.resolveFolder(sourcePath);
      // Parents name real ids, never the `root` alias.
      if (id === 'root') id = (await this.fileInfo('root', where))?.id ?? id;
      return this.listChanges({ f: id, p: options.deltaToken, k: 0 }, pageSize, where);
    }
    // A new listing first notes where the changes feed stands, so what changes while it walks is
    // listed by the next delta listing; the walk's last page hands this token out.
    let start: string | null = cursor ? cursor.start : null;
    let stack: Level[];
    if (cursor) stack = cursor.stack;
    else {
      stack = [[(await this.resolveFolder(sourcePath)).id, '', null, 0]];
      start = await this.startPageToken(where);
    }
    const entries: SourceEntry[] = [];
    // Drive pages fetched by this call: coming back up from a subfolder re-reads none of them.
    const pages = new Map<string, DriveListResponse>();
    const key = (l: Level) => `${l[0]}\n${l[2] ?? ''}`;
    let requests = 0;

    while (stack.length > 0 && entries.length < pageSize) {
      const top = stack.at(-1)!;
      let page = pages.get(key(top));
      if (!page) {
        if (requests >= MAX_LIST_REQUESTS) break;
        requests++;
        page = await this.listFolder(top[0], top[2], since, where);
        pages.set(key(top), page);
      }
      let descended = false;
      while (top[3] < page.files.length && entries.length < pageSize) {
        const f = page.files[top[3]++];
        if (f.mimeType === FOLDER) {
          if (f.id && f.name) {
            stack.push([f.id, pathSafe(f.name), null, 0]);
            descended = true;
            break;
          }
          continue;
        }
        const folder = stack
          .slice(1)
          .map((l) => l[1])
          .join('/');
        const e = this.toEntry(f, folder);
        if (e) entries.push(e);
      }
      if (descended) continue;
      if (top[3] >= page.files.length) {
        // (A token that repeats itself would never end the folder: taken as its end.)
        if (page.nextPageToken && page.nextPageToken !== top[2]) {
          top[2] = page.nextPageToken;
          top[3] = 0;
        } else stack.pop();
      }
    }
    // Drop folders already read to their end, where this call has their last page at hand.
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const page = pages.get(key(top));
      if (!page || top[3] < page.files.length) break;
      if (page.nextPageToken && page.nextPageToken !== top[2]) {
        top[2] = page.nextPageToken;
        top[3] = 0;
        break;
      }
      stack.pop();
    }
    if (stack.length > 0) return { entries, nextCursor: encodeCursor(stack, start) };
    return { entries, nextCursor: null, ...(start ? { deltaToken: start } : {}) };
  }

  /** changes.getStartPageToken: where the changes feed of this drive (or My Drive) stands now. */
  private async startPageToken(what: string): Promise<string> {
    try {
      const res = await this.drive.changes.getStartPageToken(
        { supportsAllDrives: true, ...(this.sharedDrive ? { driveId: this.sharedDrive } : {}) },
        { timeout: LIST_TIMEOUT_MS },
      );
      if (!res.data.startPageToken)
        throw new ProviderError(`${what}: no startPageToken`, 'unavailable', true);
      return res.data.startPageToken;
    } catch (err) {
      throw driveError(err, `${what} (changes start page token)`);
    }
  }

  /** A folder's name, parents and trashed flag (null: not found). */
  private async fileInfo(id: string, what: string): Promise<FolderInfo | null> {
    try {
      const res = await this.drive.files.get(
        { fileId: id, supportsAllDrives: true, fields: 'id,name,parents,trashed' },
        { timeout: LIST_TIMEOUT_MS },
      );
      return {
        id: res.data.id ?? id,
        name: res.data.name ?? '',
        parents: res.data.parents ?? [],
        trashed: res.data.trashed === true,
      };
    } catch (err) {
      const e = driveError(err, what);
      if (e.kind === 'not_found') return null;
      throw e;
    }
  }

  /**
   * A delta listing: changes.list from the position's page token. A changed file is inside source_path
   * when walking its parents up reaches the source folder (folders are looked up once per call, and
   * folders changed in the same page are known from it); it is then an entry with its path. Removed
   * changes, trashed files and files whose parents lead elsewhere are `removed`. The last page's
   * newStartPageToken is the next delta token. A call makes at most MAX_LIST_REQUESTS requests (unless
   * it has not yet moved on: one file's ancestry is always resolved) and returns a cursor into the page.
   */
  private async listChanges(pos: ChangesPosition, pageSize: number, what: string): Promise<ListPage> {
    const folders = new Map<string, FolderInfo | null>();
    const entries: SourceEntry[] = [];
    const removed: string[] = [];
    let requests = 0;
    let progressed = false;
    const outOfRequests = new Error('out of requests for this call');
    /** Folder names from the source folder down to `parent`, or null when `parent` is not under it. */
    const pathTo = async (parent: string | undefined): Promise<string[] | null> => {
      const names: string[] = [];
      let id = parent;
      for (let depth = 0; id && depth < 200; depth++) {
        if (id === pos.f) return names.reverse();
        let f = folders.get(id);
        if (f === undefined) {
          if (requests >= MAX_LIST_REQUESTS && progressed) throw outOfRequests;
          requests++;
          f = await this.fileInfo(id, what);
          folders.set(id, f);
        }
        if (!f || f.trashed) return null;
        names.push(pathSafe(f.name));
        id = f.parents[0];
      }
      return null;
    };
    let token = pos.p;
    let skip = pos.k;
    while (requests < MAX_LIST_REQUESTS || !progressed) {
      requests++;
      let res;
      try {
        res = await this.drive.changes.list(
          {
            pageToken: token,
            pageSize: DRIVE_PAGE_SIZE,
            includeRemoved: true,
            supportsAllDrives: true,
            includeItemsFromAllDrives: true,
            ...(this.sharedDrive ? { driveId: this.sharedDrive } : {}),
            fields: `nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file(${FILE_FIELDS},trashed))`,
          },
          { timeout: LIST_TIMEOUT_MS },
        );
      } catch (err) {
        throw driveError(err, `${what} (changes)`);
      }
      const changes = res.data.changes ?? [];
      // Folders as they are now, from the page itself.
      for (const c of changes)
        if (c.fileId && c.file?.mimeType === FOLDER)
          folders.set(c.fileId, {
            id: c.fileId,
            name: c.file.name ?? '',
            parents: c.file.parents ?? [],
            trashed: c.file.trashed === true,
          });
        else if (c.fileId && c.removed && folders.get(c.fileId)) folders.set(c.fileId, null);
      let i = skip;
      try {
        for (; i < changes.length && entries.length + removed.length < pageSize; i++) {
          const c = changes[i];
          const id = c.fileId ?? c.file?.id;
          if (!id || (c.changeType && c.changeType !== 'file')) continue;
          const f = c.file;
          if (c.removed || !f || f.trashed) removed.push(id);
          else if (f.mimeType !== FOLDER) {
            const folder = await pathTo(f.parents?.[0]);
            if (folder === null) removed.push(id);
            else {
              const e = this.toEntry(f, folder.join('/'));
              if (e) entries.push(e);
            }
          }
          progressed = true;
        }
      } catch (err) {
        if (err !== outOfRequests) throw err;
      }
      if (i < changes.length)
        return { entries, removed, nextCursor: encodeChanges({ f: pos.f, p: token, k: i }) };
      const next = res.data.nextPageToken;
      if (!next || next === token)
        return { entries, removed, nextCursor: null, deltaToken: res.data.newStartPageToken ?? token };
      token = next;
      skip = 0;
      progressed = true;
      if (entries.length + removed.length >= pageSize) break;
    }
    return { entries, removed, nextCursor: encodeChanges({ f: pos.f, p: token, k: skip }) };
  }

  /**
   * A push channel on this drive's changes (changes.watch, from where the feed stands now): Drive
   * posts to `address` with `token` in X-Goog-Channel-Token until `expiresAt` (Drive may shorten it:
   * the answer's expiration is returned). Event-driven syncs (worker/push-channels.ts).
   */
  async watchChanges(ch: {
    id: string;
    token: string;
    address: string;
    expiresAt: Date;
  }): Promise<{ resourceId: string; expiresAt: Date }> {
    const what = 'google_drive changes.watch';
    const pageToken = await this.startPageToken(what);
    try {
      const res = await this.drive.changes.watch(
        {
          pageToken,
          includeRemoved: true,
          supportsAllDrives: true,
          includeItemsFromAllDrives: true,
          ...(this.sharedDrive ? { driveId: this.sharedDrive } : {}),
          requestBody: {
            id: ch.id,
            type: 'web_hook',
            address: ch.address,
            token: ch.token,
            expiration: String(ch.expiresAt.getTime()),
          },
        },
        { timeout: LIST_TIMEOUT_MS },
      );
      const expiration = Number(res.data.expiration);
      if (!res.data.resourceId) throw new ProviderError(`${what}: no resourceId`, 'unavailable', true);
      return {
        resourceId: res.data.resourceId,
        expiresAt: Number.isFinite(expiration) && expiration > 0 ? new Date(expiration) : ch.expiresAt,
      };
    } catch (err) {
      throw driveError(err, what);
    }
  }

  /** channels.stop: Drive stops posting for the channel (an unknown or expired one: not_found). */
  async stopChannel(id: string, resourceId: string): Promise<void> {
    try {
      await this.drive.channels.stop({ requestBody: { id, resourceId } }, { timeout: LIST_TIMEOUT_MS });
    } catch (err) {
      throw driveError(err, `google_drive channels.stop ${id}`);
    }
  }

  async open(entry: SourceEntry): Promise<Readable> {
    const fileId = entry.sourceObjectId;
    const what = `google_drive file ${entry.path} (${fileId})`;
    try {
      // Only an entry that may be an exported Docs file needs the type looked up (the DLQ replays
      // entries as they were listed); anything else downloads at once.
      let exportTo: string | undefined;
      if (entry.contentType && EXPORT_MIMES.has(entry.contentType)) {
        const meta = await this.drive.files.get(
          { fileId, supportsAllDrives: true, fields: 'id,mimeType' },
          { timeout: LIST_TIMEOUT_MS },
        );
        exportTo = this.exportOf(meta.data.mimeType ?? '')?.mime;
      }
      const res = exportTo
        ? await this.drive.files.export({ fileId, mimeType: exportTo }, { responseType: 'stream' })
        : await this.drive.files.get(
            { fileId, alt: 'media', supportsAllDrives: true },
            { responseType: 'stream' },
          );
      return classifiedStream(res.data, (err) => driveError(err, what));
    } catch (err) {
      throw driveError(err, what);
    }
  }

  async test(sourcePath?: string): Promise<TestResult> {
    const details: Record<string, unknown> = {
      credentials: this.credentials.type,
      ...(this.credentials.type === 'service_account' ? { client_email: this.credentials.client_email } : {}),
      ...(this.sharedDrive ? { shared_drive_id: this.sharedDrive } : {}),
      endpoint: this.config.endpoint_url ?? 'https://www.googleapis.com/',
    };
    try {
      if (sourcePath !== undefined && sourcePath !== '') {
        const folder = await this.resolveFolder(sourcePath);
        await this.listFolder(folder.id, null, null, `google_drive list ${sourcePath}`);
        return {
          success: true,
          message: `folder ${sourcePath} (${folder.id}) is readable`,
          details: { ...details, folder_id: folder.id },
        };
      }
      if (this.sharedDrive) {
        const d = await this.drive.drives.get(
          { driveId: this.sharedDrive, fields: 'id,name' },
          { timeout: LIST_TIMEOUT_MS },
        );
        return {
          success: true,
          message: `shared drive ${d.data.name ?? this.sharedDrive} is readable`,
          details: { ...details, shared_drive_name: d.data.name ?? null },
        };
      }
      const about = await this.drive.about.get(
        { fields: 'user(emailAddress,displayName)' },
        { timeout: LIST_TIMEOUT_MS },
      );
      const user = about.data.user?.emailAddress ?? null;
      return {
        success: true,
        message: `credentials accepted${user ? ` (acting as ${user})` : ''}`,
        details: { ...details, user },
      };
    } catch (err) {
      return failedTest(driveError(err, 'google_drive'), details);
    }
  }
}
