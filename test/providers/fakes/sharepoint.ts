// An in-process fake of the parts of Microsoft Graph v1.0 (SharePoint document libraries) and of the
// Microsoft identity platform that the `sharepoint` provider uses, over HTTPS with a self-signed
// certificate made at start (openssl). It reproduces the documented behaviour of:
//
// - the token endpoint `POST /{tenant}/oauth2/v2.0/token` (client_credentials and refresh_token grants,
//   scope `{graph}/.default`): `{token_type, expires_in, access_token[, refresh_token]}`; refusals as
//   `{error, error_description: "AADSTS…", error_codes, trace_id, correlation_id}` — 401 invalid_client
//   for a wrong secret, 400 unauthorized_client (unknown app), invalid_grant (unknown refresh token),
//   invalid_request (unknown tenant), invalid_scope;
// - Graph's error body `{"error": {"code", "message", "innerError": {"date", "request-id"}}}`: 401
//   InvalidAuthenticationToken without a valid bearer token, 404 itemNotFound, 429 with Retry-After when
//   throttled (SharePoint's `activityLimitReached`), 503 serviceNotAvailable, 504 gatewayTimeout;
// - sites: `/sites/root`, `/sites/{hostname}:/sites/{name}`, `/sites/{site-id}`, `/sites/{id}/drives`,
//   `/sites/{id}/drive`; drives `/drives/{id}`;
// - driveItems: `/drives/{id}/root`, path addressing `/drives/{id}/root:/{path}`, `/drives/{id}/items/{id}`,
//   `…/children` with `$top`, `$select`, `$expand=listItem($expand=fields)` and @odata.nextLink paging by
//   `$skiptoken` (SharePoint's `Paged=TRUE&p_FileLeafRef=…` position token, so a page continues after the
//   last name seen); items carry id, name, eTag `"{GUID},n"`, cTag, size, timestamps, parentReference
//   (with `path` `/drives/{id}/root:/a/b`), `file {mimeType, hashes {quickXorHash}}` or `folder {childCount}`;
// - `…/root/delta` with `token` absent (full enumeration), `latest`, a previous token, or a timestamp
//   (documented for OneDrive for Business and SharePoint), `$top`, @odata.nextLink and, on the last page,
//   @odata.deltaLink; as documented, delta items carry no parentReference.path and no cTag, deleted items
//   come with the `deleted` facet, and changed items are preceded by their parent folders unless the
//   `deltaExcludeParent` header is sent;
// - `…/items/{id}/content`: 302 to a pre-authenticated download URL on another host (here another port;
//   SharePoint's `/_layouts/15/download.aspx?UniqueId=…&tempauth=…`), which serves the bytes without a
//   bearer token.
//
// - change-notification subscriptions: `POST /subscriptions` (changeType `updated`, resource a drive's
//   root `/drives/{id}/root`, notificationUrl https — http on 127.0.0.1 for tests —, expirationDateTime
//   at most 42,300 minutes ahead, clientState up to 128 characters) first runs the validation handshake
//   (a POST to notificationUrl?validationToken=… that must answer 200 with the decoded token within
//   10 s, else 400 ValidationError), then answers 201 with the subscription; every change in the drive
//   posts `{value: [{subscriptionId, clientState, changeType, resource, subscriptionExpirationDateTime,
//   tenantId}]}` to notificationUrl (changes within a few milliseconds make one notification) until
//   the subscription expires or `DELETE /subscriptions/{id}` (204) removes it; `PATCH
//   /subscriptions/{id}` with a new expirationDateTime renews it (unknown or expired: 404).
//   Handshakes, deliveries and their answers are recorded.
//
// File bytes live in a temporary folder, never whole in memory (the suite has a 200 MB case).
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mime from 'mime-types';

// --- QuickXorHash (OneDrive / SharePoint's file hash) ----------------------------------------------------

/**
 * Microsoft's QuickXorHash: byte i of the input is XORed into a 160-bit circular register at bit
 * (11·i) mod 160, then the length (64-bit little-endian) is XORed into the last 8 bytes. Since the
 * position repeats every 160 bytes, bytes are first folded by i mod 160.
 */
export class QuickXorHash {
  private readonly fold = new Uint8Array(160);
  private length = 0;

  update(data: Uint8Array): this {
    const fold = this.fold;
    let r = this.length % 160;
    for (let i = 0; i < data.length; i++) {
      fold[r] ^= data[i];
      if (++r === 160) r = 0;
    }
    this.length += data.length;
    return this;
  }

  digest(): Buffer {
    const out = Buffer.alloc(20);
    for (let r = 0; r < 160; r++) {
      const v = this.fold[r];
      if (!v) continue;
      const bit = (r * 11) % 160;
      const w = v << (bit & 7);
      out[bit >> 3] ^= w & 0xff;
      out[((bit >> 3) + 1) % 20] ^= w >> 8;
    }
    let n = BigInt(this.length);
    for (let i = 0; i < 8; i++, n >>= 8n) out[12 + i] ^= Number(n & 0xffn);
    return out;
  }
}

// --- TLS ---------------------------------------------------------------------------------------------------

/** A self-signed certificate for 127.0.0.1 / localhost, made with openssl in a temporary folder. */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=bucket-syncs fake Microsoft Graph',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}

// --- the model ---------------------------------------------------------------------------------------------

interface Site {
  id: string;
  name: string;
}

interface Drive {
  id: string;
  siteId: string;
  name: string;
  /** The library's URL name: `Shared Documents` for the library shown as `Documents`. */
  urlName: string;
  rootId: string;
}

interface Item {
  id: string;
  driveId: string;
  parentId: string | null;
  name: string;
  folder: boolean;
  created: string;
  modified: string;
  guid: string;
  /** eTag version: bumped on every change. */
  version: number;
  /** cTag version: bumped when the content changes. */
  contentVersion: number;
  size: number;
  mimeType?: string;
  quickXorHash?: string;
  blob?: string;
  fields: Record<string, unknown>;
  description?: string;
  /** Change sequence number and time, for delta. */
  seq: number;
  changedAt: number;
  deleted: boolean;
}

export interface FakeSubscription {
  id: string;
  resource: string;
  driveId: string;
  changeType: string;
  notificationUrl: string;
  clientState: string | null;
  /** ms since the epoch. */
  expiration: number;
  createdAt: number;
  deletedAt: number | null;
  /** When PATCH renewed it. */
  renewals: number[];
}

/** Longest subscription Graph allows on driveItems. */
const MAX_SUBSCRIPTION_MS = 42_300 * 60_000;

export interface FakeFault {
  status: number;
  code: string;
  message: string;
  retryAfter?: number;
}

export interface FakeSharePointOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** A refresh token the fake accepts for the delegated grant. */
  refreshToken?: string;
  hostname?: string;
  /** Every Graph request is answered with this (the token endpoint still works). */
  fault?: FakeFault;
}

const THROTTLED: FakeFault = {
  status: 429,
  code: 'activityLimitReached',
  message: 'The request has been throttled',
  retryAfter: 7,
};

export class FakeSharePoint {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  readonly hostname: string;
  /** PEM of the self-signed certificate all three servers present. */
  caCert = '';
  graphUrl = '';
  authorityUrl = '';
  downloadUrl = '';
  /** Graph requests answered (not counting the token endpoint and downloads). */
  graphRequests = 0;
  /** Downloads that arrived with an Authorization header (the provider must not send one). */
  downloadsWithBearer = 0;
  tokensIssued = 0;
  /** `root/delta` requests answered. */
  deltaRequests = 0;

  /** Subscriptions made (deleted and expired ones too). */
  readonly subscriptions: FakeSubscription[] = [];
  /** Validation handshakes: the URL called and whether it answered correctly. */
  readonly validations: { url: string; ok: boolean }[] = [];
  /** Notifications posted, with the status they were answered (0: no answer). */
  readonly deliveries: { subscriptionId: string; status: number }[] = [];
  private readonly pendingNotify = new Set<FakeSubscription>();
  private readonly inFlight = new Set<Promise<unknown>>();

  private dir = '';
  private readonly servers: https.Server[] = [];
  private readonly sites = new Map<string, Site>();
  private readonly drives = new Map<string, Drive>();
  private readonly items = new Map<string, Item>();
  private readonly accessTokens = new Map<string, number>();
  private readonly refreshTokens = new Set<string>();
  private readonly signingKey = randomBytes(32);
  private readonly faults: FakeFault[] = [];
  private seq = 0;
  private rootSite!: Site;

  constructor(private readonly options: FakeSharePointOptions = {}) {
    this.tenantId = options.tenantId ?? randomUUID();
    this.clientId = options.clientId ?? randomUUID();
    this.clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
    this.refreshToken = options.refreshToken ?? `0.A${randomBytes(48).toString('base64url')}`;
    this.refreshTokens.add(this.refreshToken);
    this.hostname = options.hostname ?? 'contoso.sharepoint.com';
  }

  static async start(options: FakeSharePointOptions = {}): Promise<FakeSharePoint> {
    const fake = new FakeSharePoint(options);
    await fake.listen();
    return fake;
  }

  static throttled(status: 429 | 503 | 504 = 429): Promise<FakeSharePoint> {
    const fault =
      status === 429
        ? THROTTLED
        : status === 503
          ? { status, code: 'serviceNotAvailable', message: 'Service Unavailable', retryAfter: 3 }
          : { status, code: 'gatewayTimeout', message: 'Gateway Timeout' };
    return FakeSharePoint.start({ fault });
  }

  private async listen(): Promise<void> {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'fake-sharepoint-'));
    const tlsOptions = selfSignedCertificate(this.dir);
    this.caCert = tlsOptions.cert;
    const start = async (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => {
      const server = https.createServer(tlsOptions, (req, res) => {
        handler(req, res).catch((err: unknown) => {
          if (!res.headersSent) this.graphError(res, 500, 'generalException', String(err));
          else res.destroy();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.servers.push(server);
      return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    this.graphUrl = await start((req, res) => this.graph(req, res));
    this.authorityUrl = await start((req, res) => this.login(req, res));
    this.downloadUrl = await start((req, res) => this.download(req, res));
    this.rootSite = this.addSite('');
  }

  async stop(): Promise<void> {
    for (const sub of this.subscriptions) sub.deletedAt ??= Date.now();
    await Promise.all([...this.inFlight]);
    await Promise.all(
      this.servers.splice(0).map((s) => {
        s.closeAllConnections();
        return new Promise((r) => s.close(r));
      }),
    );
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The next `times` Graph requests are answered with `fault`. */
  failNext(fault: FakeFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  // --- arranging content (what a person would do in the SharePoint UI) -----------------------------------

  /** A site `/sites/{name}` (the root site for `''`) with its default library `Documents`. */
  addSite(name: string): Site {
    const site: Site = { id: `${this.hostname},${randomUUID()},${randomUUID()}`, name };
    this.sites.set(site.id, site);
    this.addDrive(site, 'Documents', 'Shared Documents');
    return site;
  }

  addDrive(site: Site, name: string, urlName = name): Drive {
    const id = `b!${randomBytes(48).toString('base64url')}`;
    const root = this.newItem(id, null, 'root', true);
    const drive: Drive = { id, siteId: site.id, name, urlName, rootId: root.id };
    this.drives.set(id, drive);
    return drive;
  }

  siteByName(name: string): Site | undefined {
    return [...this.sites.values()].find((s) => s.name.toLowerCase() === name.toLowerCase());
  }

  defaultDrive(site: Site): Drive {
    return [...this.drives.values()].find((d) => d.siteId === site.id)!;
  }

  /** Creates the folders of `folderPath` (`a/b/c`) that are missing; returns the last one. */
  mkdir(drive: Drive, folderPath: string): Item {
    let parent = this.items.get(drive.rootId)!;
    for (const name of folderPath.split('/').filter(Boolean)) {
      let child = this.child(parent, name);
      if (child && !child.folder) throw new Error(`${name} is a file`);
      if (!child) {
        child = this.newItem(drive.id, parent.id, name, true);
        this.touch(parent);
      }
      parent = child;
    }
    return parent;
  }

  /** Uploads a file at `filePath`, creating missing folders (as PUT …/root:/{path}:/content does). */
  async put(
    drive: Drive,
    filePath: string,
    body: Buffer | Readable,
    opts: { contentType?: string; fields?: Record<string, unknown>; description?: string } = {},
  ): Promise<Item> {
    const segs = filePath.split('/').filter(Boolean);
    const name = segs.pop()!;
    const parent = this.mkdir(drive, segs.join('/'));
    const blob = path.join(this.dir, `blob-${randomUUID()}`);
    const hash = new QuickXorHash();
    let size = 0;
    await pipeline(
      Buffer.isBuffer(body) ? Readable.from([body]) : body,
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(blob),
    );
    let item = this.child(parent, name);
    if (item?.folder) throw new Error(`${filePath} is a folder`);
    if (!item) {
      item = this.newItem(drive.id, parent.id, name, false);
      this.touch(parent);
    } else if (item.blob) rmSync(item.blob, { force: true });
    item.blob = blob;
    item.size = size;
    item.quickXorHash = hash.digest().toString('base64');
    item.mimeType = opts.contentType ?? (mime.lookup(name) || 'application/octet-stream');
    if (opts.fields) item.fields = { ...item.fields, ...opts.fields };
    if (opts.description !== undefined) item.description = opts.description;
    item.contentVersion++;
    this.touch(item);
    return item;
  }

  /** Deletes a file or folder (to the recycle bin: delta reports it with the `deleted` facet). */
  remove(drive: Drive, itemPath: string): void {
    const item = this.byPath(drive, itemPath);
    if (!item) throw new Error(`no ${itemPath}`);
    const gone = (it: Item) => {
      for (const c of this.children(it)) gone(c);
      it.deleted = true;
      if (it.blob) rmSync(it.blob, { force: true });
      this.touch(it);
    };
    gone(item);
    this.touch(this.items.get(item.parentId!)!);
  }

  /**
   * Moves a file or folder into another folder (PATCH parentReference): a change in the delta feed
   * (new eTag), while its content and lastModifiedDateTime stay.
   */
  move(drive: Drive, itemPath: string, toFolder: string): Item {
    const item = this.byPath(drive, itemPath);
    if (!item) throw new Error(`no ${itemPath}`);
    const from = this.items.get(item.parentId!)!;
    const to = this.mkdir(drive, toFolder);
    item.parentId = to.id;
    const modified = item.modified;
    this.touch(item);
    item.modified = modified;
    this.touch(from);
    this.touch(to);
    return item;
  }

  byPath(drive: Drive, itemPath: string): Item | undefined {
    let it = this.items.get(drive.rootId);
    for (const name of itemPath.split('/').filter(Boolean)) if (it) it = this.child(it, name);
    return it;
  }

  // --- model helpers ---------------------------------------------------------------------------------------

  private newItem(driveId: string, parentId: string | null, name: string, folder: boolean): Item {
    // SharePoint item ids: `01` and 32 base32 characters.
    const id = `01${randomBytes(20)
      .toString('hex')
      .toUpperCase()
      .replace(/[0189]/g, 'Q')
      .slice(0, 32)}`;
    const now = new Date().toISOString();
    const item: Item = {
      id,
      driveId,
      parentId,
      name,
      folder,
      created: now,
      modified: now,
      guid: randomUUID().toUpperCase(),
      version: 0,
      contentVersion: 0,
      size: 0,
      fields: {},
      seq: 0,
      changedAt: 0,
      deleted: false,
    };
    this.items.set(id, item);
    this.touch(item);
    return item;
  }

  private touch(item: Item): void {
    item.version++;
    item.seq = ++this.seq;
    item.changedAt = Date.now();
    item.modified = new Date(item.changedAt).toISOString();
    for (const sub of this.subscriptions)
      if (this.active(sub) && sub.driveId === item.driveId) this.pendingNotify.add(sub);
    if (this.pendingNotify.size > 0)
      setTimeout(() => {
        const due = [...this.pendingNotify];
        this.pendingNotify.clear();
        for (const sub of due) this.notify(sub);
      }, 5).unref();
  }

  // --- subscriptions --------------------------------------------------------------------------------------

  private active(sub: FakeSubscription): boolean {
    return sub.deletedAt === null && sub.expiration > Date.now();
  }

  private subscriptionJson(sub: FakeSubscription): Record<string, unknown> {
    return {
      '@odata.context': `${this.graphUrl}/v1.0/$metadata#subscriptions/$entity`,
      id: sub.id,
      resource: sub.resource,
      applicationId: this.clientId,
      changeType: sub.changeType,
      clientState: sub.clientState,
      notificationUrl: sub.notificationUrl,
      expirationDateTime: new Date(sub.expiration).toISOString(),
      creatorId: randomUUID(),
      latestSupportedTlsVersion: 'v1_2',
      notificationUrlAppId: null,
      lifecycleNotificationUrl: null,
    };
  }

  private notify(sub: FakeSubscription): void {
    if (!this.active(sub)) return;
    const body = JSON.stringify({
      value: [
        {
          subscriptionId: sub.id,
          subscriptionExpirationDateTime: new Date(sub.expiration).toISOString(),
          changeType: sub.changeType,
          resource: sub.resource,
          resourceData: null,
          clientState: sub.clientState,
          tenantId: this.tenantId,
        },
      ],
    });
    const rec = { subscriptionId: sub.id, status: 0 };
    this.deliveries.push(rec);
    const p = fetch(sub.notificationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (r) => {
        rec.status = r.status;
        await r.arrayBuffer();
      })
      .catch(() => undefined)
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** A requested expirationDateTime, or an error message as Graph words it. */
  private expirationOf(v: unknown): number | string {
    const t = typeof v === 'string' ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) return 'expirationDateTime is not a valid date.';
    if (t <= Date.now()) return 'Subscription expiration can only be in the future.';
    if (t > Date.now() + MAX_SUBSCRIPTION_MS)
      return 'Subscription expiration can only be 42300 minutes in the future.';
    return t;
  }

  private async subscriptionsApi(
    method: string,
    id: string | null,
    text: string,
    res: ServerResponse,
  ): Promise<void> {
    let body: Record<string, unknown> = {};
    if (method === 'POST' || method === 'PATCH')
      try {
        body = JSON.parse(text || '{}') as Record<string, unknown>;
      } catch {
        return this.graphError(res, 400, 'BadRequest', 'Invalid JSON body.');
      }
    const sub = id ? this.subscriptions.find((x) => x.id === id && this.active(x)) : undefined;
    if (id && !sub) return this.graphError(res, 404, 'ResourceNotFound', 'The object was not found.');
    if (method === 'DELETE' && sub) {
      sub.deletedAt = Date.now();
      res.writeHead(204).end();
      return;
    }
    if (method === 'PATCH' && sub) {
      const exp = this.expirationOf(body.expirationDateTime);
      if (typeof exp === 'string') return this.graphError(res, 400, 'ExtensionError', exp);
      sub.expiration = exp;
      sub.renewals.push(Date.now());
      return json(res, 200, this.subscriptionJson(sub));
    }
    if (method === 'GET' && sub) return json(res, 200, this.subscriptionJson(sub));
    if (method !== 'POST' || id)
      return this.graphError(res, 405, 'invalidRequest', `${method} is not supported by this fake`);

    const bad = (message: string) => this.graphError(res, 400, 'InvalidRequest', message);
    if (body.changeType !== 'updated')
      return bad("The changeType 'updated' is the only one supported for driveItem subscriptions.");
    const resource = typeof body.resource === 'string' ? body.resource : '';
    const m = /^\/?drives\/([^/]+)\/root$/.exec(resource);
    if (!m) return bad('Only the root of a drive (/drives/{id}/root) can be subscribed to.');
    const drive = this.drives.get(decodeURIComponent(m[1]));
    if (!drive) return this.graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
    const exp = this.expirationOf(body.expirationDateTime);
    if (typeof exp === 'string') return this.graphError(res, 400, 'ExtensionError', exp);
    if (
      body.clientState !== undefined &&
      (typeof body.clientState !== 'string' || body.clientState.length > 128)
    )
      return bad('clientState must be a string of at most 128 characters.');
    let url: URL;
    try {
      url = new URL(String(body.notificationUrl));
      if (url.protocol !== 'https:' && url.hostname !== '127.0.0.1') throw new Error('not https');
    } catch {
      return bad('Subscription notificationUrl must be an https URL.');
    }
    // The validation handshake: the endpoint must echo the (decoded) token as text/plain within 10 s.
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const check = new URL(url);
    check.searchParams.set('validationToken', token);
    let ok = false;
    try {
      const r = await fetch(check, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(10_000),
      });
      ok =
        r.status === 200 &&
        (await r.text()) === token &&
        /^text\/plain/.test(r.headers.get('content-type') ?? '');
    } catch {
      ok = false;
    }
    this.validations.push({ url: check.toString(), ok });
    if (!ok)
      return this.graphError(
        res,
        400,
        'ValidationError',
        'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.',
      );
    const created: FakeSubscription = {
      id: randomUUID(),
      resource,
      driveId: drive.id,
      changeType: 'updated',
      notificationUrl: url.toString(),
      clientState: typeof body.clientState === 'string' ? body.clientState : null,
      expiration: exp,
      createdAt: Date.now(),
      deletedAt: null,
      renewals: [],
    };
    this.subscriptions.push(created);
    return json(res, 201, this.subscriptionJson(created));
  }

  private children(parent: Item): Item[] {
    const out: Item[] = [];
    for (const it of this.items.values()) if (it.parentId === parent.id && !it.deleted) out.push(it);
    return out.sort((a, b) => sortKey(a).localeCompare(sortKey(b)) || (a.name < b.name ? -1 : 1));
  }

  private child(parent: Item, name: string): Item | undefined {
    for (const it of this.items.values())
      if (it.parentId === parent.id && !it.deleted && it.name.toLowerCase() === name.toLowerCase()) return it;
    return undefined;
  }

  private pathOf(item: Item): string[] {
    const names: string[] = [];
    for (let it = item; it.parentId; it = this.items.get(it.parentId)!) names.unshift(it.name);
    return names;
  }

  private driveItem(item: Item, opts: { delta?: boolean; expandFields?: boolean }): Record<string, unknown> {
    const drive = this.drives.get(item.driveId)!;
    const site = this.sites.get(drive.siteId)!;
    const web = `https://${this.hostname}${site.name ? `/sites/${encodeURIComponent(site.name)}` : ''}`;
    const parent = item.parentId ? this.items.get(item.parentId)! : null;
    if (item.deleted)
      return {
        id: item.id,
        deleted: { state: 'deleted' },
        parentReference: { driveId: drive.id, driveType: 'documentLibrary', id: item.parentId },
        ...(item.folder ? { folder: { childCount: 0 } } : { file: {} }),
      };
    const out: Record<string, unknown> = {
      '@odata.etag': `"{${item.guid}},${item.version}"`,
      id: item.id,
      name: item.name,
      eTag: `"{${item.guid}},${item.version}"`,
      createdDateTime: item.created,
      lastModifiedDateTime: item.modified,
      webUrl: `${web}/${[drive.urlName, ...this.pathOf(item)].map(encodeURIComponent).join('/')}`,
      size: item.size,
      createdBy: { user: { displayName: 'Fake User' } },
      lastModifiedBy: { user: { displayName: 'Fake User' } },
      fileSystemInfo: { createdDateTime: item.created, lastModifiedDateTime: item.modified },
    };
    // OneDrive for Business and SharePoint leave cTag out of delta answers (documented).
    if (!opts.delta) out.cTag = `"c:{${item.guid}},${item.contentVersion}"`;
    if (item.description) out.description = item.description;
    if (parent) {
      const ref: Record<string, unknown> = {
        driveType: 'documentLibrary',
        driveId: drive.id,
        id: parent.id,
        siteId: site.id,
      };
      // Delta answers have no path (documented): renaming a folder does not list its descendants.
      if (!opts.delta) {
        ref.name = parent.parentId ? parent.name : drive.name;
        ref.path = `/drives/${drive.id}/root:${this.pathOf(parent)
          .map((s) => `/${s}`)
          .join('')}`;
      }
      out.parentReference = ref;
    } else {
      out.root = {};
      out.name = 'root';
    }
    if (item.folder) out.folder = { childCount: this.children(item).length };
    else
      out.file = {
        mimeType: item.mimeType,
        hashes: { quickXorHash: item.quickXorHash },
      };
    if (opts.expandFields && parent) {
      out.listItem = {
        '@odata.etag': `"${item.guid.toLowerCase()},${item.version}"`,
        id: String(this.listItemId(item)),
        fields: {
          '@odata.etag': `"${item.guid.toLowerCase()},${item.version}"`,
          id: String(this.listItemId(item)),
          ContentType: item.folder ? 'Folder' : 'Document',
          Created: item.created,
          Modified: item.modified,
          AuthorLookupId: '6',
          EditorLookupId: '6',
          _CheckinComment: '',
          LinkFilenameNoMenu: item.name,
          LinkFilename: item.name,
          DocIcon: path.extname(item.name).slice(1),
          FileSizeDisplay: String(item.size),
          ItemChildCount: '0',
          FolderChildCount: '0',
          _ComplianceFlags: '',
          _ComplianceTag: '',
          _ComplianceTagWrittenTime: '',
          _ComplianceTagUserId: '',
          _CommentCount: '',
          _LikeCount: '',
          _DisplayName: '',
          Edit: '0',
          _UIVersionString: `${item.version}.0`,
          ParentVersionStringLookupId: String(this.listItemId(item)),
          ParentLeafNameLookupId: String(this.listItemId(item)),
          FileLeafRef: item.name,
          ...item.fields,
        },
      };
    }
    return out;
  }

  private listItemId(item: Item): number {
    return [...this.items.keys()].indexOf(item.id) + 1;
  }

  // --- HTTP: the identity platform ---------------------------------------------------------------------

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(new URL(req.url!, 'https://x').pathname);
    const body = await text(req);
    if (req.method !== 'POST' || !m) return json(res, 404, { error: 'not_found' });
    const form = new URLSearchParams(body);
    const refuse = (status: number, error: string, code: number, description: string) =>
      json(res, status, {
        error,
        error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
        error_uri: `${this.authorityUrl}/error?code=${code}`,
      });
    const tenant = decodeURIComponent(m[1]);
    if (tenant !== this.tenantId && tenant !== 'contoso.onmicrosoft.com')
      return refuse(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('client_id') !== this.clientId)
      return refuse(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id')}' was not found in the directory.`,
      );
    if (form.get('client_secret') !== this.clientSecret)
      return refuse(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const resource = scopes.find((s) => s.endsWith('/.default'));
    if (!resource || resource !== `${this.graphUrl}/.default`)
      return refuse(
        400,
        'invalid_scope',
        70011,
        `The provided value for the input parameter 'scope' is not valid.`,
      );
    const grant = form.get('grant_type');
    const out: Record<string, unknown> = { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 };
    if (grant === 'refresh_token') {
      if (!this.refreshTokens.has(form.get('refresh_token') ?? ''))
        return refuse(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
      const rotated = `0.A${randomBytes(48).toString('base64url')}`;
      this.refreshTokens.add(rotated);
      out.refresh_token = rotated;
      out.scope = scopes.join(' ');
    } else if (grant !== 'client_credentials')
      return refuse(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant}'.`,
      );
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${randomBytes(32).toString('base64url')}`;
    this.accessTokens.set(token, Date.now() + 3599_000);
    this.tokensIssued++;
    out.access_token = token;
    json(res, 200, out);
  }

  // --- HTTP: the pre-authenticated download host ----------------------------------------------------------

  private tempauth(itemId: string, expires: number): string {
    return createHmac('sha256', this.signingKey).update(`${itemId}.${expires}`).digest('base64url');
  }

  private async download(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume();
    if (req.headers.authorization) this.downloadsWithBearer++;
    const u = new URL(req.url!, this.downloadUrl);
    const id = u.searchParams.get('UniqueId') ?? '';
    const [expires, sig] = (u.searchParams.get('tempauth') ?? '').split('.');
    if (u.pathname !== '/_layouts/15/download.aspx' || !sig || sig !== this.tempauth(id, Number(expires)))
      return this.graphError(res, 401, 'unauthenticated', 'Invalid tempauth token');
    if (Number(expires) < Date.now())
      return this.graphError(res, 401, 'unauthenticated', 'The tempauth token expired');
    const item = this.items.get(id);
    if (!item || item.deleted || !item.blob)
      return this.graphError(res, 404, 'itemNotFound', 'File Not Found.');
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(item.size),
      etag: `"{${item.guid}},${item.version}"`,
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(item.name)}`,
    });
    await pipeline(createReadStream(item.blob), res).catch(() => res.destroy());
  }

  // --- HTTP: Microsoft Graph ----------------------------------------------------------------------------------

  private graphError(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    retryAfter?: number,
  ) {
    const headers: Record<string, string> = {};
    if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
    json(
      res,
      status,
      {
        error: {
          code,
          message,
          innerError: {
            date: new Date().toISOString(),
            'request-id': randomUUID(),
            'client-request-id': randomUUID(),
          },
        },
      },
      headers,
    );
  }

  private async graph(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bodyText = req.method === 'POST' || req.method === 'PATCH' ? await text(req) : '';
    if (!bodyText) req.resume();
    this.graphRequests++;
    const fault = this.faults.shift() ?? this.options.fault;
    if (fault) return this.graphError(res, fault.status, fault.code, fault.message, fault.retryAfter);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return this.graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const expires = this.accessTokens.get(bearer);
    if (!expires || expires < Date.now())
      return this.graphError(
        res,
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. Invalid audience.',
      );
    const sm = /^\/v1\.0\/subscriptions(?:\/([^/]+))?$/.exec(new URL(req.url!, this.graphUrl).pathname);
    if (sm)
      return this.subscriptionsApi(
        req.method ?? 'GET',
        sm[1] ? decodeURIComponent(sm[1]) : null,
        bodyText,
        res,
      );
    if (req.method !== 'GET')
      return this.graphError(res, 405, 'invalidRequest', `${req.method} is not supported by this fake`);

    const u = new URL(req.url!, this.graphUrl);
    const q = u.searchParams;
    const parts = u.pathname.split('/').map((s) => decodeURIComponent(s));
    if (parts[1] !== 'v1.0') return this.graphError(res, 400, 'BadRequest', 'Invalid version.');
    const rest = parts.slice(2).join('/');
    const notFound = () => this.graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
    const select = (o: Record<string, unknown>) => selectFields(o, q.get('$select'));
    const expandFields = /listItem\(\s*\$expand=fields/.test(q.get('$expand') ?? '');
    let m: RegExpExecArray | null;

    // Sites and drives.
    if (rest === 'sites/root') return json(res, 200, select(this.siteJson(this.rootSite)));
    if ((m = /^sites\/([^/:]+):\/sites\/([^/:]+):?$/.exec(rest))) {
      const site = m[1].toLowerCase() === this.hostname ? this.siteByName(m[2]) : undefined;
      return site?.name ? json(res, 200, select(this.siteJson(site))) : notFound();
    }
    if ((m = /^sites\/([^/]+)(\/drives|\/drive)?$/.exec(rest))) {
      const site = this.sites.get(m[1]);
      if (!site) return notFound();
      if (!m[2]) return json(res, 200, select(this.siteJson(site)));
      const drives = [...this.drives.values()]
        .filter((d) => d.siteId === site.id)
        .map((d) => select(this.driveJson(d)));
      return json(res, 200, m[2] === '/drive' ? drives[0] : { value: drives });
    }
    if ((m = /^drives\/([^/]+)$/.exec(rest))) {
      const d = this.drives.get(m[1]);
      return d ? json(res, 200, select(this.driveJson(d))) : notFound();
    }

    // Drive items.
    if (!(m = /^drives\/([^/]+)\/(.*)$/.exec(rest)))
      return this.graphError(res, 400, 'BadRequest', `Resource not found for the segment '${parts[2]}'.`);
    const drive = this.drives.get(m[1]);
    if (!drive) return notFound();
    let tail = m[2];
    let item: Item | undefined;
    if (tail === 'root/delta') {
      this.deltaRequests++;
      return this.delta(req, res, drive, q);
    }
    if ((m = /^root:\/(.*?)(?::(\/.*)?)?$/.exec(tail))) {
      item = this.byPath(drive, m[1]);
      tail = m[2] ?? '';
    } else if ((m = /^root(\/.*)?$/.exec(tail))) {
      item = this.items.get(drive.rootId);
      tail = m[1] ?? '';
    } else if ((m = /^items\/([^/]+)(\/.*)?$/.exec(tail))) {
      item = this.items.get(m[1]);
      if (item && item.driveId !== drive.id) item = undefined;
      tail = m[2] ?? '';
    }
    if (!item || item.deleted) return notFound();
    if (tail === '') return json(res, 200, select(this.driveItem(item, { expandFields })));
    if (tail === '/children') return this.childrenPage(res, drive, item, q, expandFields);
    if (tail === '/content') {
      if (item.folder) return this.graphError(res, 400, 'invalidRequest', 'The item is a folder.');
      const expiresAt = Date.now() + 3600_000;
      const location = `${this.downloadUrl}/_layouts/15/download.aspx?UniqueId=${item.id}&Translate=false&tempauth=${expiresAt}.${this.tempauth(item.id, expiresAt)}&ApiVersion=2.0`;
      res.writeHead(302, { location, 'content-length': '0' }).end();
      return;
    }
    return this.graphError(res, 400, 'BadRequest', `Resource not found for the segment '${tail}'.`);
  }

  private siteJson(site: Site): Record<string, unknown> {
    return {
      id: site.id,
      name: site.name || 'root',
      displayName: site.name || 'Communication site',
      webUrl: `https://${this.hostname}${site.name ? `/sites/${encodeURIComponent(site.name)}` : ''}`,
      siteCollection: { hostname: this.hostname },
      root: site === this.rootSite ? {} : undefined,
    };
  }

  private driveJson(d: Drive): Record<string, unknown> {
    const site = this.sites.get(d.siteId)!;
    return {
      id: d.id,
      name: d.name,
      driveType: 'documentLibrary',
      description: '',
      webUrl: `https://${this.hostname}${site.name ? `/sites/${encodeURIComponent(site.name)}` : ''}/${encodeURIComponent(d.urlName)}`,
    };
  }

  private childrenPage(
    res: ServerResponse,
    drive: Drive,
    folder: Item,
    q: URLSearchParams,
    expandFields: boolean,
  ) {
    const top = Math.min(Math.max(Number(q.get('$top') ?? 200) || 200, 1), 1000);
    let after: string | null = null;
    const skip = q.get('$skiptoken');
    if (skip) {
      const position = new URLSearchParams(Buffer.from(skip, 'base64url').toString('utf8'));
      after = position.get('p_SortKey');
      if (position.get('Paged') !== 'TRUE' || after === null)
        return this.graphError(res, 400, 'invalidRequest', 'Invalid skip token.');
    }
    const all = this.children(folder);
    const rest = after === null ? all : all.filter((c) => sortKey(c).localeCompare(after) > 0);
    const page = rest.slice(0, top);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.graphUrl}/v1.0/$metadata#drives('${drive.id}')/items('${folder.id}')/children`,
      value: page.map((c) => selectFields(this.driveItem(c, { expandFields }), q.get('$select'))),
    };
    if (rest.length > page.length) {
      const last = page.at(-1)!;
      const token = Buffer.from(
        new URLSearchParams({
          Paged: 'TRUE',
          p_SortBehavior: '0',
          p_FileLeafRef: last.name,
          p_SortKey: sortKey(last),
        }).toString(),
      ).toString('base64url');
      const keep = new URLSearchParams();
      for (const [k, v] of q) if (k !== '$skiptoken') keep.set(k, v);
      keep.set('$skiptoken', token);
      body['@odata.nextLink'] =
        `${this.graphUrl}/v1.0/drives/${drive.id}/items/${folder.id}/children?${odataQuery(keep)}`;
    }
    json(res, 200, body);
  }

  /** `root/delta`: the drive's items changed since the token, in change order, parents first. */
  private delta(req: IncomingMessage, res: ServerResponse, drive: Drive, q: URLSearchParams) {
    const top = Math.min(Math.max(Number(q.get('$top') ?? 200) || 200, 1), 1000);
    const raw = q.get('token');
    // {t: since time (ms)} | {s: since seq}; a: last seq already returned in this enumeration.
    let state: { t?: number; s?: number; a: number };
    if (raw === null) state = { s: -1, a: 0 };
    else if (raw === 'latest') state = { s: this.seq, a: this.seq };
    else if (/^\d{4}-\d\d-\d\dT/.test(raw) && !Number.isNaN(Date.parse(raw)))
      state = { t: Date.parse(raw), a: 0 };
    else {
      try {
        state = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as typeof state;
        if (typeof state.a !== 'number') throw new Error('bad token');
      } catch {
        res.setHeader('location', `${this.graphUrl}/v1.0/drives/${drive.id}/root/delta`);
        return this.graphError(
          res,
          410,
          'resyncRequired',
          "Resync required. Replace any local items with the server's version.",
        );
      }
    }
    const full = state.s === -1;
    const changed = [...this.items.values()]
      .filter((it) => it.driveId === drive.id && it.seq > state.a)
      .filter((it) => (state.t !== undefined ? it.changedAt >= state.t : it.seq > (state.s ?? 0)))
      .filter((it) => !(full && it.deleted))
      .sort((a, b) => a.seq - b.seq);
    const page = changed.slice(0, top);
    const withParents = !req.headers.deltaexcludeparent;
    const seen = new Set<string>();
    const value: Record<string, unknown>[] = [];
    for (const it of page) {
      if (withParents && !it.deleted) {
        const chain: Item[] = [];
        for (
          let p = it.parentId ? this.items.get(it.parentId) : undefined;
          p;
          p = p.parentId ? this.items.get(p.parentId) : undefined
        )
          chain.unshift(p);
        for (const p of chain)
          if (!seen.has(p.id)) {
            seen.add(p.id);
            value.push(this.driveItem(p, { delta: true }));
          }
      }
      if (seen.has(it.id)) continue;
      seen.add(it.id);
      value.push(this.driveItem(it, { delta: true }));
    }
    const body: Record<string, unknown> = {
      '@odata.context': `${this.graphUrl}/v1.0/$metadata#Collection(driveItem)`,
      value: value.map((v) => selectFields(v, q.get('$select'))),
    };
    const link = (s: typeof state) => {
      const keep = new URLSearchParams();
      keep.set('token', Buffer.from(JSON.stringify(s)).toString('base64url'));
      if (q.get('$top')) keep.set('$top', String(top));
      if (q.get('$select')) keep.set('$select', q.get('$select')!);
      return `${this.graphUrl}/v1.0/drives/${drive.id}/root/delta?${odataQuery(keep)}`;
    };
    if (changed.length > page.length) body['@odata.nextLink'] = link({ ...state, a: page.at(-1)!.seq });
    else body['@odata.deltaLink'] = link({ s: this.seq, a: this.seq });
    json(res, 200, body);
  }
}

/** SharePoint pages children in name order; the sort key is also what the skip token remembers. */
function sortKey(item: { name: string }): string {
  return item.name.toLowerCase();
}

/** `$`-keys as OData writes them (unencoded `$`), values percent-encoded. */
function odataQuery(p: URLSearchParams): string {
  return [...p].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

function selectFields(o: Record<string, unknown>, select: string | null): Record<string, unknown> {
  if (!select) return o;
  const keep = new Set(select.split(',').map((s) => s.trim()));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o))
    if (keep.has(k) || k.startsWith('@odata') || k === 'deleted') out[k] = v;
  return out;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type':
        'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
      'content-length': String(Buffer.byteLength(data)),
      'request-id': randomUUID(),
      ...headers,
    })
    .end(data);
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
