// Child-process side of lazy-sdks.test.ts: each trigger is a list of steps that first use one SDK
// (create a provider, a blob store, a queue reader, run a pipeline step), with nothing on the network
// but 127.0.0.1 ports nobody listens on. The parent runs one trigger per fresh process and compares
// which SDK packages are in require.cache after each step.
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import type { Env } from '../../config/env';
import type { Announcer } from '../../lib/announcer';
import { run as fileMetadata } from '../../pipeline/steps/file_metadata';
import { run as textExtract } from '../../pipeline/steps/text_extract';
import { createProvider, type StorageProvider } from '../../providers';
import { sdkCredentials } from '../../providers/s3';
import type { Store } from '../../store';
import { createBlobStore } from '../../store/blobs';
import { SecretBox } from '../../store/secrets';
import { QueueFeeds } from '../../worker/queue-feeds';
import { mapInput, png } from './pipeline-fixtures';

export const SDK_PACKAGES = [
  '@azure/storage-blob',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sts',
  '@aws-sdk/lib-storage',
  '@microsoft/microsoft-graph-client',
  'image-size',
  'html-to-text',
  'csv-parse',
  'googleapis',
  'snowflake-sdk',
  '@google-cloud/storage',
] as const;

/** The SDK packages a module of which is in this process's require cache, sorted. */
export function loadedSdks(): string[] {
  const keys = Object.keys(require.cache).map((k) => k.split(path.sep).join('/'));
  return SDK_PACKAGES.filter((p) => keys.some((k) => k.includes(`/node_modules/${p}/`))).sort();
}

/** A 127.0.0.1 port nobody listens on (one was just bound and closed): connections are refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ACCESS_KEY = { type: 'access_key', access_key_id: 'AKIDEXAMPLE', secret_access_key: 'secret' };
const created: StorageProvider[] = [];
const provider = (type: Parameters<typeof createProvider>[0], config: unknown, creds: unknown) => {
  created.push(createProvider(type, config, creds as Record<string, unknown> | null));
  return created[created.length - 1];
};
const blobEnv = (env: Partial<Env>) => env as Env;
let s3Blobs: ReturnType<typeof createBlobStore> | null = null;

/** Rows for QueueFeeds.reconcile: the two collection reads it makes. */
function rowsStore(syncs: unknown[], connections: unknown[]): Store {
  const find = (rows: unknown[]) => () => ({ toArray: () => Promise.resolve(rows) });
  return { syncs: { find: find(syncs) }, connections: { find: find(connections) } } as unknown as Store;
}

async function queueFeeds(withSqsSync: boolean): Promise<void> {
  const port = await closedPort();
  const secrets = new SecretBox(Buffer.alloc(32, 7));
  const endpoint = `http://127.0.0.1:${port}`;
  const syncs = withSqsSync
    ? [
        {
          sync_config_id: 'sync_1',
          connection_id: 'conn_1',
          internal_id: 'ns_1',
          source_path: 'bucket/in/',
          event_feed: { sqs_queue_url: `${endpoint}/000000000000/events` },
        },
      ]
    : [];
  const connections = withSqsSync
    ? [
        {
          connection_id: 'conn_1',
          internal_id: 'ns_1',
          status: 'ACTIVE',
          provider_type: 's3',
          provider_config: { region: 'us-east-1', endpoint_url: endpoint },
          credentials_sealed: secrets.seal(ACCESS_KEY),
        },
      ]
    : [];
  const feeds = new QueueFeeds(
    rowsStore(syncs, connections),
    secrets,
    {} as Announcer,
    pino({ level: 'silent' }),
    { waitSeconds: 1 },
  );
  await feeds.reconcile();
  const read = feeds.polled().length;
  await feeds.close();
  if (read !== (withSqsSync ? 1 : 0)) throw new Error(`queue feeds read ${read} queues`);
}

type Step = () => unknown;

export const TRIGGERS: Record<string, Step[]> = {
  startup: [],
  'blob store: folder, then s3 (create, put)': [
    async () => {
      const store = createBlobStore(
        blobEnv({ BLOB_STORE: 'folder', BLOB_DIR: mkdtempSync(path.join(os.tmpdir(), 'lazy-sdks-')) }),
      );
      await store.put('a/b.txt', Readable.from([Buffer.from('hello')]));
    },
    async () => {
      const port = await closedPort();
      s3Blobs = createBlobStore(
        blobEnv({
          BLOB_STORE: 's3',
          BLOB_S3_BUCKET: 'blobs',
          BLOB_S3_PREFIX: '',
          BLOB_S3_REGION: 'us-east-1',
          BLOB_S3_ENDPOINT: `http://127.0.0.1:${port}`,
          BLOB_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          BLOB_S3_SECRET_ACCESS_KEY: 'secret',
        }),
      );
    },
    async () => {
      const refused = await s3Blobs!.put('k', Readable.from([Buffer.from('x')])).then(
        () => false,
        () => true,
      );
      if (!refused) throw new Error('a put to a closed port succeeded');
    },
  ],
  's3: access_key, then iam_role through STS': [
    () => provider('s3', { region: 'us-east-1', endpoint_url: 'http://127.0.0.1:9' }, ACCESS_KEY),
    async () => {
      const port = await closedPort();
      const creds = sdkCredentials(
        { type: 'iam_role', role_arn: 'arn:aws:iam::123456789012:role/sync', external_id: 'ext-1' },
        'us-east-1',
        { endpoint: `http://127.0.0.1:${port}` },
      ) as () => Promise<unknown>;
      await creds().then(
        () => {
          throw new Error('assume role against a closed port succeeded');
        },
        () => undefined,
      );
    },
  ],
  tigris: [() => provider('tigris', { endpoint_url: 'http://127.0.0.1:9' }, ACCESS_KEY)],
  azure_blob: [
    () =>
      provider(
        'azure_blob',
        { account_name: 'devstoreaccount1', endpoint_url: 'http://127.0.0.1:9/devstoreaccount1' },
        { type: 'account_key', account_key: Buffer.from('key').toString('base64') },
      ),
  ],
  sharepoint: [
    () =>
      provider(
        'sharepoint',
        { drive_id: 'drive1' },
        {
          type: 'client_credentials',
          tenant_id: 'contoso.onmicrosoft.com',
          client_id: 'c',
          client_secret: 's',
        },
      ),
  ],
  gcs: [() => provider('gcs', { endpoint_url: 'http://127.0.0.1:9' }, null)],
  google_drive: [
    () =>
      provider(
        'google_drive',
        { endpoint_url: 'http://127.0.0.1:9', token_url: 'http://127.0.0.1:9/token' },
        { type: 'oauth', client_id: 'c', client_secret: 's', refresh_token: 'r' },
      ),
  ],
  // The driver loads when the first connection is made (test() makes one; not awaited: the child exits).
  snowflake: [
    () =>
      provider(
        'snowflake',
        { account: 'myorg-acct', warehouse: 'WH', endpoint_url: 'http://127.0.0.1:9' },
        { type: 'username_password', username: 'u', password: 'p' },
      ),
    () => {
      void created[created.length - 1].test().catch(() => undefined);
    },
  ],
  'queue feeds: none, then an SQS feed': [() => queueFeeds(false), () => queueFeeds(true)],
  'pipeline: file_metadata': [
    () => fileMetadata({}, mapInput({ filename: 'a.png', mime: 'image/png', content: png(3, 2) })),
  ],
  'pipeline: text_extract plain, html, csv': [
    () => textExtract({}, mapInput({ filename: 'a.txt', mime: 'text/plain', content: 'hi' })),
    () => textExtract({}, mapInput({ filename: 'a.html', mime: 'text/html', content: '<p>hi</p>' })),
    () => textExtract({}, mapInput({ filename: 'a.csv', mime: 'text/csv', content: 'a,b\n1,2\n' })),
  ],
};

/** Runs a trigger's steps; the SDKs loaded after each. */
export async function runTrigger(name: string): Promise<string[][]> {
  const steps = TRIGGERS[name];
  if (!steps) throw new Error(`no trigger ${name}`);
  const after: string[][] = [];
  for (const step of steps) {
    await step();
    after.push(loadedSdks());
  }
  return after;
}
