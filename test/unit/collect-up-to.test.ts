// engine/ingest.ts collectUpTo: how a small file from a provider without `read` is gathered whole,
// and how one that turns out larger than the limit is streamed on without losing a byte.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { collectUpTo } from '../../engine/ingest';

const chunks = (n: number, size: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(size, i));

async function readAll(s: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('collectUpTo (small files read whole)', () => {
  it('a stream within the limit comes back as one Buffer of its bytes', async () => {
    const parts = chunks(5, 1000);
    const got = await collectUpTo(Readable.from(parts), 5000);
    assert.ok(Buffer.isBuffer(got));
    assert.deepEqual(got, Buffer.concat(parts));
    assert.deepEqual(await collectUpTo(Readable.from([]), 10), Buffer.alloc(0));
  });

  it('past the limit: a stream of every byte, the ones already read first', async () => {
    const parts = chunks(8, 1000);
    const source = Readable.from(parts);
    const got = await collectUpTo(source, 2500);
    assert.ok(!Buffer.isBuffer(got), 'over the limit it is not gathered');
    assert.deepEqual(await readAll(got), Buffer.concat(parts));
  });

  it('a source error rejects, before or after the limit', async () => {
    const failing = (after: number) =>
      new Readable({
        read() {
          if (after-- > 0) this.push(Buffer.alloc(1000, 1));
          else this.destroy(new Error('disk gone'));
        },
      });
    await assert.rejects(collectUpTo(failing(2), 10_000), /disk gone/);
    const rest = await collectUpTo(failing(4), 1500);
    assert.ok(!Buffer.isBuffer(rest));
    await assert.rejects(readAll(rest), /disk gone/);
  });

  it('a reader that stops early releases the source', async () => {
    let i = 0;
    const source = new Readable({
      read() {
        this.push(Buffer.alloc(1000, i++ % 256));
      },
    });
    const rest = await collectUpTo(source, 1500);
    assert.ok(!Buffer.isBuffer(rest));
    for await (const _ of rest) break; // the consumer gives up (a failed put)
    await new Promise((r) => setImmediate(r));
    assert.equal(source.destroyed, true);
  });
});
