// All activities, built once per worker with their dependencies (the
// activities-dependency-injection pattern). Workflows import the *type* only.
import { createBatchActivities } from './batch';
import { createSyncActivities, type SyncActivityDeps } from './sync';

export type ActivityDeps = SyncActivityDeps;

export function createActivities(deps: ActivityDeps) {
  return { ...createSyncActivities(deps), ...createBatchActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
