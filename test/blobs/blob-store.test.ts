// ONE suite for every blob store (store/blobs.ts): each fixture below runs every case against its real
// backend: a temporary folder, and a bucket on a MinIO server (with a key prefix).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { FolderBlobStore, S3BlobStore, type BlobStore } from '../../store/blobs';
import { InlineIo } from '../../lib/inline-io';
import { eventually } from '../helpers';
import { startMinio, type Minio } from '../providers/fixtures/s3';

const MiB = 1024 * 1024;

interface BlobFixture {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  store(): BlobStore;
  /**
   * Everything the backend holds, sorted: files (folder) or object keys (S3) by their full name in
   * the backend, and for S3 each pending multipart upload as `upload:<object key>`.
   */
  contents(): Promise<string[]>;
  /** The backend name of a blob key (what contents() lists for it). */
  location(key: string): string;
  /** Whether contents() shows a copy of `key` in progress (a partial file, a multipart upload). */
  inFlight(contents: string[], key: string): boolean;
  /** A store of this kind that cannot write (and the error it fails with). */
  broken(): { store: BlobStore; error: RegExp };
}

function folderFixture(io?: InlineIo): BlobFixture {
  let root = '';
  let store: FolderBlobStore | null = null;
  const walk = (dir: string, rel = ''): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`],
    );
  return {
    name: io ? 'folder (writes through the thread pool)' : 'folder',
    async setup() {
      root = mkdtempSync(path.join(os.tmpdir(), 'blobs-folder-'));
      store = new FolderBlobStore(path.join(root, 'blobs'), io);
    },
    async teardown() {
      if (root) rmSync(root, { recursive: true, force: true });
    },
    store: () => store!,
    async contents() {
      try {
        return walk(path.join(root, 'blobs')).sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    location: (key) => key,
    inFlight: (contents, key) => contents.some((c) => c.startsWith(`${key}.partial-`)),
    broken() {
      const file = path.join(root, 'a-file');
      writeFileSync(file, 'not a folder');
      return { store: new FolderBlobStore(file), error: /ENOTDIR|EEXIST/ };
    },
  };
}

function s3Fixture(): BlobFixture {
  const BUCKET = 'blobs';
  const PREFIX = 'tenant-a/blob-store';
  let minio: Minio | null = null;
  let store: S3BlobStore | null = null;
  const server = () => minio!;
  const contents = async () => {
    const out: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await server().client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken }),
      );
      for (const o of page.Contents ?? []) out.push(o.Key!);
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await server().client.send(
        new ListMultipartUploadsCommand({ Bucket: BUCKET, KeyMarker, UploadIdMarker }),
      );
      for (const u of page.Uploads ?? []) out.push(`upload:${u.Key}`);
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
    return out.sort();
  };
  return {
    name: 's3 (MinIO)',
    async setup() {
      minio = await startMinio();
      await minio.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
      // The listing this suite relies on sees a pending multipart upload (else "nothing is left" proves nothing).
      const probe = await minio.client.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'probe' }),
      );
      assert.deepEqual(await contents(), ['upload:probe'], 'ListMultipartUploads shows a pending upload');
      await minio.client.send(
        new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'probe', UploadId: probe.UploadId }),
      );
      assert.deepEqual(await contents(), []);
      store = new S3BlobStore({
        bucket: BUCKET,
        prefix: `/${PREFIX}/`, // slashes at the ends are dropped
        client: {
          region: 'us-east-1',
          endpoint: minio.url,
          forcePathStyle: true,
          credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
        },
      });
    },
    async teardown() {
      store?.client.destroy();
      await minio?.stop();
      minio = null;
    },
    store: () => store!,
    contents,
    location: (key) => `${PREFIX}/${key}`,
    inFlight: (c, key) => c.includes(`upload:${PREFIX}/${key}`),
    broken: () => ({
      store: new S3BlobStore({
        bucket: 'no-such-bucket',
        client: {
          region: 'us-east-1',
          endpoint: server().url,
          forcePathStyle: true,
          credentials: { accessKeyId: server().accessKeyId, secretAccessKey: server().secretAccessKey },
        },
      }),
      error: /NoSuchBucket|specified bucket does not exist/,
    }),
  };
}

const fixtures = [
  () => folderFixture(),
  () => folderFixture(new InlineIo({ alwaysPooled: true })),
  s3Fixture,
];

/**
 * `size` bytes of deterministic pseudo-random data, made lazily in 1 MiB chunks. `sha256()` is the
 * digest of what was read so far. `failAfter` bytes in, the stream waits for `beforeFailing` and
 * then errors.
 */
function generated(
  size: number,
  seed: number,
  opts: { failAfter?: number; beforeFailing?: () => Promise<void> } = {},
) {
  const hash = createHash('sha256');
  let produced = 0;
  let x = seed | 1;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (opts.failAfter !== undefined && produced >= opts.failAfter) {
        (opts.beforeFailing ?? (async () => undefined))().then(
          () => this.destroy(new Error('source failed half-way')),
          (err: Error) => this.destroy(err),
        );
        return;
      }
      if (produced >= size) {
        this.push(null);
        return;
      }
      const b = Buffer.allocUnsafe(Math.min(MiB, size - produced));
      for (let j = 0; j + 4 <= b.length; j += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b.writeInt32LE(x | 0, j);
      }
      b.fill(7, b.length - (b.length % 4));
      hash.update(b);
      produced += b.length;
      this.push(b);
    },
  });
  return { stream, sha256: () => hash.digest('hex'), produced: () => produced };
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(err.message, re);
    return true;
  });
}

for (const make of fixtures) {
  const fx = make();
  describe(`blob store: ${fx.name}`, function () {
    this.timeout(300_000);
    let store: BlobStore;
    before(async function () {
      this.timeout(600_000);
      await fx.setup();
      store = fx.store();
    });
    after(() => fx.teardown());

    it('put then open round-trips the bytes, with their SHA-256 and size', async () => {
      const body = Buffer.from('hello, blob store\n'.repeat(1000));
      const stored = await store.put('rt/one', Readable.from([body.subarray(0, 5000), body.subarray(5000)]));
      assert.deepEqual(stored, { key: 'rt/one', size: body.length, sha256: sha256(body) });
      assert.deepEqual(await readAll(await store.open('rt/one')), body);
      assert.ok((await fx.contents()).includes(fx.location('rt/one')));

      const empty = await store.put('rt/empty', Readable.from([]));
      assert.deepEqual(empty, { key: 'rt/empty', size: 0, sha256: sha256('') });
      assert.equal((await readAll(await store.open('rt/empty'))).length, 0);

      // A second put of a key replaces its bytes.
      const again = await store.put('rt/one', Readable.from([Buffer.from('replaced')]));
      assert.equal(again.sha256, sha256('replaced'));
      assert.equal((await readAll(await store.open('rt/one'))).toString(), 'replaced');
    });

    it('putBytes stores a buffer with its SHA-256 and size, replaces it, and rejects invalid keys', async () => {
      const body = Buffer.from('small blob\n'.repeat(300));
      assert.deepEqual(await store.putBytes('pb/aa/one', body), {
        key: 'pb/aa/one',
        size: body.length,
        sha256: sha256(body),
      });
      assert.deepEqual(await readAll(await store.open('pb/aa/one')), body);
      assert.ok((await fx.contents()).includes(fx.location('pb/aa/one')));
      // A second key in the same folder, then the first replaced.
      await store.putBytes('pb/aa/two', Buffer.from('two'));
      assert.equal((await readAll(await store.open('pb/aa/two'))).toString(), 'two');
      const again = await store.putBytes('pb/aa/one', Buffer.alloc(0));
      assert.deepEqual(again, { key: 'pb/aa/one', size: 0, sha256: sha256('') });
      assert.equal((await readAll(await store.open('pb/aa/one'))).length, 0);
      const before = await fx.contents();
      await rejects(store.putBytes('../escape', body), /invalid blob key/);
      assert.deepEqual(await fx.contents(), before);
      const { store: broken, error } = fx.broken();
      await rejects(broken.putBytes('cannot/write', body), error);
      assert.deepEqual(await fx.contents(), before, 'a failed putBytes leaves nothing');
      if (broken instanceof S3BlobStore) broken.client.destroy();
    });

    it('a folder removed by hand after a write is made again by the next put and putBytes', async () => {
      await store.putBytes('gone/aa/first', Buffer.from('1'));
      const root = store instanceof FolderBlobStore ? (store as unknown as { root: string }).root : null;
      const removeFolder = async () => {
        if (root) rmSync(path.join(root, 'gone'), { recursive: true, force: true });
        else for (const k of ['gone/aa/first', 'gone/aa/second']) await store.delete(k);
      };
      await removeFolder();
      await store.putBytes('gone/aa/second', Buffer.from('2'));
      assert.equal((await readAll(await store.open('gone/aa/second'))).toString(), '2');
      await removeFolder();
      await store.put('gone/aa/third', Readable.from([Buffer.from('33')]));
      assert.equal((await readAll(await store.open('gone/aa/third'))).toString(), '33');
      assert.equal(await store.exists('gone/aa/second'), false);
      if (root) assert.deepEqual(readdirSync(path.join(root, 'gone', 'aa')), ['third']);
    });

    it('streams a 256 MiB body (multipart on S3) with flat memory, and reads it back', async () => {
      // A first copy brings the process to its working set (SDK, sockets, part buffers); the measured
      // one must then add well under its own size: a store holding the body whole would add all of it.
      await store.put('large/warm-up.bin', generated(32 * MiB, 1).stream);
      await store.delete('large/warm-up.bin');
      const size = 256 * MiB;
      const src = generated(size, 42);
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 20);
      let stored;
      try {
        stored = await store.put('large/one.bin', src.stream);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage.rss());
      const growth = peak - before;
      process.stdout.write(
        `      [${fx.name}] put ${size / MiB} MiB: RSS ${(before / MiB).toFixed(0)} -> peak ` +
          `${(peak / MiB).toFixed(0)} MiB (growth ${(growth / MiB).toFixed(1)} MiB)\n`,
      );
      assert.equal(stored.size, size);
      assert.equal(stored.sha256, src.sha256());
      assert.ok(
        growth < size / 2,
        `RSS grew by ${(growth / MiB).toFixed(1)} MiB for a ${size / MiB} MiB body`,
      );

      const back = createHash('sha256');
      let n = 0;
      for await (const c of await store.open('large/one.bin')) {
        back.update(c as Buffer);
        n += (c as Buffer).length;
      }
      assert.equal(n, size);
      assert.equal(back.digest('hex'), stored.sha256);
      await store.delete('large/one.bin');
    });

    for (const [label, failAfter] of [
      ['24 MiB in (parts already uploaded)', 24 * MiB],
      ['1 MiB in (before a first part)', MiB],
    ] as const) {
      it(`a source that errors ${label}: put rejects and nothing is left`, async () => {
        const key = `failing/${failAfter}/blob.bin`;
        const before = await fx.contents();
        const big = failAfter > 8 * MiB;
        const src = generated(64 * MiB, 7, {
          failAfter,
          // With enough bytes in, wait until the copy is visibly under way (partial file, multipart
          // upload), so the failure interrupts a real one.
          beforeFailing: big
            ? async () => {
                const seen = await eventually(async () => fx.inFlight(await fx.contents(), key), 30_000, 50);
                assert.ok(seen, 'the copy is under way before the source fails');
              }
            : undefined,
        });
        await rejects(store.put(key, src.stream), /source failed half-way/);
        assert.equal(src.produced(), failAfter);
        assert.deepEqual(await fx.contents(), before, 'no object, no partial file, no pending upload');
        assert.equal(await store.exists(key), false);
      });
    }

    for (const size of [100, 20 * MiB]) {
      it(`a store that cannot write (${size} bytes): put rejects with the store's error and releases the source`, async () => {
        const { store: broken, error } = fx.broken();
        const before = await fx.contents();
        const src = generated(size, 3);
        await rejects(broken.put('cannot/write', src.stream), error);
        assert.equal(src.stream.destroyed, true, 'the source is consumed or destroyed, never left open');
        assert.deepEqual(await fx.contents(), before);
        if (broken instanceof S3BlobStore) broken.client.destroy();
      });
    }

    it('delete removes a blob and is idempotent; exists follows it', async () => {
      await store.put('del/x', Readable.from([Buffer.from('x')]));
      assert.equal(await store.exists('del/x'), true);
      await store.delete('del/x');
      assert.equal(await store.exists('del/x'), false);
      await store.delete('del/x');
      await store.delete('del/never-written');
      assert.ok(!(await fx.contents()).includes(fx.location('del/x')));
      await assert.rejects(store.open('del/x'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    });

    it('exists: true for a blob, false for a missing one, a parent "folder" or a key prefix', async () => {
      await store.put('ex/a/b', Readable.from([Buffer.from('b')]));
      assert.equal(await store.exists('ex/a/b'), true);
      assert.equal(await store.exists('ex/a'), false);
      assert.equal(await store.exists('ex/a/b/c'), false);
      assert.equal(await store.exists('ex/a/bb'), false);
      assert.equal(await store.exists('nothing-here'), false);
    });

    it('keys with slashes are stored under their path (and under the prefix on S3)', async () => {
      const keys = ['bkt_1/obj_2/blob_3', 'bkt_1/obj_2/blob_4', 'deep/a/b/c/d/e.f-g_h'];
      for (const k of keys) await store.put(k, Readable.from([Buffer.from(k)]));
      const contents = await fx.contents();
      for (const k of keys) {
        assert.ok(contents.includes(fx.location(k)), `${fx.location(k)} in ${contents.join(', ')}`);
        assert.equal((await readAll(await store.open(k))).toString(), k);
      }
    });

    it('invalid keys are rejected by every operation, and nothing is written', async () => {
      const before = await fx.contents();
      for (const key of [
        '',
        '../escape',
        'a/../../b',
        '/absolute',
        'a//b',
        'a/./b',
        'trailing/',
        'sp ace',
        'é',
      ]) {
        await rejects(store.put(key, Readable.from([Buffer.from('no')])), /invalid blob key/);
        await rejects(store.open(key), /invalid blob key/);
        await rejects(store.delete(key), /invalid blob key/);
        await rejects(store.exists(key), /invalid blob key/);
      }
      assert.deepEqual(await fx.contents(), before);
    });

    it('sweepPartials removes only stale partial files (the folder store; S3 has none)', async () => {
      await store.put('sweep/kept', Readable.from([Buffer.from('kept')]));
      if (store instanceof FolderBlobStore) {
        const dir = path.join((store as unknown as { root: string }).root, 'sweep');
        const stale = path.join(dir, 'kept.partial-0123abcd');
        const fresh = path.join(dir, 'other.partial-89abcdef');
        const old = path.join(dir, 'old-but-complete');
        for (const f of [stale, fresh, old]) writeFileSync(f, 'x');
        const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
        utimesSync(stale, twoHoursAgo, twoHoursAgo);
        utimesSync(old, twoHoursAgo, twoHoursAgo);
        assert.equal(await store.sweepPartials(3600_000), 1);
        assert.deepEqual(readdirSync(dir).sort(), ['kept', 'old-but-complete', 'other.partial-89abcdef']);
        assert.equal(await store.sweepPartials(0), 1, 'a threshold of 0 takes the fresh one too');
        assert.deepEqual(readdirSync(dir).sort(), ['kept', 'old-but-complete']);
      } else {
        const before = await fx.contents();
        assert.equal(await store.sweepPartials(0), 0);
        assert.deepEqual(await fx.contents(), before);
      }
      assert.equal((await readAll(await store.open('sweep/kept'))).toString(), 'kept');
    });
  });
}
