// A sync page's new (and, with re_extract_on_update, changed) objects -> batches of `batch_size`,
// submitted unless `skip_batch_submission` holds them back.
//
// Exactly once per page: a page's batches have ids derived from the page key and a sequence number,
// so a retried page finds the batches its earlier attempt made (looked up by _id) and only batches
// what is not in them yet; everything of the page not yet submitted is submitted now.
import { createHash } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { BatchDoc, Store, SyncConfigDoc } from '../store';
import { insertAbsent, insertIfAbsent } from '../store/objects';
import { RECENT_IDS, type BatchTotals } from '../core/sync-state';
import { submission, submitBatch, SUBMITTABLE, tiersFor, type BatchRunner } from './submit';

export function pageBatchId(syncConfigId: string, pageKey: string, seq: number): string {
  return `btch_${createHash('sha256').update(`${syncConfigId}\u0000${pageKey}\u0000${seq}`).digest('hex').slice(0, 16)}`;
}

export async function batchPage(
  store: Store,
  runner: BatchRunner,
  cfg: SyncConfigDoc,
  pageKey: string,
  objects: { key: string; objectId: string }[],
): Promise<BatchTotals> {
  const existing: BatchDoc[] = [];
  for (let seq = 0; ; seq++) {
    const b = await store.batches.findOne({ _id: pageBatchId(cfg.sync_config_id, pageKey, seq) });
    if (!b) break;
    existing.push(b);
  }
  const batched = new Set(existing.flatMap((b) => b.object_keys));
  const rest = [...new Map(objects.filter((o) => !batched.has(o.key)).map((o) => [o.key, o])).values()].sort(
    (a, b) => a.key.localeCompare(b.key),
  );
  const now = new Date();
  const fresh: BatchDoc[] = [];
  for (let i = 0; i < rest.length; i += cfg.batch_size) {
    const part = rest.slice(i, i + cfg.batch_size);
    const id = pageBatchId(cfg.sync_config_id, pageKey, existing.length + fresh.length);
    fresh.push({
      _id: id,
      batch_id: id,
      bucket_id: cfg.bucket_id,
      internal_id: cfg.internal_id,
      namespace_id: cfg.namespace_id,
      status: 'DRAFT',
      object_ids: part.map((o) => o.objectId),
      object_keys: part.map((o) => o.key),
      collection_ids: [],
      type: 'BUCKET',
      task_id: null,
      task_ids: [],
      current_tier: null,
      total_tiers: null,
      dag_tiers: [],
      error_summary: null,
      metadata: { sync_config_id: cfg.sync_config_id },
      chunk_size: Math.max(1, Math.min(cfg.batch_chunk_size, cfg.max_batch_chunk_size)),
      sync_config_id: cfg.sync_config_id,
      only_collection_ids: cfg.batch_collection_ids ?? null,
      held: cfg.skip_batch_submission,
      page_key: pageKey,
      created_at: now,
      updated_at: now,
    });
  }
  let tiers: string[][] | undefined;
  let written = fresh;
  if (!cfg.skip_batch_submission && fresh.length > 0) {
    tiers = await tiersFor(store, fresh[0]);
    // No collection reads from the bucket: each batch's submit would complete it at once. They
    // are written submitted (COMPLETED, with their tasks) in two writes, not three per batch.
    if (tiers.length === 0) {
      const forms = fresh.map((b) => submission(b, tiers!, now));
      await insertAbsent(
        store.tasks,
        forms.map((f) => f.task),
      );
      written = fresh.map((b, i) => ({ ...b, ...forms[i].submitted }));
    }
  }
  await insertInSequence(store.batches, written);

  const all = [...existing, ...written];
  const taskIds: string[] = [];
  let held = 0;
  for (const b of all) {
    if (b.status !== 'DRAFT') {
      if (b.task_id) taskIds.push(b.task_id);
      continue;
    }
    if (cfg.skip_batch_submission) {
      held++;
      continue;
    }
    tiers ??= await tiersFor(store, b);
    const task = await submitBatch(store, runner, b, SUBMITTABLE, tiers);
    taskIds.push(task.task_id);
  }
  return {
    created: all.length,
    batchIds: all.map((b) => b.batch_id).slice(-RECENT_IDS),
    taskIds: taskIds.slice(-RECENT_IDS),
    held,
  };
}

/**
 * Inserts in order (one ordered insertMany), so a page's batches are always a prefix of its
 * sequence (the lookup of a retried page stops at the first missing id); from a duplicate on (a
 * concurrent attempt of the page), one at a time, skipping those there.
 */
async function insertInSequence(coll: Collection<BatchDoc>, docs: BatchDoc[]): Promise<void> {
  const dups = await insertAbsent(coll, docs, { ordered: true });
  if (dups.size === 0) return;
  for (const d of docs.slice(Math.min(...dups))) await insertIfAbsent(coll, d);
}

/** skip_batch_submission was switched off: submit what the sync held back. */
export async function releaseHeld(
  store: Store,
  runner: BatchRunner,
  syncConfigId: string,
): Promise<{ released: number; taskIds: string[] }> {
  const taskIds: string[] = [];
  for (;;) {
    const held = await store.batches
      .find({ sync_config_id: syncConfigId, status: 'DRAFT', held: true })
      .sort({ created_at: 1, _id: 1 })
      .limit(100)
      .toArray();
    if (held.length === 0) break;
    for (const b of held) taskIds.push((await submitBatch(store, runner, b)).task_id);
  }
  return { released: taskIds.length, taskIds: taskIds.slice(-RECENT_IDS) };
}
