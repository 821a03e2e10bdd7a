// A sync page's new (and, with re_extract_on_update, changed) objects -> batches of `batch_size`,
// submitted unless `skip_batch_submission` holds them back.
//
// Exactly once per page: a page's batches have ids derived from the page key and a sequence number,
// so a retried page finds the batches its earlier attempt made (looked up by _id) and only batches
// what is not in them yet; everything of the page not yet submitted is submitted now.
import { createHash } from 'node:crypto';
import type { BatchDoc, Store, SyncConfigDoc } from '../store';
import { insertIfAbsent } from '../store/objects';
import { RECENT_IDS, type BatchTotals } from '../core/sync-state';
import { submitBatch, SUBMITTABLE, tiersFor, type BatchRunner } from './submit';

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
  // One at a time, in sequence order: the lookup above stops at the first missing id.
  for (const b of fresh) await insertIfAbsent(store.batches, b);

  const all = [...existing, ...fresh];
  const taskIds: string[] = [];
  let held = 0;
  let tiers: string[][] | undefined;
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
