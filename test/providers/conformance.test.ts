// ONE conformance suite for every storage provider (cf. rclone's fstests): each fixture in
// fixtures/index.ts runs every case below against its real server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ProviderError, type SourceEntry, type StorageProvider } from '../../providers';
import type { ProviderFixture } from './fixture';
import { fixtures } from './fixtures';

async function listAll(
  p: StorageProvider,
  sourcePath: string,
  pageSize: number,
  cursor: string | null = null,
) {
  const entries: SourceEntry[] = [];
  let pages = 0;
  for (;;) {
    const page = await p.list(sourcePath, { cursor, pageSize });
    pages++;
    assert.ok(
      page.entries.length <= pageSize,
      `a page of ${page.entries.length} exceeds pageSize ${pageSize}`,
    );
    entries.push(...page.entries);
    if (page.nextCursor === null) return { entries, pages };
    assert.ok(pages < 100_000, 'listing never ends');
    cursor = page.nextCursor;
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

/** `size` bytes of deterministic pseudo-random data, produced lazily in 1 MiB chunks. */
function generated(size: number, seed: number): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => {
    const b = Buffer.alloc(Math.min(1 << 20, size - i * (1 << 20)));
    let x = (seed + i) | 1;
    for (let j = 0; j < b.length; j += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b.writeInt32LE(x | 0, j <= b.length - 4 ? j : b.length - 4);
    }
    return b;
  };
  const n = Math.ceil(size / (1 << 20));
  const hash = createHash('sha256');
  for (let i = 0; i < n; i++) hash.update(chunk(i));
  return {
    sha256: hash.digest('hex'),
    stream: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < n; i++) yield chunk(i);
        })(),
      ),
  };
}

const names = (es: SourceEntry[]) => es.map((e) => e.path).sort();

for (const make of fixtures) {
  const fx: ProviderFixture = make();
  describe(`provider conformance: ${fx.name}`, function () {
    this.timeout(300_000);
    let p: StorageProvider;
    before(async function () {
      this.timeout(600_000);
      await fx.setup();
      p = fx.provider();
    });
    after(() => fx.teardown());

    it('lists 2,500 entries over many small pages, each exactly once, and resumes from any cursor', async () => {
      const sp = await fx.freshPath();
      const files = Array.from({ length: 2500 }, (_, i) => ({
        rel: `d${i % 10}/f-${String(i).padStart(5, '0')}.bin`,
        body: Buffer.from(`body ${i}`),
      }));
      await fx.putMany(sp, files);
      const { entries, pages } = await listAll(p, sp, 100);
      assert.ok(pages >= 25, `expected at least 25 pages, got ${pages}`);
      assert.equal(entries.length, 2500);
      assert.deepEqual(names(entries), files.map((f) => f.rel).sort());
      assert.equal(new Set(entries.map((e) => e.sourceObjectId)).size, 2500, 'sourceObjectIds are unique');

      // Resume: stop after three pages, then a new provider instance continues from the cursor.
      let cursor: string | null = null;
      const head: SourceEntry[] = [];
      for (let i = 0; i < 3; i++) {
        const page = await p.list(sp, { cursor, pageSize: 100 });
        head.push(...page.entries);
        cursor = page.nextCursor;
      }
      assert.ok(cursor, 'a cursor after three pages');
      const rest = await listAll(fx.provider(), sp, 100, cursor);
      assert.equal(head.length + rest.entries.length, 2500);
      assert.deepEqual([...names(head), ...names(rest.entries)].sort(), files.map((f) => f.rel).sort());
    });

    it('reports nested folders, unicode and spaces as `/` paths relative to the source path', async () => {
      const sp = await fx.freshPath();
      const rels = ['top.txt', 'a b/c d/e f.txt', 'ünï/çødé ✓.txt', 'x/y/z/deep.txt'];
      for (const rel of rels) await fx.put(sp, rel, Buffer.from(rel));
      const first = await listAll(p, sp, 2);
      assert.deepEqual(names(first.entries), [...rels].sort());
      for (const e of first.entries) {
        assert.equal(e.name, e.path.split('/').at(-1));
        assert.equal(e.size, Buffer.byteLength(e.path));
        assert.ok(!Number.isNaN(Date.parse(e.modifiedAt)), `modifiedAt ${e.modifiedAt} is a date`);
        assert.ok(e.version, 'a version');
      }
      const again = await listAll(p, sp, 1000);
      const ids = (es: SourceEntry[]) => Object.fromEntries(es.map((e) => [e.path, e.sourceObjectId]));
      assert.deepEqual(ids(again.entries), ids(first.entries), 'sourceObjectId is stable between listings');
    });

    it('an empty source path lists nothing, with no cursor', async () => {
      const sp = await fx.freshPath();
      const page = await p.list(sp, { pageSize: 100 });
      assert.deepEqual(page.entries, []);
      assert.equal(page.nextCursor, null);
    });

    it('passes user metadata and content type through', async () => {
      const sp = await fx.freshPath();
      await fx.put(sp, 'meta.json', Buffer.from('{}'), {
        contentType: 'application/json',
        metadata: { status: 'approved', owner: 'data-team' },
      });
      const [e] = (await listAll(p, sp, 10)).entries;
      if (fx.carries.contentType) assert.equal(e.contentType?.split(';')[0], 'application/json');
      if (fx.carries.userMetadata) {
        assert.equal(e.metadata.status, 'approved');
        assert.equal(e.metadata.owner, 'data-team');
      } else assert.equal(e.metadata.status, undefined);
    });

    it('a changed file gets a new version', async () => {
      const sp = await fx.freshPath();
      await fx.put(sp, 'v.txt', Buffer.from('one'));
      const [before] = (await listAll(p, sp, 10)).entries;
      await new Promise((r) => setTimeout(r, 20));
      await fx.put(sp, 'v.txt', Buffer.from('version two'));
      const [after] = (await listAll(p, sp, 10)).entries;
      assert.equal(after.sourceObjectId, before.sourceObjectId);
      assert.notEqual(after.version, before.version);
      assert.equal(after.size, 'version two'.length);
    });

    const bigSize = 200 * 1024 * 1024 + 123;
    const cap = fx.maxObjectSize && fx.maxObjectSize.bytes < bigSize ? fx.maxObjectSize : null;
    it(`streams a 200 MB file in chunks, byte for byte${cap ? ` (capped at ${cap.bytes} bytes: ${cap.reason})` : ''}`, async () => {
      const sp = await fx.freshPath();
      const size = cap ? cap.bytes : bigSize;
      const data = generated(size, 42);
      await fx.put(sp, 'big/file.bin', data.stream());
      const [e] = (await listAll(p, sp, 10)).entries;
      assert.equal(e.size, size);
      const hash = createHash('sha256');
      let bytes = 0;
      let chunks = 0;
      let largest = 0;
      for await (const c of await p.open(e)) {
        const b = c as Buffer;
        hash.update(b);
        bytes += b.length;
        chunks++;
        largest = Math.max(largest, b.length);
      }
      assert.equal(bytes, size);
      assert.equal(hash.digest('hex'), data.sha256);
      assert.ok(chunks > 50, `delivered in ${chunks} chunks, not at once`);
      assert.ok(largest <= 16 * 1024 * 1024, `largest chunk ${largest} bytes`);
    });

    it('read (where offered) gives a small file whole, the bytes open streams; null above maxBytes', async () => {
      const sp = await fx.freshPath();
      const body = generated(70_000, 7);
      await fx.put(sp, 'small/one.bin', body.stream());
      const [e] = (await listAll(p, sp, 10)).entries;
      const streamed: Buffer[] = [];
      for await (const c of await p.open(e)) streamed.push(c as Buffer);
      assert.equal(createHash('sha256').update(Buffer.concat(streamed)).digest('hex'), body.sha256);
      if (!p.read) return; // the engine collects `open`'s stream instead (engine/ingest.ts copyFile)
      const whole = await p.read(e, 1024 * 1024);
      assert.ok(whole, 'a file under maxBytes is read whole');
      assert.equal(whole.length, 70_000);
      assert.equal(createHash('sha256').update(whole).digest('hex'), body.sha256);
      assert.equal(await p.read(e, 69_999), null, 'a file over maxBytes is left to open');
      await fx.remove(sp, 'small/one.bin');
      const err = await expectProviderError(() => p.read!(e, 1024 * 1024));
      assert.equal(err.kind, 'not_found');
      assert.equal(err.retryable, false);
    });

    it('a lazily listed file, completed or fetched where offered, is the entry a full listing gives', async () => {
      const sp = await fx.freshPath();
      const small = generated(70_000, 11);
      await fx.put(sp, 'f/small.bin', small.stream());
      const [full] = (await listAll(p, sp, 10)).entries;
      const [lazy] = (await p.list(sp, { pageSize: 10, details: 'lazy' })).entries;
      if (!lazy.partial) assert.deepEqual(lazy, full, 'a provider without complete() lists entries whole');
      else {
        assert.ok(p.complete !== undefined, 'a partial entry needs complete()');
        assert.deepEqual(await p.complete(sp, [lazy]), [full]);
      }
      if (p.fetch) {
        const got = await p.fetch(lazy, 1024 * 1024);
        assert.ok(got && 'bytes' in got, 'a file under maxBytes comes as bytes');
        assert.equal(createHash('sha256').update(got.bytes).digest('hex'), small.sha256);
        assert.deepEqual(got.entry, full, 'fetch gives the entry a full listing gives');
        const streamed = await p.fetch(lazy, 69_999);
        assert.ok(streamed && 'stream' in streamed, 'a file over maxBytes comes as a stream');
        const chunks: Buffer[] = [];
        for await (const c of streamed.stream) chunks.push(c as Buffer);
        assert.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), small.sha256);
      }
      await fx.remove(sp, 'f/small.bin');
      if (p.complete && lazy.partial) assert.deepEqual(await p.complete(sp, [lazy]), [null], 'gone');
      if (p.fetch) assert.equal(await p.fetch(lazy, 1024 * 1024), null, 'gone since the listing');
    });

    it('honours modifiedSince where it filters server-side, and lists everything where it does not', async () => {
      const sp = await fx.freshPath();
      await fx.put(sp, 'old.txt', Buffer.from('old'));
      const future = new Date(Date.now() + 3600_000).toISOString();
      const past = new Date(Date.now() - 3600_000).toISOString();
      const later = await p.list(sp, { pageSize: 10, modifiedSince: future });
      const earlier = await p.list(sp, { pageSize: 10, modifiedSince: past });
      assert.deepEqual(names(earlier.entries), ['old.txt']);
      if (p.capabilities.serverSideModifiedFilter) assert.deepEqual(later.entries, []);
      else assert.deepEqual(names(later.entries), ['old.txt']);
    });

    // Providers whose capabilities say they keep a delta cursor (google_drive, sharepoint); the others
    // must not hand out tokens or removals the engine would trust.
    it('delta cursor: a listing ends with a token; listing since it gives what changed and what went (others: never a token)', async function () {
      const sp = await fx.freshPath();
      if (!p.capabilities.deltaCursor) {
        await fx.put(sp, 'only.txt', Buffer.from('x'));
        const page = await p.list(sp, { pageSize: 10 });
        assert.deepEqual(names(page.entries), ['only.txt']);
        assert.ok(page.deltaToken === undefined || page.deltaToken === null, 'no delta token');
        assert.deepEqual(page.removed ?? [], [], 'no removals without a delta cursor');
        return;
      }
      await fx.put(sp, 'keep.txt', Buffer.from('keep'));
      await fx.put(sp, 'change.txt', Buffer.from('one'));
      await fx.put(sp, 'gone.txt', Buffer.from('soon gone'));
      /** Every page of a listing (pageSize 1: the cursor carries the delta position too). */
      const listing = async (deltaToken: string | null) => {
        const entries: SourceEntry[] = [];
        const removed: string[] = [];
        let cursor: string | null = null;
        for (let pages = 1; ; pages++) {
          const page = await p.list(sp, { cursor, pageSize: 1, ...(deltaToken ? { deltaToken } : {}) });
          entries.push(...page.entries);
          removed.push(...(page.removed ?? []));
          if (page.nextCursor === null) return { entries, removed, token: page.deltaToken };
          assert.ok(
            page.deltaToken === undefined || page.deltaToken === null,
            'a token only on the last page',
          );
          assert.ok(pages < 1000, 'listing never ends');
          cursor = page.nextCursor;
        }
      };
      const full = await listing(null);
      assert.deepEqual(names(full.entries), ['change.txt', 'gone.txt', 'keep.txt']);
      assert.ok(
        typeof full.token === 'string' && full.token.length > 0,
        'the full listing ends with a token',
      );
      const goneId = full.entries.find((e) => e.path === 'gone.txt')!.sourceObjectId;

      await new Promise((r) => setTimeout(r, 20));
      await fx.put(sp, 'change.txt', Buffer.from('version two'));
      await fx.put(sp, 'new.txt', Buffer.from('new'));
      await fx.remove(sp, 'gone.txt');
      const delta = await listing(full.token);
      const changed = names(delta.entries);
      assert.ok(changed.includes('change.txt'), `changed: ${changed.join(', ')}`);
      assert.ok(changed.includes('new.txt'), `changed: ${changed.join(', ')}`);
      assert.ok(!changed.includes('keep.txt'), 'an unchanged file is not listed again');
      assert.ok(!changed.includes('gone.txt'));
      assert.ok(delta.removed.includes(goneId), 'the deleted file is reported removed');
      assert.ok(
        typeof delta.token === 'string' && delta.token.length > 0,
        'a delta listing ends with a token',
      );
      assert.equal(delta.entries.find((e) => e.path === 'change.txt')!.size, 'version two'.length);
    });

    it('a file deleted between list and open gives a clear, non-retryable not_found', async () => {
      const sp = await fx.freshPath();
      await fx.put(sp, 'gone.txt', Buffer.from('soon gone'));
      const [e] = (await listAll(p, sp, 10)).entries;
      await fx.remove(sp, 'gone.txt');
      const err = await expectProviderError(async () => {
        const s = await p.open(e);
        for await (const _ of s) void _;
      });
      assert.equal(err.kind, 'not_found');
      assert.equal(err.retryable, false);
      assert.match(err.message, /gone\.txt/);
    });

    it('test() succeeds with good settings', async () => {
      const sp = await fx.freshPath();
      const r = await p.test(sp);
      assert.equal(r.success, true, r.message);
    });

    it('rejected credentials are a non-retryable error, and test() says so', async () => {
      const sp = await fx.freshPath();
      await fx.put(sp, 'x.txt', Buffer.from('x'));
      const { provider, kind } = fx.rejected();
      const err = await expectProviderError(() => provider.list(sp, { pageSize: 10 }));
      assert.equal(err.kind, kind);
      assert.equal(err.retryable, false);
      const r = await provider.test(sp);
      assert.equal(r.success, false);
      assert.ok(r.message.length > 0);
    });

    // Only where a server exists that could throttle (not the local filesystem).
    const makeThrottled = fx.throttled;
    if (makeThrottled)
      it('throttling and 5xx answers are retryable errors', async () => {
        const throttled = await makeThrottled();
        const sp = await fx.freshPath();
        const err = await expectProviderError(() => throttled.list(sp, { pageSize: 10 }));
        assert.equal(err.retryable, true, `${err.kind}: ${err.message}`);
        assert.ok(err.kind === 'throttled' || err.kind === 'unavailable');
      });
  });
}
