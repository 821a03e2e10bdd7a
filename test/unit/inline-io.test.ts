// lib/inline-io.ts: small filesystem operations inline while fast, through the thread pool for a
// while after a slow one, and a turn of the event loop after every few milliseconds of inline work.
import assert from 'node:assert/strict';
import { InlineIo, YIELD_AFTER_MS } from '../../lib/inline-io';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('InlineIo', () => {
  it('runs inline while operations are fast; one slow operation sends the next ones to the pool', async () => {
    const io = new InlineIo({ slowMs: 5, slowedForMs: 150 });
    const ran: string[] = [];
    const op = (ms: number) =>
      io.run(
        () => {
          busy(ms);
          ran.push('inline');
        },
        async () => {
          ran.push('pooled');
        },
      );
    await op(0);
    await op(8); // slow: still ran inline, then the pool for 150 ms
    await op(0);
    assert.deepEqual(ran, ['inline', 'inline', 'pooled']);
    assert.equal(io.inline, false);
    await new Promise((r) => setTimeout(r, 170));
    assert.equal(io.inline, true);
    await op(0);
    assert.equal(ran.at(-1), 'inline');
  });

  it('alwaysPooled never runs inline', async () => {
    const io = new InlineIo({ alwaysPooled: true });
    assert.equal(
      await io.run(
        () => 'inline',
        async () => 'pooled',
      ),
      'pooled',
    );
  });

  it('an inline error propagates; the event loop turns between runs of inline work', async () => {
    const io = new InlineIo({ slowMs: 1000 });
    await assert.rejects(
      io.run(
        () => {
          throw new Error('EACCES');
        },
        async () => undefined,
      ),
      /EACCES/,
    );
    let turned = 0;
    const timer = setInterval(() => turned++, 0);
    // Back-to-back inline operations of 3 ms: without yielding, a timer could not fire until all ended.
    for (let i = 0; i < 30; i++)
      await io.run(
        () => busy(3),
        async () => undefined,
      );
    clearInterval(timer);
    // About one yield per YIELD_AFTER_MS of the 90 ms of work: at least half of them seen here.
    assert.ok(turned >= Math.floor(90 / YIELD_AFTER_MS / 2), `the event loop turned ${turned} times`);
  });
});
