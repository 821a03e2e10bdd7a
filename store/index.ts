// MongoDB access: one client, typed collections, indexes. Works on MongoDB >= 6 and on FerretDB
// (no transactions, change streams, TTL or partial indexes are used).
//
// What each server does cheaply differs, and the hot paths (a sync page, the batch activities)
// pick by the store's capabilities in the few functions below, never inline:
// - MongoDB: every filter can use an index; `$in` on `_id` is one round trip for a page.
// - FerretDB 1.24 on SQLite as published: only a filter that is exactly `{_id: <string>}` reaches
//   SQLite, and even that scans; any other filter, `$in` included, decodes every document of the
//   collection. So a page's lookups are point lookups, a few in flight, and conditional updates read
//   by `_id` first.
// - FerretDB built with scripts/patches/ferretdb-sqlite-id-index.patch (the embedded default): `_id`
//   filters use the `_id` index, and `{_id: {$in: [...]}}` and `{_id, ...more}` are pushed down
//   too, so they cost what they find, as on MongoDB. `idPushdown` says which (explain's
//   `filterPushdown`, asked once at connect).
import {
  MongoClient,
  type Collection,
  type Db,
  type Document,
  type Filter,
  type UpdateFilter,
} from 'mongodb';
import { forEachLimit } from '../lib/pool';
import type { BucketStatsDoc } from './bucket-stats';
import type { ObjectOrderDoc } from './object-order';
import type {
  ApiKeyDoc,
  BatchDoc,
  BucketDoc,
  CollectionDoc,
  ConnectionDoc,
  ContentIndexDoc,
  DlqDoc,
  DocumentDoc,
  EventChannelDoc,
  NamespaceDoc,
  ObjectDoc,
  OrganizationDoc,
  PageRemovalDoc,
  PassSeenDoc,
  SyncConfigDoc,
  SyncRunDoc,
  TaskDoc,
} from './doc-types';

export * from './doc-types';

/** `ferretdb`: FerretDB (SQLite or PostgreSQL backend); `mongodb`: MongoDB itself. */
export type StoreKind = 'mongodb' | 'ferretdb';

/** `store_meta` marker: this database keys buckets, syncs, collections and objects by public id. */
const PUBLIC_ID_KEYS = 'public-id-keys';

/** Point lookups in flight at once on a FerretDB without `_id` pushdown. */
const POINT_CONCURRENCY = 16;
/** `_id`s per `$in` query (MongoDB, or FerretDB with `_id` pushdown). */
const IN_CHUNK = 1000;

/** An index of the store (Store.ensureIndexes); `ferretdb: 'skip'`: not made on FerretDB. */
interface IndexSpec {
  collection: string;
  keys: Record<string, 1 | -1>;
  unique?: boolean;
  ferretdb?: 'skip';
}

/**
 * Every index, by collection. The skipped ones are on the collections a sync page writes a
 * thousand documents at a time (objects, batches, tasks, the manifest, documents): on FerretDB they
 * never answer a query, and each costs JSON parsing on every insert. Their unique constraints are
 * held by `_id` there: an object's `_id` is its public id (api/routes/objects.ts) or derives from
 * the idempotency key (store/objects.ts objectKey), so `_id` uniqueness is both.
 */
const INDEXES: IndexSpec[] = [
  { collection: 'organizations', keys: { internal_id: 1 }, unique: true },
  { collection: 'namespaces', keys: { namespace_id: 1 }, unique: true },
  { collection: 'namespaces', keys: { internal_id: 1, namespace_name: 1 }, unique: true },
  { collection: 'api_keys', keys: { key_hash: 1 }, unique: true },
  { collection: 'buckets', keys: { bucket_id: 1 }, unique: true },
  { collection: 'buckets', keys: { internal_id: 1, namespace_id: 1 } },
  { collection: 'connections', keys: { connection_id: 1 }, unique: true },
  { collection: 'connections', keys: { internal_id: 1, name: 1 }, unique: true },
  { collection: 'sync_configs', keys: { sync_config_id: 1 }, unique: true },
  { collection: 'sync_configs', keys: { bucket_id: 1 } },
  { collection: 'objects', keys: { object_id: 1 }, unique: true, ferretdb: 'skip' },
  // The idempotency key: retries and crashes never duplicate an object.
  {
    collection: 'objects',
    keys: { bucket_id: 1, source_provider: 1, source_object_id: 1 },
    unique: true,
    ferretdb: 'skip',
  },
  { collection: 'objects', keys: { sync_config_id: 1, last_seen_pass_id: 1 }, ferretdb: 'skip' },
  // A bucket's object list, newest first, filtered (key_prefix, status, sync): an index walk on
  // MongoDB. The unfiltered list reads store/object-order.ts instead.
  { collection: 'objects', keys: { bucket_id: 1, created_at: -1, _id: -1 }, ferretdb: 'skip' },
  // Kept on FerretDB too: DLQ entries from before they were keyed by (sync, file) have other `_id`s
  // (engine/ingest.ts recordFailure replaces one when this index refuses the keyed entry).
  { collection: 'sync_dlq', keys: { sync_config_id: 1, source_object_id: 1 }, unique: true },
  { collection: 'sync_page_removals', keys: { sync_config_id: 1 } },
  { collection: 'sync_pass_seen', keys: { sync_config_id: 1, pass_id: 1 }, ferretdb: 'skip' },
  { collection: 'sync_runs', keys: { sync_run_id: 1 }, unique: true },
  { collection: 'sync_runs', keys: { sync_config_id: 1, started_at: -1 } },
  { collection: 'sync_runs', keys: { bucket_id: 1, started_at: -1 } },
  { collection: 'collections', keys: { collection_id: 1 }, unique: true },
  { collection: 'collections', keys: { internal_id: 1, namespace_id: 1 } },
  { collection: 'batches', keys: { bucket_id: 1, created_at: -1 }, ferretdb: 'skip' },
  { collection: 'batches', keys: { sync_config_id: 1, status: 1 }, ferretdb: 'skip' },
  { collection: 'tasks', keys: { internal_id: 1, namespace_id: 1, created_at: -1 }, ferretdb: 'skip' },
  { collection: 'documents', keys: { collection_id: 1, object_id: 1 }, ferretdb: 'skip' },
  { collection: 'documents', keys: { batch_id: 1, status: 1 }, ferretdb: 'skip' },
];

/** The name createIndex gives an index of these keys (`a_1_b_-1`). */
export function indexName(keys: Record<string, 1 | -1>): string {
  return Object.entries(keys)
    .map(([k, v]) => `${k}_${v}`)
    .join('_');
}

/** The indexes a store of this kind has, beside `_id` (names, by collection). */
export function indexesFor(kind: StoreKind): { collection: string; name: string }[] {
  return INDEXES.filter((i) => kind === 'mongodb' || i.ferretdb !== 'skip').map((i) => ({
    collection: i.collection,
    name: indexName(i.keys),
  }));
}

export class Store {
  readonly organizations: Collection<OrganizationDoc>;
  readonly namespaces: Collection<NamespaceDoc>;
  readonly apiKeys: Collection<ApiKeyDoc>;
  readonly buckets: Collection<BucketDoc>;
  readonly connections: Collection<ConnectionDoc>;
  readonly syncs: Collection<SyncConfigDoc>;
  readonly objects: Collection<ObjectDoc>;
  readonly contentIndex: Collection<ContentIndexDoc>;
  readonly dlq: Collection<DlqDoc>;
  readonly runs: Collection<SyncRunDoc>;
  readonly collections: Collection<CollectionDoc>;
  readonly batches: Collection<BatchDoc>;
  readonly tasks: Collection<TaskDoc>;
  readonly documents: Collection<DocumentDoc>;
  readonly pageRemovals: Collection<PageRemovalDoc>;
  readonly passSeen: Collection<PassSeenDoc>;
  readonly eventChannels: Collection<EventChannelDoc>;
  readonly bucketStats: Collection<BucketStatsDoc>;
  /** A bucket's object list order, `_id`-keyed (store/object-order.ts). */
  readonly objectOrder: Collection<ObjectOrderDoc>;

  /**
   * The server answers `{_id: {$in: [...]}}` and `{_id, ...}` filters from the `_id` index: always on
   * MongoDB; on FerretDB only with the project's patch (see the top of this file).
   */
  idPushdown: boolean;

  /**
   * Every bucket, sync, collection and object here has `_id` = its public id, so an id that no
   * `_id` lookup finds does not exist: true for a database this version created (the marker in
   * `store_meta`, written while it was empty). A database with documents from before that rule
   * keeps the fallback queries on the public ids (api/tenancy.ts), which scan on FerretDB.
   */
  keyedByPublicIds = false;

  /**
   * One `update` command of many `_id` statements is one write: always on MongoDB; on FerretDB only
   * with the project's patch (item 4: upstream syncs each statement's write to disk on its own, and
   * waits forever on a command of more statements than its connection pool holds). Its buildInfo
   * says so.
   */
  bulkUpdates: boolean;

  private constructor(
    readonly client: MongoClient,
    readonly db: Db,
    readonly kind: StoreKind,
  ) {
    this.idPushdown = kind === 'mongodb';
    this.bulkUpdates = kind === 'mongodb';
    this.organizations = db.collection('organizations');
    this.namespaces = db.collection('namespaces');
    this.apiKeys = db.collection('api_keys');
    this.buckets = db.collection('buckets');
    this.connections = db.collection('connections');
    this.syncs = db.collection('sync_configs');
    this.objects = db.collection('objects');
    this.contentIndex = db.collection('content_index');
    this.dlq = db.collection('sync_dlq');
    this.runs = db.collection('sync_runs');
    this.collections = db.collection('collections');
    this.batches = db.collection('batches');
    this.tasks = db.collection('tasks');
    this.documents = db.collection('documents');
    this.pageRemovals = db.collection('sync_page_removals');
    this.passSeen = db.collection('sync_pass_seen');
    this.eventChannels = db.collection('sync_event_channels');
    this.bucketStats = db.collection('bucket_stats');
    this.objectOrder = db.collection('object_order');
  }

  static async connect(uri: string, dbName: string): Promise<Store> {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ignoreUndefined: true });
    await client.connect();
    const db = client.db(dbName);
    // FerretDB answers buildInfo with its own version besides the MongoDB one it emulates.
    const info = await db.admin().command({ buildInfo: 1 });
    const store = new Store(client, db, 'ferretdbVersion' in info ? 'ferretdb' : 'mongodb');
    await store.ensureIndexes();
    if (store.kind === 'ferretdb') {
      store.idPushdown = await store.pushesDownIds();
      const features = (info as { ferretdbFeatures?: { bucketSyncsBulkUpdates?: unknown } }).ferretdbFeatures;
      store.bulkUpdates = features?.bucketSyncsBulkUpdates === true;
    }
    store.keyedByPublicIds = await store.publicIdKeys();
    return store;
  }

  /** The `store_meta` marker, written if the database holds no bucket, sync, collection or object yet. */
  private async publicIdKeys(): Promise<boolean> {
    const meta = this.db.collection<{ _id: string; at: Date }>('store_meta');
    if (await meta.findOne({ _id: PUBLIC_ID_KEYS })) return true;
    // Empty filters with a limit: FerretDB reads one row of each.
    for (const c of [this.buckets, this.syncs, this.collections, this.objects])
      if (await this.db.collection(c.collectionName).findOne({}, { projection: { _id: 1 } })) return false;
    try {
      await meta.insertOne({ _id: PUBLIC_ID_KEYS, at: new Date() });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err; // another process wrote it first
    }
    return true;
  }

  /** FerretDB: does it push `{_id: {$in}}` down (the patched build)? Its explain says so. */
  private async pushesDownIds(): Promise<boolean> {
    // Explain answers for an existing collection only; ensureIndexes made this one.
    const res = await this.db.command({
      explain: { find: this.organizations.collectionName, filter: { _id: { $in: ['a', 'b'] } } },
    });
    return res.filterPushdown === true;
  }

  /**
   * The indexes of INDEXES this server gets. On FerretDB no filter but `_id` ever reaches an index
   * (see the top of this file), so an index there only costs: SQLite evaluates its JSON expressions
   * on every insert (a quarter of a new object's insert: README, Limits and notes). The ones marked
   * `ferretdb: 'skip'` are left out there (and dropped where an earlier version made them); the
   * unique ones among them hold nothing `_id` does not already hold (INDEXES says why).
   */
  async ensureIndexes(): Promise<void> {
    const wanted = INDEXES.filter((i) => this.kind === 'mongodb' || i.ferretdb !== 'skip');
    await Promise.all(
      wanted.map((i) =>
        this.db.collection(i.collection).createIndex(i.keys, i.unique ? { unique: true } : {}),
      ),
    );
    if (this.kind === 'ferretdb') await this.dropSkippedIndexes();
  }

  /** FerretDB: the skipped indexes an earlier version created, dropped (names as createIndex gave them). */
  private async dropSkippedIndexes(): Promise<void> {
    const skipped = INDEXES.filter((i) => i.ferretdb === 'skip');
    for (const name of new Set(skipped.map((i) => i.collection))) {
      const coll = this.db.collection(name);
      let listed: Document[];
      try {
        listed = await coll.listIndexes().toArray();
      } catch (err) {
        if ((err as { code?: number }).code === 26) continue; // NamespaceNotFound: not made yet
        throw err;
      }
      const present = new Set(listed.map((ix) => ix.name as string));
      for (const i of skipped.filter((x) => x.collection === name)) {
        const ixName = indexName(i.keys);
        if (present.has(ixName)) await coll.dropIndex(ixName);
      }
    }
  }

  /**
   * The documents with these `_id`s (missing ones are absent), by `_id`: one `$in` query per
   * thousand where the server pushes `$in` down, else point lookups a few at a time (`$in` scans).
   */
  async lookupByIds<T extends { _id: string }>(
    coll: Collection<T>,
    ids: readonly string[],
    projection?: Document,
  ): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    const unique = [...new Set(ids)];
    if (this.idPushdown) {
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const part = unique.slice(i, i + IN_CHUNK);
        const docs = await coll
          .find({ _id: { $in: part } } as Filter<T>, projection ? { projection } : {})
          .toArray();
        for (const d of docs) found.set(d._id, d as T);
      }
      return found;
    }
    await forEachLimit(unique, POINT_CONCURRENCY, async (id) => {
      const d = await coll.findOne({ _id: id } as Filter<T>, projection ? { projection } : {});
      if (d) found.set(id, d as T);
    });
    return found;
  }

  /**
   * Applies one update to each document by `_id`: bulk writes (one `update` command per chunk)
   * where the server writes them at once (`bulkUpdates`), else one `updateOne` each, a few at a time.
   */
  async updateEachById<T extends { _id: string }>(
    coll: Collection<T>,
    updates: readonly { _id: string; update: UpdateFilter<T> }[],
    concurrency = POINT_CONCURRENCY,
  ): Promise<void> {
    if (updates.length === 0) return;
    if (this.bulkUpdates) {
      for (let i = 0; i < updates.length; i += IN_CHUNK)
        await coll.bulkWrite(
          updates.slice(i, i + IN_CHUNK).map((u) => ({
            updateOne: { filter: { _id: u._id } as Filter<T>, update: u.update },
          })),
          { ordered: true },
        );
      return;
    }
    await forEachLimit([...updates], concurrency, async (u) => {
      await coll.updateOne({ _id: u._id } as Filter<T>, u.update);
    });
  }

  /**
   * Deletes the documents with these `_id`s; returns how many went. One `deleteMany` with `$in` per
   * chunk where the server pushes it down (its delete reads the matches through the `_id` index),
   * else one `deleteOne` by `_id` each.
   */
  async deleteByIds<T extends { _id: string }>(coll: Collection<T>, ids: readonly string[]): Promise<number> {
    const unique = [...new Set(ids)];
    let deleted = 0;
    if (this.idPushdown) {
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const res = await coll.deleteMany({ _id: { $in: unique.slice(i, i + IN_CHUNK) } } as Filter<T>);
        deleted += res.deletedCount;
      }
      return deleted;
    }
    await forEachLimit(unique, POINT_CONCURRENCY, async (id) => {
      deleted += (await coll.deleteOne({ _id: id } as Filter<T>)).deletedCount;
    });
    return deleted;
  }

  /**
   * Updates the document with this `_id` if its fields still hold `expect`; true when it did. One
   * conditional update where the server pushes `{_id, ...}` down (MongoDB: atomic; patched FerretDB:
   * as atomic as its updates, which rewrite whole documents, see README, Limits). Else a read by
   * `_id`, a check, and an update by `_id` (a filter with more fields would scan the collection).
   */
  async updateIfMatches<T extends { _id: string }>(
    coll: Collection<T>,
    id: string,
    expect: Partial<Record<keyof T & string, unknown>>,
    update: Document,
  ): Promise<boolean> {
    if (this.idPushdown) {
      const res = await coll.updateOne({ _id: id, ...expect } as Filter<T>, update);
      return res.matchedCount > 0;
    }
    const current = (await coll.findOne({ _id: id } as Filter<T>)) as Record<string, unknown> | null;
    if (!current) return false;
    for (const [k, v] of Object.entries(expect)) if (!sameValue(current[k], v)) return false;
    const res = await coll.updateOne({ _id: id } as Filter<T>, update);
    return res.matchedCount > 0;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Equality as a MongoDB filter `{field: value}` means it for the values used here (scalars, null). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (b === null) return a === null || a === undefined;
  return a === b;
}
