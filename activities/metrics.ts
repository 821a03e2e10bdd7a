// The worker's sync metrics (Prometheus, prom-client): what every page and pass did, counted by
// outcome. The activities get one of these by dependency injection (activities/index.ts wraps
// syncPage and finishPass with it); worker/metrics-server.ts serves the registry. Labels are
// outcomes only: never a sync, file or object id.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store';

/** What a finished page reports (a subset of SyncPageResult). */
export interface PageCounts {
  listed: number;
  created: number;
  updated: number;
  unchanged: number;
  duplicates: number;
  /** Went to the DLQ on this page (pending retry or failed for good). */
  dlq: number;
  /** Reached FAILED (after the last attempt) on this page. */
  failed: number;
  bytes: number;
}

export const FILE_OUTCOMES = ['created', 'updated', 'unchanged', 'duplicate', 'dlq', 'failed'] as const;

export class SyncMetrics {
  readonly registry = new Registry();
  private readonly passes: Counter<'outcome'>;
  private readonly files: Counter<'outcome'>;
  private readonly listed: Counter;
  private readonly bytes: Counter;
  private readonly passDuration: Histogram<'outcome'>;
  private readonly pageDuration: Histogram<'outcome'>;

  constructor(store: Store | null, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.passes = new Counter({
      name: 'bucket_syncs_passes_total',
      help: 'Sync runs finished (one run record each), by outcome: completed, completed_with_errors, failed, canceled',
      labelNames: ['outcome'],
      registers,
    });
    this.files = new Counter({
      name: 'bucket_syncs_files_total',
      help: 'Listed files by what the page did with them: created, updated, unchanged, duplicate (skip_duplicates), dlq (to the DLQ, retried later), failed (failed for good)',
      labelNames: ['outcome'],
      registers,
    });
    for (const o of FILE_OUTCOMES) this.files.inc({ outcome: o }, 0);
    this.listed = new Counter({
      name: 'bucket_syncs_files_listed_total',
      help: 'Entries listed by the providers (before filters)',
      registers,
    });
    this.bytes = new Counter({
      name: 'bucket_syncs_bytes_synced_total',
      help: 'Bytes copied into the blob store for created and updated objects',
      registers,
    });
    this.passDuration = new Histogram({
      name: 'bucket_syncs_pass_duration_seconds',
      help: 'Time from the start of a pass to its run record, by outcome',
      labelNames: ['outcome'],
      buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
    this.pageDuration = new Histogram({
      name: 'bucket_syncs_page_duration_seconds',
      help: 'Time of one syncPage activity attempt (list, filter, copy, register the pages of one stride, see SYNC_STRIDE_MS), by outcome: ok, error',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    if (store) {
      new Gauge({
        name: 'bucket_syncs_dlq_size',
        help: 'Entries in the DLQ (every sync: pending retry and failed for good)',
        registers,
        async collect() {
          this.set(await store.dlq.estimatedDocumentCount());
        },
      });
      // One read of the syncs per scrape, shared by the two gauges below (they are collected within
      // milliseconds of each other; a later scrape, even a second on, reads again).
      let read: { at: number; p: Promise<{ lag: number; byStatus: Map<string, number> }> } | null = null;
      const syncStats = () => {
        if (!read || Date.now() - read.at > 100) read = { at: Date.now(), p: readSyncStats(store) };
        return read.p;
      };
      new Gauge({
        name: 'bucket_syncs_syncs',
        help: 'Sync configurations (not deleted) by status',
        labelNames: ['status'],
        registers,
        async collect() {
          const { byStatus } = await syncStats();
          this.reset();
          for (const [status, n] of byStatus) this.set({ status }, n);
        },
      });
      new Gauge({
        name: 'bucket_syncs_sync_lag_seconds',
        help: 'Largest time since the last completed pass over the active syncs (since creation for one that never completed a pass)',
        registers,
        async collect() {
          this.set((await syncStats()).lag);
        },
      });
    }
  }

  page(counts: PageCounts, seconds: number): void {
    this.pageDuration.observe({ outcome: 'ok' }, seconds);
    this.listed.inc(counts.listed);
    this.files.inc({ outcome: 'created' }, counts.created);
    this.files.inc({ outcome: 'updated' }, counts.updated);
    this.files.inc({ outcome: 'unchanged' }, counts.unchanged);
    this.files.inc({ outcome: 'duplicate' }, counts.duplicates);
    this.files.inc({ outcome: 'dlq' }, Math.max(0, counts.dlq - counts.failed));
    this.files.inc({ outcome: 'failed' }, counts.failed);
    this.bytes.inc(counts.bytes);
  }

  pageFailed(seconds: number): void {
    this.pageDuration.observe({ outcome: 'error' }, seconds);
  }

  pass(status: string, startedAt: string): void {
    const outcome = status.toLowerCase();
    this.passes.inc({ outcome });
    const seconds = Math.max(0, (Date.now() - new Date(startedAt).getTime()) / 1000);
    this.passDuration.observe({ outcome }, seconds);
  }
}

async function readSyncStats(store: Store): Promise<{ lag: number; byStatus: Map<string, number> }> {
  const docs = await store.syncs
    .find({ deleted: { $ne: true } }, { projection: { _id: 0, status: 1, last_sync_at: 1, created_at: 1 } })
    .toArray();
  const now = Date.now();
  let lag = 0;
  const byStatus = new Map<string, number>();
  for (const d of docs) {
    byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1);
    if (d.status !== 'ACTIVE' && d.status !== 'PENDING') continue;
    const since = (d.last_sync_at ?? d.created_at) as Date | null | undefined;
    if (since) lag = Math.max(lag, (now - new Date(since).getTime()) / 1000);
  }
  return { lag, byStatus };
}
