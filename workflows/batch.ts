// One workflow per submitted batch (id `batch-<batch_id>`): runs the batch's objects through the
// collections of its bucket, tier by tier (tier 0 reads from the bucket, tier n+1 from tier n).
//
// Per collection and chunk of objects, one activity per pipeline step; steps that deliver (a
// webhook) get the retry policy their config asks for, and on the last attempt the activity marks
// the documents FAILED instead of failing. The workflow ends by recording the batch's status:
// COMPLETED, COMPLETED_WITH_ERRORS (some documents failed), FAILED or CANCELED.
import { CancellationScope, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { errorMessage } from '../core/failures';
import type { BatchWorkflowInput, CollectionPlan } from '../core/batch-workflow';

const { planBatch, startTier, finishBatch } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

const { runMapStep } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
  },
});

async function runCollection(batchId: string, plan: CollectionPlan): Promise<void> {
  const chunks = Array.from({ length: plan.chunks }, (_, i) => i);
  await Promise.all(
    chunks.map(async (chunk) => {
      for (const [step, s] of plan.steps.entries()) {
        const input = { batchId, collectionId: plan.collectionId, chunk, step };
        if (s.kind === 'map') {
          await runMapStep(input);
        } else {
          const { deliverStep } = proxyActivities<Activities>({
            startToCloseTimeout: `${s.startToCloseSeconds ?? 30} seconds`,
            retry: {
              initialInterval: '1 second',
              backoffCoefficient: 2,
              maximumInterval: '20 seconds',
              maximumAttempts: s.maximumAttempts ?? 1,
            },
          });
          await deliverStep({ ...input, maximumAttempts: s.maximumAttempts ?? 1 });
        }
      }
    }),
  );
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<void> {
  const { batchId, taskId } = input;
  try {
    // Inside the try: a batch cancelled before its workflow ran (no worker free yet) is recorded
    // CANCELED too, instead of staying PENDING. (finishBatch ignores a batch this task does not own.)
    const plan = await planBatch(input);
    if (!plan.found || plan.finished) return;
    for (const [tier, collections] of plan.tiers.entries()) {
      await startTier({ batchId, taskId, tier });
      await Promise.all(collections.map((c) => runCollection(batchId, c)));
    }
    await finishBatch({ batchId, taskId, outcome: 'ran', error: null });
  } catch (err) {
    const canceled = isCancellation(err);
    if (!canceled) log.warn('batch failed', { batchId, error: errorMessage(err) });
    await CancellationScope.nonCancellable(() =>
      finishBatch({
        batchId,
        taskId,
        outcome: canceled ? 'canceled' : 'failed',
        error: canceled ? null : errorMessage(err),
      }),
    );
  }
}
