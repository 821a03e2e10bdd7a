// Small file operations run inline (synchronously, on the main thread) while the filesystem is fast.
//
// A promise-based `fs` call is a round trip through libuv's thread pool: measured on the 2-core
// benchmark machine, copying 3,000 files of 1-64 KiB (read, SHA-256, write, rename) cost 1.4 s of
// CPU that way and 0.8 s inline (the kernel's share halves when the work stays on one thread), so
// the engine's small-file copies (engine/ingest.ts copyFile: the local provider's `read`, the
// folder blob store's `putBytes`) run inline. Two guards keep the event loop free:
// - after every YIELD_AFTER_MS of inline work the caller waits one turn of the event loop
//   (heartbeats, other activities and the Temporal SDK get their turn);
// - one operation slower than SLOW_MS (a network filesystem, a disk under load) sends every
//   operation to the thread pool for SLOWED_FOR_MS, then inline is tried again.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

export const YIELD_AFTER_MS = 10;
export const SLOW_MS = 10;
export const SLOWED_FOR_MS = 60_000;

/** Inline work since the event loop last turned, over every InlineIo of the process. */
let sinceYield = 0;

/** One filesystem's inline operations (each keeps its own slow state). */
export class InlineIo {
  private pooledUntil = 0;

  private readonly slowMs: number;
  private readonly slowedForMs: number;
  private readonly alwaysPooled: boolean;

  constructor(opts: { slowMs?: number; slowedForMs?: number; alwaysPooled?: boolean } = {}) {
    this.slowMs = opts.slowMs ?? SLOW_MS;
    this.slowedForMs = opts.slowedForMs ?? SLOWED_FOR_MS;
    this.alwaysPooled = opts.alwaysPooled ?? false;
  }

  /** Whether operations run inline now (false for a while after a slow one). */
  get inline(): boolean {
    return !this.alwaysPooled && Date.now() >= this.pooledUntil;
  }

  /** `inline()` when the filesystem has been fast, else `pooled()` (the same operation, asynchronous). */
  async run<T>(inline: () => T, pooled: () => Promise<T>): Promise<T> {
    if (!this.inline) return pooled();
    if (sinceYield >= YIELD_AFTER_MS) {
      sinceYield = 0;
      await nextTurn();
    }
    const started = performance.now();
    try {
      return inline();
    } finally {
      const took = performance.now() - started;
      sinceYield += took;
      if (took > this.slowMs) this.pooledUntil = Date.now() + this.slowedForMs;
    }
  }
}
