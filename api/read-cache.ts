// GET answers of one item (a sync, a bucket, an object), kept for up to API_READ_CACHE_MS.
//
// What they show is a projection written at most about once a second while a pass runs (the
// workflow's recordSyncState, the bucket's counts after a run), so clients that poll one sync, as
// Mixpeek's SDK and the dashboard do, read it from memory instead of from the database each time.
// - An answer is kept with the tenant and bucket it was found for: another tenant, or the same id
//   under another bucket, is looked up afresh (and gets its 404).
// - Any request of this process that may write (anything but GET and HEAD) empties the cache when
//   it starts and when it ends, so this process's clients read their own writes at once (a pause,
//   a PATCH, a trigger; answers computed while the write ran are not kept). Another API process's
//   writes, and the workflow's, show within API_READ_CACHE_MS.
// - 0 turns it off.
import type { RequestHandler } from 'express';
import type { Tenant } from '../store';

export class ReadCache {
  private readonly entries = new Map<string, { scope: string; value: unknown; expires: number }>();
  /** Loads in flight, shared by concurrent misses of the same answer. */
  private readonly loading = new Map<
    string,
    { scope: string; value: Promise<unknown>; generation: number }
  >();
  /** Bumped by every write: a load that started before it is not kept (nor shared). */
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  /**
   * The answer for `kind`/`id` as `t` sees it under `bucketId`, from the cache or from `load`.
   * Concurrent misses for the same answer share one load (an expired entry is not a stampede).
   */
  async get<T>(kind: string, id: string, t: Tenant, bucketId: string, load: () => Promise<T>): Promise<T> {
    if (this.ttlMs <= 0) return load();
    const key = `${kind}|${id}`;
    const scope = `${t.internal_id}|${t.namespace_id}|${bucketId}`;
    const hit = this.entries.get(key);
    if (hit && hit.scope === scope && hit.expires > Date.now()) return hit.value as T;
    const flying = this.loading.get(key);
    if (flying && flying.scope === scope && flying.generation === this.generation)
      return flying.value as Promise<T>;
    const generation = this.generation;
    const started = Date.now();
    const value = load();
    this.loading.set(key, { scope, value, generation });
    try {
      const v = await value;
      if (generation === this.generation) {
        this.entries.delete(key);
        // Kept between half the TTL and the TTL, at random: answers loaded together (a client
        // polling many objects) do not all expire together and come back as one burst of reads.
        this.entries.set(key, { scope, value: v, expires: started + this.ttlMs * (0.5 + Math.random() / 2) });
        if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
      }
      return v;
    } finally {
      if (this.loading.get(key)?.value === value) this.loading.delete(key);
    }
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
