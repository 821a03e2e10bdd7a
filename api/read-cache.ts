// GET answers of one item (a sync, a bucket, an object), kept for up to API_READ_CACHE_MS.
//
// What they show is a projection written at most about once a second while a pass runs (the
// workflow's recordSyncState, the bucket's counts after a run), so clients that poll one sync, as
// Mixpeek's SDK and the dashboard do, read it from memory instead of from the database each time.
// - An answer is kept with the tenant and bucket it was found for: another tenant, or the same id
//   under another bucket, is looked up afresh (and gets its 404).
// - An answer is served for at most API_READ_CACHE_MS after its load began. Read again once it is
//   older than a point between half and three quarters of that (at random, so answers loaded
//   together are not reloaded together), it is reloaded in the background while the reader gets
//   it from memory: an answer read often is never waited for (refresh-ahead), one read seldom
//   expires and its next read loads it. A reload that fails (the item is gone: a 404) drops the
//   answer, so the next read loads it and gets the error.
// - Any request of this process that may write (anything but GET and HEAD) empties the cache when
//   it starts and when it ends, so this process's clients read their own writes at once (a pause,
//   a PATCH, a trigger; answers computed while the write ran, reloads included, are not kept).
//   Another API process's writes, and the workflow's, show within API_READ_CACHE_MS.
// - 0 turns it off.
import type { RequestHandler } from 'express';
import type { Tenant } from '../store';

interface Entry {
  scope: string;
  value: unknown;
  /** From then on a read reloads it in the background. */
  refreshAt: number;
  /** From then on it is not served. */
  expires: number;
}

export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  /** Loads in flight, shared by concurrent misses of the same answer (and by its reload). */
  private readonly loading = new Map<
    string,
    { scope: string; value: Promise<unknown>; generation: number }
  >();
  /** Bumped by every write: a load that started before it is not kept (nor shared). */
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The answer for `kind`/`id` as `t` sees it under `bucketId`, from the cache or from `load`.
   * Concurrent misses for the same answer share one load (an expired entry is not a stampede).
   */
  async get<T>(kind: string, id: string, t: Tenant, bucketId: string, load: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0) return load();
    const key = `${kind}|${id}`;
    const scope = `${t.internal_id}|${t.namespace_id}|${bucketId}`;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.scope === scope && hit.expires > now) {
      if (now >= hit.refreshAt && !this.inFlight(key, scope))
        this.start(key, scope, load).catch(() => {
          // Not served any more: the next read loads it in the foreground and gets the error.
          if (this.entries.get(key) === hit) this.entries.delete(key);
        });
      return hit.value as T;
    }
    return (this.inFlight(key, scope) ?? this.start(key, scope, load)) as Promise<T>;
  }

  /** The load of this answer in flight that a read may share (started since the last write). */
  private inFlight(key: string, scope: string): Promise<unknown> | undefined {
    const flying = this.loading.get(key);
    return flying && flying.scope === scope && flying.generation === this.generation
      ? flying.value
      : undefined;
  }

  /** Loads the answer and keeps it, unless a write happened meanwhile. */
  private start<T>(key: string, scope: string, load: () => Promise<T>): Promise<T> {
    const generation = this.generation;
    const started = this.now();
    const value = Promise.resolve()
      .then(load)
      .then((v) => {
        if (generation === this.generation) {
          this.entries.delete(key);
          this.entries.set(key, {
            scope,
            value: v,
            refreshAt: started + this.ttlMs * (0.5 + Math.random() / 4),
            expires: started + this.ttlMs,
          });
          if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
        }
        return v;
      });
    this.loading.set(key, { scope, value, generation });
    const settled = () => {
      if (this.loading.get(key)?.value === value) this.loading.delete(key);
    };
    value.then(settled, settled);
    return value;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Middleware: a request that may write empties the cache when it starts and when it has answered. */
  readonly writesClear: RequestHandler = (req, res, next) => {
    if (this.ttlMs <= 0 || req.method === 'GET' || req.method === 'HEAD') return next();
    this.clear();
    res.on('finish', () => this.clear());
    res.on('close', () => this.clear());
    next();
  };
}
