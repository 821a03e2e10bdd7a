// Unit tests for providers/local.ts against a real temp folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LocalProvider, localConfigSchema } from '../../providers/local';
import { InlineIo } from '../../lib/inline-io';
import { ProviderError, type ListPage, type SourceEntry } from '../../providers/types';

function write(root: string, rel: string, content: string | Buffer = rel): void {
  const file = path.join(root, ...rel.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** Byte order of the UTF-8 encodings, the order the listing promises. */
function byteCmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Lists every page, checking each page's size and cursor; returns all entries and the page count. */
async function listAll(
  p: LocalProvider,
  sourcePath: string,
  pageSize: number,
): Promise<{ entries: SourceEntry[]; pages: ListPage[] }> {
  const entries: SourceEntry[] = [];
  const pages: ListPage[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100_000; i++) {
    const page = await p.list(sourcePath, { cursor, pageSize });
    pages.push(page);
    assert.ok(page.entries.length <= pageSize, `page of ${page.entries.length} exceeds pageSize ${pageSize}`);
    entries.push(...page.entries);
    if (page.nextCursor === null) return { entries, pages };
    assert.ok(page.entries.length > 0, 'a page with a cursor must not be empty');
    assert.equal(page.nextCursor, page.entries.at(-1)!.path, 'cursor = last path returned');
    cursor = page.nextCursor;
  }
  throw new Error('listing never ended');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

async function expectProviderError(
  fn: () => Promise<unknown>,
  kind: ProviderError['kind'],
  retryable: boolean,
): Promise<ProviderError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ProviderError, `expected a ProviderError, got ${String(caught)}`);
  assert.equal(caught.kind, kind);
  assert.equal(caught.retryable, retryable);
  return caught;
}

function assertStrictByteOrder(paths: string[]): void {
  for (let i = 1; i < paths.length; i++) {
    assert.ok(
      byteCmp(paths[i - 1], paths[i]) < 0,
      `not strictly increasing at ${i}: ${JSON.stringify(paths[i - 1])} then ${JSON.stringify(paths[i])}`,
    );
  }
}

describe('local provider', function () {
  let tmp: string;
  let root: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bucket-syncs-local-'));
    root = path.join(tmp, 'root');
    fs.mkdirSync(root);
  });

  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('config', () => {
    it('requires an absolute root', () => {
      assert.equal(localConfigSchema.safeParse({ root: '/data' }).success, true);
      assert.equal(localConfigSchema.safeParse({ root: 'data' }).success, false);
      assert.equal(localConfigSchema.safeParse({ root: '' }).success, false);
      assert.equal(localConfigSchema.safeParse({ root: '/data', extra: 1 }).success, false);
    });
  });

  describe('list: a large flat folder (its sorted entries kept between pages)', () => {
    this.timeout(120_000);
    const names = Array.from({ length: 3_000 }, (_, i) => `f${String(i).padStart(5, '0')}.bin`);
    const settle = (dir: string) => {
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(dir, old, old); // as a folder last changed a minute ago
    };
    const paths = async (p: LocalProvider, pageSize = 250) =>
      (await listAll(p, 'flat', pageSize)).entries.map((e) => e.path);

    it('pages through 3,000 files once each, and sees files added or removed since (the folder mtime moves)', async () => {
      for (const n of names) write(root, `flat/${n}`, n);
      settle(path.join(root, 'flat'));
      const p = new LocalProvider({ root });
      assert.deepEqual(await paths(p), names);
      // A second pass over the unchanged folder: the same files.
      assert.deepEqual(await paths(p, 1000), names);
      write(root, 'flat/f01500-late.bin', 'late');
      fs.rmSync(path.join(root, 'flat', 'f00007.bin'));
      const now = await paths(p);
      assert.ok(now.includes('f01500-late.bin'), 'a file added since is listed');
      assert.ok(!now.includes('f00007.bin'), 'a file removed since is not');
      assert.equal(now.length, names.length);
      assertStrictByteOrder(now);
    });

    it('a folder read within a second of its last change is read again next time (its mtime may not move)', async () => {
      for (const n of names) write(root, `flat/${n}`, n);
      const dir = path.join(root, 'flat');
      const justNow = new Date();
      fs.utimesSync(dir, justNow, justNow); // last changed just now
      const p = new LocalProvider({ root });
      assert.deepEqual(await paths(p), names);
      write(root, 'flat/f00000-same-tick.bin', 'x');
      fs.utimesSync(dir, justNow, justNow); // a change within the same clock tick: the mtime stays
      const after = await paths(p);
      assert.deepEqual(
        after.filter((n) => !names.includes(n)),
        ['f00000-same-tick.bin'],
      );
    });
  });

  describe('list: large nested listing', () => {
    this.timeout(120_000);

    it('returns 2,600 files in pages of 100, each exactly once, in strictly increasing byte order', async () => {
      const expected: string[] = [];
      // 13 top folders × 4 sub folders × 50 files = 2,600 files, plus a few at odd levels.
      for (let t = 0; t < 13; t++) {
        for (let s = 0; s < 4; s++) {
          for (let f = 0; f < 50; f++) {
            const rel = `top${t}/sub-${s}/file${f}.bin`;
            write(root, rel, `${rel}\n`);
            expected.push(rel);
          }
        }
      }
      for (const rel of ['root-file.txt', 'top1/direct.txt', 'top1/sub-0/deeper/deepest/z.txt', 'zzz']) {
        write(root, rel);
        expected.push(rel);
      }
      fs.mkdirSync(path.join(root, 'top2', 'empty-dir'));
      expected.sort(byteCmp);

      const p = new LocalProvider({ root });
      const { entries, pages } = await listAll(p, '', 100);
      const paths = entries.map((e) => e.path);
      assert.equal(paths.length, expected.length);
      assert.equal(new Set(paths).size, paths.length, 'no duplicates');
      assertStrictByteOrder(paths);
      assert.deepEqual(paths, expected);
      assert.equal(pages.length, Math.ceil(expected.length / 100));
      for (const page of pages.slice(0, -1))
        assert.equal(page.entries.length, 100, 'full pages until the last');
      // Every entry is self-consistent.
      for (const e of entries) {
        assert.equal(e.sourceObjectId, e.path);
        assert.equal(e.name, e.path.split('/').at(-1));
        assert.equal(e.size, Buffer.byteLength(e.path.endsWith('.bin') ? `${e.path}\n` : e.path));
      }
    });

    it('resumes from any cursor with the rest of the listing', async () => {
      for (let d = 0; d < 5; d++)
        for (let f = 0; f < 20; f++) write(root, `d${d}/f${String(f).padStart(2, '0')}`);
      const p = new LocalProvider({ root });
      const all = (await p.list('', { pageSize: 1000 })).entries.map((e) => e.path);
      assert.equal(all.length, 100);
      const paged = await listAll(p, '', 7);
      assert.deepEqual(
        paged.entries.map((e) => e.path),
        all,
      );
      for (const i of [0, 19, 20, 57, 98]) {
        const after = await p.list('', { cursor: all[i], pageSize: 1000 });
        assert.deepEqual(
          after.entries.map((e) => e.path),
          all.slice(i + 1),
          `after ${all[i]}`,
        );
        assert.equal(after.nextCursor, null);
      }
      const afterLast = await p.list('', { cursor: all.at(-1), pageSize: 10 });
      assert.deepEqual(afterLast, { entries: [], nextCursor: null });
    });

    it('a page that ends exactly on the last file still ends the listing on the next call', async () => {
      for (const n of ['a', 'b', 'c', 'd']) write(root, n);
      const p = new LocalProvider({ root });
      const first = await p.list('', { pageSize: 4 });
      assert.equal(first.entries.length, 4);
      const second = await p.list('', { cursor: first.nextCursor, pageSize: 4 });
      assert.deepEqual(second.entries, []);
      assert.equal(second.nextCursor, null);
    });

    it('a cursor naming a file that no longer exists resumes after its position', async () => {
      for (const n of ['a/1', 'a/3', 'b/1']) write(root, n);
      const p = new LocalProvider({ root });
      const page = await p.list('', { cursor: 'a/2', pageSize: 10 });
      assert.deepEqual(
        page.entries.map((e) => e.path),
        ['a/3', 'b/1'],
      );
    });
  });

  describe('list: byte order with tricky names', () => {
    it('orders a folder `a` after files `a b`, `a-x`, `a.txt` (its paths start with `a/`)', async () => {
      for (const rel of ['a/inner.txt', 'a/z/deep.txt', 'a b', 'a.txt', 'a-x', 'a0', 'A', '_x', 'b'])
        write(root, rel);
      const p = new LocalProvider({ root });
      const { entries } = await listAll(p, '', 1000);
      const paths = entries.map((e) => e.path);
      assert.deepEqual(paths, ['A', '_x', 'a b', 'a-x', 'a.txt', 'a/inner.txt', 'a/z/deep.txt', 'a0', 'b']);
      assertStrictByteOrder(paths);
    });

    it('keeps that order when paging one entry at a time', async () => {
      const rels = ['a/inner.txt', 'a/z/deep.txt', 'a b', 'a.txt', 'a-x', 'a0', 'a!/x', 'ab/c', 'a/b c/d'];
      for (const rel of rels) write(root, rel);
      const p = new LocalProvider({ root });
      const { entries, pages } = await listAll(p, '', 1);
      const paths = entries.map((e) => e.path);
      assert.deepEqual(paths, [...rels].sort(byteCmp));
      assertStrictByteOrder(paths);
      assert.equal(pages.length, rels.length + 1, 'one page per file, then an empty last page');
    });

    it('handles unicode and spaces in names, in UTF-8 byte order', async () => {
      const rels = [
        'caf\u00e9/men\u00fc.txt',
        'cafe/plain.txt',
        'my folder/my file (1).txt',
        'my folder/my file.txt',
        '\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt',
        '\ud83d\ude00 emoji.txt',
        '\uff21 fullwidth.txt',
        'z\u00e9ro',
        'zero',
        '\u00c5ngstr\u00f6m',
      ];
      for (const rel of rels) write(root, rel, `content of ${rel}`);
      const p = new LocalProvider({ root });
      for (const pageSize of [1, 3, 100]) {
        const { entries } = await listAll(p, '', pageSize);
        const paths = entries.map((e) => e.path);
        assert.deepEqual(paths, [...rels].sort(byteCmp), `pageSize ${pageSize}`);
        assertStrictByteOrder(paths);
      }
      const { entries } = await listAll(p, '', 100);
      const emoji = entries.find((e) => e.name === '\ud83d\ude00 emoji.txt');
      assert.ok(emoji);
      assert.equal(emoji.size, Buffer.byteLength('content of \ud83d\ude00 emoji.txt'));
      const spaced = entries.find((e) => e.path === 'my folder/my file.txt');
      assert.ok(spaced);
      assert.equal(spaced.name, 'my file.txt');
      assert.equal((await readAll(await p.open(spaced))).toString(), 'content of my folder/my file.txt');
    });
  });

  describe('list: edge folders', () => {
    it('an empty folder gives no entries and a null cursor', async () => {
      const p = new LocalProvider({ root });
      assert.deepEqual(await p.list('', { pageSize: 100 }), { entries: [], nextCursor: null });
    });

    it('a tree of empty folders gives no entries and a null cursor', async () => {
      fs.mkdirSync(path.join(root, 'a', 'b', 'c'), { recursive: true });
      fs.mkdirSync(path.join(root, 'd'));
      const p = new LocalProvider({ root });
      assert.deepEqual(await p.list('', { pageSize: 1 }), { entries: [], nextCursor: null });
    });

    it('a source_path subfolder lists paths relative to it and ids relative to the root', async () => {
      write(root, 'media/videos/2025/a.mp4', 'AAAA');
      write(root, 'media/videos/2025/nested/b.mp4', 'BB');
      write(root, 'media/videos/other.mp4');
      write(root, 'media/videos2/not-included.mp4');
      write(root, 'outside.txt');
      const p = new LocalProvider({ root });
      for (const sp of [
        'media/videos/2025',
        '/media/videos/2025',
        'media/videos/2025/',
        './media/videos/2025',
      ]) {
        const { entries } = await listAll(p, sp, 1);
        assert.deepEqual(
          entries.map((e) => [e.path, e.sourceObjectId, e.name]),
          [
            ['a.mp4', 'media/videos/2025/a.mp4', 'a.mp4'],
            ['nested/b.mp4', 'media/videos/2025/nested/b.mp4', 'b.mp4'],
          ],
          `source_path ${sp}`,
        );
      }
      // The id opens the right file.
      const { entries } = await p.list('media/videos/2025', { pageSize: 10 });
      assert.equal((await readAll(await p.open(entries[1]))).toString(), 'BB');
    });

    it('a source_path that goes down and back up inside the root is fine', async () => {
      write(root, 'a/x.txt');
      const p = new LocalProvider({ root });
      const page = await p.list('b/../a', { pageSize: 10 });
      assert.deepEqual(
        page.entries.map((e) => e.sourceObjectId),
        ['a/x.txt'],
      );
    });

    it('source_path escaping the root is ProviderError invalid, not retryable', async () => {
      write(tmp, 'secret.txt', 'secret');
      fs.mkdirSync(path.join(tmp, 'root-sibling'));
      const p = new LocalProvider({ root });
      for (const sp of ['../', '..', 'a/../../', '../root-sibling', '/../secret.txt', 'x/../../../etc']) {
        const err = await expectProviderError(() => p.list(sp, { pageSize: 10 }), 'invalid', false);
        assert.match(err.message, /outside the connection root/);
      }
    });

    it('a symlink inside the root pointing outside it is ProviderError invalid', async () => {
      fs.mkdirSync(path.join(tmp, 'elsewhere'));
      write(tmp, 'elsewhere/x.txt');
      fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(root, 'link'));
      const p = new LocalProvider({ root });
      await expectProviderError(() => p.list('link', { pageSize: 10 }), 'invalid', false);
    });

    it('a missing source_path is ProviderError not_found, not retryable', async () => {
      const p = new LocalProvider({ root });
      await expectProviderError(() => p.list('does/not/exist', { pageSize: 10 }), 'not_found', false);
      await expectProviderError(() => p.list('nope', { cursor: 'x', pageSize: 1 }), 'not_found', false);
    });

    it('a missing root is ProviderError not_found', async () => {
      const p = new LocalProvider({ root: path.join(tmp, 'no-such-root') });
      await expectProviderError(() => p.list('', { pageSize: 10 }), 'not_found', false);
    });
  });

  describe('list: entry fields', () => {
    it('reports size, modifiedAt, version and empty metadata', async () => {
      write(root, 'dir/five.bin', Buffer.from([1, 2, 3, 4, 5]));
      write(root, 'empty.bin', Buffer.alloc(0));
      const when = new Date('2024-03-04T05:06:07.000Z');
      fs.utimesSync(path.join(root, 'dir', 'five.bin'), when, when);
      const p = new LocalProvider({ root });
      const { entries } = await p.list('', { pageSize: 10 });
      const five = entries.find((e) => e.path === 'dir/five.bin');
      const empty = entries.find((e) => e.path === 'empty.bin');
      assert.ok(five && empty);
      assert.equal(five.size, 5);
      assert.equal(five.modifiedAt, '2024-03-04T05:06:07.000Z');
      assert.equal(five.name, 'five.bin');
      assert.deepEqual(five.metadata, {});
      assert.equal(typeof five.version, 'string');
      assert.equal(empty.size, 0);
      assert.ok(!Number.isNaN(Date.parse(empty.modifiedAt)));
    });

    it('changes version when the content changes', async () => {
      write(root, 'f', 'one');
      const p = new LocalProvider({ root });
      const v1 = (await p.list('', { pageSize: 1 })).entries[0].version;
      fs.writeFileSync(path.join(root, 'f'), 'three');
      fs.utimesSync(path.join(root, 'f'), new Date('2030-01-01T00:00:00Z'), new Date('2030-01-01T00:00:00Z'));
      const e2 = (await p.list('', { pageSize: 1 })).entries[0];
      assert.notEqual(e2.version, v1);
      assert.equal(e2.size, 5);
    });

    it('follows symlinks to files inside the root and skips dangling ones', async () => {
      write(root, 'real.txt', 'real');
      fs.symlinkSync(path.join(root, 'real.txt'), path.join(root, 'alias.txt'));
      fs.symlinkSync(path.join(root, 'missing.txt'), path.join(root, 'dangling.txt'));
      const p = new LocalProvider({ root });
      const { entries } = await p.list('', { pageSize: 10 });
      assert.deepEqual(
        entries.map((e) => [e.path, e.size]),
        [
          ['alias.txt', 4],
          ['real.txt', 4],
        ],
      );
    });
  });

  describe('open', () => {
    it('streams the exact bytes of the file', async () => {
      const content = Buffer.alloc(300_000);
      for (let i = 0; i < content.length; i++) content[i] = (i * 31 + 7) % 256;
      write(root, 'sub/blob.bin', content);
      const p = new LocalProvider({ root });
      const [e] = (await p.list('sub', { pageSize: 10 })).entries;
      assert.equal(e.sourceObjectId, 'sub/blob.bin');
      const stream = await p.open(e);
      const got = await readAll(stream);
      assert.equal(got.length, content.length);
      assert.ok(got.equals(content), 'bytes differ');
    });

    it('streams an empty file as zero bytes', async () => {
      write(root, 'empty', Buffer.alloc(0));
      const p = new LocalProvider({ root });
      const [e] = (await p.list('', { pageSize: 10 })).entries;
      assert.equal((await readAll(await p.open(e))).length, 0);
    });

    it('a file deleted between list and open is ProviderError not_found', async () => {
      write(root, 'gone/soon.txt', 'bye');
      const p = new LocalProvider({ root });
      const [e] = (await p.list('', { pageSize: 10 })).entries;
      fs.rmSync(path.join(root, 'gone', 'soon.txt'));
      const err = await expectProviderError(() => p.open(e), 'not_found', false);
      assert.match(err.message, /gone\/soon\.txt/);
      fs.rmSync(path.join(root, 'gone'), { recursive: true });
      await expectProviderError(() => p.open(e), 'not_found', false);
    });
  });

  describe('test()', () => {
    it('succeeds on a folder', async () => {
      fs.mkdirSync(path.join(root, 'sub'));
      const p = new LocalProvider({ root });
      const whole = await p.test();
      assert.equal(whole.success, true);
      assert.equal(whole.details?.root, root);
      assert.equal((await p.test('sub')).success, true);
    });

    it('fails on a missing folder, a file and a path outside the root', async () => {
      write(root, 'file.txt');
      const p = new LocalProvider({ root });
      const missing = await p.test('nope');
      assert.equal(missing.success, false);
      assert.match(missing.message, /not found/);
      const file = await p.test('file.txt');
      assert.equal(file.success, false);
      assert.match(file.message, /not a folder/);
      const outside = await p.test('../');
      assert.equal(outside.success, false);
      assert.match(outside.message, /outside/);
      const noRoot = await new LocalProvider({ root: path.join(tmp, 'absent') }).test();
      assert.equal(noRoot.success, false);
    });
  });
});

describe('LocalProvider.read (small files whole), inline and through the thread pool', () => {
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-read-'));
    write(root, 'a/small.bin', Buffer.alloc(5000, 7));
    fs.mkdirSync(path.join(root, 'a/dir'));
    execFileSync('mkfifo', [path.join(root, 'a/pipe')]);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const [label, io] of [
    ['inline', new InlineIo()],
    ['thread pool', new InlineIo({ alwaysPooled: true })],
  ] as const) {
    it(`${label}: the bytes; null when longer than listed or than maxBytes; errors classified`, async () => {
      const p = new LocalProvider({ root }, io);
      const entry = (id: string, size: number) =>
        ({ sourceObjectId: id, path: id, name: id.split('/').at(-1)!, size, version: 'v' }) as SourceEntry;
      assert.deepEqual(await p.read(entry('a/small.bin', 5000), 1 << 20), Buffer.alloc(5000, 7));
      // Shorter than listed (it shrank): what is there now.
      assert.deepEqual(await p.read(entry('a/small.bin', 9000), 1 << 20), Buffer.alloc(5000, 7));
      assert.equal(await p.read(entry('a/small.bin', 4000), 1 << 20), null, 'longer than listed: streamed');
      assert.equal(await p.read(entry('a/small.bin', 5000), 4999), null, 'over maxBytes: streamed');
      assert.equal(await p.read(entry('a/dir', 0), 1 << 20), null, 'a folder is left to open');
      // A FIFO with no writer: opening it to read would block (inline: the whole process).
      assert.equal(await p.read(entry('a/pipe', 0), 1 << 20), null, 'a FIFO is left to open');
      await assert.rejects(
        p.read(entry('a/missing.bin', 10), 1 << 20),
        (err: unknown) => err instanceof ProviderError && err.kind === 'not_found' && !err.retryable,
      );
    });
  }
});
