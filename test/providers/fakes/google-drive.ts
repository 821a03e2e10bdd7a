// An in-process fake of the Google Drive API v3 and Google's OAuth 2.0 token endpoint, for driving the
// real `googleapis` client (and its google-auth-library) over HTTP. It reproduces the documented
// behaviour the `google_drive` provider relies on:
//
// - POST /token (https://oauth2.googleapis.com/token): the JWT-bearer grant of service accounts
//   (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, an RS256 assertion with iss / scope /
//   aud / iat / exp and an optional `sub` for domain-wide delegation, checked against the account's
//   public key) and the refresh-token grant of OAuth clients. Refusals have OAuth's shapes: 400
//   `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`, 401 `invalid_client`,
//   401 `unauthorized_client` (no delegation).
// - GET /drive/v3/files (files.list): the query language subset `'<id>' in parents`, `trashed`,
//   `name`, `mimeType`, `modifiedTime` / `createdTime` comparisons, `and` / `or` / `not` and
//   parentheses; `orderBy` (folder, name, name_natural, createdTime, modifiedTime, `desc`);
//   `pageSize` 1–1000 (default 100) and opaque `pageToken`s bound to the query; partial responses
//   through `fields` (`nextPageToken,files(id,name,…)`; an unknown field is a 400); `corpora=drive` +
//   `driveId`, which need `includeItemsFromAllDrives=true` and `supportsAllDrives=true`; shared-drive
//   items appear only with `includeItemsFromAllDrives=true`.
// - GET /drive/v3/files/{fileId} (files.get, `alt=media` streams the bytes; Docs Editors files answer
//   403 `fileNotDownloadable`), GET /drive/v3/files/{fileId}/export (files.export; non-Docs files 403
//   `fileNotExportable`, unsupported targets 400, over 10 MB 403 `exportSizeLimitExceeded`),
//   GET /drive/v3/about (`fields` required), GET /drive/v3/drives/{driveId}.
// - Files of a shared drive are not found by files.get without `supportsAllDrives=true` (files.export
//   has no such parameter and finds them).
// - GET /drive/v3/changes/startPageToken (changes.getStartPageToken; `driveId` needs
//   `supportsAllDrives=true`) and GET /drive/v3/changes (changes.list): a change log with monotonically
//   increasing numeric page tokens; every create, update, move, trash and permanent delete is a change.
//   A listing from `pageToken` names each file changed since once, at its latest change, with the file
//   as it is now (`removed: true` and no `file` once it is deleted permanently; a trashed file is a
//   change with `file.trashed: true`); `pageSize` 1–1000 (default 100); `nextPageToken` while more
//   changes follow, else `newStartPageToken` (the token for changes after this listing);
//   `includeRemoved` (default true); `driveId` (a shared drive's changes only, needs
//   `supportsAllDrives=true`), else My Drive's changes plus shared drives' with
//   `includeItemsFromAllDrives=true` and `supportsAllDrives=true`; `fields` with `changes(…, file(…))`.
// - POST /drive/v3/changes/watch (changes.watch: `pageToken` required, the changes.list scope
//   parameters, body `{id, type: "web_hook", address, token?, expiration?}`; the expiration defaults to
//   an hour and is capped at a week, as Drive does for changes; a channel id in use is a 400) answers the
//   channel `{kind: "api#channel", id, resourceId, resourceUri, token, expiration}` and posts a `sync`
//   message to the address; then every change in the channel's scope posts a `change` message with the
//   X-Goog-Channel-ID / -Token / -Expiration, X-Goog-Resource-ID / -URI / -State and
//   X-Goog-Message-Number headers (numbers increase, not one by one; changes within a few milliseconds
//   make one message), until the channel expires or POST /drive/v3/channels/stop (`{id, resourceId}`,
//   204; unknown: 404) stops it. Deliveries and their answers are recorded (`deliveries`).
// - Errors have the Drive v3 shape `{"error":{"code","message","errors":[{"domain","reason",
//   "message",…}]}}`: 401 `authError` (missing or unknown bearer token), 404 `notFound`,
//   400 `invalid` / `badRequest`, 403 `insufficientPermissions`, and injected faults such as 429
//   `rateLimitExceeded`, 403 `userRateLimitExceeded` or 503 `backendError`.
// - Resources carry `size` and `version` as strings (int64), `md5Checksum` and `headRevisionId` for
//   binary files only, RFC 3339 times with milliseconds; every change bumps `version`.
//
// Simplifications: every token sees every file (no sharing / permissions model); exported bytes are
// whatever the test set for that target type (or a fixed placeholder); no uploads over HTTP (tests
// put files through the in-memory hooks below, which create or update like files.create /
// files.update would); no `spaces`, `restrictToMyDrive` or drive-level (`changeType: drive`) changes;
// trashing a folder does not trash its children in the change log.
import { createHash, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';
const DRIVE_SCOPES = [
  'https://www.googleapis.com/auth/drive',
  'https://www.googleapis.com/auth/drive.readonly',
];
const EXPORT_LIMIT = 10 * 1024 * 1024;

/** Export targets Drive documents per Docs Editors type (a subset of about.exportFormats). */
export const EXPORT_FORMATS: Record<string, string[]> = {
  'application/vnd.google-apps.document': [
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/pdf',
    'text/plain',
    'application/rtf',
    'application/vnd.oasis.opendocument.text',
    'text/html',
  ],
  'application/vnd.google-apps.spreadsheet': [
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/pdf',
    'text/csv',
    'application/vnd.oasis.opendocument.spreadsheet',
  ],
  'application/vnd.google-apps.presentation': [
    'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    'application/pdf',
    'text/plain',
  ],
  'application/vnd.google-apps.drawing': ['application/pdf', 'image/png', 'image/jpeg', 'image/svg+xml'],
};

export interface FakeFault {
  status: number;
  reason: string;
  message: string;
  domain?: string;
}

interface FileRec {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  driveId: string | null;
  trashed: boolean;
  createdTime: string;
  modifiedTime: string;
  version: number;
  size: number | null;
  md5: string | null;
  headRevisionId: string | null;
  /** Bytes of a binary file: in memory, or spooled to disk. */
  data: Buffer | null;
  dataPath: string | null;
  properties: Record<string, string>;
  appProperties: Record<string, string>;
  description: string | null;
  exports: Record<string, Buffer>;
}

interface ServiceAccount {
  email: string;
  publicKey: KeyObject;
  delegation: boolean;
  fault: FakeFault | null;
}

interface OAuthClient {
  clientId: string;
  clientSecret: string;
  refreshTokens: Set<string>;
  email: string;
}

interface Token {
  email: string;
  scopes: string[];
  expiresAt: number;
  fault: FakeFault | null;
}

export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

/** A push channel of changes.watch. */
export interface FakeChannel {
  id: string;
  resourceId: string;
  address: string;
  token: string | null;
  /** ms since the epoch. */
  expiration: number;
  /** A shared drive's changes, else My Drive's (plus shared drives' with includeItemsFromAllDrives). */
  driveId: string | null;
  allDrives: boolean;
  createdAt: number;
  stoppedAt: number | null;
  messageNumber: number;
}

export interface PutFileOptions {
  mimeType?: string;
  properties?: Record<string, string>;
  appProperties?: Record<string, string>;
  description?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const nowIso = () => new Date().toISOString();
const b64url = (b: Buffer) => b.toString('base64url');
/** Drive-like ids: 33 characters of [A-Za-z0-9_-]; shared drives and roots start with `0A`. */
const fileId = () => `1${b64url(randomBytes(24))}`;
const rootId = () => `0A${b64url(randomBytes(15)).slice(0, 17)}Uk9PVA`;

const FILE_FIELDS = new Set([
  'kind',
  'id',
  'name',
  'mimeType',
  'parents',
  'driveId',
  'trashed',
  'createdTime',
  'modifiedTime',
  'version',
  'size',
  'md5Checksum',
  'headRevisionId',
  'properties',
  'appProperties',
  'description',
  'exportLinks',
  'shortcutDetails',
]);

type FieldSpec = true | Map<string, FieldSpec>;

/** `a,b(c,d),e` -> a tree; `*` selects everything at its level. */
function parseFields(spec: string): Map<string, FieldSpec> {
  const out = new Map<string, FieldSpec>();
  let i = 0;
  const parseList = (into: Map<string, FieldSpec>, closing: boolean) => {
    for (;;) {
      let name = '';
      while (i < spec.length && !',()'.includes(spec[i])) name += spec[i++];
      name = name.trim();
      if (!name) throw new HttpError(400, 'invalidParameter', `Invalid field selection ${spec}`);
      if (spec[i] === '(') {
        i++;
        const sub = new Map<string, FieldSpec>();
        parseList(sub, true);
        into.set(name, sub);
      } else into.set(name, true);
      if (spec[i] === ',') {
        i++;
        continue;
      }
      if (spec[i] === ')') {
        if (!closing) throw new HttpError(400, 'invalidParameter', `Invalid field selection ${spec}`);
        i++;
        return;
      }
      if (i >= spec.length) {
        if (closing) throw new HttpError(400, 'invalidParameter', `Invalid field selection ${spec}`);
        return;
      }
    }
  };
  parseList(out, false);
  return out;
}

/** The fields of a file resource that `spec` asks for (one level: nested selections take it whole). */
function select(obj: Record<string, unknown>, spec: Map<string, FieldSpec>, known: Set<string>) {
  if (spec.has('*')) return obj;
  const out: Record<string, unknown> = {};
  for (const k of spec.keys()) {
    if (!known.has(k)) throw new HttpError(400, 'invalidParameter', `Invalid field selection ${k}`);
    if (obj[k] !== undefined) out[k] = obj[k];
  }
  return out;
}

// --- the query language subset ------------------------------------------------------------------

type Tok = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: 'op'; v: string };
type Node =
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'in'; value: string; field: string }
  | { k: 'cmp'; field: string; op: string; value: string | boolean };

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= q.length) throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'q' });
        if (q[i] === '\\') {
          v += q[i + 1] ?? '';
          i += 2;
        } else if (q[i] === "'") {
          i++;
          break;
        } else v += q[i++];
      }
      out.push({ t: 'str', v });
    } else if ('()'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
    } else if ('<>=!'.includes(c)) {
      const two = q.slice(i, i + 2);
      if (['<=', '>=', '!='].includes(two)) {
        out.push({ t: 'op', v: two });
        i += 2;
      } else {
        out.push({ t: 'op', v: c });
        i++;
      }
    } else if (/[A-Za-z_]/.test(c)) {
      let v = '';
      while (i < q.length && /[A-Za-z_]/.test(q[i])) v += q[i++];
      out.push({ t: 'word', v });
    } else throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'q' });
  }
  return out;
}

function parseQuery(q: string): Node {
  const toks = tokenize(q);
  let i = 0;
  const bad = () => new HttpError(400, 'invalid', 'Invalid Value', { location: 'q' });
  const peekWord = (w: string) => toks[i]?.t === 'word' && toks[i].v.toLowerCase() === w;
  const orExpr = (): Node => {
    let a = andExpr();
    while (peekWord('or')) {
      i++;
      a = { k: 'or', a, b: andExpr() };
    }
    return a;
  };
  const andExpr = (): Node => {
    let a = unary();
    while (peekWord('and')) {
      i++;
      a = { k: 'and', a, b: unary() };
    }
    return a;
  };
  const unary = (): Node => {
    if (peekWord('not')) {
      i++;
      return { k: 'not', a: unary() };
    }
    const t = toks[i];
    if (t?.t === 'op' && t.v === '(') {
      i++;
      const e = orExpr();
      if (toks[i]?.t !== 'op' || toks[i].v !== ')') throw bad();
      i++;
      return e;
    }
    if (t?.t === 'str') {
      i++;
      if (!peekWord('in')) throw bad();
      i++;
      const f = toks[i++];
      if (f?.t !== 'word' || f.v !== 'parents') throw bad();
      return { k: 'in', value: t.v, field: 'parents' };
    }
    if (t?.t === 'word') {
      i++;
      const field = t.v;
      const op = toks[i++];
      let opv: string;
      if (op?.t === 'op' && ['=', '!=', '<', '<=', '>', '>='].includes(op.v)) opv = op.v;
      else if (op?.t === 'word' && op.v === 'contains') opv = 'contains';
      else throw bad();
      const v = toks[i++];
      let value: string | boolean;
      if (v?.t === 'str') value = v.v;
      else if (v?.t === 'word' && (v.v === 'true' || v.v === 'false')) value = v.v === 'true';
      else throw bad();
      const allowed: Record<string, string[]> = {
        name: ['=', '!=', 'contains'],
        mimeType: ['=', '!=', 'contains'],
        modifiedTime: ['=', '!=', '<', '<=', '>', '>='],
        createdTime: ['=', '!=', '<', '<=', '>', '>='],
        trashed: ['=', '!='],
      };
      if (!allowed[field]?.includes(opv)) throw bad();
      if (field === 'trashed' ? typeof value !== 'boolean' : typeof value !== 'string') throw bad();
      if ((field === 'modifiedTime' || field === 'createdTime') && Number.isNaN(parseTime(value as string)))
        throw bad();
      return { k: 'cmp', field, op: opv, value };
    }
    throw bad();
  };
  const node = orExpr();
  if (i !== toks.length) throw bad();
  return node;
}

/** RFC 3339; a time without an offset is UTC, as Drive documents. */
function parseTime(s: string): number {
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(s) ? s : `${s}Z`);
}

/** Does `f` satisfy the query? `root` names My Drive's root folder. */
function matches(n: Node, f: FileRec, root: string): boolean {
  switch (n.k) {
    case 'and':
      return matches(n.a, f, root) && matches(n.b, f, root);
    case 'or':
      return matches(n.a, f, root) || matches(n.b, f, root);
    case 'not':
      return !matches(n.a, f, root);
    case 'in':
      return f.parents.includes(n.value === 'root' ? root : n.value);
    case 'cmp': {
      if (n.field === 'trashed') return n.op === '=' ? f.trashed === n.value : f.trashed !== n.value;
      if (n.field === 'name' || n.field === 'mimeType') {
        const have = n.field === 'name' ? f.name : f.mimeType;
        const want = n.value as string;
        // `name contains` is a prefix match on words in Drive; a plain prefix match here.
        if (n.op === 'contains') return n.field === 'name' ? have.startsWith(want) : have.includes(want);
        return n.op === '=' ? have === want : have !== want;
      }
      const have = Date.parse(n.field === 'modifiedTime' ? f.modifiedTime : f.createdTime);
      const want = parseTime(n.value as string);
      switch (n.op) {
        case '=':
          return have === want;
        case '!=':
          return have !== want;
        case '<':
          return have < want;
        case '<=':
          return have <= want;
        case '>':
          return have > want;
        default:
          return have >= want;
      }
    }
  }
}

function comparator(orderBy: string | null): (a: FileRec, b: FileRec) => number {
  const keys = (orderBy ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [key, dir, ...rest] = s.split(/\s+/);
      if (rest.length || (dir !== undefined && dir !== 'desc' && dir !== 'asc'))
        throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'orderBy' });
      if (!['folder', 'name', 'name_natural', 'createdTime', 'modifiedTime'].includes(key))
        throw new HttpError(400, 'invalid', `Sorting is not supported for ${key}`, { location: 'orderBy' });
      return { key, desc: dir === 'desc' };
    });
  return (a, b) => {
    for (const { key, desc } of keys) {
      let c = 0;
      if (key === 'folder') c = Number(b.mimeType === FOLDER_MIME) - Number(a.mimeType === FOLDER_MIME);
      else if (key === 'name' || key === 'name_natural') c = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      else c = Date.parse(a[key as 'createdTime']) - Date.parse(b[key as 'createdTime']);
      if (c !== 0) return desc ? -c : c;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

// --- the server -------------------------------------------------------------------------------------

export class FakeDrive {
  private server: http.Server | null = null;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'fake-drive-'));
  private readonly files = new Map<string, FileRec>();
  private readonly sharedDrives = new Map<string, { id: string; name: string }>();
  private readonly accounts = new Map<string, ServiceAccount>();
  private readonly oauthClients = new Map<string, OAuthClient>();
  private readonly tokens = new Map<string, Token>();
  private spools = 0;
  /** The change log: one row per change; the page token of a change is its seq. */
  private readonly changeLog: { seq: number; fileId: string; driveId: string | null; time: string }[] = [];
  private changeSeq = 0;
  /** The id of My Drive's root folder (`root` is its alias). */
  readonly myDriveRoot: string;
  /** Answered to every Drive API request while set (the token endpoint keeps working). */
  fault: FakeFault | null = null;
  /** Channels made by changes.watch (stopped and expired ones too). */
  readonly channels: FakeChannel[] = [];
  /** Notifications posted to channels' addresses, with the status they were answered (0: no answer). */
  readonly deliveries: { channelId: string; state: string; messageNumber: number; status: number }[] = [];
  private readonly pendingNotify = new Set<FakeChannel>();
  private readonly inFlight = new Set<Promise<void>>();
  /** The Drive API requests received: method, path and query parameters (the last 10,000). */
  readonly requests: { method: string; path: string; params: Record<string, string> }[] = [];
  url = '';

  constructor() {
    this.myDriveRoot = rootId();
    this.files.set(this.myDriveRoot, this.record(this.myDriveRoot, 'My Drive', FOLDER_MIME, [], null));
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.driveError(res, new HttpError(500, 'backendError', String(err)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.channels) c.stoppedAt ??= Date.now();
    await Promise.all([...this.inFlight]);
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  // --- identities --------------------------------------------------------------------------------

  /** A new service account key (RSA 2048) the token endpoint accepts, in the key file's JSON shape. */
  addServiceAccount(
    opts: { email?: string; delegation?: boolean; fault?: FakeFault; register?: boolean } = {},
  ): ServiceAccountKey {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const email =
      opts.email ?? `sa-${b64url(randomBytes(4)).toLowerCase()}@fake-project.iam.gserviceaccount.com`;
    if (opts.register !== false)
      this.accounts.set(email, {
        email,
        publicKey,
        delegation: opts.delegation ?? false,
        fault: opts.fault ?? null,
      });
    return {
      type: 'service_account',
      project_id: 'fake-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(100000000000000000000n + BigInt(randomBytes(6).readUIntBE(0, 6))),
      token_uri: this.tokenUrl,
    };
  }

  /** An OAuth client and one refresh token of a user who granted it Drive access. */
  addOAuthClient(email = 'someone@example.com'): {
    client_id: string;
    client_secret: string;
    refresh_token: string;
  } {
    const clientId = `${randomBytes(6).readUIntBE(0, 6)}-${b64url(randomBytes(12)).toLowerCase()}.apps.googleusercontent.com`;
    const client: OAuthClient = {
      clientId,
      clientSecret: `GOCSPX-${b64url(randomBytes(21))}`,
      refreshTokens: new Set([`1//${b64url(randomBytes(48))}`]),
      email,
    };
    this.oauthClients.set(clientId, client);
    return {
      client_id: clientId,
      client_secret: client.clientSecret,
      refresh_token: [...client.refreshTokens][0],
    };
  }

  /** Revokes every access token issued so far (as if they expired). */
  expireTokens(): void {
    this.tokens.clear();
  }

  // --- content hooks (test set-up; list/open go through HTTP) ------------------------------------

  createSharedDrive(name: string): string {
    const id = rootId();
    this.sharedDrives.set(id, { id, name });
    // A shared drive's id is also the id of its root folder.
    this.files.set(id, this.record(id, name, FOLDER_MIME, [], id));
    return id;
  }

  private record(
    id: string,
    name: string,
    mimeType: string,
    parents: string[],
    driveId: string | null,
  ): FileRec {
    const t = nowIso();
    return {
      id,
      name,
      mimeType,
      parents,
      driveId,
      trashed: false,
      createdTime: t,
      modifiedTime: t,
      version: 1,
      size: null,
      md5: null,
      headRevisionId: null,
      data: null,
      dataPath: null,
      properties: {},
      appProperties: {},
      description: null,
      exports: {},
    };
  }

  /** Notes a change of `f` (created, updated, moved, trashed or deleted) in the change log. */
  private changed(f: FileRec): void {
    this.changeLog.push({ seq: ++this.changeSeq, fileId: f.id, driveId: f.driveId, time: nowIso() });
    const now = Date.now();
    for (const c of this.channels)
      if (
        c.stoppedAt === null &&
        c.expiration > now &&
        (c.driveId ? f.driveId === c.driveId : f.driveId === null || c.allDrives)
      )
        this.pendingNotify.add(c);
    if (this.pendingNotify.size > 0)
      setTimeout(() => {
        const due = [...this.pendingNotify];
        this.pendingNotify.clear();
        for (const c of due) this.notify(c, 'change');
      }, 5).unref();
  }

  /** Posts one message to a channel's address, as Drive does: headers, no body. */
  private notify(c: FakeChannel, state: 'sync' | 'change'): void {
    if (c.stoppedAt !== null || c.expiration <= Date.now()) return;
    // Drive's message numbers grow, but not one by one; `sync` is always 1.
    c.messageNumber = state === 'sync' ? 1 : c.messageNumber + 1 + Math.floor(Math.random() * 3);
    const headers: Record<string, string> = {
      'x-goog-channel-id': c.id,
      'x-goog-channel-expiration': new Date(c.expiration).toUTCString(),
      'x-goog-resource-id': c.resourceId,
      'x-goog-resource-uri': `${this.url}/drive/v3/changes?alt=json`,
      'x-goog-resource-state': state,
      'x-goog-message-number': String(c.messageNumber),
      ...(c.token !== null ? { 'x-goog-channel-token': c.token } : {}),
    };
    const rec = { channelId: c.id, state, messageNumber: c.messageNumber, status: 0 };
    this.deliveries.push(rec);
    const p = fetch(c.address, { method: 'POST', headers, signal: AbortSignal.timeout(10_000) })
      .then(async (r) => {
        rec.status = r.status;
        await r.arrayBuffer();
      })
      .catch(() => undefined)
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** changes.watch */
  private watch(params: Record<string, string>, body: unknown): Record<string, unknown> {
    const driveId = this.changesDrive(params);
    const token = params.pageToken;
    if (!token)
      throw new HttpError(400, 'required', 'Required parameter: pageToken', { location: 'pageToken' });
    if (!/^\d+$/.test(token) || Number(token) < 1 || Number(token) > this.changeSeq + 1)
      throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'pageToken' });
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.id !== 'string' || !b.id)
      throw new HttpError(400, 'required', 'Required: id', { location: 'id' });
    if (this.channels.some((c) => c.id === b.id))
      throw new HttpError(400, 'channelIdNotUnique', `Channel id ${b.id} not unique`);
    if (b.type !== 'web_hook' && b.type !== 'webhook')
      throw new HttpError(400, 'invalid', 'Invalid value for: type', { location: 'type' });
    let address: URL;
    try {
      address = new URL(String(b.address));
      // Drive wants https with a valid certificate; the fake accepts http on 127.0.0.1 for tests.
      if (address.protocol !== 'https:' && address.hostname !== '127.0.0.1') throw new Error('not https');
    } catch {
      throw new HttpError(
        400,
        'push.webhookUrlNotHttps',
        'WebHook callback must be HTTPS: ' + String(b.address),
      );
    }
    if (b.token !== undefined && (typeof b.token !== 'string' || b.token.length > 256))
      throw new HttpError(400, 'invalid', 'Invalid value for: token', { location: 'token' });
    const now = Date.now();
    let expiration = b.expiration === undefined ? now + 3600_000 : Number(b.expiration);
    if (!Number.isFinite(expiration) || expiration <= now)
      throw new HttpError(400, 'invalid', 'Invalid value for: expiration', { location: 'expiration' });
    expiration = Math.min(expiration, now + 7 * 86_400_000);
    const c: FakeChannel = {
      id: b.id,
      resourceId: b64url(randomBytes(20)),
      address: address.toString(),
      token: b.token ?? null,
      expiration,
      driveId,
      allDrives: params.includeItemsFromAllDrives === 'true' && params.supportsAllDrives === 'true',
      createdAt: now,
      stoppedAt: null,
      messageNumber: 0,
    };
    this.channels.push(c);
    setImmediate(() => this.notify(c, 'sync'));
    return {
      kind: 'api#channel',
      id: c.id,
      resourceId: c.resourceId,
      resourceUri: `${this.url}/drive/v3/changes?alt=json&pageToken=${token}`,
      ...(c.token !== null ? { token: c.token } : {}),
      expiration: String(c.expiration),
    };
  }

  /** channels.stop */
  private stopChannel(body: unknown): void {
    const b = (body ?? {}) as { id?: unknown; resourceId?: unknown };
    const c = this.channels.find((x) => x.id === b.id && x.resourceId === b.resourceId);
    if (!c || c.stoppedAt !== null || c.expiration <= Date.now())
      throw new HttpError(404, 'notFound', `Channel '${String(b.id)}' not found for project`);
    c.stoppedAt = Date.now();
  }

  private resolveId(id: string): string {
    return id === 'root' ? this.myDriveRoot : id;
  }

  private child(parentId: string, name: string, folder?: boolean): FileRec | undefined {
    for (const f of this.files.values())
      if (
        f.parents[0] === parentId &&
        f.name === name &&
        !f.trashed &&
        (folder === undefined || (f.mimeType === FOLDER_MIME) === folder)
      )
        return f;
    return undefined;
  }

  /** Finds or creates the folders of `rel` (`/`-separated) under `parentId`; returns the last one's id. */
  mkdirp(parentId: string, rel: string): string {
    let parent = this.files.get(this.resolveId(parentId));
    if (!parent) throw new Error(`fake drive: no folder ${parentId}`);
    for (const name of rel.split('/').filter(Boolean)) {
      let next = this.child(parent.id, name, true);
      if (!next) {
        next = this.record(fileId(), name, FOLDER_MIME, [parent.id], parent.driveId);
        this.files.set(next.id, next);
        this.changed(next);
      }
      parent = next;
    }
    return parent.id;
  }

  /** Finds the id of `rel` under `parentId`, or undefined. */
  lookup(parentId: string, rel: string): string | undefined {
    let id = this.resolveId(parentId);
    for (const name of rel.split('/').filter(Boolean)) {
      const next = this.child(id, name);
      if (!next) return undefined;
      id = next.id;
    }
    return id;
  }

  /**
   * Creates a binary file `name` in `parentId`, or updates the one already there (same id, new
   * content, new version) as files.update would. Streams are spooled to disk, never held whole.
   */
  async putFile(
    parentId: string,
    name: string,
    body: Buffer | Readable,
    opts: PutFileOptions = {},
  ): Promise<string> {
    const parent = this.files.get(this.resolveId(parentId));
    if (!parent || parent.mimeType !== FOLDER_MIME) throw new Error(`fake drive: no folder ${parentId}`);
    let data: Buffer | null = null;
    let dataPath: string | null = null;
    let size: number;
    let md5: string;
    if (Buffer.isBuffer(body)) {
      data = Buffer.from(body);
      size = data.length;
      md5 = createHash('md5').update(data).digest('hex');
    } else {
      dataPath = path.join(this.dir, `blob-${++this.spools}`);
      const hash = createHash('md5');
      let n = 0;
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            n += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(dataPath),
      );
      size = n;
      md5 = hash.digest('hex');
    }
    let f = this.child(parent.id, name, false);
    if (!f) {
      f = this.record(
        fileId(),
        name,
        opts.mimeType ?? 'application/octet-stream',
        [parent.id],
        parent.driveId,
      );
      this.files.set(f.id, f);
    } else {
      if (f.dataPath) rmSync(f.dataPath, { force: true });
      f.version += 1;
      f.modifiedTime = nowIso();
      if (opts.mimeType) f.mimeType = opts.mimeType;
    }
    Object.assign(f, {
      data,
      dataPath,
      size,
      md5,
      headRevisionId: b64url(randomBytes(24)),
      ...(opts.properties ? { properties: { ...opts.properties } } : {}),
      ...(opts.appProperties ? { appProperties: { ...opts.appProperties } } : {}),
      ...(opts.description !== undefined ? { description: opts.description } : {}),
    });
    this.changed(f);
    return f.id;
  }

  /** A Docs Editors file (no bytes of its own); `exports` holds what files.export answers per target. */
  putNative(
    parentId: string,
    name: string,
    mimeType: string,
    exports: Record<string, Buffer> = {},
    opts: Omit<PutFileOptions, 'mimeType'> = {},
  ): string {
    const parent = this.files.get(this.resolveId(parentId));
    if (!parent) throw new Error(`fake drive: no folder ${parentId}`);
    const f = this.record(fileId(), name, mimeType, [parent.id], parent.driveId);
    f.exports = exports;
    f.properties = { ...(opts.properties ?? {}) };
    f.appProperties = { ...(opts.appProperties ?? {}) };
    f.description = opts.description ?? null;
    this.files.set(f.id, f);
    this.changed(f);
    return f.id;
  }

  /** Changes metadata (a rename, properties) as files.update without media would: a new version. */
  update(id: string, patch: { name?: string; properties?: Record<string, string>; trashed?: boolean }): void {
    const f = this.files.get(id);
    if (!f) throw new Error(`fake drive: no file ${id}`);
    if (patch.name !== undefined) f.name = patch.name;
    if (patch.properties) f.properties = { ...patch.properties };
    if (patch.trashed !== undefined) f.trashed = patch.trashed;
    f.version += 1;
    f.modifiedTime = nowIso();
    this.changed(f);
  }

  /**
   * Moves a file or folder to another folder (files.update with addParents / removeParents): a new
   * version and a change, but modifiedTime stays (a move modifies neither content nor metadata).
   */
  move(id: string, newParentId: string): void {
    const f = this.files.get(id);
    const parent = this.files.get(this.resolveId(newParentId));
    if (!f) throw new Error(`fake drive: no file ${id}`);
    if (!parent || parent.mimeType !== FOLDER_MIME) throw new Error(`fake drive: no folder ${newParentId}`);
    f.parents = [parent.id];
    f.driveId = parent.driveId;
    f.version += 1;
    this.changed(f);
  }

  /** Deletes permanently (files.delete), with everything under it. */
  remove(id: string): void {
    const f = this.files.get(id);
    if (!f) return;
    for (const c of [...this.files.values()]) if (c.parents.includes(id)) this.remove(c.id);
    if (f.dataPath) rmSync(f.dataPath, { force: true });
    this.files.delete(id);
    this.changed(f);
  }

  // --- HTTP ------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const params = Object.fromEntries(url.searchParams);
    if (url.pathname === '/token') {
      if (req.method !== 'POST') return this.json(res, 405, { error: 'invalid_request' });
      return this.token(req, res);
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        return this.driveError(res, new HttpError(400, 'parseError', 'Parse Error'));
      }
    } else req.resume();
    if (!url.pathname.startsWith('/drive/v3/'))
      return this.driveError(res, new HttpError(404, 'notFound', 'Not Found'));
    if (this.requests.length >= 10_000) this.requests.shift();
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, params });
    try {
      const token = this.authorize(req);
      const fault = this.fault ?? token.fault;
      if (fault)
        throw new HttpError(
          fault.status,
          fault.reason,
          fault.message,
          fault.domain ? { domain: fault.domain } : {},
        );
      const parts = url.pathname.slice('/drive/v3/'.length).split('/').map(decodeURIComponent);
      if (req.method === 'POST' && parts.join('/') === 'changes/watch')
        return this.json(res, 200, this.watch(params, body));
      if (req.method === 'POST' && parts.join('/') === 'channels/stop') {
        this.stopChannel(body);
        res.writeHead(204).end();
        return;
      }
      if (req.method !== 'GET') throw new HttpError(405, 'methodNotAllowed', 'Method not allowed');
      if (parts[0] === 'files' && parts.length === 1) return this.json(res, 200, this.list(params));
      if (parts[0] === 'changes' && parts.length === 2 && parts[1] === 'startPageToken')
        return this.json(res, 200, this.startPageToken(params));
      if (parts[0] === 'changes' && parts.length === 1) return this.json(res, 200, this.changes(params));
      if (parts[0] === 'files' && parts.length === 2) return await this.get(parts[1], params, res);
      if (parts[0] === 'files' && parts.length === 3 && parts[2] === 'export')
        return await this.export(parts[1], params, res);
      if (parts[0] === 'about' && parts.length === 1) {
        if (!params.fields)
          throw new HttpError(400, 'required', "The 'fields' parameter is required for this method.", {
            location: 'fields',
          });
        return this.json(res, 200, {
          user: {
            kind: 'drive#user',
            displayName: token.email.split('@')[0],
            emailAddress: token.email,
            me: true,
          },
        });
      }
      if (parts[0] === 'drives' && parts.length === 2) {
        const d = this.sharedDrives.get(parts[1]);
        if (!d)
          throw new HttpError(404, 'notFound', `Shared drive not found: ${parts[1]}`, {
            location: 'driveId',
          });
        return this.json(res, 200, { kind: 'drive#drive', id: d.id, name: d.name });
      }
      throw new HttpError(404, 'notFound', 'Not Found');
    } catch (err) {
      if (err instanceof HttpError) return this.driveError(res, err);
      throw err;
    }
  }

  private json(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    const text = JSON.stringify(body);
    res
      .writeHead(status, {
        'content-type': 'application/json; charset=UTF-8',
        'content-length': String(Buffer.byteLength(text)),
        ...headers,
      })
      .end(text);
  }

  private driveError(res: http.ServerResponse, e: HttpError) {
    const {
      domain = e.reason.endsWith('RateLimitExceeded') || e.reason === 'rateLimitExceeded'
        ? 'usageLimits'
        : 'global',
      ...rest
    } = e.extra;
    this.json(
      res,
      e.status,
      {
        error: {
          code: e.status,
          message: e.message,
          errors: [
            {
              message: e.message,
              domain,
              reason: e.reason,
              ...(rest.location ? { locationType: 'parameter', ...rest } : rest),
            },
          ],
        },
      },
      e.status === 401
        ? { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' }
        : {},
    );
  }

  private authorize(req: http.IncomingMessage): Token {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = m ? this.tokens.get(m[1]) : undefined;
    if (!token || token.expiresAt < Date.now())
      throw new HttpError(
        401,
        'authError',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        { location: 'Authorization', locationType: 'header' },
      );
    if (!token.scopes.some((s) => DRIVE_SCOPES.includes(s)))
      throw new HttpError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.');
    return token;
  }

  private async token(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const refuse = (status: number, error: string, description: string) =>
      this.json(res, status, { error, error_description: description });
    const issue = (email: string, scopes: string[], fault: FakeFault | null) => {
      const accessToken = `ya29.${b64url(randomBytes(48))}`;
      this.tokens.set(accessToken, { email, scopes, expiresAt: Date.now() + 3599_000, fault });
      this.json(res, 200, {
        access_token: accessToken,
        expires_in: 3599,
        scope: scopes.join(' '),
        token_type: 'Bearer',
      });
    };
    const grant = form.get('grant_type');
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const parts = (form.get('assertion') ?? '').split('.');
      if (parts.length !== 3) return refuse(400, 'invalid_grant', 'Invalid JWT: Malformed.');
      let header: { alg?: string };
      let claims: { iss?: string; scope?: string; aud?: string; iat?: number; exp?: number; sub?: string };
      try {
        header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
        claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      } catch {
        return refuse(400, 'invalid_grant', 'Invalid JWT: Malformed.');
      }
      if (header.alg !== 'RS256') return refuse(400, 'invalid_grant', 'Invalid JWT: Unsupported algorithm.');
      const account = claims.iss ? this.accounts.get(claims.iss) : undefined;
      if (!account) return refuse(400, 'invalid_grant', 'Invalid grant: account not found');
      const ok = verify(
        'RSA-SHA256',
        Buffer.from(`${parts[0]}.${parts[1]}`),
        account.publicKey,
        Buffer.from(parts[2], 'base64url'),
      );
      if (!ok) return refuse(400, 'invalid_grant', 'Invalid JWT Signature.');
      const now = Math.floor(Date.now() / 1000);
      if (
        claims.aud !== GOOGLE_TOKEN_AUDIENCE ||
        typeof claims.iat !== 'number' ||
        typeof claims.exp !== 'number' ||
        claims.exp - claims.iat > 3600 ||
        claims.exp < now ||
        claims.iat > now + 300
      )
        return refuse(
          400,
          'invalid_grant',
          'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
        );
      if (!claims.scope)
        return refuse(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
      if (claims.sub && !account.delegation)
        return refuse(
          401,
          'unauthorized_client',
          'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
        );
      return issue(claims.sub ?? account.email, claims.scope.split(' '), account.fault);
    }
    if (grant === 'refresh_token') {
      const client = this.oauthClients.get(form.get('client_id') ?? '');
      if (!client) return refuse(401, 'invalid_client', 'The OAuth client was not found.');
      if (client.clientSecret !== form.get('client_secret'))
        return refuse(401, 'invalid_client', 'Unauthorized');
      if (!client.refreshTokens.has(form.get('refresh_token') ?? ''))
        return refuse(400, 'invalid_grant', 'Token has been expired or revoked.');
      return issue(client.email, ['https://www.googleapis.com/auth/drive.readonly'], null);
    }
    return refuse(400, 'unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`);
  }

  // --- files ----------------------------------------------------------------------------------------

  private resource(f: FileRec): Record<string, unknown> {
    const native = f.mimeType.startsWith('application/vnd.google-apps.');
    return {
      kind: 'drive#file',
      id: f.id,
      name: f.name,
      mimeType: f.mimeType,
      parents: f.parents.length ? [...f.parents] : undefined,
      ...(f.driveId ? { driveId: f.driveId } : {}),
      trashed: f.trashed,
      createdTime: f.createdTime,
      modifiedTime: f.modifiedTime,
      version: String(f.version),
      ...(native ? {} : { size: String(f.size ?? 0), md5Checksum: f.md5 ?? undefined }),
      ...(f.headRevisionId ? { headRevisionId: f.headRevisionId } : {}),
      ...(Object.keys(f.properties).length ? { properties: { ...f.properties } } : {}),
      ...(Object.keys(f.appProperties).length ? { appProperties: { ...f.appProperties } } : {}),
      ...(f.description !== null ? { description: f.description } : {}),
      ...(EXPORT_FORMATS[f.mimeType]
        ? {
            exportLinks: Object.fromEntries(
              EXPORT_FORMATS[f.mimeType].map((m) => [
                m,
                `${this.url}/drive/v3/files/${f.id}/export?mimeType=${encodeURIComponent(m)}`,
              ]),
            ),
          }
        : {}),
    };
  }

  /** A file the caller may see: shared-drive files only with supportsAllDrives=true. */
  private visible(id: string, params: Record<string, string>): FileRec {
    const f = this.files.get(this.resolveId(id));
    if (!f || (f.driveId && params.supportsAllDrives !== 'true'))
      throw new HttpError(404, 'notFound', `File not found: ${id}.`, { location: 'fileId' });
    return f;
  }

  private list(params: Record<string, string>): Record<string, unknown> {
    const corpora = params.corpora ?? 'user';
    const allDrives = params.includeItemsFromAllDrives === 'true';
    const driveId = params.driveId ?? null;
    if (driveId || corpora === 'drive') {
      if (!driveId || corpora !== 'drive')
        throw new HttpError(
          400,
          'invalid',
          'The driveId parameter must be specified if and only if corpora is set to drive.',
          {
            location: 'corpora',
          },
        );
      if (!allDrives || params.supportsAllDrives !== 'true')
        throw new HttpError(
          403,
          'teamDrivesParameterRequired',
          'The includeItemsFromAllDrives and supportsAllDrives parameters must be set to true when driveId is specified.',
        );
      if (!this.sharedDrives.has(driveId))
        throw new HttpError(404, 'notFound', `Shared drive not found: ${driveId}`, { location: 'driveId' });
    } else if (!['user', 'allDrives'].includes(corpora))
      throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'corpora' });
    const pageSize = params.pageSize === undefined ? 100 : Number(params.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw new HttpError(
        400,
        'invalid',
        `Invalid value '${params.pageSize}'. Values must be within the range: [1, 1000]`,
        {
          location: 'pageSize',
        },
      );
    const q = params.q ? parseQuery(params.q) : null;
    const order = comparator(params.orderBy ?? null);
    const spec = parseFields(
      params.fields ?? 'kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)',
    );
    const queryKey = createHash('sha256')
      .update(JSON.stringify([params.q ?? '', params.orderBy ?? '', corpora, driveId, allDrives]))
      .digest('base64url')
      .slice(0, 16);
    let offset = 0;
    if (params.pageToken) {
      try {
        const t = JSON.parse(Buffer.from(params.pageToken, 'base64url').toString('utf8')) as {
          o: number;
          k: string;
        };
        if (t.k !== queryKey || !Number.isInteger(t.o) || t.o < 0) throw new Error('mismatch');
        offset = t.o;
      } catch {
        throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'pageToken' });
      }
    }
    // A shared drive's files; else My Drive's, plus shared drives' with includeItemsFromAllDrives.
    const inCorpus = (f: FileRec) =>
      driveId ? f.driveId === driveId : f.driveId === null || corpora === 'allDrives' || allDrives;
    const all = [...this.files.values()]
      .filter(
        (f) => f.parents.length > 0 && inCorpus(f) && (q ? matches(q, f, this.myDriveRoot) : !f.trashed),
      )
      .sort(order);
    const page = all.slice(offset, offset + pageSize);
    const out: Record<string, unknown> = {
      kind: 'drive#fileList',
      incompleteSearch: false,
      files: page.map((f) => this.resource(f)),
    };
    if (offset + pageSize < all.length)
      out.nextPageToken = b64url(Buffer.from(JSON.stringify({ o: offset + pageSize, k: queryKey })));
    const selected: Record<string, unknown> = {};
    for (const [k, sub] of spec) {
      if (k === '*') return out;
      if (!['kind', 'nextPageToken', 'incompleteSearch', 'files'].includes(k))
        throw new HttpError(400, 'invalidParameter', `Invalid field selection ${k}`, { location: 'fields' });
      if (out[k] === undefined) continue;
      selected[k] =
        k === 'files' && sub !== true
          ? (out.files as Record<string, unknown>[]).map((r) => select(r, sub, FILE_FIELDS))
          : out[k];
    }
    return selected;
  }

  // --- changes ----------------------------------------------------------------------------------------

  /** driveId needs supportsAllDrives=true and must name a shared drive. */
  private changesDrive(params: Record<string, string>): string | null {
    const driveId = params.driveId ?? null;
    if (driveId === null) return null;
    if (params.supportsAllDrives !== 'true')
      throw new HttpError(
        403,
        'teamDrivesParameterRequired',
        'The supportsAllDrives parameter must be set to true when driveId is specified.',
      );
    if (!this.sharedDrives.has(driveId))
      throw new HttpError(404, 'notFound', `Shared drive not found: ${driveId}`, { location: 'driveId' });
    return driveId;
  }

  private startPageToken(params: Record<string, string>): Record<string, unknown> {
    this.changesDrive(params);
    return { kind: 'drive#startPageToken', startPageToken: String(this.changeSeq + 1) };
  }

  private changes(params: Record<string, string>): Record<string, unknown> {
    const driveId = this.changesDrive(params);
    if (!params.pageToken)
      throw new HttpError(400, 'required', 'Required parameter: pageToken', { location: 'pageToken' });
    const from = Number(params.pageToken);
    if (!/^\d+$/.test(params.pageToken) || from < 1 || from > this.changeSeq + 1)
      throw new HttpError(400, 'invalid', 'Invalid Value', { location: 'pageToken' });
    const pageSize = params.pageSize === undefined ? 100 : Number(params.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
      throw new HttpError(
        400,
        'invalid',
        `Invalid value '${params.pageSize}'. Values must be within the range: [1, 1000]`,
        { location: 'pageSize' },
      );
    const includeRemoved = params.includeRemoved !== 'false';
    const allDrives = params.includeItemsFromAllDrives === 'true' && params.supportsAllDrives === 'true';
    const inCorpus = (d: string | null) => (driveId ? d === driveId : d === null || allDrives);
    // Each file once, at its latest change since the token, in change order.
    const latest = new Map<string, (typeof this.changeLog)[number]>();
    for (const c of this.changeLog) if (c.seq >= from) latest.set(c.fileId, c);
    const rows = [...latest.values()]
      .filter((c) => inCorpus(this.files.get(c.fileId)?.driveId ?? c.driveId))
      .filter((c) => includeRemoved || this.files.has(c.fileId))
      .sort((a, b) => a.seq - b.seq);
    const page = rows.slice(0, pageSize);
    const out: Record<string, unknown> = {
      kind: 'drive#changeList',
      changes: page.map((c) => {
        const f = this.files.get(c.fileId);
        return {
          kind: 'drive#change',
          changeType: 'file',
          time: c.time,
          removed: !f,
          fileId: c.fileId,
          ...(f ? { file: this.resource(f) } : {}),
          ...(f?.driveId ? { driveId: f.driveId } : {}),
        };
      }),
    };
    if (rows.length > page.length) out.nextPageToken = String(rows[page.length].seq);
    else out.newStartPageToken = String(this.changeSeq + 1);
    const spec = parseFields(params.fields ?? 'kind,nextPageToken,newStartPageToken,changes');
    if (spec.has('*')) return out;
    const CHANGE_FIELDS = new Set(['kind', 'changeType', 'time', 'removed', 'fileId', 'file', 'driveId']);
    const selected: Record<string, unknown> = {};
    for (const [k, sub] of spec) {
      if (!['kind', 'nextPageToken', 'newStartPageToken', 'changes'].includes(k))
        throw new HttpError(400, 'invalidParameter', `Invalid field selection ${k}`, { location: 'fields' });
      if (out[k] === undefined) continue;
      if (k !== 'changes' || sub === true) {
        selected[k] = out[k];
        continue;
      }
      selected.changes = (out.changes as Record<string, unknown>[]).map((c) => {
        const one = select(c, sub, CHANGE_FIELDS);
        const fileSpec = sub.get('file');
        if (one.file && fileSpec && fileSpec !== true)
          one.file = select(one.file as Record<string, unknown>, fileSpec, FILE_FIELDS);
        return one;
      });
    }
    return selected;
  }

  private async get(id: string, params: Record<string, string>, res: http.ServerResponse): Promise<void> {
    const f = this.visible(id, params);
    if (params.alt !== 'media') {
      const spec = parseFields(params.fields ?? 'kind,id,name,mimeType');
      return this.json(res, 200, select(this.resource(f), spec, FILE_FIELDS));
    }
    if (f.mimeType.startsWith('application/vnd.google-apps.'))
      throw new HttpError(
        403,
        'fileNotDownloadable',
        'Only files with binary content can be downloaded. Use Export with Docs Editors files.',
        { location: 'alt' },
      );
    res.writeHead(200, {
      'content-type': f.mimeType,
      'content-length': String(f.size ?? 0),
      'x-goog-hash': `md5=${Buffer.from(f.md5 ?? '', 'hex').toString('base64')}`,
    });
    const body = f.dataPath
      ? createReadStream(f.dataPath, { highWaterMark: 1 << 20 })
      : Readable.from([f.data ?? Buffer.alloc(0)]);
    await pipeline(body, res).catch(() => res.destroy());
  }

  private async export(id: string, params: Record<string, string>, res: http.ServerResponse): Promise<void> {
    // files.export has no supportsAllDrives parameter: shared-drive files export without it.
    const f = this.visible(id, { supportsAllDrives: 'true' });
    if (!params.mimeType)
      throw new HttpError(400, 'required', 'Required parameter: mimeType', { location: 'mimeType' });
    const formats = EXPORT_FORMATS[f.mimeType];
    if (!formats) throw new HttpError(403, 'fileNotExportable', 'Export only supports Docs Editors files.');
    if (!formats.includes(params.mimeType))
      throw new HttpError(400, 'badRequest', 'The requested conversion is not supported.', {
        location: 'convertTo',
      });
    const body =
      f.exports[params.mimeType] ?? Buffer.from(`export of ${f.id} (${f.name}) as ${params.mimeType}\n`);
    if (body.length > EXPORT_LIMIT)
      throw new HttpError(403, 'exportSizeLimitExceeded', 'This file is too large to be exported.');
    res.writeHead(200, { 'content-type': params.mimeType, 'content-length': String(body.length) }).end(body);
  }
}
