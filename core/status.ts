// TaskStatus: the one status enum the contract uses for syncs, batches and tasks.
export const TASK_STATUSES = [
  'PENDING',
  'QUEUED',
  'IN_PROGRESS',
  'PROCESSING',
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'CANCELED',
  'INTERRUPTED',
  'UNKNOWN',
  'SKIPPED',
  'DRAFT',
  'ACTIVE',
  'ARCHIVED',
  'SUSPENDED',
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'CANCELED',
]);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Status a sync shows, derived from its workflow state (the one rule, used by workflow and API). */
export function syncStatusOf(state: {
  started: boolean;
  paused: boolean;
  completed: boolean;
  failed: boolean;
}): TaskStatus {
  if (state.failed) return 'FAILED';
  if (state.completed) return 'COMPLETED';
  if (state.paused) return 'SUSPENDED';
  return state.started ? 'ACTIVE' : 'PENDING';
}
