// All activities, built once per worker with their dependencies (the
// activities-dependency-injection pattern). Workflows import the *type* only.
import { createBatchActivities } from './batch';
import type { SyncMetrics } from './metrics';
import { createSyncActivities, type SyncActivityDeps } from './sync';

export type ActivityDeps = SyncActivityDeps & {
  /** Counts pages and passes (worker/metrics-server.ts serves them); none: not counted. */
  metrics?: SyncMetrics;
};

export function createActivities(deps: ActivityDeps) {
  const sync = createSyncActivities(deps);
  const { metrics } = deps;
  if (metrics) {
    const syncPage = sync.syncPage.bind(sync);
    const finishPass = sync.finishPass.bind(sync);
    sync.syncPage = async (input) => {
      const t0 = performance.now();
      try {
        const res = await syncPage(input);
        metrics.page(res, (performance.now() - t0) / 1000);
        return res;
      } catch (err) {
        metrics.pageFailed((performance.now() - t0) / 1000);
        throw err;
      }
    };
    sync.finishPass = async (input) => {
      const res = await finishPass(input);
      metrics.pass(input.status, input.startedAt);
      return res;
    };
  }
  return { ...sync, ...createBatchActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
