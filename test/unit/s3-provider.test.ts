// Unit tests for providers/s3.ts: config and credentials schemas, and what the conformance suite cannot
// reach on MinIO (iam_role through STS, ETag rules, error classes, TLS settings), against local stubs
// that answer as S3 and STS do.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createProvider, ProviderError, type StorageProvider } from '../../providers';
import {
  createS3Provider,
  s3ConfigSchema,
  tigrisConfigSchema,
  TIGRIS_ENDPOINT,
  type S3ProviderOptions,
} from '../../providers/s3';

const MD5 = '0cc175b9c0f1b6a831c399e269772661';
const ACCESS_KEY = { type: 'access_key', access_key_id: 'AKIDEXAMPLE', secret_access_key: 'wJalrXUtnFEMI' };

interface StubObject {
  body: Buffer;
  etag: string;
  contentType?: string;
  metadata?: Record<string, string>;
  sse?: string;
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Answers the few S3 calls the provider makes (path style), from an in-memory bucket `bkt`. */
class FakeS3 {
  objects = new Map<string, StubObject>();
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  /** When set, every request gets this error. */
  fail: { status: number; code?: string } | null = null;
  listBuckets: 'ok' | 'AccessDenied' = 'ok';
  /** When set, every HEAD of an object gets this status (and, as from S3, no body). */
  failHeads: number | null = null;
  headDelayMs = 0;
  headsInFlight = 0;
  maxHeadsInFlight = 0;
  /** Keys deleted right after they are listed (before their HEAD). */
  vanishAfterList = new Set<string>();
  /** GET answers with this many bytes of the promised body, then drops the connection. */
  truncateBodyAt: number | null = null;
  server: http.Server | https.Server;

  constructor(tls?: { key: Buffer; cert: Buffer }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      req.resume();
      req.on('end', () => void this.answer(req, res));
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const scheme = this.server instanceof https.Server ? 'https' : 'http';
    return `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  put(key: string, o: Partial<StubObject> = {}) {
    const body = o.body ?? Buffer.from(key);
    this.objects.set(key, { etag: MD5, ...o, body });
  }

  private error(res: http.ServerResponse, method: string, status: number, code?: string) {
    res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'stub' });
    if (method === 'HEAD' || !code) res.end();
    else
      res.end(`<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>${code}</Code><Message>stub says ${code}</Message><RequestId>stub</RequestId></Error>`);
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse) {
    const method = req.method ?? 'GET';
    this.requests.push({ method, url: req.url ?? '/', headers: req.headers });
    if (this.fail) return this.error(res, method, this.fail.status, this.fail.code);
    const url = new URL(req.url ?? '/', 'http://stub');
    const [bucket, ...rest] = url.pathname.slice(1).split('/');
    const key = rest.map(decodeURIComponent).join('/');
    if (!bucket) {
      if (this.listBuckets === 'AccessDenied') return this.error(res, method, 403, 'AccessDenied');
      res.writeHead(200, { 'content-type': 'application/xml' });
      return res.end(
        '<ListAllMyBucketsResult><Owner><ID>x</ID></Owner><Buckets><Bucket><Name>bkt</Name>' +
          '<CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>',
      );
    }
    if (bucket !== 'bkt') return this.error(res, method, 404, 'NoSuchBucket');
    if (!key && method === 'HEAD') return res.writeHead(200).end();
    if (!key && url.searchParams.get('list-type') === '2') return this.list(url, res);
    const o = this.objects.get(key);
    if (method === 'HEAD') {
      this.headsInFlight++;
      this.maxHeadsInFlight = Math.max(this.maxHeadsInFlight, this.headsInFlight);
      await new Promise((r) => setTimeout(r, this.headDelayMs));
      this.headsInFlight--;
    }
    if (method === 'HEAD' && this.failHeads) return this.error(res, method, this.failHeads);
    if (!o) return this.error(res, method, 404, 'NoSuchKey');
    const headers: http.OutgoingHttpHeaders = {
      etag: `"${o.etag}"`,
      'content-length': String(o.body.length),
      'last-modified': new Date('2024-05-01T10:00:00Z').toUTCString(),
      'content-type': o.contentType ?? 'binary/octet-stream',
      ...(o.sse ? { 'x-amz-server-side-encryption': o.sse } : {}),
      ...Object.fromEntries(Object.entries(o.metadata ?? {}).map(([k, v]) => [`x-amz-meta-${k}`, v])),
    };
    res.writeHead(200, headers);
    if (method === 'HEAD') return res.end();
    if (this.truncateBodyAt === null) return res.end(o.body);
    res.write(o.body.subarray(0, this.truncateBodyAt), () => setTimeout(() => res.socket?.destroy(), 20));
  }

  private list(url: URL, res: http.ServerResponse) {
    const prefix = url.searchParams.get('prefix') ?? '';
    const after = url.searchParams.get('start-after') ?? '';
    const max = Number(url.searchParams.get('max-keys') ?? 1000);
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, max);
    const contents = page
      .map((k) => {
        const o = this.objects.get(k)!;
        return (
          `<Contents><Key>${xml(k)}</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified>` +
          `<ETag>&quot;${o.etag}&quot;</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`
        );
      })
      .join('');
    for (const k of page) if (this.vanishAfterList.has(k)) this.objects.delete(k);
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Name>bkt</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
        `<IsTruncated>${keys.length > max}</IsTruncated>${contents}</ListBucketResult>`,
    );
  }
}

/** Answers AssumeRole (awsQuery protocol): with credentials, or with an error. */
class FakeSts {
  calls: URLSearchParams[] = [];
  fail: { status: number; code: string } | null = null;
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      this.calls.push(form);
      res.setHeader('content-type', 'text/xml');
      if (this.fail) {
        res.writeHead(this.fail.status);
        res.end(
          `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
            `<Code>${this.fail.code}</Code><Message>not authorized to perform sts:AssumeRole</Message></Error>` +
            `<RequestId>stub</RequestId></ErrorResponse>`,
        );
        return;
      }
      const expiration = new Date(Date.now() + 3600_000).toISOString();
      res.end(
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
          `<Credentials><AccessKeyId>ASIATEMPORARY</AccessKeyId><SecretAccessKey>temp-secret</SecretAccessKey>` +
          `<SessionToken>session-token-${this.calls.length}</SessionToken><Expiration>${expiration}</Expiration>` +
          `</Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/reader/bucket-syncs</Arn>` +
          `<AssumedRoleId>AROA:bucket-syncs</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>` +
          `<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
    });
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function expectProviderError(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

function expectInvalid(fn: () => unknown, pattern: RegExp): ProviderError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.equal(err.kind, 'invalid');
    assert.equal(err.retryable, false);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected create to throw');
}

const ROLE = {
  type: 'iam_role',
  role_arn: 'arn:aws:iam::123456789012:role/reader',
  external_id: 'ext-123',
};
const STS_CALLER = { accessKeyId: 'AKIDSERVER', secretAccessKey: 'server-secret' };

describe('s3 provider: config and credentials', () => {
  it('fills the documented defaults and keeps credentials out of provider_config', () => {
    assert.deepEqual(s3ConfigSchema.parse({ region: 'eu-west-1' }), {
      region: 'eu-west-1',
      use_ssl: true,
      verify_ssl: true,
    });
    assert.deepEqual(tigrisConfigSchema.parse({}), { region: 'auto', endpoint_url: TIGRIS_ENDPOINT });
    // Mixpeek's S3 model defaults the region to us-east-1.
    assert.equal(s3ConfigSchema.parse({}).region, 'us-east-1');
    assert.equal(
      s3ConfigSchema.safeParse({ region: 'us-east-1', credentials: ACCESS_KEY }).success,
      false,
      'strict: credentials are passed separately',
    );
    assert.equal(s3ConfigSchema.safeParse({ region: 'us-east-1', endpoint_url: 'ftp://x' }).success, false);
    assert.equal(s3ConfigSchema.safeParse({ region: 'us-east-1', endpoint_url: 'minio:9000' }).success, true);
    assert.equal(tigrisConfigSchema.safeParse({ force_path_style: true }).success, false);
  });

  it('refuses missing or malformed credentials as `invalid`, naming fields but never values', () => {
    const config = { region: 'us-east-1' };
    expectInvalid(() => createProvider('s3', config, null), /need provider_config\.credentials/);
    const err = expectInvalid(
      () =>
        createProvider('s3', config, {
          type: 'access_key',
          access_key_id: 'AKIDVISIBLE',
          secret_access_key: 7,
        }),
      /credentials\.secret_access_key/,
    );
    assert.doesNotMatch(err.message, /AKIDVISIBLE/);
    expectInvalid(
      () => createProvider('s3', config, { type: 'password', password: 'x' }),
      /credentials\.type/,
    );
    expectInvalid(() => createProvider('s3', config, { ...ROLE, role_arn: 'reader' }), /role_arn/);
    expectInvalid(() => createProvider('tigris', {}, ROLE), /invalid tigris credentials/);
    // Accepted without any request: iam_role is resolved lazily.
    assert.ok(createProvider('s3', config, ROLE));
    assert.ok(createProvider('s3', config, { ...ACCESS_KEY, session_token: 'token' }));
  });
});

describe('s3 provider against a stub S3', function () {
  this.timeout(30_000);
  let s3: FakeS3;
  let url = '';
  const provider = (over: Record<string, unknown> = {}, creds: Record<string, unknown> = ACCESS_KEY) =>
    createProvider('s3', { region: 'us-east-1', endpoint_url: url, use_ssl: false, ...over }, creds);

  beforeEach(async () => {
    s3 = new FakeS3();
    url = await s3.listen();
  });
  afterEach(() => s3.close());

  it('lists relative paths, skips folder markers, heads only the page, and resumes from the cursor', async () => {
    s3.put('pre/');
    s3.put('pre/a/');
    for (let i = 0; i < 40; i++)
      s3.put(`pre/a/f${String(i).padStart(2, '0')}.txt`, { contentType: 'text/plain' });
    s3.put('pre/z/');
    s3.put('prefix-sibling.txt');
    s3.headDelayMs = 30;
    const p = provider();
    const first = await p.list('bkt/pre', { pageSize: 25 });
    assert.equal(first.entries.length, 23, '25 keys, two of them the `pre/` and `pre/a/` markers');
    assert.equal(s3.requests.filter((r) => r.method === 'HEAD').length, 23, 'one HEAD per entry of the page');
    assert.ok(s3.maxHeadsInFlight > 1 && s3.maxHeadsInFlight <= 16, `${s3.maxHeadsInFlight} heads at once`);
    assert.equal(first.nextCursor, 'a/f22.txt');
    const e = first.entries[0];
    assert.equal(e.path, 'a/f00.txt');
    assert.equal(e.name, 'f00.txt');
    assert.equal(e.sourceObjectId, 'bkt/pre/a/f00.txt');
    assert.equal(e.contentType, 'text/plain');
    assert.equal(e.modifiedAt, '2024-05-01T10:00:00.000Z');
    const second = await provider().list('/bkt/pre/', { pageSize: 25, cursor: first.nextCursor });
    assert.deepEqual(
      second.entries.map((x) => x.path),
      Array.from({ length: 17 }, (_, i) => `a/f${i + 23}.txt`),
    );
    assert.equal(second.nextCursor, null, 'the trailing `pre/z/` marker ends the listing');
  });

  it('follows pages of nothing but folder markers instead of returning them empty', async () => {
    for (let i = 0; i < 5; i++) s3.put(`p/d${i}/`);
    s3.put('p/d9/file.txt');
    const page = await provider().list('bkt/p', { pageSize: 2 });
    assert.deepEqual(
      page.entries.map((e) => e.path),
      ['d9/file.txt'],
    );
    assert.equal(page.nextCursor, null);
  });

  it('gives md5 checksums only for plain ETags, and user metadata from HEAD', async () => {
    s3.put('k/plain.bin', { etag: MD5.toUpperCase(), metadata: { owner: 'data-team' } });
    s3.put('k/multipart.bin', { etag: `${MD5}-3` });
    s3.put('k/kms.bin', { etag: MD5, sse: 'aws:kms' });
    s3.put('k/aes.bin', { etag: MD5, sse: 'AES256' });
    const { entries } = await provider().list('bkt/k', { pageSize: 10 });
    const by = Object.fromEntries(entries.map((e) => [e.path, e]));
    assert.equal(by['plain.bin'].checksum, `md5:${MD5}`);
    assert.equal(by['plain.bin'].version, MD5.toUpperCase());
    assert.deepEqual(by['plain.bin'].metadata, { owner: 'data-team' });
    assert.equal(by['multipart.bin'].checksum, undefined);
    assert.equal(by['multipart.bin'].version, `${MD5}-3`);
    assert.equal(by['kms.bin'].checksum, undefined, 'a KMS ETag is not the MD5');
    assert.equal(by['aes.bin'].checksum, `md5:${MD5}`, 'SSE-S3 keeps the MD5 ETag');
  });

  it('a lazy listing makes no HEAD; complete() heads only what it is given, as a full listing would', async () => {
    s3.put('z/a.txt', { contentType: 'text/plain', metadata: { owner: 'x' } });
    s3.put('z/b.bin', { etag: `${MD5}-2` });
    s3.put('z/gone.txt');
    const p = provider();
    const full = await p.list('bkt/z', { pageSize: 10 });
    const heads = () => s3.requests.filter((r) => r.method === 'HEAD').length;
    const before = heads();
    const lazy = await p.list('bkt/z', { pageSize: 10, details: 'lazy' });
    assert.equal(heads(), before, 'the listing alone');
    assert.deepEqual(
      lazy.entries.map((e) => [e.path, e.version, e.size, e.modifiedAt, e.partial]),
      full.entries.map((e) => [e.path, e.version, e.size, e.modifiedAt, true]),
      'what a partial entry carries is what the whole one says',
    );
    assert.ok(lazy.entries.every((e) => e.contentType === undefined && e.checksum === undefined));
    s3.objects.delete('z/gone.txt');
    const [a, gone] = await p.complete!('bkt/z', [lazy.entries[0], lazy.entries[2]]);
    assert.equal(heads(), before + 2, 'one HEAD per entry given');
    assert.deepEqual(a, full.entries[0]);
    assert.equal(gone, null, 'gone since the listing');
  });

  it('fetch(): one GET gives the entry whole, as complete() would, and the bytes; no HEAD', async () => {
    s3.put('f/small.txt', {
      contentType: 'text/plain',
      metadata: { owner: 'x' },
      body: Buffer.from('hello'),
    });
    s3.put('f/big.bin', { etag: `${MD5}-2`, body: Buffer.alloc(4096, 7) });
    s3.put('f/gone.txt');
    const p = provider();
    const lazy = await p.list('bkt/f', { pageSize: 10, details: 'lazy' });
    const byPath = Object.fromEntries(lazy.entries.map((e) => [e.path, e]));
    const whole = await p.complete!('bkt/f', [byPath['small.txt'], byPath['big.bin']]);
    s3.requests.length = 0;
    const small = await p.fetch!(byPath['small.txt'], 1024);
    assert.ok(small && 'bytes' in small, 'a file within maxBytes comes as bytes');
    assert.equal(small.bytes.toString(), 'hello');
    assert.deepEqual(small.entry, whole[0], 'the whole entry, content type and metadata included');
    const big = await p.fetch!(byPath['big.bin'], 1024);
    assert.ok(big && 'stream' in big, 'a file over maxBytes comes as a stream');
    const chunks: Buffer[] = [];
    for await (const c of big.stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), Buffer.alloc(4096, 7));
    assert.deepEqual(big.entry, whole[1]);
    assert.deepEqual(
      s3.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`),
      ['GET /bkt/f/small.txt', 'GET /bkt/f/big.bin'],
      'one GET per file and nothing else',
    );
    s3.objects.delete('f/gone.txt');
    assert.equal(await p.fetch!(byPath['gone.txt'], 1024), null, 'gone since the listing');
    s3.fail = { status: 403, code: 'AccessDenied' };
    const err = await expectProviderError(() => p.fetch!(byPath['small.txt'], 1024));
    assert.equal(err.retryable, false, 'a refusal is classified, not retried');
  });

  it('drops an object deleted between the listing and its HEAD', async () => {
    s3.put('v/keep.txt');
    s3.put('v/gone.txt');
    s3.vanishAfterList.add('v/gone.txt');
    const { entries } = await provider().list('bkt/v', { pageSize: 10 });
    assert.deepEqual(
      entries.map((e) => e.path),
      ['keep.txt'],
    );
  });

  it('classifies S3 answers', async () => {
    const cases: [number, string | undefined, ProviderError['kind'], boolean][] = [
      [503, 'SlowDown', 'throttled', true],
      [429, undefined, 'throttled', true],
      [500, 'InternalError', 'unavailable', true],
      [502, undefined, 'unavailable', true],
      [403, 'InvalidAccessKeyId', 'auth', false],
      [403, 'SignatureDoesNotMatch', 'auth', false],
      [403, 'AccessDenied', 'auth', false],
      [404, 'NoSuchBucket', 'not_found', false],
      [301, 'PermanentRedirect', 'invalid', false],
      [400, 'InvalidArgument', 'invalid', false],
      [403, 'InvalidObjectState', 'invalid', false],
    ];
    for (const [status, code, kind, retryable] of cases) {
      s3.fail = { status, code };
      const err = await expectProviderError(() => provider().list('bkt/x', { pageSize: 5 }));
      assert.equal(
        `${status} ${code}: ${err.kind} ${err.retryable}`,
        `${status} ${code}: ${kind} ${retryable}`,
      );
      assert.match(err.message, /s3:\/\/bkt\/x\//);
    }
    // HEAD answers have no body: the status alone decides.
    s3.fail = null;
    s3.put('h/file.txt');
    for (const [status, kind] of [
      [403, 'auth'],
      [503, 'unavailable'],
    ] as const) {
      s3.failHeads = status;
      const err = await expectProviderError(() => provider().list('bkt/h', { pageSize: 5 }));
      assert.equal(err.kind, kind);
      assert.match(err.message, /head s3:\/\/bkt\/h\/file\.txt/);
    }
    s3.failHeads = null;
    s3.fail = { status: 403, code: 'AccessDenied' };
    assert.equal((await expectProviderError(() => provider().open(entryFor('bkt/h/file.txt')))).kind, 'auth');
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const refused = await expectProviderError(() =>
      provider({ endpoint_url: closed }).list('bkt', { pageSize: 1 }),
    );
    assert.equal(refused.kind, 'unavailable');
    assert.equal(refused.retryable, true);
  });

  it('a connection dropped mid-body is a retryable ProviderError from the stream', async () => {
    s3.put('b/big.bin', { body: Buffer.alloc(64 * 1024, 7) });
    s3.truncateBodyAt = 1000;
    const stream = await provider().open(entryFor('bkt/b/big.bin'));
    const err = await expectProviderError(async () => {
      for await (const _ of stream) void _;
    });
    assert.equal(err.retryable, true, `${err.kind}: ${err.message}`);
    assert.match(err.message, /big\.bin/);
  });

  it('test(): credentials only without a source path; bucket and prefix with one', async () => {
    assert.equal((await provider().test()).success, true);
    s3.listBuckets = 'AccessDenied';
    const limited = await provider().test();
    assert.equal(limited.success, true, 'AccessDenied means the key and signature were accepted');
    assert.match(limited.message, /not allowed to list buckets/);
    s3.fail = { status: 403, code: 'InvalidAccessKeyId' };
    const bad = await provider().test();
    assert.equal(bad.success, false);
    assert.equal(bad.details?.kind, 'auth');
    s3.fail = null;
    const missing = await provider().test('other-bucket/x');
    assert.equal(missing.success, false);
    assert.match(missing.message, /other-bucket/);
    const ok = await provider().test('bkt/x');
    assert.equal(ok.success, true, ok.message);
    assert.deepEqual(
      s3.requests.slice(-2).map((r) => `${r.method} ${r.url.split('?')[0]}`),
      ['HEAD /bkt/', 'GET /bkt/'],
    );
    assert.match(s3.requests.at(-1)!.url, /max-keys=1/);
  });

  it('a scheme-less endpoint_url takes its scheme from use_ssl', async () => {
    s3.put('s/one.txt');
    const host = url.replace('http://', '');
    const { entries } = await provider({ endpoint_url: host, use_ssl: false }).list('bkt/s', { pageSize: 5 });
    assert.equal(entries.length, 1);
    const tls = await expectProviderError(() =>
      provider({ endpoint_url: host, use_ssl: true }).list('bkt/s', { pageSize: 5 }),
    );
    assert.equal(tls.retryable, true, 'TLS to a plain HTTP port fails as a connection error');
  });
});

describe('s3 provider: verify_ssl', function () {
  this.timeout(30_000);
  let dir = '';
  let s3: FakeS3;
  let url = '';

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 's3-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1'],
        ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ],
      { stdio: 'ignore' },
    );
    s3 = new FakeS3({
      key: readFileSync(path.join(dir, 'key.pem')),
      cert: readFileSync(path.join(dir, 'cert.pem')),
    });
    url = await s3.listen();
    s3.put('t/file.txt');
  });
  after(async () => {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a self-signed server unless verify_ssl is false', async () => {
    const make = (verify_ssl: boolean) =>
      createProvider('s3', { region: 'us-east-1', endpoint_url: url, verify_ssl }, ACCESS_KEY);
    const err = await expectProviderError(() => make(true).list('bkt/t', { pageSize: 5 }));
    assert.equal(err.kind, 'invalid');
    assert.equal(err.retryable, false);
    assert.match(err.message, /verify_ssl/);
    const { entries } = await make(false).list('bkt/t', { pageSize: 5 });
    assert.deepEqual(
      entries.map((e) => e.path),
      ['file.txt'],
    );
  });
});

describe('s3 provider: iam_role', function () {
  this.timeout(30_000);
  let s3: FakeS3;
  let sts: FakeSts;
  let s3Url = '';
  let stsUrl = '';
  const provider = (role: Record<string, unknown>, options: S3ProviderOptions): StorageProvider =>
    createS3Provider(
      s3ConfigSchema.parse({ region: 'us-east-1', endpoint_url: s3Url, use_ssl: false }),
      role,
      options,
    );

  beforeEach(async () => {
    s3 = new FakeS3();
    s3Url = await s3.listen();
    sts = new FakeSts();
    stsUrl = await sts.listen();
    s3.put('r/one.txt');
  });
  afterEach(async () => {
    await s3.close();
    await sts.close();
  });

  it('assumes the role with the external id, signs with the temporary key, and caches it', async () => {
    const options = { sts: { endpoint: stsUrl, credentials: STS_CALLER } };
    const role = { ...ROLE, external_id: `ext-${Date.now()}` };
    const { entries } = await provider(role, options).list('bkt/r', { pageSize: 5 });
    assert.equal(entries.length, 1);
    await provider(role, options).list('bkt/r', { pageSize: 5 });
    assert.equal(sts.calls.length, 1, 'a second provider reuses the unexpired credentials');
    const call = sts.calls[0];
    assert.equal(call.get('Action'), 'AssumeRole');
    assert.equal(call.get('RoleArn'), ROLE.role_arn);
    assert.equal(call.get('ExternalId'), role.external_id);
    for (const r of s3.requests) {
      assert.match(String(r.headers.authorization), /Credential=ASIATEMPORARY\//);
      assert.equal(r.headers['x-amz-security-token'], 'session-token-1');
    }
  });

  it('an STS refusal is a non-retryable auth error naming the role, and test() reports it', async () => {
    sts.fail = { status: 403, code: 'AccessDenied' };
    const p = provider(ROLE, { sts: { endpoint: stsUrl, credentials: STS_CALLER } });
    const err = await expectProviderError(() => p.list('bkt/r', { pageSize: 5 }));
    assert.equal(err.kind, 'auth');
    assert.equal(err.retryable, false);
    assert.match(err.message, /assume role arn:aws:iam::123456789012:role\/reader/);
    const t = await p.test('bkt/r');
    assert.equal(t.success, false);
    assert.match(t.message, /assume role/);
    assert.equal(s3.requests.length, 0, 'nothing reached S3 unsigned');
  });

  it('an unreachable STS is a retryable error', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const p = provider(
      { ...ROLE, external_id: 'unreachable' },
      { sts: { endpoint, credentials: STS_CALLER } },
    );
    const err = await expectProviderError(() => p.list('bkt/r', { pageSize: 5 }));
    assert.equal(err.kind, 'unavailable');
    assert.equal(err.retryable, true);
    assert.match(err.message, /assume role/);
  });
});

function entryFor(sourceObjectId: string) {
  const name = sourceObjectId.split('/').at(-1)!;
  return { sourceObjectId, path: name, name, size: 0, modifiedAt: '', version: '', metadata: {} };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
