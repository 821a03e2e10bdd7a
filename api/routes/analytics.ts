// Sync analytics from the run history (store.runs): per-run metrics with a summary, and a
// per-config comparison. Successful runs are COMPLETED or COMPLETED_WITH_ERRORS.
import { Router } from 'express';
import { syncComparisonQuerySchema, syncPerformanceQuerySchema } from '../../core/request-schemas';
import type { SyncRunDoc, Tenant } from '../../store';
import { notFound } from '../errors';
import { syncComparisonModel, syncPerformanceModel } from '../responses';
import { route } from '../route';
import type { AppDeps } from '../app';
import { serializeRun } from './syncs';

/** Runs a summary is computed over, at most (the newest). */
const MAX_RUNS = 100_000;
const SUCCESS = new Set(['COMPLETED', 'COMPLETED_WITH_ERRORS']);

const round = (n: number, places = 3) => Math.round(n * 10 ** places) / 10 ** places;
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function timeRange(hours: number) {
  const end = new Date();
  return { start: new Date(end.getTime() - hours * 3_600_000), end, hours };
}

export function analyticsRoutes({ store }: AppDeps): Router {
  const r = Router();
  const base = '/v1/analytics/buckets/:bucket_id';
  const tag = 'analytics';

  async function runsOf(t: Tenant, bucketId: string, start: Date, syncConfigId?: string) {
    const bucket = await store.buckets.findOne({
      bucket_id: bucketId,
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
    });
    if (!bucket) throw notFound('bucket', bucketId);
    const filter: Record<string, unknown> = { bucket_id: bucket.bucket_id, started_at: { $gte: start } };
    if (syncConfigId) filter.sync_config_id = syncConfigId;
    return store.runs.find(filter).sort({ started_at: -1, _id: -1 }).limit(MAX_RUNS).toArray();
  }

  route(r, {
    method: 'get',
    path: `${base}/sync-performance`,
    tag,
    summary: 'Per-run sync metrics of a bucket, with a summary',
    query: syncPerformanceQuerySchema,
    response: syncPerformanceModel,
    handler: async ({ t, params, query }) => {
      const range = timeRange(query.hours);
      const runs = await runsOf(t, params.bucket_id, range.start, query.sync_config_id);
      const ok = runs.filter((x) => SUCCESS.has(x.status));
      return {
        bucket_id: params.bucket_id,
        sync_config_id: query.sync_config_id ?? null,
        time_range: range,
        runs: runs.slice(0, query.limit).map(serializeRun),
        summary: {
          total_runs: runs.length,
          successful_runs: ok.length,
          failed_runs: runs.filter((x) => x.status === 'FAILED').length,
          success_rate: runs.length ? round(ok.length / runs.length, 4) : 0,
          total_files_discovered: sum(runs.map((x) => x.files_discovered)),
          total_files_synced: sum(runs.map((x) => x.files_synced)),
          total_files_failed: sum(runs.map((x) => x.files_failed)),
          total_bytes_synced: sum(runs.map((x) => x.bytes_synced)),
          avg_duration_seconds: round(avg(runs.map((x) => x.duration_seconds))),
          avg_throughput_mbps: round(avg(runs.map((x) => x.throughput_mbps))),
        },
      };
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/sync-comparison`,
    tag,
    summary: 'Sync configs of a bucket compared over a time range',
    description: 'Every sync of the bucket that is not deleted, and any other that ran in the range.',
    query: syncComparisonQuerySchema,
    response: syncComparisonModel,
    handler: async ({ t, params, query }) => {
      const range = timeRange(query.hours);
      const runs = await runsOf(t, params.bucket_id, range.start);
      const byConfig = new Map<string, { provider: string; runs: SyncRunDoc[] }>();
      const configs = await store.syncs
        .find({ bucket_id: params.bucket_id, deleted: { $ne: true } })
        .sort({ created_at: 1 })
        .toArray();
      for (const c of configs) byConfig.set(c.sync_config_id, { provider: c.source_type, runs: [] });
      for (const run of runs) {
        const entry = byConfig.get(run.sync_config_id) ?? { provider: run.provider_type, runs: [] };
        entry.runs.push(run);
        byConfig.set(run.sync_config_id, entry);
      }
      return {
        bucket_id: params.bucket_id,
        time_range: range,
        configs: [...byConfig].map(([id, { provider, runs: rs }]) => ({
          sync_config_id: id,
          provider_type: provider,
          total_runs: rs.length,
          avg_duration_seconds: round(avg(rs.map((x) => x.duration_seconds))),
          avg_throughput_mbps: round(avg(rs.map((x) => x.throughput_mbps))),
          success_rate: rs.length ? round(rs.filter((x) => SUCCESS.has(x.status)).length / rs.length, 4) : 0,
          total_files_synced: sum(rs.map((x) => x.files_synced)),
          total_bytes_synced: sum(rs.map((x) => x.bytes_synced)),
        })),
      };
    },
  });

  return r;
}
