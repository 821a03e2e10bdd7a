// Unit tests for providers/sharepoint.ts, against the in-process Graph fake (test/providers/fakes):
// what the conformance suite does not reach — the resumable walk across nested folders, the delta feed,
// error classes by status, TLS trust, delegated credentials, site / drive / folder_path settings — and
// the fake's own QuickXorHash against published vectors.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createProvider, ProviderError, type SourceEntry } from '../../providers';
import { SharePointProvider, sharepointConfigSchema } from '../../providers/sharepoint';
import { FakeSharePoint, QuickXorHash } from '../providers/fakes/sharepoint';
import { sharepointConnection } from '../providers/fixtures/sharepoint';

async function listAll(
  p: SharePointProvider | (() => SharePointProvider),
  sp: string,
  pageSize: number,
  modifiedSince?: string,
  deltaToken?: string | null,
) {
  const entries: SourceEntry[] = [];
  const removed: string[] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    // A function: a new provider instance for every page (nothing is carried but the cursor).
    const provider = typeof p === 'function' ? p() : p;
    const page = await provider.list(sp, {
      cursor,
      pageSize,
      modifiedSince: modifiedSince ?? null,
      deltaToken,
    });
    assert.ok(page.entries.length <= pageSize);
    entries.push(...page.entries);
    removed.push(...(page.removed ?? []));
    if (!page.nextCursor) return { entries, removed, cursors, deltaToken: page.deltaToken };
    assert.equal(page.deltaToken, undefined, 'only the last page carries a delta token');
    cursors.push(page.nextCursor);
    cursor = page.nextCursor;
  }
  throw new Error('listing never ends');
}

async function failure(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

async function read(s: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const paths = (es: SourceEntry[]) => es.map((e) => e.path).sort();

describe('sharepoint provider', function () {
  this.timeout(60_000);
  let fake: FakeSharePoint;
  const drive = () => fake.defaultDrive(fake.siteByName('Team')!);
  const provider = (extra: Record<string, unknown> = {}) => {
    const { config, credentials } = sharepointConnection(fake);
    return new SharePointProvider(sharepointConfigSchema.parse({ ...config, ...extra }), credentials);
  };

  before(async () => {
    fake = await FakeSharePoint.start();
    fake.addSite('Team');
  });
  after(() => fake?.stop());

  it("computes QuickXorHash as Microsoft's reference does (rclone's vectors)", () => {
    const vectors: [string, string][] = [
      ['', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
      ['Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
      ['tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
      ['2fuxhBJXtpWFe8dOfdGeHw==', 'O9tHLAghgSvYohKFyMMxnNCHaHg='],
      ['T6LYJIfDh81JrAK309H2JMJTXis=', 'zBTHrspn3mEcohlJdIUAbjGNaNg='],
    ];
    for (const [input, out] of vectors) {
      const bytes = Buffer.from(input, 'base64');
      assert.equal(
        new QuickXorHash().update(bytes).digest().toString('base64'),
        out,
        `${bytes.length} bytes`,
      );
      // Fed byte by byte: the same.
      const h = new QuickXorHash();
      for (const b of bytes) h.update(Buffer.from([b]));
      assert.equal(h.digest().toString('base64'), out);
    }
    // Longer than 160 bytes (the register wraps): split anywhere, the same digest.
    const long = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
    const whole = new QuickXorHash().update(long).digest();
    const parts = new QuickXorHash().update(long.subarray(0, 333)).update(long.subarray(333)).digest();
    assert.deepEqual(parts, whole);
  });

  it('resumes from every cursor of a walk across nested folders, and the cursor stays small', async () => {
    const files: string[] = [];
    // Folders and files interleaved at several depths, pages of 3 cut inside folders.
    for (const a of ['a', 'm', 'z'])
      for (const b of ['', 'b1', 'b2/c'])
        for (let i = 0; i < 4; i++) files.push(`walk/${a}${b ? `/${b}` : ''}/f${i}.txt`);
    files.push('walk/top.txt', 'walk/empty/.keep-not', 'walk/zz.txt');
    for (const f of files) await fake.put(drive(), f, Buffer.from(f));
    fake.mkdir(drive(), 'walk/only-folders/x/y');
    const p = provider();
    const sp = '/sites/Team/Shared Documents/walk';
    const want = files.map((f) => f.slice('walk/'.length)).sort();
    const all = await listAll(p, sp, 3);
    assert.deepEqual(paths(all.entries), want);
    assert.ok(all.cursors.length >= 10);
    for (const c of all.cursors) assert.ok(c.length < 600, `a cursor of ${c.length} characters`);
    // From each cursor, a fresh instance lists exactly what the first listing had left.
    const seen: string[] = [];
    for (let i = 0; i < all.cursors.length; i++) {
      seen.push(...all.entries.slice(i * 3, i * 3 + 3).map((e) => e.path));
      const rest: string[] = [];
      let cursor: string | null = all.cursors[i];
      while (cursor) {
        const page = await provider().list(sp, { cursor, pageSize: 3 });
        rest.push(...page.entries.map((e) => e.path));
        cursor = page.nextCursor;
      }
      assert.deepEqual([...seen, ...rest].sort(), want, `resumed from cursor ${i}`);
    }
    const garbage = await failure(() => p.list(sp, { cursor: 'bm90IGEgY3Vyc29y', pageSize: 3 }));
    assert.equal(garbage.kind, 'invalid');
  });

  it('reports driveItem ids, eTags, QuickXorHash checksums, MIME types and the library columns', async () => {
    const item = await fake.put(drive(), 'meta/report.pdf', Buffer.from('%PDF-1.7'), {
      fields: { Status: 'Approved', Owner: 'data-team' },
      description: 'quarterly report',
    });
    const [e] = (await listAll(provider(), '/sites/Team/Shared Documents/meta', 10)).entries;
    assert.equal(e.sourceObjectId, `${drive().id}/${item.id}`);
    assert.equal(e.name, 'report.pdf');
    assert.equal(e.contentType, 'application/pdf');
    assert.match(e.version, /^"\{[0-9A-F-]{36}\},\d+"$/);
    const q = new QuickXorHash().update(Buffer.from('%PDF-1.7')).digest().toString('hex');
    assert.equal(e.checksum, `quickxor:${q}`);
    // The library's own columns and the description; no system columns.
    assert.deepEqual(e.metadata, { Status: 'Approved', Owner: 'data-team', description: 'quarterly report' });
  });

  it('opens through the 302 to the download URL without sending it the bearer token', async () => {
    await fake.put(drive(), 'dl/hello.txt', Buffer.from('hello world'));
    const p = provider();
    const [e] = (await listAll(p, '/sites/Team/Shared Documents/dl', 10)).entries;
    const before = fake.downloadsWithBearer;
    assert.equal(await read(await p.open(e)), 'hello world');
    assert.equal(fake.downloadsWithBearer, before);
  });

  it('lists only changes under the folder from the delta feed when modifiedSince is given', async () => {
    for (let i = 0; i < 5; i++) await fake.put(drive(), `inc/old/o${i}.txt`, Buffer.from(`old ${i}`));
    await fake.put(drive(), 'inc/stays.txt', Buffer.from('same'));
    await new Promise((r) => setTimeout(r, 15));
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 15));
    await fake.put(drive(), 'inc/old/o2.txt', Buffer.from('changed'), { fields: { Stage: 'two' } });
    for (let i = 0; i < 7; i++) await fake.put(drive(), `inc/new/deep/n${i}.txt`, Buffer.from(`new ${i}`));
    await fake.put(drive(), 'elsewhere/outside.txt', Buffer.from('not under inc'));
    const o4 = fake.byPath(drive(), 'inc/old/o4.txt')!;
    fake.remove(drive(), 'inc/old/o4.txt');
    const p = provider();
    const sp = '/sites/Team/Shared Documents/inc';
    const want = ['old/o2.txt', ...Array.from({ length: 7 }, (_, i) => `new/deep/n${i}.txt`)].sort();
    // Small pages: the delta page is cut and continued (the cursor remembers how far it got). The
    // deleted file and the changed file outside the folder are `removed` (ids the sync may not know),
    // once, with the first slice of their delta page.
    const { entries, removed, cursors } = await listAll(p, sp, 2, since);
    assert.deepEqual(paths(entries), want);
    assert.equal(cursors.length, 3);
    assert.deepEqual(
      removed.sort(),
      [`${drive().id}/${o4.id}`, `${drive().id}/${fake.byPath(drive(), 'elsewhere/outside.txt')!.id}`].sort(),
    );
    const o2 = entries.find((e) => e.path === 'old/o2.txt')!;
    assert.equal(o2.size, 'changed'.length);
    assert.equal(o2.metadata.Stage, 'two');
    assert.equal(await read(await p.open(o2)), 'changed');
    // The same entry (id, version) as a full listing gives.
    const full = (await listAll(p, sp, 100)).entries.find((e) => e.path === 'old/o2.txt')!;
    assert.deepEqual(o2, full);
    // Resumed from a middle cursor by another instance.
    const rest = [];
    let cursor: string | null = cursors[1];
    while (cursor) {
      const page = await provider().list(sp, { cursor, pageSize: 2 });
      rest.push(...page.entries);
      cursor = page.nextCursor;
    }
    assert.deepEqual([...paths(entries.slice(0, 4)), ...paths(rest)].sort(), want);
  });

  it('delta cursors: a full listing ends with a deltaLink token; a delta listing pages and resumes from it', async () => {
    for (const rel of ['keep.txt', 'sub/edit.txt', 'sub/deep/gone.txt', 'leaves.txt'])
      await fake.put(drive(), `dl/${rel}`, Buffer.from(rel));
    await fake.put(drive(), 'dl-elsewhere/arrives.txt', Buffer.from('moved in, not modified'));
    const sp = '/sites/Team/Shared Documents/dl';
    const id = (rel: string) => `${drive().id}/${fake.byPath(drive(), rel)!.id}`;
    const before = fake.deltaRequests;
    // The walk asks for `token=latest` once, at its start; a file added mid-walk comes with the next delta.
    let cursor: string | null = null;
    let token: string | null | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100);
      const page = await provider().list(sp, { cursor, pageSize: 1 });
      if (pages === 0) await fake.put(drive(), 'dl/mid-walk.txt', Buffer.from('added mid-walk'));
      if (!page.nextCursor) {
        token = page.deltaToken;
        break;
      }
      assert.equal(page.deltaToken, undefined);
      cursor = page.nextCursor;
    }
    assert.equal(fake.deltaRequests - before, 1);
    assert.ok(token && token.length < 200 && !token.includes('/'), `a short token: ${token}`);

    const goneId = id('dl/sub/deep/gone.txt');
    const leavesId = id('dl/leaves.txt');
    await fake.put(drive(), 'dl/sub/edit.txt', Buffer.from('edited'));
    fake.move(drive(), 'dl-elsewhere/arrives.txt', 'dl/sub');
    fake.remove(drive(), 'dl/sub/deep/gone.txt');
    fake.move(drive(), 'dl/leaves.txt', 'dl-elsewhere');
    for (const pageSize of [1, 3, 100]) {
      const got = await listAll(provider, sp, pageSize, undefined, token);
      assert.deepEqual(
        paths(got.entries),
        ['mid-walk.txt', 'sub/arrives.txt', 'sub/edit.txt'],
        `pageSize ${pageSize}`,
      );
      assert.ok(got.removed.includes(goneId), 'the deleted file is removed');
      assert.ok(got.removed.includes(leavesId), 'the file moved out is removed');
      assert.ok(!got.removed.includes(id('dl/keep.txt')));
      assert.equal(got.entries.find((e) => e.path === 'sub/edit.txt')!.size, 'edited'.length);
      assert.ok(got.deltaToken && got.deltaToken !== token, 'a new token at the end');
      // Nothing changed since: the next delta lists nothing.
      const none = await listAll(provider, sp, pageSize, undefined, got.deltaToken);
      assert.deepEqual([none.entries, none.removed], [[], []]);
    }
  });

  it('classifies Graph errors: 401/403 auth, 404 not_found, 429 (Retry-After) and 503/504 retryable', async () => {
    const p = provider();
    const sp = '/sites/Team/Shared Documents/walk';
    await p.list(sp, { pageSize: 1 }); // the site and library are resolved, the token cached
    const cases: [number, string, ProviderError['kind'], boolean, number?][] = [
      [401, 'InvalidAuthenticationToken', 'auth', false],
      [403, 'accessDenied', 'auth', false],
      [404, 'itemNotFound', 'not_found', false],
      [429, 'activityLimitReached', 'throttled', true, 11],
      [503, 'serviceNotAvailable', 'unavailable', true, 3],
      [504, 'gatewayTimeout', 'unavailable', true],
      [400, 'invalidRequest', 'invalid', false],
    ];
    for (const [status, code, kind, retryable, retryAfter] of cases) {
      fake.failNext({ status, code, message: `fault ${status}`, retryAfter });
      const err = await failure(() => p.list(sp, { pageSize: 1 }));
      assert.equal(err.kind, kind, `${status}: ${err.message}`);
      assert.equal(err.retryable, retryable, `${status}`);
      assert.match(err.message, new RegExp(`${code}: fault ${status} \\(HTTP ${status}\\)`));
      if (retryAfter) assert.match(err.message, new RegExp(`retry after ${retryAfter} s`));
    }
    // The content request too (its error body is read from the raw response).
    const [e] = (await listAll(p, '/sites/Team/Shared Documents/dl', 10)).entries;
    fake.failNext({ status: 429, code: 'activityLimitReached', message: 'slow down', retryAfter: 5 });
    const err = await failure(() => p.open(e));
    assert.equal(err.kind, 'throttled');
    assert.equal(err.retryable, true);
    assert.match(err.message, /hello\.txt.*retry after 5 s/);
    // A missing folder.
    const missing = await failure(() =>
      p.list('/sites/Team/Shared Documents/no-such-folder', { pageSize: 1 }),
    );
    assert.equal(missing.kind, 'not_found');
    assert.equal(
      (await failure(() => p.list('/sites/Nope/Shared Documents', { pageSize: 1 }))).kind,
      'not_found',
    );
    assert.equal((await failure(() => p.list('/sites/Team/No Library', { pageSize: 1 }))).kind, 'not_found');
  });

  it('refuses a wrong secret as auth without echoing it, and trusts the fake only through ca_cert', async () => {
    const { config, credentials } = sharepointConnection(fake, 'Wr0ng-S3cret-Value');
    const wrong = new SharePointProvider(config, credentials);
    const err = await failure(() => wrong.list('/sites/Team/Shared Documents', { pageSize: 1 }));
    assert.equal(err.kind, 'auth');
    assert.equal(err.retryable, false);
    assert.match(err.message, /invalid_client: AADSTS7000215/);
    assert.doesNotMatch(err.message, /Wr0ng-S3cret-Value/);
    const t = await wrong.test();
    assert.equal(t.success, false);
    assert.doesNotMatch(JSON.stringify(t), /Wr0ng-S3cret-Value/);

    // Without ca_cert the self-signed certificate is refused (TLS verification stays on).
    const untrusted = new SharePointProvider(
      { ...config, ca_cert: null },
      sharepointConnection(fake).credentials,
    );
    const tlsErr = await failure(() => untrusted.list('/sites/Team/Shared Documents', { pageSize: 1 }));
    assert.equal(tlsErr.kind, 'invalid');
    assert.equal(tlsErr.retryable, false);
    assert.match(tlsErr.message, /ca_cert/);
    assert.equal(process.env.NODE_TLS_REJECT_UNAUTHORIZED, undefined);
  });

  it('takes delegated credentials (refresh token grant, rotated token kept)', async () => {
    const { config } = sharepointConnection(fake);
    const delegated = {
      type: 'delegated',
      tenant_id: fake.tenantId,
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
      refresh_token: fake.refreshToken,
    };
    const p = createProvider('sharepoint', config, delegated);
    const r = await p.test('/sites/Team/Shared Documents/dl');
    assert.equal(r.success, true, r.message);
    const bad = createProvider('sharepoint', config, { ...delegated, refresh_token: 'revoked' });
    const err = await failure(() => bad.list('/sites/Team/Shared Documents/dl', { pageSize: 1 }));
    assert.equal(err.kind, 'auth');
    assert.match(err.message, /invalid_grant/);
  });

  it('addresses the folder through site_id, drive_id and folder_path', async () => {
    await fake.put(drive(), 'cfg/sub/x.txt', Buffer.from('x'));
    const site = fake.siteByName('Team')!;
    const expect = async (p: SharePointProvider, sp: string) =>
      assert.deepEqual(paths((await listAll(p, sp, 10)).entries), ['sub/x.txt'], sp);
    await expect(provider({ site_id: site.id }), '/Shared Documents/cfg');
    await expect(provider({ site_id: site.id }), '/Documents/cfg'); // the library's display name
    await expect(provider({ drive_id: drive().id }), '/cfg');
    await expect(provider({ drive_id: drive().id }), '/sites/Team/Shared Documents/cfg');
    await expect(provider({ drive_id: drive().id, folder_path: '/cfg' }), '/');
    await expect(provider({ folder_path: 'cfg' }), '/sites/Team/Shared Documents');
    assert.equal((await provider({ drive_id: drive().id }).test()).success, true);
    assert.equal((await provider({ site_id: site.id }).test()).success, true);
    const noSite = await failure(() => provider().list('/Shared Documents/cfg', { pageSize: 1 }));
    assert.equal(noSite.kind, 'invalid');
  });

  it('validates provider_config and credentials', () => {
    assert.equal(
      sharepointConfigSchema.safeParse({ graph_endpoint: 'http://graph.microsoft.com' }).success,
      false,
    );
    assert.equal(
      sharepointConfigSchema.safeParse({ graph_endpoint: 'https://graph.microsoft.com/v1.0' }).success,
      false,
    );
    assert.equal(sharepointConfigSchema.safeParse({ ca_cert: 'not a pem' }).success, false);
    assert.equal(sharepointConfigSchema.safeParse({ unknown: 1 }).success, false);
    assert.deepEqual(sharepointConfigSchema.parse({ graph_endpoint: 'https://graph.microsoft.us/' }), {
      graph_endpoint: 'https://graph.microsoft.us',
    });
    const e = (() => {
      try {
        createProvider(
          'sharepoint',
          {},
          { type: 'client_credentials', tenant_id: 't', client_secret: 's3cr3t' },
        );
      } catch (err) {
        return err as ProviderError;
      }
      assert.fail('expected invalid credentials');
    })();
    assert.equal(e.kind, 'invalid');
    assert.match(e.message, /credentials\.client_id/);
    assert.doesNotMatch(e.message, /s3cr3t/);
  });
});
