// A stride: the pages one `syncPage` activity applies one after another before it returns.
//
// Each page is still its own unit of work (its own page key, intent record and idempotent redo); a
// stride only saves the round trips between them: the activity's dispatch, the workflow task that
// follows it, the configuration and connection reads and the lease. The workflow gets the pages'
// counts summed and the cursor after the last one, so its history grows by one activity per stride.
import { addBatches } from './sync-state';
import type { BatchTotals } from './sync-state';
import type { PageCounts } from './sync-plan';

/** What a page (or a stride of pages) returns to the workflow, besides `found`. */
export interface PageResult extends PageCounts {
  listedAll: boolean;
  nextCursor: string | null;
  deltaToken?: string | null;
  batches: BatchTotals;
  incomplete?: boolean;
  /** Pages applied (absent: one). */
  pages?: number;
}

export interface StrideSoFar {
  /** A pass over announced ids: one page per call (its cursor is an offset into the ids). */
  targeted: boolean;
  /** Objects the run may still create after the pages so far. */
  remaining: number;
  /** Since the activity started. */
  elapsedMs: number;
  /** SYNC_STRIDE_MS: a next page starts only before this much time has gone (0: one page per call). */
  strideMs: number;
}

/** After a page: does the same activity go on with the next page? */
export function strideGoesOn(page: PageResult, s: StrideSoFar): boolean {
  if (page.nextCursor === null) return false; // the listing ended (a delta token goes back with it)
  if (s.targeted || page.incomplete) return false;
  if (s.remaining <= 0) return false; // max_objects_per_run: the workflow cuts the run
  return s.elapsedMs < s.strideMs;
}

/** Two consecutive results as one: counts summed, the later cursor, batches appended. */
export function mergePages<T extends PageResult>(a: T, b: T): T {
  return {
    ...b,
    listed: a.listed + b.listed,
    discovered: a.discovered + b.discovered,
    created: a.created + b.created,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    duplicates: a.duplicates + b.duplicates,
    dlq: a.dlq + b.dlq,
    failed: a.failed + b.failed,
    drifted: a.drifted + b.drifted,
    removed: a.removed + b.removed,
    bytes: a.bytes + b.bytes,
    listedAll: a.listedAll && b.listedAll,
    batches: addBatches(a.batches, b.batches),
    pages: (a.pages ?? 1) + (b.pages ?? 1),
  };
}
