// Unit tests for providers/google-drive.ts: what the conformance suite does not reach, against the
// in-process Drive fake (test/providers/fakes/google-drive.ts) with the real googleapis client:
// resuming a walk of a deep and wide tree from every cursor, modifiedSince pushed into `q`, Docs
// Editors exports, shared drives with OAuth credentials, source_path forms, delegation, error
// classes, and no retries inside the SDK.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createProvider, ProviderError, type SourceEntry, type StorageProvider } from '../../providers';
import { driveError, googleDriveConfigSchema } from '../../providers/google-drive';
import { FakeDrive, type ServiceAccountKey } from '../providers/fakes/google-drive';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

async function listAll(p: StorageProvider, sourcePath: string, pageSize: number, modifiedSince?: string) {
  const entries: SourceEntry[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10_000, 'listing never ends');
    const page = await p.list(sourcePath, { cursor, pageSize, modifiedSince: modifiedSince ?? null });
    entries.push(...page.entries);
    if (!page.nextCursor) return entries;
    cursor = page.nextCursor;
  }
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

async function readAll(p: StorageProvider, e: SourceEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await p.open(e)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('google_drive provider', function () {
  this.timeout(60_000);
  let fake: FakeDrive;
  let key: ServiceAccountKey;
  const drive = (config: Record<string, unknown> = {}, credentials: Record<string, unknown> = { ...key }) =>
    createProvider('google_drive', { endpoint_url: fake.url, ...config }, credentials);

  before(async () => {
    fake = new FakeDrive();
    await fake.start();
    key = fake.addServiceAccount();
  });
  after(() => fake.stop());

  it('validates provider_config and credentials without echoing secrets', () => {
    assert.equal(googleDriveConfigSchema.safeParse({ endpoint_url: 'http://127.0.0.1:1/' }).success, true);
    assert.equal(googleDriveConfigSchema.safeParse({ endpoint_url: 'http://proxy/google' }).success, false);
    assert.equal(googleDriveConfigSchema.safeParse({ endpoint_url: 'ftp://x' }).success, false);
    assert.equal(googleDriveConfigSchema.safeParse({ unknown: 1 }).success, false);
    assert.equal(googleDriveConfigSchema.parse({}).google_docs_export, 'office');
    assert.throws(() => createProvider('google_drive', {}, null), /credentials/);
    assert.throws(
      () => createProvider('google_drive', {}, { type: 'oauth', client_id: 'x', client_secret: 'TOPSECRET' }),
      (e: ProviderError) =>
        e.kind === 'invalid' && /refresh_token/.test(e.message) && !/TOPSECRET/.test(e.message),
    );
    assert.throws(
      () => createProvider('google_drive', {}, { ...key, private_key: 'not a key' }),
      /private_key is not a PEM private key/,
    );
    const oauth = fake.addOAuthClient();
    assert.throws(
      () => createProvider('google_drive', { impersonate_user: 'a@b.c' }, { type: 'oauth', ...oauth }),
      /impersonate_user needs service_account/,
    );
  });

  it('resumes a walk of a deep and wide tree from every cursor, with a cursor as small as the tree is deep', async () => {
    const base = fake.mkdirp('root', 'walk');
    const rels: string[] = [];
    for (let a = 0; a < 6; a++)
      for (let b = 0; b < 4; b++) {
        // Files at every depth, empty folders, and folders between files.
        rels.push(`a${a}/f${b}.txt`, `a${a}/b${b}/c/g.txt`, `a${a}/b${b}/c/d/e/h-${b}.txt`);
        fake.mkdirp(base, `a${a}/empty${b}/deeper`);
      }
    rels.push('top.txt');
    for (const rel of rels) {
      const parts = rel.split('/');
      await fake.putFile(fake.mkdirp(base, parts.slice(0, -1).join('/')), parts.at(-1)!, Buffer.from(rel));
    }
    const expected = [...rels].sort();
    for (const pageSize of [1, 3, 7, 1000]) {
      // A new provider instance for every page: nothing is carried but the cursor.
      const seen: string[] = [];
      let cursor: string | null = null;
      let longest = 0;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 1000);
        const page = await drive().list('walk', { cursor, pageSize });
        assert.ok(page.entries.length <= pageSize);
        seen.push(...page.entries.map((e) => e.path));
        longest = Math.max(longest, page.nextCursor?.length ?? 0);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual([...seen].sort(), expected, `pageSize ${pageSize}`);
      assert.equal(new Set(seen).size, seen.length, `no duplicates at pageSize ${pageSize}`);
      assert.ok(longest < 1000, `cursor of ${longest} characters`);
    }
    // A cursor that is not ours is refused, not misread.
    const err = await failure(() => drive().list('walk', { cursor: '{"v":2}', pageSize: 10 }));
    assert.equal(err.kind, 'invalid');
  });

  it('pushes modifiedSince into the query and still descends into old folders', async () => {
    const base = fake.mkdirp('root', 'since');
    await fake.putFile(fake.mkdirp(base, 'old/deep'), 'old.txt', Buffer.from('old'));
    const cut = new Date(Date.now() + 5).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await fake.putFile(fake.mkdirp(base, 'old/deep'), 'new.txt', Buffer.from('new'));
    const before = fake.requests.length;
    const entries = await listAll(drive(), 'since', 10, cut);
    assert.deepEqual(
      entries.map((e) => e.path),
      ['old/deep/new.txt'],
    );
    const queries = fake.requests
      .slice(before)
      .filter((r) => r.path === '/drive/v3/files' && r.params.q?.includes(' in parents and trashed = false'));
    assert.ok(queries.length >= 3);
    for (const r of queries)
      assert.match(r.params.q, new RegExp(`modifiedTime >= '${cut.replace(/\./g, '\\.')}'`));
    assert.deepEqual((await listAll(drive(), 'since', 10)).map((e) => e.path).sort(), [
      'old/deep/new.txt',
      'old/deep/old.txt',
    ]);
  });

  it('exports Docs Editors files (Office by default, PDF when asked) and skips other Google types', async () => {
    const base = fake.mkdirp('root', 'docs');
    const docBytes = Buffer.from('PK fake docx bytes');
    const doc = fake.putNative(base, 'Plan', 'application/vnd.google-apps.document', {
      [DOCX]: docBytes,
      'application/pdf': Buffer.from('%PDF-1.7 plan'),
    });
    fake.putNative(base, 'Budget.xlsx', 'application/vnd.google-apps.spreadsheet', {
      [XLSX]: Buffer.from('xlsx'),
    });
    fake.putNative(base, 'Survey', 'application/vnd.google-apps.form');
    fake.putNative(base, 'Link', 'application/vnd.google-apps.shortcut');
    await fake.putFile(base, 'real.docx', Buffer.from('an uploaded docx'), { mimeType: DOCX });

    const p = drive();
    const entries = await listAll(p, 'docs', 100);
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['Budget.xlsx', 'Plan.docx', 'real.docx']);
    assert.equal(byName['Plan.docx'].sourceObjectId, doc);
    assert.equal(byName['Plan.docx'].contentType, DOCX);
    assert.equal(byName['Plan.docx'].size, 0);
    assert.equal(byName['Plan.docx'].checksum, undefined);
    assert.deepEqual(await readAll(p, byName['Plan.docx']), docBytes);
    assert.deepEqual(await readAll(p, byName['Budget.xlsx']), Buffer.from('xlsx'));
    // An uploaded .docx has the same content type but downloads as it is.
    assert.deepEqual(await readAll(p, byName['real.docx']), Buffer.from('an uploaded docx'));
    assert.equal(
      byName['real.docx'].checksum,
      `md5:${createHash('md5').update('an uploaded docx').digest('hex')}`,
    );

    const pdf = drive({ google_docs_export: 'pdf' });
    const plan = (await listAll(pdf, 'docs', 100)).find((e) => e.sourceObjectId === doc)!;
    assert.equal(plan.name, 'Plan.pdf');
    assert.equal(plan.contentType, 'application/pdf');
    assert.deepEqual(await readAll(pdf, plan), Buffer.from('%PDF-1.7 plan'));

    // Drive refuses exports over 10 MB: that file fails for good, the others are unaffected.
    fake.putNative(base, 'Huge', 'application/vnd.google-apps.document', { [DOCX]: Buffer.alloc(11 << 20) });
    const huge = (await listAll(p, 'docs', 100)).find((e) => e.name === 'Huge.docx')!;
    const err = await failure(() => readAll(p, huge));
    assert.equal(err.kind, 'invalid');
    assert.equal(err.retryable, false);
    assert.match(err.message, /too large to be exported/);
  });

  it('carries properties, appProperties and description; ids are stable across renames', async () => {
    const base = fake.mkdirp('root', 'meta');
    const id = await fake.putFile(base, 'a.txt', Buffer.from('a'), {
      mimeType: 'text/plain',
      properties: { status: 'approved', shared: 'public' },
      appProperties: { shared: 'private', pipeline: 'x' },
      description: 'the a file',
    });
    const [e] = await listAll(drive(), 'meta', 10);
    assert.equal(e.sourceObjectId, id);
    assert.deepEqual(e.metadata, {
      description: 'the a file',
      status: 'approved',
      shared: 'public',
      pipeline: 'x',
      properties: { status: 'approved', shared: 'public' },
      appProperties: { shared: 'private', pipeline: 'x' },
    });
    fake.update(id, { name: 'b/c.txt' });
    const [renamed] = await listAll(drive(), 'meta', 10);
    assert.equal(renamed.sourceObjectId, id);
    assert.equal(renamed.path, 'b／c.txt', 'a `/` in a name is not a folder');
    assert.notEqual(renamed.version, e.version);
  });

  it('accepts a folder id, a folder link or a path as source_path, and says what is wrong with others', async () => {
    const id = fake.mkdirp('root', 'Forms/By Id');
    await fake.putFile(id, 'x.txt', Buffer.from('x'));
    for (const sp of [id, `https://drive.google.com/drive/folders/${id}`, '/Forms/By Id/', 'Forms/By Id'])
      assert.deepEqual(
        (await listAll(drive(), sp, 10)).map((e) => e.path),
        ['x.txt'],
        sp,
      );
    // A folder whose name looks like an id is still found by name.
    const named = fake.mkdirp('root', 'ThisIsJustAFolderName');
    await fake.putFile(named, 'y.txt', Buffer.from('y'));
    assert.deepEqual(
      (await listAll(drive(), 'ThisIsJustAFolderName', 10)).map((e) => e.path),
      ['y.txt'],
    );
    let err = await failure(() => drive().list('Forms/Nope', { pageSize: 10 }));
    assert.equal(err.kind, 'not_found');
    assert.match(err.message, /Nope.*not found in Forms/);
    // Two folders of one name: refuse rather than pick one.
    fake.mkdirp('root', 'Twice');
    const twin = fake.putNative(fake.myDriveRoot, 'Twice', 'application/vnd.google-apps.folder');
    assert.ok(twin);
    err = await failure(() => drive().list('Twice', { pageSize: 10 }));
    assert.equal(err.kind, 'invalid');
    assert.match(err.message, /use the folder id/);
    const file = await fake.putFile(id, 'not-a-folder.txt', Buffer.from('z'));
    err = await failure(() => drive().list(file, { pageSize: 10 }));
    assert.equal(err.kind, 'invalid');
    assert.match(err.message, /not a folder/);
    const r = await drive().test('Forms/Nope');
    assert.equal(r.success, false);
    assert.equal(r.details?.kind, 'not_found');
  });

  it('lists a shared drive with OAuth credentials and a token_url, which a provider without it cannot see', async () => {
    const driveId = fake.createSharedDrive('Team');
    await fake.putFile(fake.mkdirp(driveId, 'Reports/2024'), 'q1.csv', Buffer.from('a,b\n'), {
      mimeType: 'text/csv',
    });
    // files.export has no supportsAllDrives parameter; a shared drive's documents export all the same.
    fake.putNative(fake.mkdirp(driveId, 'Reports'), 'Summary', 'application/vnd.google-apps.spreadsheet', {
      [XLSX]: Buffer.from('summary xlsx'),
    });
    const oauth = fake.addOAuthClient('analyst@example.com');
    const p = createProvider(
      'google_drive',
      { endpoint_url: fake.url, token_url: fake.tokenUrl, shared_drive_id: driveId },
      { type: 'oauth', ...oauth },
    );
    const before = fake.requests.length;
    const entries = await listAll(p, 'Reports', 10);
    assert.deepEqual(
      entries.map((e) => e.path),
      ['2024/q1.csv', 'Summary.xlsx'],
    );
    for (const r of fake.requests.slice(before).filter((x) => x.path === '/drive/v3/files'))
      assert.deepEqual(
        [r.params.corpora, r.params.driveId, r.params.includeItemsFromAllDrives, r.params.supportsAllDrives],
        ['drive', driveId, 'true', 'true'],
      );
    assert.deepEqual(await readAll(p, entries[0]), Buffer.from('a,b\n'));
    assert.deepEqual(await readAll(p, entries[1]), Buffer.from('summary xlsx'));
    const whole = await listAll(p, '/', 10);
    assert.deepEqual(
      whole.map((e) => e.path),
      ['Reports/2024/q1.csv', 'Reports/Summary.xlsx'],
    );
    const t = await p.test();
    assert.equal(t.success, true, t.message);
    assert.match(t.message, /shared drive Team/);
    // My Drive has no folder of that name.
    assert.equal((await failure(() => drive().list('Reports', { pageSize: 10 }))).kind, 'not_found');

    // A wrong client secret and a revoked refresh token: auth, not retried, no secret in the message.
    for (const bad of [
      { ...oauth, client_secret: 'GOCSPX-wrong-secret-value' },
      { ...oauth, refresh_token: '1//revoked-refresh-token' },
    ]) {
      const q = createProvider(
        'google_drive',
        { endpoint_url: fake.url, token_url: fake.tokenUrl, shared_drive_id: driveId },
        { type: 'oauth', ...bad },
      );
      const err = await failure(() => q.list('Reports', { pageSize: 10 }));
      assert.equal(err.kind, 'auth', err.message);
      assert.equal(err.retryable, false);
      assert.doesNotMatch(err.message, /wrong-secret-value|revoked-refresh-token|GOCSPX/);
      assert.equal(err.cause, undefined, 'the client error (whose config holds the secrets) is not kept');
      const r = await q.test();
      assert.equal(r.success, false);
      assert.equal(r.details?.kind, 'auth');
    }
  });

  it('delta cursors: a full listing ends with a changes token; a delta listing pages and resumes through changes.list', async () => {
    const base = fake.mkdirp('root', 'delta');
    const outside = fake.mkdirp('root', 'not-delta');
    const ids: Record<string, string> = {};
    for (const rel of [
      'a/one.txt',
      'a/b/two.txt',
      'a/b/three.txt',
      'four.txt',
      'gone.txt',
      'trash.txt',
      'out.txt',
    ])
      ids[rel] = await fake.putFile(
        fake.mkdirp(base, rel.split('/').slice(0, -1).join('/')),
        rel.split('/').at(-1)!,
        Buffer.from(rel),
      );
    ids.mover = await fake.putFile(fake.mkdirp(outside, 'x'), 'mover.txt', Buffer.from('moves in'));

    // A full listing notes the changes token before it walks: a file added mid-walk is in the next delta.
    const before = fake.requests.length;
    let cursor: string | null = null;
    let token: string | null | undefined;
    let walked = 0;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100);
      const page = await drive().list('delta', { cursor, pageSize: 2 });
      walked += page.entries.length;
      if (pages === 0) ids.midWalk = await fake.putFile(base, 'mid-walk.txt', Buffer.from('added mid-walk'));
      if (!page.nextCursor) {
        token = page.deltaToken;
        break;
      }
      assert.equal(page.deltaToken, undefined, 'only the last page carries the token');
      cursor = page.nextCursor;
    }
    assert.ok(walked >= 7);
    assert.match(token ?? '', /^\d+$/, 'a Drive start page token');
    const starts = fake.requests.slice(before).filter((r) => r.path === '/drive/v3/changes/startPageToken');
    assert.equal(starts.length, 1, 'getStartPageToken once, at the start of the listing');

    // Changes: a new file deep down, an edit, a move in (unmodified), a permanent delete, a trash, a
    // move out, and a change outside the folder.
    ids.added = await fake.putFile(fake.mkdirp(base, 'a/b/c'), 'added.txt', Buffer.from('new'));
    await fake.putFile(fake.mkdirp(base, 'a/b'), 'two.txt', Buffer.from('two, edited'));
    fake.move(ids.mover, fake.mkdirp(base, 'a'));
    fake.remove(ids['gone.txt']);
    fake.update(ids['trash.txt'], { trashed: true });
    fake.move(ids['out.txt'], outside);
    await fake.putFile(outside, 'noise.txt', Buffer.from('outside'));
    const wanted = ['a/b/c/added.txt', 'a/b/two.txt', 'a/mover.txt', 'mid-walk.txt'];
    const gone = [ids['gone.txt'], ids['trash.txt'], ids['out.txt']];

    for (const pageSize of [1, 2, 1000]) {
      // A new provider instance for every page: nothing is carried but the cursor.
      const entries: SourceEntry[] = [];
      const removed: string[] = [];
      let c: string | null = null;
      let next: string | null | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 100);
        const page = await drive().list('delta', { cursor: c, pageSize, deltaToken: token });
        assert.ok(page.entries.length + (page.removed?.length ?? 0) <= pageSize);
        entries.push(...page.entries);
        removed.push(...(page.removed ?? []));
        if (!page.nextCursor) {
          next = page.deltaToken;
          break;
        }
        assert.equal(page.deltaToken, undefined);
        c = page.nextCursor;
      }
      assert.deepEqual(entries.map((e) => e.path).sort(), wanted, `pageSize ${pageSize}`);
      const mover = entries.find((e) => e.path === 'a/mover.txt')!;
      assert.equal(mover.sourceObjectId, ids.mover);
      assert.equal(mover.checksum, `md5:${createHash('md5').update('moves in').digest('hex')}`);
      for (const id of gone) assert.ok(removed.includes(id), `pageSize ${pageSize}: ${id} is removed`);
      assert.ok(!removed.some((id) => entries.some((e) => e.sourceObjectId === id)));
      assert.match(next ?? '', /^\d+$/);
      assert.ok(Number(next) > Number(token));
      // Nothing changed since: an empty delta with the same token.
      const again = await drive().list('delta', { pageSize, deltaToken: next });
      assert.deepEqual(
        [again.entries, again.removed, again.nextCursor, again.deltaToken],
        [[], [], null, next],
      );
    }
    // The delta listing asked changes.list for removed files and the fields it needs.
    const listed = fake.requests.filter((r) => r.path === '/drive/v3/changes');
    assert.ok(listed.length > 0);
    for (const r of listed) {
      assert.equal(r.params.includeRemoved, 'true');
      assert.match(r.params.fields, /newStartPageToken/);
      assert.match(r.params.fields, /parents/);
    }
    // A delta cursor that is not ours is refused.
    const err = await failure(() => drive().list('delta', { cursor: '{"v":1,"c":{"f":1}}', pageSize: 10 }));
    assert.equal(err.kind, 'invalid');
  });

  it('acts as impersonate_user only where delegation is granted', async () => {
    const delegated = fake.addServiceAccount({ delegation: true });
    const ok = await drive({ impersonate_user: 'boss@example.com' }, { ...delegated }).test();
    assert.equal(ok.success, true, ok.message);
    assert.match(ok.message, /acting as boss@example\.com/);
    const refused = await drive({ impersonate_user: 'boss@example.com' }).test();
    assert.equal(refused.success, false);
    assert.equal(refused.details?.kind, 'auth');
    assert.match(refused.message, /unauthorized_client/);
  });

  it('classifies rate limits and backend errors as retryable, and makes one request each (no SDK retries)', async () => {
    fake.mkdirp('root', 'faults');
    const cases = [
      {
        status: 403,
        reason: 'userRateLimitExceeded',
        message: 'User Rate Limit Exceeded',
        kind: 'throttled',
      },
      { status: 429, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded', kind: 'throttled' },
      { status: 503, reason: 'backendError', message: 'Backend Error', kind: 'unavailable' },
      { status: 500, reason: 'internalError', message: 'Internal Error', kind: 'unavailable' },
      { status: 403, reason: 'insufficientFilePermissions', message: 'no access', kind: 'auth' },
    ] as const;
    for (const c of cases) {
      const p = drive();
      await p.test(); // a token first, so the fault below meets only the Drive request
      fake.fault = { status: c.status, reason: c.reason, message: c.message };
      const before = fake.requests.length;
      try {
        const err = await failure(() => p.list('faults', { pageSize: 10 }));
        assert.equal(err.kind, c.kind, `${c.reason}: ${err.message}`);
        assert.equal(err.retryable, c.kind !== 'auth');
        assert.match(err.message, new RegExp(c.reason));
        assert.equal(fake.requests.length - before, 1, `${c.reason}: one request, no retries`);
      } finally {
        fake.fault = null;
      }
    }
    const reset = driveError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x');
    assert.deepEqual([reset.kind, reset.retryable], ['unavailable', true]);
    // Nothing listening: a retryable error too.
    const gone = createProvider(
      'google_drive',
      { endpoint_url: 'http://127.0.0.1:9/' },
      { ...key, token_uri: 'http://127.0.0.1:9/token' },
    );
    const err = await failure(() => gone.list('x', { pageSize: 1 }));
    assert.equal(err.retryable, true, err.message);
  });
});
