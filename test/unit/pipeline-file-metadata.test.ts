// Unit tests for the file_metadata step (pipeline/steps/file_metadata.ts) on real bytes: images
// built from their specs, text, lying declared types, chunked and failing streams, a 50 MB stream
// in flat memory, and a blob in the real folder blob store.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { run, IMAGE_HEAD_MAX } from '../../pipeline/steps/file_metadata';
import { steps, StepError, type MapStep } from '../../pipeline/steps';
import { FolderBlobStore } from '../../store/blobs';
import { gif, jpeg, mapInput, png, webp } from './pipeline-fixtures';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mapStep = steps.file_metadata as MapStep;

describe('pipeline step file_metadata: images', () => {
  it('sniffs a PNG, hashes it and reads its dimensions', async () => {
    const bytes = png(37, 21);
    const out = await run({}, mapInput({ filename: 'a.png', mime: 'image/png', content: bytes }));
    assert.deepEqual(out, {
      mime_type: 'image/png',
      mime_source: 'content',
      declared_mime_type: 'image/png',
      size_bytes: bytes.length,
      sha256: sha256(bytes),
      image: { width: 37, height: 21, format: 'png' },
    });
  });

  it('sniffs a JPEG declared as application/octet-stream', async () => {
    const bytes = jpeg(640, 480);
    const out = await run({}, mapInput({ filename: 'photo', content: bytes }));
    assert.equal(out.mime_type, 'image/jpeg');
    assert.equal(out.mime_source, 'content');
    assert.equal(out.declared_mime_type, 'application/octet-stream');
    assert.deepEqual(out.image, { width: 640, height: 480, format: 'jpg' });
    assert.equal(out.sha256, sha256(bytes));
  });

  it('reads past sniff_bytes when a JPEG frame header follows a large Exif segment', async () => {
    const bytes = jpeg(1024, 768, 100_000);
    assert.ok(bytes.indexOf(Buffer.from([0xff, 0xc0])) > 100_000, 'SOF0 lies beyond the sniffed bytes');
    for (const chunkSize of [4096, 65536, bytes.length]) {
      const out = await run({}, mapInput({ mime: 'image/jpeg', content: bytes, chunkSize }));
      assert.deepEqual(out.image, { width: 1024, height: 768, format: 'jpg' }, `chunks of ${chunkSize}`);
    }
    const out = await run({}, mapInput({ mime: 'image/jpeg', content: bytes, chunkSize: 1000 }));
    assert.equal(out.size_bytes, bytes.length);
    assert.equal(out.sha256, sha256(bytes));
  });

  it('gives up on dimensions beyond IMAGE_HEAD_MAX instead of holding the file', async () => {
    const bytes = jpeg(50, 40, IMAGE_HEAD_MAX + 10_000);
    const out = await run({}, mapInput({ mime: 'image/jpeg', content: bytes, chunkSize: 65536 }));
    assert.equal(out.mime_type, 'image/jpeg');
    assert.equal(out.image, null);
    assert.equal(out.sha256, sha256(bytes));
  });

  it('sniffs a GIF and a WebP', async () => {
    const g = await run({}, mapInput({ mime: 'image/gif', content: gif(3, 2) }));
    assert.equal(g.mime_type, 'image/gif');
    assert.deepEqual(g.image, { width: 3, height: 2, format: 'gif' });
    const w = await run({}, mapInput({ mime: 'image/webp', content: webp(300, 200) }));
    assert.equal(w.mime_type, 'image/webp');
    assert.deepEqual(w.image, { width: 300, height: 200, format: 'webp' });
  });

  it('reports the content type when the declared one is wrong', async () => {
    const out = await run({}, mapInput({ filename: 'x.jpg', mime: 'image/jpeg', content: png(2, 2) }));
    assert.equal(out.mime_type, 'image/png');
    assert.equal(out.mime_source, 'content');
    assert.equal(out.declared_mime_type, 'image/jpeg');
    assert.deepEqual(out.image, { width: 2, height: 2, format: 'png' });
  });

  it('assembles the sniffed head from one-byte chunks', async () => {
    const bytes = png(5, 4);
    const out = await run(
      { sniff_bytes: 512 },
      mapInput({ mime: 'image/png', content: bytes, chunkSize: 1 }),
    );
    assert.equal(out.mime_type, 'image/png');
    assert.deepEqual(out.image, { width: 5, height: 4, format: 'png' });
    assert.equal(out.size_bytes, bytes.length);
  });
});

describe('pipeline step file_metadata: other content', () => {
  it('falls back to the declared type for text, without image', async () => {
    const text = 'hello world\n'.repeat(1000);
    const out = await run(
      {},
      mapInput({ filename: 'a.txt', mime: 'text/plain; charset=utf-8', content: text }),
    );
    assert.deepEqual(out, {
      mime_type: 'text/plain',
      mime_source: 'declared',
      declared_mime_type: 'text/plain',
      size_bytes: text.length,
      sha256: sha256(Buffer.from(text)),
      image: null,
    });
  });

  it('gives no dimensions for text declared as an image', async () => {
    const out = await run({}, mapInput({ mime: 'image/png', content: 'not a png at all' }));
    assert.equal(out.mime_type, 'image/png');
    assert.equal(out.mime_source, 'declared');
    assert.equal(out.image, null);
  });

  it('hashes an empty blob', async () => {
    const out = await run({}, mapInput({ mime: 'text/plain', content: Buffer.alloc(0) }));
    assert.equal(out.size_bytes, 0);
    assert.equal(out.sha256, sha256(Buffer.alloc(0)));
    assert.equal(out.mime_source, 'declared');
  });

  it('answers size 0 and nulls for an object without a content blob', async () => {
    const out = await run({}, mapInput({ content: null }));
    assert.deepEqual(out, {
      mime_type: null,
      mime_source: null,
      declared_mime_type: null,
      size_bytes: 0,
      sha256: null,
      image: null,
    });
  });

  it('reads a blob from the folder blob store', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'file-metadata-'));
    try {
      const store = new FolderBlobStore(dir);
      const bytes = png(8, 9);
      await store.put('bkt/obj/content', Readable.from([bytes]));
      const input = mapInput({ mime: 'image/png', content: () => Readable.from([]) });
      input.openBlob = () => store.open(input.object.blobs[0].properties.storage_key as string);
      input.object.blobs[0].properties.storage_key = 'bkt/obj/content';
      const out = await mapStep.run({}, input);
      assert.equal(out.sha256, sha256(bytes));
      assert.deepEqual(out.image, { width: 8, height: 9, format: 'png' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pipeline step file_metadata: streams and failures', () => {
  it('streams 50 MB in flat memory, hashing every byte', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const CHUNK = 64 * 1024;
    const CHUNKS = 800; // 50 MiB
    const chunkAt = (i: number) => Buffer.alloc(CHUNK, i & 0xff);
    const expected = createHash('sha256');
    for (let i = 0; i < CHUNKS; i++) expected.update(chunkAt(i));
    gc();
    const base = process.memoryUsage();
    let peak = 0;
    function* source() {
      for (let i = 0; i < CHUNKS; i++) {
        if (i % 80 === 79) {
          gc();
          const m = process.memoryUsage();
          peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers + (m.heapUsed - base.heapUsed));
        }
        yield chunkAt(i);
      }
    }
    const out = await run(
      {},
      mapInput({ mime: 'application/octet-stream', content: () => Readable.from(source()) }),
    );
    assert.equal(out.size_bytes, CHUNK * CHUNKS);
    assert.equal(out.sha256, expected.digest('hex'));
    assert.equal(out.mime_source, 'declared');
    // Holding the stream would show tens of MB here after a GC; streaming keeps a few chunks.
    assert.ok(peak < 16 * 1024 * 1024, `memory grew by ${Math.round(peak / 1e6)} MB`);
  });

  it('turns a failing read into a retryable StepError', async () => {
    function* failing() {
      yield png(4, 4);
      throw new Error('disk on fire');
    }
    const input = mapInput({ mime: 'image/png', content: () => Readable.from(failing()) });
    await assert.rejects(run({}, input), (err: unknown) => {
      assert.ok(err instanceof StepError);
      assert.equal(err.retryable, true);
      assert.match(err.message, /reading the blob failed: disk on fire/);
      return true;
    });
  });

  it('stops at an aborted signal with its reason, destroying the stream', async () => {
    const controller = new AbortController();
    let served = 0;
    function* endless() {
      for (;;) {
        if (++served === 3) controller.abort(new Error('activity cancelled'));
        yield Buffer.alloc(1024);
      }
    }
    const input = mapInput({ content: () => Readable.from(endless()) });
    await assert.rejects(run({}, input, controller.signal), /activity cancelled/);
    assert.equal(input.opened[0].destroyed, true);
  });

  it('registry: parses the config and rejects an invalid one as non-retryable', async () => {
    assert.equal(mapStep.kind, 'map');
    const out = await mapStep.run(undefined, mapInput({ mime: 'image/gif', content: gif(1, 1) }));
    assert.deepEqual(out.image, { width: 1, height: 1, format: 'gif' });
    await assert.rejects(mapStep.run({ sniff_bytes: 10 }, mapInput({ content: 'x' })), (err: unknown) => {
      assert.ok(err instanceof StepError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /invalid file_metadata config: sniff_bytes/);
      return true;
    });
  });
});
