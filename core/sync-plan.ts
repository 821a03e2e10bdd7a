// The plan of one sync page: given what the page listed, the stored objects found for those files,
// their DLQ entries and the sync's settings, what each entry needs. Pure (no I/O): the page
// activity looks things up, asks this module, then applies the plan with batched writes.
import type { SourceEntry } from './entry';

/** Source id -> the version its object holds, as the sync's manifest records it (core/manifest.ts). */
export type KnownFiles = ReadonlyMap<string, string>;

/** What the plan needs of a stored object. */
export interface StoredObject {
  _id: string;
  object_id: string;
  sync_config_id: string | null;
  source_version: string | null;
  /** The page (`<run id>|<cursor>`) that created it. */
  created_by_page: string | null;
  /** The last pass that saw it. */
  last_seen_pass_id: string | null;
}

/** What the plan needs of a DLQ entry. */
export interface DlqState {
  status: 'PENDING' | 'FAILED';
  /** The version of the file that failed. */
  version: string | null;
  last_attempt_run_id: string;
}

export interface PlanSettings {
  syncConfigId: string;
  runId: string;
  passId: string;
  /** `<run id>|<cursor>` of this page. */
  pageKey: string;
  /** reconcile.on_update: a new version replaces the object's bytes and fields. */
  onUpdate: boolean;
  /** Objects of files that no longer match the filters are deleted (on_filter_drift). */
  driftDeletes: boolean;
  /** Files a delta listing reports removed have their objects deleted (on_delete). */
  deleteRemoved: boolean;
  skipDuplicates: boolean;
}

export interface PlanInput {
  /** What the page listed, then the DLQ entries retried with it (see `retryEntries`). */
  entries: SourceEntry[];
  /** Source ids a delta listing reported removed (deleted, trashed, moved out). */
  removed: string[];
  /** Whether each entry passes the sync's file filters. */
  matches: (e: SourceEntry) => boolean;
  /**
   * The manifest of the last pass that listed everything (absent: none). An entry it holds at the
   * same version is unchanged without a lookup (see `toLookUp`).
   */
  known?: KnownFiles;
  /** Stored objects by source_object_id (for the entries `toLookUp` named and the removed ids). */
  stored: ReadonlyMap<string, StoredObject>;
  /** DLQ entries by source_object_id. */
  dlq: ReadonlyMap<string, DlqState>;
  /** Provider checksums the bucket already holds (skip_duplicates). */
  knownChecksums: ReadonlySet<string>;
  settings: PlanSettings;
}

export type EntryDecision =
  /** No object yet: copy the bytes and insert. `inDlq`: it failed before (clear the entry on success). */
  | { kind: 'new'; entry: SourceEntry; inDlq: boolean }
  /** A new version of a stored object: replace its bytes and fields. */
  | { kind: 'changed'; entry: SourceEntry; prior: StoredObject }
  /** Same version (or updates off): only recorded as seen. `version`: the one its object holds. */
  | { kind: 'unchanged'; entry: SourceEntry; version: string }
  /** An earlier attempt of this very page created it: counted as created again. */
  | { kind: 'created-by-page'; entry: SourceEntry; prior: StoredObject }
  /** This version failed 3 times: not tried again. `count`: this run gave up on it (count it once). */
  | { kind: 'gave-up'; entry: SourceEntry; count: boolean }
  /** skip_duplicates: the provider checksum is the bytes of another object of the bucket. */
  | { kind: 'duplicate'; entry: SourceEntry }
  /** No longer matches the filters and this sync's object of it goes (on_filter_drift). */
  | { kind: 'drifted'; entry: SourceEntry; prior: StoredObject }
  /** No longer matches the filters; nothing of this sync to delete. */
  | { kind: 'filtered-out'; entry: SourceEntry };

export interface PagePlan {
  decisions: EntryDecision[];
  /** Entries that match the filters (total_files_discovered counts them). */
  discovered: number;
  /** This sync's objects of the removed files (deleted when on_delete allows). */
  removed: StoredObject[];
  /** Removed ids whose DLQ entries go. */
  removedIds: string[];
}

/**
 * DLQ entries an incremental pass retries with its last page: a provider that filters by
 * modification time does not list an unchanged file again. Listed or removed ones are left out.
 */
export function retryEntries(
  listed: readonly SourceEntry[],
  removed: readonly string[],
  waiting: readonly { source_object_id: string; entry?: SourceEntry | null }[],
): SourceEntry[] {
  const skip = new Set([...listed.map((e) => e.sourceObjectId), ...removed]);
  const out: SourceEntry[] = [];
  for (const d of waiting) {
    if (!d.entry || skip.has(d.source_object_id)) continue;
    skip.add(d.source_object_id);
    out.push(d.entry);
  }
  return out;
}

/** Provider checksums worth looking up for skip_duplicates: those of matching files with no object. */
export function checksumsToCheck(
  entries: readonly SourceEntry[],
  matches: (e: SourceEntry) => boolean,
  stored: ReadonlyMap<string, unknown>,
): string[] {
  const out = new Set<string>();
  for (const e of entries) if (e.checksum && matches(e) && !stored.has(e.sourceObjectId)) out.add(e.checksum);
  return [...out];
}

/** The manifest settles an entry that matches the filters and is known at its version (or updates are off). */
function settled(entry: SourceEntry, known: KnownFiles | undefined, onUpdate: boolean): string | undefined {
  const version = known?.get(entry.sourceObjectId);
  return version !== undefined && (version === entry.version || !onUpdate) ? version : undefined;
}

/**
 * The source ids a page must look up: the entries the manifest does not settle, and the removed
 * ids. A page that changed nothing looks up nothing. (An object the manifest does not name, of a
 * file now out of the filters, is not looked up: the sweep deletes it, as the pass does not see it.)
 */
export function toLookUp(
  entries: readonly SourceEntry[],
  removed: readonly string[],
  matches: (e: SourceEntry) => boolean,
  known: KnownFiles | undefined,
  onUpdate: boolean,
): string[] {
  const ids = new Set<string>();
  for (const e of entries) {
    // A file out of the filters matters only if the sync holds an object of it (drift deletes).
    if (!matches(e)) {
      if (!known || known.has(e.sourceObjectId)) ids.add(e.sourceObjectId);
    } else if (settled(e, known, onUpdate) === undefined) ids.add(e.sourceObjectId);
  }
  for (const id of removed) ids.add(id);
  return [...ids];
}

/**
 * The partial entries of a lazy listing (SourceEntry.partial) that a page must complete before its
 * plan: the matching files it may ingest, i.e. neither settled by the manifest nor held by an object
 * at their version (or with updates off). The rest are judged by what the listing carries: their
 * filters read nothing else (the listing is lazy only then: filtersNeedDetails).
 * With `fetchNew` (the provider fetches a file whole with its bytes, StorageProvider.fetch, and the
 * page reads nothing more of a new file before copying it), new files are left partial too: the
 * copy completes them (engine/ingest.ts copyBlobs), one request per file instead of two.
 */
export function toComplete(
  entries: readonly SourceEntry[],
  matches: (e: SourceEntry) => boolean,
  known: KnownFiles | undefined,
  stored: ReadonlyMap<string, Pick<StoredObject, 'source_version'>>,
  onUpdate: boolean,
  fetchNew = false,
): SourceEntry[] {
  return entries.filter((e) => {
    if (!e.partial || !matches(e) || settled(e, known, onUpdate) !== undefined) return false;
    const prior = stored.get(e.sourceObjectId);
    if (!prior) return !fetchNew;
    return onUpdate && prior.source_version !== e.version;
  });
}

/**
 * Whether a page may leave its new files partial for the copy to complete (toComplete's
 * `fetchNew`): the provider can fetch, and nothing reads a new file's checksum before its copy
 * (the look-up of known content runs only with skip_duplicates, and not on a sync's first pass).
 */
export function fetchesNew(o: { canFetch: boolean; assumeNew: boolean; skipDuplicates: boolean }): boolean {
  return o.canFetch && (o.assumeNew || !o.skipDuplicates);
}

export function planPage(input: PlanInput): PagePlan {
  const { settings: s, stored, dlq } = input;
  const decisions: EntryDecision[] = [];
  let discovered = 0;
  for (const entry of input.entries) {
    const matching = input.matches(entry);
    const knownAt = matching ? settled(entry, input.known, s.onUpdate) : undefined;
    if (knownAt !== undefined) {
      discovered++;
      decisions.push({ kind: 'unchanged', entry, version: knownAt });
      continue;
    }
    const prior = stored.get(entry.sourceObjectId);
    if (!matching) {
      if (s.driftDeletes && prior && prior.sync_config_id === s.syncConfigId)
        decisions.push({ kind: 'drifted', entry, prior });
      else decisions.push({ kind: 'filtered-out', entry });
      continue;
    }
    discovered++;
    const failed = dlq.get(entry.sourceObjectId);
    if (prior && prior.created_by_page === s.pageKey) {
      decisions.push({ kind: 'created-by-page', entry, prior });
    } else if (prior && (prior.source_version === entry.version || !s.onUpdate)) {
      decisions.push({ kind: 'unchanged', entry, version: prior.source_version ?? entry.version });
    } else if (prior) {
      decisions.push({ kind: 'changed', entry, prior });
    } else if (failed?.status === 'FAILED' && failed.version === entry.version) {
      // Gave up on this version after 3 attempts; a new version is tried afresh.
      decisions.push({ kind: 'gave-up', entry, count: failed.last_attempt_run_id === s.runId });
    } else if (s.skipDuplicates && entry.checksum && input.knownChecksums.has(entry.checksum)) {
      decisions.push({ kind: 'duplicate', entry });
    } else {
      decisions.push({ kind: 'new', entry, inDlq: failed !== undefined });
    }
  }
  const removedIds = [...new Set(input.removed)];
  const removed = s.deleteRemoved
    ? removedIds
        .map((id) => stored.get(id))
        .filter((d): d is StoredObject => d !== undefined && d.sync_config_id === s.syncConfigId)
    : [];
  return { decisions, discovered, removed, removedIds: s.deleteRemoved ? removedIds : [] };
}

/** A page's counts, as the workflow adds them to its totals. */
export interface PageCounts {
  listed: number;
  discovered: number;
  created: number;
  updated: number;
  unchanged: number;
  duplicates: number;
  /** Files that went to the DLQ (pending retry or failed for good) on this page. */
  dlq: number;
  /** Files that reached FAILED on this page (counted in total_files_failed). */
  failed: number;
  /** Objects removed because they no longer match the filters (on_filter_drift). */
  drifted: number;
  /** Objects deleted because a delta listing reported their files removed (on_delete). */
  removed: number;
  bytes: number;
}

export const noCounts = (): PageCounts => ({
  listed: 0,
  discovered: 0,
  created: 0,
  updated: 0,
  unchanged: 0,
  duplicates: 0,
  dlq: 0,
  failed: 0,
  drifted: 0,
  removed: 0,
  bytes: 0,
});
