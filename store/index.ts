// MongoDB access: one client, typed collections, indexes. Works on MongoDB >= 6 and on FerretDB
// (no transactions, change streams, TTL or partial indexes are used).
import { MongoClient, type Collection, type Db } from 'mongodb';
import type {
  ApiKeyDoc,
  BatchDoc,
  BucketDoc,
  CollectionDoc,
  ConnectionDoc,
  ContentIndexDoc,
  DlqDoc,
  DocumentDoc,
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

  private constructor(
    readonly client: MongoClient,
    readonly db: Db,
  ) {
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
  }

  static async connect(uri: string, dbName: string): Promise<Store> {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ignoreUndefined: true });
    await client.connect();
    const store = new Store(client, client.db(dbName));
    await store.ensureIndexes();
    return store;
  }

  async ensureIndexes(): Promise<void> {
    await Promise.all([
      this.organizations.createIndex({ internal_id: 1 }, { unique: true }),
      this.namespaces.createIndex({ namespace_id: 1 }, { unique: true }),
      this.namespaces.createIndex({ internal_id: 1, namespace_name: 1 }, { unique: true }),
      this.apiKeys.createIndex({ key_hash: 1 }, { unique: true }),
      this.buckets.createIndex({ bucket_id: 1 }, { unique: true }),
      this.buckets.createIndex({ internal_id: 1, namespace_id: 1 }),
      this.connections.createIndex({ connection_id: 1 }, { unique: true }),
      this.connections.createIndex({ internal_id: 1, name: 1 }, { unique: true }),
      this.syncs.createIndex({ sync_config_id: 1 }, { unique: true }),
      this.syncs.createIndex({ bucket_id: 1 }),
      this.objects.createIndex({ object_id: 1 }, { unique: true }),
      // The idempotency key: retries and crashes never duplicate an object.
      this.objects.createIndex({ bucket_id: 1, source_provider: 1, source_object_id: 1 }, { unique: true }),
      this.objects.createIndex({ sync_config_id: 1, last_seen_pass_id: 1 }),
      // A bucket's object list, newest first (the list's sort): a page is an index walk on MongoDB.
      this.objects.createIndex({ bucket_id: 1, created_at: -1, _id: -1 }),
      this.dlq.createIndex({ sync_config_id: 1, source_object_id: 1 }, { unique: true }),
      this.pageRemovals.createIndex({ sync_config_id: 1 }),
      this.passSeen.createIndex({ sync_config_id: 1, pass_id: 1 }),
      this.runs.createIndex({ sync_run_id: 1 }, { unique: true }),
      this.runs.createIndex({ sync_config_id: 1, started_at: -1 }),
      this.runs.createIndex({ bucket_id: 1, started_at: -1 }),
      this.collections.createIndex({ collection_id: 1 }, { unique: true }),
      this.collections.createIndex({ internal_id: 1, namespace_id: 1 }),
      this.batches.createIndex({ bucket_id: 1, created_at: -1 }),
      this.batches.createIndex({ sync_config_id: 1, status: 1 }),
      this.tasks.createIndex({ internal_id: 1, namespace_id: 1, created_at: -1 }),
      this.documents.createIndex({ collection_id: 1, object_id: 1 }),
      this.documents.createIndex({ batch_id: 1, status: 1 }),
    ]);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
