// Batches of a bucket's objects and their submission to the processing pipeline, and the tasks
// that report on them. DRAFT -> (submit) PENDING -> IN_PROGRESS -> COMPLETED |
// COMPLETED_WITH_ERRORS | FAILED | CANCELED; retry makes a new task for a finished batch and runs
// what did not complete.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { Router } from 'express';
import { batchCreateSchema, batchListFilterSchema, taskListFilterSchema } from '../../core/request-schemas';
import { isTerminal } from '../../core/status';
import { BatchStateError, cancelBatch, RETRYABLE, submitBatch } from '../../pipeline/submit';
import type { BatchDoc, TaskDoc, Tenant } from '../../store';
import { newId } from '../../store/ids';
import type { AppDeps } from '../app';
import { ApiError, notFound } from '../errors';
import { listPage, listQuerySchema } from '../list';
import { batchModel, deleteModel, failedDocumentModel, listModel, taskModel } from '../responses';
import { route } from '../route';
import { findBucket, objectKeysIn } from '../tenancy';

const createBody = batchCreateSchema.meta({ id: 'BatchCreateRequest' });
const listBody = batchListFilterSchema.meta({ id: 'BatchListRequest' });
const taskListBody = taskListFilterSchema.meta({ id: 'TaskListRequest' });
const batchList = listModel(batchModel, 'Batch');
const taskList = listModel(taskModel, 'Task');
const failedList = listModel(failedDocumentModel, 'FailedDocument');
const CHUNK_SIZE = 100;

export const serializeBatch = (d: BatchDoc) => ({
  batch_id: d.batch_id,
  bucket_id: d.bucket_id,
  status: d.status,
  object_ids: d.object_ids,
  collection_ids: d.collection_ids,
  type: d.type,
  task_id: d.task_id,
  current_tier: d.current_tier,
  total_tiers: d.total_tiers,
  dag_tiers: (d.dag_tiers ?? []).map((t) => t.collection_ids),
  error_summary: d.error_summary,
  metadata: d.metadata,
  sync_config_id: d.sync_config_id,
  created_at: d.created_at,
  updated_at: d.updated_at,
});

export const serializeTask = (d: TaskDoc) => ({
  task_id: d.task_id,
  task_type: d.task_type,
  status: d.status,
  inputs: d.inputs,
  outputs: d.outputs,
  additional_data: d.additional_data,
  error: d.error,
  created_at: d.created_at,
  updated_at: d.updated_at,
});

const conflict = (err: BatchStateError) =>
  new ApiError(409, err.message, 'ConflictError', { status: err.batch.status });

export function batchRoutes({ store, control }: AppDeps): Router {
  const r = Router();
  const tag = 'batches';
  const base = '/v1/buckets/:bucket_id/batches';

  async function batchOf(t: Tenant, params: Record<string, string>): Promise<BatchDoc> {
    const bucket = await findBucket(store, t, params.bucket_id);
    // By `_id` alone (the one filter FerretDB answers from its index); the bucket is checked here.
    const doc = await store.batches.findOne({ _id: params.batch_id });
    if (!doc || doc.bucket_id !== bucket.bucket_id) throw notFound('batch', params.batch_id);
    return doc;
  }

  /**
   * Temporal calls with a deadline (503 when unreachable); a batch in the wrong status is a 409, and
   * so is a (re)submit while the batch's previous workflow run has recorded its outcome but not
   * closed yet (submitBatch has rolled the batch back; trying again shortly succeeds).
   */
  async function withTemporal<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await control.call(fn);
    } catch (err) {
      if (err instanceof BatchStateError) throw conflict(err);
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new ApiError(
          409,
          'the previous run of this batch is still closing; try again shortly',
          'ConflictError',
          { reason: 'previous_run_open' },
          { 'retry-after': '1' },
        );
      throw err;
    }
  }

  route(r, {
    method: 'post',
    path: base,
    tag,
    summary: 'Create a batch (DRAFT) of the bucket’s objects',
    body: createBody,
    response: batchModel,
    handler: async ({ t, params, body }) => {
      const bucket = await findBucket(store, t, params.bucket_id);
      const keyOf = await objectKeysIn(store, bucket.bucket_id, body.object_ids); // _id lookups
      const missing = body.object_ids.filter((id) => !keyOf.has(id));
      if (missing.length > 0)
        throw new ApiError(
          422,
          `validation failed: body.object_ids: ${missing.length} object(s) not in bucket ${bucket.bucket_id}`,
          'ValidationError',
          {
            issues: missing.slice(0, 20).map((id) => ({
              loc: ['body', 'object_ids', body.object_ids.indexOf(id)],
              msg: `object ${id} not found in this bucket`,
              type: 'not_found',
            })),
          },
        );
      const now = new Date();
      const id = newId('btch');
      const doc: BatchDoc = {
        _id: id,
        batch_id: id,
        bucket_id: bucket.bucket_id,
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        status: 'DRAFT',
        object_ids: body.object_ids,
        object_keys: body.object_ids.map((o) => keyOf.get(o)!),
        collection_ids: [],
        type: 'BUCKET',
        task_id: null,
        task_ids: [],
        current_tier: null,
        total_tiers: null,
        dag_tiers: [],
        error_summary: null,
        metadata: body.metadata,
        chunk_size: CHUNK_SIZE,
        sync_config_id: null,
        held: false,
        page_key: null,
        created_at: now,
        updated_at: now,
      };
      await store.batches.insertOne({ ...doc });
      return serializeBatch(doc);
    },
  });

  const list = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag,
      summary: 'List the bucket’s batches',
      query: listQuerySchema,
      ...(method === 'post' ? { body: listBody, bodyOptional: true } : {}),
      response: batchList,
      handler: async ({ t, params, req, body }) => {
        const bucket = await findBucket(store, t, params.bucket_id);
        const filter: Record<string, unknown> = { bucket_id: bucket.bucket_id };
        if (body?.status) filter.status = body.status;
        return listPage(store.batches, filter, req.query, serializeBatch);
      },
    });
  list('post', `${base}/list`);
  list('get', base);

  route(r, {
    method: 'get',
    path: `${base}/:batch_id`,
    tag,
    summary: 'Get a batch',
    response: batchModel,
    handler: async ({ t, params }) => serializeBatch(await batchOf(t, params)),
  });

  route(r, {
    method: 'delete',
    path: `${base}/:batch_id`,
    tag,
    summary: 'Delete a batch',
    description: 'Refused (409) while it is PENDING or IN_PROGRESS: cancel it first. Its documents stay.',
    errors: [409],
    response: deleteModel,
    handler: async ({ t, params }) => {
      const batch = await batchOf(t, params);
      if (batch.status === 'PENDING' || batch.status === 'IN_PROGRESS')
        throw new ApiError(
          409,
          `batch ${batch.batch_id} is ${batch.status}; cancel it first`,
          'ConflictError',
          {
            status: batch.status,
          },
        );
      await store.batches.deleteOne({ _id: batch._id, status: batch.status });
      return { success: true, message: `batch ${batch.batch_id} deleted` };
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:batch_id/submit`,
    tag,
    summary: 'Submit a DRAFT batch to the processing pipeline',
    description:
      'Creates a task and a workflow batch-<batch_id> running the collections that read from the bucket, ' +
      'tier by tier. A bucket no collection reads from completes at once.',
    errors: [409, 503],
    response: taskModel,
    handler: async ({ t, params }) => {
      const batch = await batchOf(t, params);
      return serializeTask(await withTemporal(() => submitBatch(store, control.batches, batch)));
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:batch_id/cancel`,
    tag,
    summary: 'Cancel a batch',
    description:
      'A DRAFT batch is CANCELED at once; a running one stops after the steps in flight (its status turns ' +
      'CANCELED when it has). Cancelling a CANCELED batch answers it unchanged.',
    errors: [409, 503],
    response: batchModel,
    handler: async ({ t, params }) => {
      const batch = await batchOf(t, params);
      if (batch.status !== 'CANCELED') await withTemporal(() => cancelBatch(store, control.batches, batch));
      return serializeBatch((await store.batches.findOne({ _id: batch._id })) ?? batch);
    },
  });

  route(r, {
    method: 'post',
    path: `${base}/:batch_id/retry`,
    tag,
    summary: 'Retry a FAILED, COMPLETED_WITH_ERRORS or CANCELED batch',
    description: 'A new task; documents that completed are kept, failed and unfinished ones run again.',
    errors: [409, 503],
    response: taskModel,
    handler: async ({ t, params }) => {
      const batch = await batchOf(t, params);
      if (!RETRYABLE.has(batch.status))
        throw new ApiError(409, `batch ${batch.batch_id} is ${batch.status}`, 'ConflictError', {
          status: batch.status,
        });
      const failed = await store.documents
        .find(
          { batch_id: batch.batch_id, status: 'FAILED' },
          { projection: { _id: 1, error: 1, failed_step: 1 } },
        )
        .toArray();
      for (const d of failed)
        await store.documents.updateOne(
          { _id: d._id, status: 'FAILED' },
          { $set: { status: 'IN_PROGRESS', error: null, failed_step: null, updated_at: new Date() } },
        );
      try {
        return serializeTask(await withTemporal(() => submitBatch(store, control.batches, batch, RETRYABLE)));
      } catch (err) {
        // Not resubmitted: the failed documents stay listed as failed.
        for (const d of failed)
          await store.documents.updateOne(
            { _id: d._id, status: 'IN_PROGRESS' },
            { $set: { status: 'FAILED', error: d.error, failed_step: d.failed_step } },
          );
        throw err;
      }
    },
  });

  route(r, {
    method: 'get',
    path: `${base}/:batch_id/failed-documents`,
    tag,
    summary: 'Documents of the batch that failed, with their errors',
    query: listQuerySchema,
    response: failedList,
    handler: async ({ t, params, req }) => {
      const batch = await batchOf(t, params);
      return listPage(
        store.documents,
        { batch_id: batch.batch_id, status: 'FAILED' },
        req.query,
        (d) => ({
          document_id: d.document_id,
          object_id: d.object_id,
          collection_id: d.collection_id,
          failed_step: d.failed_step,
          error: d.error,
          updated_at: d.updated_at,
        }),
        { updated_at: -1, _id: 1 },
      );
    },
  });

  // --- tasks -------------------------------------------------------------------------------------

  async function taskOf(t: Tenant, taskId: string): Promise<TaskDoc> {
    const task = await store.tasks.findOne({
      _id: taskId,
      internal_id: t.internal_id,
      namespace_id: t.namespace_id,
    });
    if (!task) throw notFound('task', taskId);
    return task;
  }

  route(r, {
    method: 'get',
    path: '/v1/tasks/:task_id',
    tag: 'tasks',
    summary: 'Get a task',
    description: 'Poll with backoff (1 s doubling to 30 s) until a terminal status.',
    response: taskModel,
    handler: async ({ t, params }) => serializeTask(await taskOf(t, params.task_id)),
  });

  route(r, {
    method: 'delete',
    path: '/v1/tasks/:task_id',
    tag: 'tasks',
    summary: 'Kill a task (cancels its batch)',
    description: 'A task that already finished is answered unchanged.',
    errors: [503],
    response: taskModel,
    handler: async ({ t, params }) => {
      const task = await taskOf(t, params.task_id);
      if (!isTerminal(task.status)) {
        const batch = await store.batches.findOne({ _id: task.batch_id });
        if (batch && batch.task_id === task.task_id && !isTerminal(batch.status))
          await withTemporal(() => cancelBatch(store, control.batches, batch));
      }
      return serializeTask((await store.tasks.findOne({ _id: task._id })) ?? task);
    },
  });

  const listTasks = (method: 'get' | 'post', p: string) =>
    route(r, {
      method,
      path: p,
      tag: 'tasks',
      summary: 'List tasks',
      query: listQuerySchema,
      ...(method === 'post' ? { body: taskListBody, bodyOptional: true } : {}),
      response: taskList,
      handler: async ({ t, req, body }) => {
        const filter: Record<string, unknown> = { internal_id: t.internal_id, namespace_id: t.namespace_id };
        if (body?.status) filter.status = body.status;
        if (body?.task_type) filter.task_type = body.task_type;
        return listPage(store.tasks, filter, req.query, serializeTask);
      },
    });
  listTasks('post', '/v1/tasks/list');
  listTasks('get', '/v1/tasks');

  return r;
}
