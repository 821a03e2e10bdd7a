// The documents of the sync's manifest (core/manifest.ts): one per page of a pass, naming the files
// whose objects the page found unchanged, created or updated, with the version each object holds.
// A page writes its document once (and once before its inserts when it creates objects, so an
// attempt that dies half-way still names what it may have created). Reading them back is a query
// on the sync's documents, a few per thousand files: once per pass, never per page.
import type { ObjectDoc, PassSeenDoc, Store, SyncConfigDoc } from '.';
import { objectKey } from './objects';

/**
 * A file a page saw: its source id, the version its object holds and the object's size (the sum of
 * its blobs' bytes; absent in documents written before sizes were recorded).
 */
export type SeenFile = readonly [sourceObjectId: string, version: string, bytes?: number];

export interface PageMark {
  syncConfigId: string;
  passId: string;
  /** `<run id>|<cursor>` */
  pageKey: string;
}

const docId = (m: PageMark) => `${m.passId}|${m.pageKey}`;

/** Writes what the page saw (replacing an earlier attempt's document of the same page). */
export async function recordSeen(store: Store, mark: PageMark, files: readonly SeenFile[]): Promise<void> {
  await store.passSeen.replaceOne(
    { _id: docId(mark) },
    { sync_config_id: mark.syncConfigId, pass_id: mark.passId, files: JSON.stringify(files) },
    { upsert: true },
  );
}

function filesOf(doc: Pick<PassSeenDoc, 'files'>): SeenFile[] {
  if (!doc.files) return [];
  const parsed = JSON.parse(doc.files) as unknown;
  return Array.isArray(parsed) ? (parsed as SeenFile[]) : [];
}

/** The object `_id`s a document names (older documents hold object `_id`s, newer ones files). */
function objectKeysOf(doc: PassSeenDoc, cfg: Pick<SyncConfigDoc, 'bucket_id' | 'source_type'>): string[] {
  return [...(doc.keys ?? []), ...filesOf(doc).map(([id]) => objectKey(cfg.bucket_id, cfg.source_type, id))];
}

/** What a pass's documents recorded: source id -> version, and -> the object's size. */
export interface Manifest {
  versions: ReadonlyMap<string, string>;
  sizes: ReadonlyMap<string, number>;
}

/**
 * The manifest a page compares its listing with, loaded once per (sync, pass) per worker and kept
 * for the pages after it. A completed pass's documents never change, so a cached copy stays true.
 * At most `maxFiles` files are held (the least recently used manifests go first).
 */
export class KnownFilesCache {
  private readonly cache = new Map<string, { files: Promise<Manifest>; size: number }>();
  private held = 0;

  constructor(private readonly maxFiles: number) {}

  get(store: Store, syncConfigId: string, passId: string): Promise<Manifest> {
    const key = `${syncConfigId}|${passId}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.files;
    }
    const slot = { files: this.load(store, syncConfigId, passId), size: 0 };
    this.cache.set(key, slot);
    slot.files.then(
      (m) => {
        if (this.cache.get(key) !== slot) return;
        slot.size = m.versions.size;
        this.held += m.versions.size;
        this.evict();
      },
      () => {
        if (this.cache.get(key) === slot) this.cache.delete(key);
      },
    );
    return slot.files;
  }

  /** A pass whose documents were just read whole (the sweep): the next pass's manifest, without a load. */
  put(syncConfigId: string, passId: string, manifest: Manifest): void {
    const key = `${syncConfigId}|${passId}`;
    const old = this.cache.get(key);
    if (old) {
      this.cache.delete(key);
      this.held -= old.size;
    }
    this.cache.set(key, { files: Promise.resolve(manifest), size: manifest.versions.size });
    this.held += manifest.versions.size;
    this.evict();
  }

  private evict(): void {
    for (const [key, slot] of this.cache) {
      if (this.held <= this.maxFiles || this.cache.size <= 1) break;
      this.cache.delete(key);
      this.held -= slot.size;
    }
  }

  private async load(store: Store, syncConfigId: string, passId: string): Promise<Manifest> {
    const versions = new Map<string, string>();
    const sizes = new Map<string, number>();
    for await (const d of store.passSeen.find({ sync_config_id: syncConfigId, pass_id: passId }))
      for (const [id, version, bytes] of filesOf(d)) {
        versions.set(id, version);
        if (typeof bytes === 'number') sizes.set(id, bytes);
      }
    return { versions, sizes };
  }
}

type SweepFields = Pick<
  ObjectDoc,
  '_id' | 'bucket_id' | 'object_id' | 'created_at' | 'blobs' | 'content_hash' | 'source_checksum'
>;

const SWEEP_PROJECTION = {
  object_id: 1,
  bucket_id: 1,
  created_at: 1,
  blobs: 1,
  content_hash: 1,
  source_checksum: 1,
  sync_config_id: 1,
  last_seen_pass_id: 1,
};

/** What the sweep by manifest found, and what it read on the way. */
export interface ManifestSweep {
  unseen: SweepFields[];
  /** `_id`s of the earlier passes' documents (dropOtherPasses deletes them by `_id`). */
  earlierDocIds: string[];
  /** This pass's documents as a manifest (null when one is from before the manifest held files). */
  manifest: Manifest | null;
}

/**
 * The sweep by manifest: objects earlier passes' documents name and this pass's do not, read by
 * `_id` (what it finds bounds its cost). Only valid while the documents are complete (core/manifest.ts).
 * Files are compared by source id; only the candidates' object keys are derived.
 */
export async function unseenByManifest(
  store: Store,
  cfg: Pick<SyncConfigDoc, 'sync_config_id' | 'bucket_id' | 'source_type'>,
  passId: string,
): Promise<ManifestSweep> {
  const seenFiles = new Set<string>();
  const earlierFiles = new Set<string>();
  // Documents from before the manifest held files name object `_id`s.
  const seenKeys = new Set<string>();
  const earlierKeys = new Set<string>();
  const earlierDocIds: string[] = [];
  const versions = new Map<string, string>();
  const sizes = new Map<string, number>();
  let complete = true;
  for await (const d of store.passSeen.find({ sync_config_id: cfg.sync_config_id })) {
    const current = d.pass_id === passId;
    if (!current) earlierDocIds.push(d._id);
    for (const k of d.keys ?? []) (current ? seenKeys : earlierKeys).add(k);
    if (current && d.keys?.length) complete = false;
    for (const [id, version, bytes] of filesOf(d)) {
      if (!current) {
        earlierFiles.add(id);
        continue;
      }
      seenFiles.add(id);
      versions.set(id, version);
      if (typeof bytes === 'number') sizes.set(id, bytes);
    }
  }
  const key = (id: string) => objectKey(cfg.bucket_id, cfg.source_type, id);
  const candidates = new Set<string>();
  for (const id of earlierFiles) if (!seenFiles.has(id)) candidates.add(key(id));
  if (earlierKeys.size > 0) {
    const seenAsKeys = new Set([...seenKeys, ...[...seenFiles].map(key)]);
    for (const k of earlierKeys) if (!seenAsKeys.has(k)) candidates.add(k);
  }
  for (const k of seenKeys) candidates.delete(k);
  const found = await store.lookupByIds(store.objects, [...candidates], SWEEP_PROJECTION);
  return {
    unseen: [...found.values()].filter(
      (o) => o.sync_config_id === cfg.sync_config_id && o.last_seen_pass_id !== passId,
    ),
    earlierDocIds,
    manifest: complete ? { versions, sizes } : null,
  };
}

/**
 * The sweep by scan: objects of the sync that the pass neither created, changed nor saw. Scans the
 * sync's objects (the whole collection on FerretDB): only when the manifest is not complete.
 */
export async function unseenByScan(
  store: Store,
  cfg: Pick<SyncConfigDoc, 'sync_config_id' | 'bucket_id' | 'source_type'>,
  passId: string,
): Promise<SweepFields[]> {
  const seen = new Set<string>();
  for await (const d of store.passSeen.find({ sync_config_id: cfg.sync_config_id, pass_id: passId }))
    for (const k of objectKeysOf(d, cfg)) seen.add(k);
  const unseen: SweepFields[] = [];
  const cursor = store.objects.find(
    { sync_config_id: cfg.sync_config_id, last_seen_pass_id: { $ne: passId } },
    { projection: SWEEP_PROJECTION },
  );
  for await (const o of cursor) if (!seen.has(o._id)) unseen.push(o);
  return unseen;
}

/**
 * Drops the documents of the sync's other passes: by `_id` when the sweep just read them (`docIds`),
 * else by a query over the sync's documents.
 */
export async function dropOtherPasses(
  store: Store,
  syncConfigId: string,
  passId: string,
  docIds?: readonly string[],
): Promise<void> {
  if (docIds) await store.deleteByIds(store.passSeen, docIds);
  else await store.passSeen.deleteMany({ sync_config_id: syncConfigId, pass_id: { $ne: passId } });
}

/** passTotals of a pass already read (unseenByManifest's manifest): null when a file lacks its size. */
export function manifestTotals(m: Manifest): { objects: number; bytes: number } | null {
  let bytes = 0;
  for (const id of m.versions.keys()) {
    const size = m.sizes.get(id);
    if (size === undefined) return null;
    bytes += size;
  }
  return { objects: m.versions.size, bytes };
}

/**
 * The objects and bytes a pass's documents name: after a sweep, exactly the sync's objects. Null
 * when a document lacks sizes (written before they were recorded).
 */
export async function passTotals(
  store: Store,
  syncConfigId: string,
  passId: string,
): Promise<{ objects: number; bytes: number } | null> {
  const ids = new Set<string>();
  let bytes = 0;
  for await (const d of store.passSeen.find({ sync_config_id: syncConfigId, pass_id: passId }))
    for (const [id, , size] of filesOf(d)) {
      if (typeof size !== 'number') return null;
      if (ids.has(id)) continue;
      ids.add(id);
      bytes += size;
    }
  return { objects: ids.size, bytes };
}
