// Batch activities: what the batch workflow does to the world. Each call handles one chunk of a
// batch's objects for one step of one collection and returns counts only.
//
// Idempotent by construction: a document is keyed by (collection, object) and records the batch
// that processes it and how many of the pipeline's steps are done (`progress`), so a retried or
// re-run activity skips what is done and a killed worker never processes a document twice.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { outputKeyOf, webhookRetryPolicy } from '../core/pipeline';
import { chunk } from '../core/dag';
import { forEachLimit } from '../lib/pool';
import { documentView } from '../pipeline/documents';
import { parseStepConfig, steps } from '../pipeline/steps';
import { StepError } from '../pipeline/steps/types';
import type { BatchDoc, BatchStatus, CollectionDoc, DocumentDoc, ObjectDoc, Store } from '../store';
import type { BlobStore } from '../store/blobs';
import { documentKey } from '../store/ids';
import type { SecretBox } from '../store/secrets';
import type {
  BatchPlan,
  BatchWorkflowInput,
  CollectionPlan,
  StepInput,
  StepResult,
} from '../core/batch-workflow';

export interface BatchActivityDeps {
  store: Store;
  secrets: SecretBox;
  blobs: BlobStore;
  log: Logger;
}

const OBJECT_CONCURRENCY = 4;
const HEARTBEAT_MS = 5_000;

export interface FinishBatchInput {
  batchId: string;
  taskId: string;
  outcome: 'ran' | 'failed' | 'canceled';
  error: string | null;
}

/** A step's sealed part: `{secret?, headers?}` (a bare string: the secret, as first stored). */
function openStepSecrets(v: unknown): { secret?: string; headers?: Record<string, string> } {
  return typeof v === 'string' ? { secret: v } : (v as { secret?: string; headers?: Record<string, string> });
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1000);
}

export function createBatchActivities(deps: BatchActivityDeps) {
  const { store } = deps;

  const loadBatch = (batchId: string) => store.batches.findOne({ _id: batchId });

  async function loadCollection(batch: BatchDoc, collectionId: string): Promise<CollectionDoc> {
    const col = await store.collections.findOne({
      collection_id: collectionId,
      internal_id: batch.internal_id,
      namespace_id: batch.namespace_id,
    });
    if (!col)
      throw ApplicationFailure.nonRetryable(
        `collection ${collectionId} no longer exists`,
        'CollectionMissing',
      );
    return col;
  }

  /** The objects (by _id) of one chunk of the batch. */
  function chunkKeys(batch: BatchDoc, index: number): { key: string; objectId: string }[] {
    const pairs = batch.object_keys.map((key, i) => ({ key, objectId: batch.object_ids[i] }));
    return chunk(pairs, batch.chunk_size)[index] ?? [];
  }

  const setStatus = async (
    batch: BatchDoc,
    taskId: string,
    set: Partial<BatchDoc>,
    task: Record<string, unknown>,
  ) => {
    const now = new Date();
    // Only while the batch is still this task's (a retry or cancel may have moved it on).
    await store.updateIfMatches(
      store.batches,
      batch._id,
      { task_id: taskId },
      { $set: { ...set, updated_at: now } },
    );
    await store.tasks.updateOne({ _id: taskId }, { $set: { ...task, updated_at: now } });
  };

  return {
    /** PENDING -> IN_PROGRESS; returns the tiers to run (collections, chunks, steps). */
    async planBatch(input: BatchWorkflowInput): Promise<BatchPlan> {
      const batch = await loadBatch(input.batchId);
      if (!batch || batch.task_id !== input.taskId) return { found: false, finished: false, tiers: [] };
      if (batch.status !== 'PENDING' && batch.status !== 'IN_PROGRESS')
        return { found: true, finished: true, tiers: [] };
      const chunks = chunk(batch.object_keys, batch.chunk_size).length;
      const tiers: CollectionPlan[][] = [];
      for (const { collection_ids: ids } of batch.dag_tiers) {
        const tier: CollectionPlan[] = [];
        for (const id of ids) {
          const col = await store.collections.findOne({ collection_id: id, internal_id: batch.internal_id });
          if (!col) continue; // deleted since submit
          tier.push({
            collectionId: id,
            chunks,
            steps: col.pipeline.map((s) => {
              const def = steps[s.step];
              if (def.kind === 'map') return { kind: 'map' as const };
              const policy = webhookRetryPolicy(parseStepConfig(s.step, s.config) as never);
              return {
                kind: 'deliver' as const,
                maximumAttempts: policy.maximumAttempts,
                startToCloseSeconds: policy.startToCloseSeconds,
              };
            }),
          });
        }
        if (tier.length > 0) tiers.push(tier);
      }
      await setStatus(
        batch,
        input.taskId,
        { status: 'IN_PROGRESS', current_tier: 0 },
        { status: 'IN_PROGRESS', 'additional_data.total_tiers': tiers.length },
      );
      return { found: true, finished: false, tiers };
    },

    async startTier(input: { batchId: string; taskId: string; tier: number }): Promise<void> {
      const batch = await loadBatch(input.batchId);
      if (!batch) return;
      await setStatus(
        batch,
        input.taskId,
        { current_tier: input.tier },
        { 'additional_data.current_tier': input.tier },
      );
    },

    /** One per-object step (file_metadata, text_extract) over one chunk of the batch. */
    async runMapStep(input: StepInput): Promise<StepResult> {
      const batch = await loadBatch(input.batchId);
      const result: StepResult = { completed: 0, failed: 0, skipped: 0 };
      if (!batch) return result;
      const col = await loadCollection(batch, input.collectionId);
      const spec = col.pipeline[input.step];
      const def = steps[spec.step];
      if (def.kind !== 'map') throw ApplicationFailure.nonRetryable(`step ${spec.step} is not a map step`);
      const config = parseStepConfig(spec.step, spec.config);
      const outKey = outputKeyOf(spec.step, input.step, col.pipeline);
      const last = input.step === col.pipeline.length - 1;
      const ctx = Context.current();
      let done = 0;
      const ticker = setInterval(() => ctx.heartbeat({ done }), HEARTBEAT_MS);
      try {
        await forEachLimit(chunkKeys(batch, input.chunk), OBJECT_CONCURRENCY, async ({ key, objectId }) => {
          const ready = await readyFor(batch, col, key, objectId, input.step, spec.step, result);
          if (!ready) return;
          const { doc, object, upstream } = ready;
          const docId = doc._id;
          let output: Record<string, unknown>;
          try {
            output = await def.run(
              config,
              { object, openBlob: () => openFirstBlob(object), previous: doc.outputs, upstream },
              ctx.cancellationSignal,
            );
          } catch (err) {
            if (err instanceof StepError && !err.retryable) {
              await failDoc(doc, `${spec.step}: ${err.message}`, spec.step);
              result.failed++;
              return;
            }
            throw err; // retryable: the activity is retried, this document with it
          }
          await store.documents.replaceOne(
            { _id: docId },
            {
              ...doc,
              outputs: { ...doc.outputs, [outKey]: output },
              progress: input.step + 1,
              status: last ? 'COMPLETED' : 'IN_PROGRESS',
              error: null,
              failed_step: null,
              updated_at: new Date(),
            },
            { upsert: true },
          );
          result.completed++;
          done++;
        });
      } finally {
        clearInterval(ticker);
      }
      return result;
    },

    /**
     * One delivering step (webhook) for one chunk: ONE attempt per call; Temporal retries it by the
     * step's policy. On the last attempt a failure marks the chunk's documents FAILED (listed by
     * the batch's failed-documents) instead of failing the workflow.
     */
    async deliverStep(input: StepInput): Promise<StepResult> {
      const batch = await loadBatch(input.batchId);
      const result: StepResult = { completed: 0, failed: 0, skipped: 0 };
      if (!batch) return result;
      const col = await loadCollection(batch, input.collectionId);
      const spec = col.pipeline[input.step];
      const def = steps[spec.step];
      if (def.kind !== 'deliver')
        throw ApplicationFailure.nonRetryable(`step ${spec.step} is not a delivery step`);
      const sealed = col.secrets_sealed?.[String(input.step)];
      const config = {
        ...(parseStepConfig(spec.step, spec.config) as Record<string, unknown>),
        ...(sealed ? openStepSecrets(deps.secrets.open<unknown>(sealed)) : {}),
      };
      const outKey = outputKeyOf(spec.step, input.step, col.pipeline);
      const last = input.step === col.pipeline.length - 1;

      const docs: DocumentDoc[] = [];
      for (const { key, objectId } of chunkKeys(batch, input.chunk)) {
        const ready = await readyFor(batch, col, key, objectId, input.step, spec.step, result);
        if (ready) docs.push(ready.doc);
      }
      if (docs.length === 0) return result;
      const deliveryId = `${batch.batch_id}.${col.collection_id}.${input.chunk}.${input.step}`;
      const attempt = Context.current().info.attempt;
      let outcome: { statusCode: number; durationMs: number } | null = null;
      let error: string | null = null;
      try {
        outcome = await def.deliver(
          config,
          {
            deliveryId,
            collectionId: col.collection_id,
            batchId: batch.batch_id,
            documents: docs.map(documentView),
          },
          Context.current().cancellationSignal,
        );
      } catch (err) {
        const retryable = err instanceof StepError ? err.retryable : true;
        error = message(err);
        if (retryable && attempt < (input.maximumAttempts ?? 1))
          throw ApplicationFailure.retryable(
            `${spec.step} attempt ${attempt} failed: ${error}`,
            'DeliveryFailed',
          );
        deps.log.warn(
          { batchId: batch.batch_id, collectionId: col.collection_id, attempt, error },
          'delivery failed for good',
        );
      }
      const now = new Date();
      for (const d of docs) {
        const next: DocumentDoc = outcome
          ? {
              ...d,
              outputs: {
                ...d.outputs,
                [outKey]: {
                  delivery_id: deliveryId,
                  status_code: outcome.statusCode,
                  duration_ms: outcome.durationMs,
                  attempts: attempt,
                  delivered_at: now.toISOString(),
                },
              },
              progress: input.step + 1,
              status: last ? 'COMPLETED' : 'IN_PROGRESS',
              updated_at: now,
            }
          : {
              ...d,
              status: 'FAILED',
              error: `${spec.step}: ${error} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`,
              failed_step: spec.step,
              updated_at: now,
            };
        await store.documents.replaceOne({ _id: d._id }, next, { upsert: true });
      }
      if (outcome) result.completed = docs.length;
      else result.failed = docs.length;
      return result;
    },

    /** Records the batch's final status and its task's outputs. */
    async finishBatch(input: FinishBatchInput): Promise<BatchStatus> {
      const batch = await loadBatch(input.batchId);
      if (!batch || batch.task_id !== input.taskId) return 'CANCELED';
      let completed = 0;
      let failed = 0;
      const byStep: Record<string, number> = {};
      let firstError: string | null = null;
      for (const collectionId of batch.collection_ids) {
        await forEachLimit(batch.object_ids, 16, async (objectId) => {
          const d = await store.documents.findOne(
            { _id: documentKey(collectionId, objectId) },
            { projection: { batch_id: 1, status: 1, error: 1, failed_step: 1 } },
          );
          if (!d || d.batch_id !== batch.batch_id) return;
          if (d.status === 'COMPLETED') completed++;
          else if (d.status === 'FAILED') {
            failed++;
            const step = d.failed_step ?? 'unknown';
            byStep[step] = (byStep[step] ?? 0) + 1;
            firstError ??= d.error;
          }
        });
      }
      const status: BatchStatus =
        input.outcome === 'canceled'
          ? 'CANCELED'
          : input.outcome === 'failed'
            ? 'FAILED'
            : failed === 0
              ? 'COMPLETED'
              : completed > 0
                ? 'COMPLETED_WITH_ERRORS'
                : 'FAILED';
      const summary = {
        documents_completed: completed,
        documents_failed: failed,
        failed_by_step: byStep,
        first_error: input.error ?? firstError,
      };
      await setStatus(
        batch,
        input.taskId,
        { status, current_tier: null, error_summary: summary },
        {
          status,
          outputs: { documents_completed: completed, documents_failed: failed },
          error: input.error ?? (status === 'FAILED' ? firstError : null),
        },
      );
      return status;
    },
  };

  async function failDoc(d: DocumentDoc, why: string, step: string): Promise<void> {
    await store.documents.replaceOne(
      { _id: d._id },
      { ...d, status: 'FAILED', error: why, failed_step: step, updated_at: new Date() },
      { upsert: true },
    );
  }

  /**
   * The object's document, ready for step `step` of this batch, with the object and its upstream
   * documents; null when there is nothing to do (done already, failed, or failed just now).
   * Step 0 starts a fresh document (replacing one from an earlier batch).
   */
  async function readyFor(
    batch: BatchDoc,
    col: CollectionDoc,
    key: string,
    objectId: string,
    step: number,
    stepName: string,
    result: StepResult,
  ): Promise<{ doc: DocumentDoc; object: ObjectDoc; upstream: Record<string, unknown>[] } | null> {
    const docId = documentKey(col.collection_id, objectId);
    const existing = await store.documents.findOne({ _id: docId });
    const ours = existing?.batch_id === batch.batch_id;
    if (ours && (existing.status === 'FAILED' || existing.progress !== step)) {
      result.skipped++;
      return null;
    }
    if (!ours && step !== 0) {
      result.skipped++; // never started by step 0 (cannot happen: steps run in order)
      return null;
    }
    const now = new Date();
    const doc: DocumentDoc = ours
      ? existing
      : {
          _id: docId,
          document_id: docId,
          collection_id: col.collection_id,
          object_id: objectId,
          bucket_id: batch.bucket_id,
          internal_id: batch.internal_id,
          namespace_id: batch.namespace_id,
          batch_id: batch.batch_id,
          progress: 0,
          status: 'IN_PROGRESS',
          error: null,
          failed_step: null,
          outputs: {},
          created_at: existing?.created_at ?? now,
          updated_at: now,
        };
    const object = await store.objects.findOne({ _id: key });
    if (!object) {
      await failDoc(doc, `object ${objectId} no longer exists`, stepName);
      result.failed++;
      return null;
    }
    const upstream = await upstreamDocs(col, objectId);
    if (upstream === null) {
      await failDoc(doc, 'no completed upstream document for this object', stepName);
      result.failed++;
      return null;
    }
    return { doc, object, upstream };
  }

  async function openFirstBlob(object: ObjectDoc) {
    const blob = object.blobs.find((b) => typeof b.properties?.storage_key === 'string');
    return blob ? deps.blobs.open(blob.properties.storage_key as string) : null;
  }

  /** Upstream documents for a downstream collection ([] for bucket-sourced), null if none completed. */
  async function upstreamDocs(
    col: CollectionDoc,
    objectId: string,
  ): Promise<Record<string, unknown>[] | null> {
    if (col.source.type !== 'collection') return [];
    const docs: Record<string, unknown>[] = [];
    for (const up of col.source.collection_ids) {
      const d = await store.documents.findOne({ _id: documentKey(up, objectId) });
      if (d?.status === 'COMPLETED') docs.push(documentView(d));
    }
    return docs.length > 0 ? docs : null;
  }
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
