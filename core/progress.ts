// Live progress of a pass (what GET sync shows as `sync_progress` while a run is in flight, and what
// a run record keeps): counts by outcome, rate, and an ETA where the total is known. Pure.

/** Per-run file counts the workflow keeps beside `pass.run` (absent in older histories). */
export interface RunFiles {
  listed: number;
  updated: number;
  unchanged: number;
  duplicates: number;
  /** Went to the DLQ (pending retry or failed for good). */
  dlq: number;
}

export const zeroRunFiles = (): RunFiles => ({ listed: 0, updated: 0, unchanged: 0, duplicates: 0, dlq: 0 });

export function addRunFiles(
  before: RunFiles | undefined,
  page: { listed: number; updated?: number; unchanged?: number; duplicates?: number; dlq: number },
): RunFiles {
  const b = before ?? zeroRunFiles();
  return {
    listed: b.listed + page.listed,
    updated: b.updated + (page.updated ?? 0),
    unchanged: b.unchanged + (page.unchanged ?? 0),
    duplicates: b.duplicates + (page.duplicates ?? 0),
    dlq: b.dlq + page.dlq,
  };
}

/** What progressOf reads from the workflow state (a structural subset of SyncState). */
export interface ProgressInput {
  paused: boolean;
  pass: {
    runId: string;
    full: boolean;
    startedAt: string;
    objectsProcessed: number;
    inRun: boolean;
    cursor: string | null;
    run: { discovered: number; synced: number; failed: number; bytes: number };
    runFiles?: RunFiles;
  } | null;
  /** Entries the last completed full pass listed: the expected total of the next full pass. */
  lastFullPassListed?: number | null;
}

export interface SyncProgress {
  sync_run_id: string;
  /** listing: pages in flight; paused: stopped between pages until resumed; waiting: the pass goes on
   * in the next run (cut by max_objects_per_run, or a failed page to be retried). */
  phase: 'listing' | 'paused' | 'waiting';
  full_sync: boolean;
  started_at: string;
  /** Entries listed so far by this pass (before filters). */
  files_listed: number;
  /** Entries handled so far (= listed: a page is handled whole). */
  files_processed: number;
  files_discovered: number;
  /** New objects (Mixpeek's files_synced). */
  files_synced: number;
  files_created: number;
  files_updated: number;
  files_unchanged: number;
  files_duplicate: number;
  /** Failed for good this run. */
  files_failed: number;
  /** Sent to the DLQ this run (including those failed for good). */
  files_dlq: number;
  bytes_synced: number;
  elapsed_seconds: number;
  files_per_second: number;
  bytes_per_second: number;
  /** The expected number of entries when known (a full pass after an earlier full pass), else null. */
  files_total: number | null;
  percent: number | null;
  eta_seconds: number | null;
  /** The same figures grouped the way Mixpeek's `stats` objects are. */
  stats: { total: number | null; processed: number; succeeded: number; failed: number; skipped: number };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The pass in progress (running, paused or waiting for its next run), or null between passes. */
export function progressOf(state: ProgressInput, nowMs: number): SyncProgress | null {
  const pass = state.pass;
  if (!pass) return null;
  const f = pass.runFiles ?? zeroRunFiles();
  const elapsed = Math.max(0.001, (nowMs - Date.parse(pass.startedAt)) / 1000);
  const processed = pass.objectsProcessed;
  const rate = processed / elapsed;
  const expected =
    pass.full && state.lastFullPassListed && state.lastFullPassListed > 0
      ? Math.max(state.lastFullPassListed, processed)
      : null;
  const total = expected !== null && pass.cursor === null && processed > 0 ? processed : expected;
  const percent = total ? round(Math.min(100, (processed / total) * 100), 1) : null;
  const eta = total && rate > 0 ? Math.max(0, Math.round((total - processed) / rate)) : null;
  return {
    sync_run_id: pass.runId,
    phase: state.paused ? 'paused' : pass.inRun ? 'listing' : 'waiting',
    full_sync: pass.full,
    started_at: pass.startedAt,
    files_listed: processed,
    files_processed: processed,
    files_discovered: pass.run.discovered,
    files_synced: pass.run.synced,
    files_created: pass.run.synced,
    files_updated: f.updated,
    files_unchanged: f.unchanged,
    files_duplicate: f.duplicates,
    files_failed: pass.run.failed,
    files_dlq: f.dlq,
    bytes_synced: pass.run.bytes,
    elapsed_seconds: round(elapsed, 1),
    files_per_second: round(rate),
    bytes_per_second: Math.round(pass.run.bytes / elapsed),
    files_total: total,
    percent,
    eta_seconds: eta,
    stats: {
      total,
      processed,
      succeeded: pass.run.synced + f.updated + f.unchanged,
      failed: f.dlq,
      skipped: f.duplicates,
    },
  };
}

/** The figures a run record keeps besides its totals (the same names as SyncProgress). */
export function runRecordFigures(
  files: RunFiles | undefined,
  run: { synced: number },
  seconds: number,
): Record<string, number> {
  const f = files ?? zeroRunFiles();
  return {
    files_listed: f.listed,
    files_created: run.synced,
    files_updated: f.updated,
    files_unchanged: f.unchanged,
    files_duplicate: f.duplicates,
    files_dlq: f.dlq,
    files_per_second: round(f.listed / Math.max(0.001, seconds)),
  };
}
