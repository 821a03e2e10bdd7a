// Submitting a batch to its bucket's processing pipeline: a task and a Temporal workflow
// (`batch-<batch_id>`) that runs the collections tier by tier. Shared by the REST API (submit,
// retry, cancel) and the sync activity (a sync's new objects). Every step is idempotent: a retried
// submit finds its task and its workflow already there.
import { createHash } from 'node:crypto';
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { planTiers } from '../core/dag';
import type { BatchDoc, BatchStatus, Store, TaskDoc } from '../store';
import { insertIfAbsent } from '../store/objects';
import { workflowIdForBatch, type BatchWorkflowInput } from '../core/batch-workflow';

export interface BatchRunner {
  client: Client;
  taskQueue: string;
}

/** Statuses a batch may be (re)submitted from. */
export const SUBMITTABLE: ReadonlySet<BatchStatus> = new Set(['DRAFT']);
export const RETRYABLE: ReadonlySet<BatchStatus> = new Set(['FAILED', 'COMPLETED_WITH_ERRORS', 'CANCELED']);

export class BatchStateError extends Error {
  constructor(
    message: string,
    readonly batch: BatchDoc,
  ) {
    super(message);
  }
}

const hash16 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** The tiers of collections a batch of this bucket's objects runs through, now. */
export async function tiersFor(
  store: Store,
  batch: Pick<BatchDoc, 'bucket_id' | 'internal_id' | 'namespace_id' | 'only_collection_ids'>,
) {
  const collections = await store.collections
    .find(
      { internal_id: batch.internal_id, namespace_id: batch.namespace_id },
      { projection: { collection_id: 1, source: 1 } },
    )
    .toArray();
  return planTiers(collections, batch.bucket_id, batch.only_collection_ids);
}

/**
 * What submitting `batch` (attempt = its tasks so far) writes: its task, and the batch's fields
 * after the submit (PENDING, or COMPLETED at once when no collection reads from the bucket).
 */
export function submission(batch: BatchDoc, tiers: string[][], now: Date) {
  const attempt = batch.task_ids.length;
  const taskId = `task_${hash16(`${batch.batch_id}|${attempt}`)}`;
  const nothingToRun = tiers.length === 0 || batch.object_ids.length === 0;
  const status: BatchStatus = nothingToRun ? 'COMPLETED' : 'PENDING';
  const task: TaskDoc = {
    _id: taskId,
    task_id: taskId,
    task_type: 'BATCH_PROCESSING',
    status,
    batch_id: batch.batch_id,
    bucket_id: batch.bucket_id,
    internal_id: batch.internal_id,
    namespace_id: batch.namespace_id,
    inputs: { batch_id: batch.batch_id, bucket_id: batch.bucket_id, object_count: batch.object_ids.length },
    outputs: nothingToRun ? { documents_completed: 0, documents_failed: 0 } : null,
    additional_data: {
      workflow_id: workflowIdForBatch(batch.batch_id),
      attempt,
      total_tiers: tiers.length,
      ...(nothingToRun ? { note: 'no collection reads from this bucket' } : {}),
    },
    error: null,
    created_at: now,
    updated_at: now,
  };
  const submitted = {
    status,
    task_id: taskId,
    task_ids: [...batch.task_ids, taskId],
    held: false,
    dag_tiers: tiers.map((collection_ids) => ({ collection_ids })),
    total_tiers: tiers.length,
    collection_ids: tiers.flat(),
    current_tier: null,
    error_summary: nothingToRun ? { documents_completed: 0, documents_failed: 0 } : null,
    updated_at: now,
  } satisfies Partial<BatchDoc>;
  return { task, submitted, nothingToRun };
}

/**
 * DRAFT (or, for a retry, a terminal status) -> PENDING with a new task, and starts the batch
 * workflow. A bucket no collection reads from has nothing to run: the batch and its task complete
 * at once. Temporal being unreachable leaves the batch as it was and rethrows.
 */
export async function submitBatch(
  store: Store,
  runner: BatchRunner,
  batch: BatchDoc,
  from: ReadonlySet<BatchStatus> = SUBMITTABLE,
  /** The bucket's tiers when the caller already has them (a page submitting several batches). */
  knownTiers?: string[][],
): Promise<TaskDoc> {
  const attempt = batch.task_ids.length;
  const taskId = `task_${hash16(`${batch.batch_id}|${attempt}`)}`;
  if (batch.task_id === taskId && batch.status !== 'DRAFT') {
    // A retried submit of this very attempt: make sure the workflow runs, answer its task.
    if (batch.status === 'PENDING') await startWorkflow(runner, batch.batch_id, taskId);
    return (await store.tasks.findOne({ _id: taskId }))!;
  }
  if (!from.has(batch.status)) throw new BatchStateError(`batch ${batch.batch_id} is ${batch.status}`, batch);

  const tiers = knownTiers ?? (await tiersFor(store, batch));
  const { task, submitted, nothingToRun } = submission(batch, tiers, new Date());
  const { status } = submitted;
  await insertIfAbsent(store.tasks, task);
  const moved = await store.updateIfMatches(
    store.batches,
    batch._id,
    { status: batch.status, task_id: batch.task_id },
    { $set: submitted },
  );
  if (!moved) {
    // Someone else moved it first (a concurrent submit): answer what they made.
    const ours = await store.tasks.findOne({ _id: taskId });
    if (ours?.status === status) await store.tasks.deleteOne({ _id: taskId });
    const current = await store.batches.findOne({ _id: batch._id });
    if (current?.task_id) {
      const theirs = await store.tasks.findOne({ _id: current.task_id });
      if (theirs) return theirs;
    }
    throw new BatchStateError(`batch ${batch.batch_id} changed meanwhile`, current ?? batch);
  }
  if (nothingToRun) return task;
  try {
    await startWorkflow(runner, batch.batch_id, taskId);
  } catch (err) {
    // Nothing half-written: the batch goes back to where it was.
    await store.updateIfMatches(
      store.batches,
      batch._id,
      { task_id: taskId },
      {
        $set: {
          status: batch.status,
          task_id: batch.task_id,
          task_ids: batch.task_ids,
          held: batch.held,
          dag_tiers: batch.dag_tiers,
          total_tiers: batch.total_tiers,
          collection_ids: batch.collection_ids,
          current_tier: batch.current_tier,
          error_summary: batch.error_summary,
          updated_at: new Date(),
        },
      },
    );
    await store.tasks.deleteOne({ _id: taskId });
    throw err;
  }
  return task;
}

export async function startWorkflow(runner: BatchRunner, batchId: string, taskId: string): Promise<void> {
  const args: [BatchWorkflowInput] = [{ batchId, taskId }];
  try {
    await runner.client.workflow.start('batchWorkflow', {
      workflowId: workflowIdForBatch(batchId),
      taskQueue: runner.taskQueue,
      args,
      memo: { taskId },
      // A retry starts the id again once the previous run has closed.
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const desc = await runner.client.workflow.getHandle(workflowIdForBatch(batchId)).describe();
      const running = (desc.memo as { taskId?: string } | undefined)?.taskId;
      // Started already for this task (a retried submit): fine.
      if (running === undefined || running === taskId) return;
    }
    throw err;
  }
}

/**
 * Cancels a batch: one that has not started running is CANCELED at once; a running one is asked
 * to stop (its workflow records CANCELED when it has).
 */
export async function cancelBatch(store: Store, runner: BatchRunner, batch: BatchDoc): Promise<void> {
  if (batch.status === 'DRAFT') {
    await finalize(store, batch, 'CANCELED');
    return;
  }
  if (batch.status !== 'PENDING' && batch.status !== 'IN_PROGRESS')
    throw new BatchStateError(`batch ${batch.batch_id} is ${batch.status}`, batch);
  try {
    await runner.client.workflow.getHandle(workflowIdForBatch(batch.batch_id)).cancel();
  } catch (err) {
    // No workflow to cancel (an operator terminated it): record the cancel here.
    if ((err as Error)?.name === 'WorkflowNotFoundError') await finalize(store, batch, 'CANCELED');
    else throw err;
  }
}

async function finalize(store: Store, batch: BatchDoc, status: BatchStatus): Promise<void> {
  const now = new Date();
  await store.batches.updateOne({ _id: batch._id }, { $set: { status, updated_at: now } });
  if (batch.task_id)
    await store.tasks.updateOne({ _id: batch.task_id }, { $set: { status, updated_at: now } });
}
