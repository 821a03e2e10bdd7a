// Benchmark (issue 14): a burst of BENCH_BURST files written at once into an event-driven sync with
// `polling_interval_seconds` 900, time until all are registered, against an initial sync of as many
// files (a new sync over a source that already holds them) on the same servers; and how many passes
// the burst took (the sync's run records, `…/runs`). `npm run build && node dist/bench/event-burst.js`.
//
// Sources (BENCH_SOURCES, default local,sqs): `local` (a folder, the worker's filesystem watcher),
// `sqs` (moto's S3 sending the bucket's notifications to its SQS queue, read by the worker), `minio`
// (MinIO's webhook target posting to the API). Servers as in the tests (Temporal dev server + FerretDB),
// one lane per source (own database and task queue) with the production page size (1000).
//
// Settings (environment or --name=value): BENCH_BURST (--burst, 5000), BENCH_SOURCES (--sources),
// BENCH_NOTE (--note).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { freePort } from '../lib/servers';
import { forEachLimit } from '../lib/pool';
import { eventually, getSync, http } from '../test/helpers';
import { startMinio, type Minio } from '../test/providers/fixtures/s3';
import { startMoto, type Moto } from '../test/providers/fixtures/moto';
import { lane, PROJECT_ROOT, stack, stopStack, type Lane, type Stack } from '../test/setup/stack';

const arg = (name: string, env: string, dflt: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? process.env[env] ?? dflt;
const BURST = Number(arg('burst', 'BENCH_BURST', '5000'));
const SOURCES = arg('sources', 'BENCH_SOURCES', 'local,sqs').split(',');
const NOTE = arg('note', 'BENCH_NOTE', '');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const load = () => os.loadavg().map((x) => round(x, 2));
const say = (s: string) => process.stderr.write(`bench: ${s}\n`);

async function waitIdle(l: Lane, bucketId: string, syncId: string, runs: number): Promise<void> {
  const ok = await eventually(
    async () => {
      const x = await getSync(l, bucketId, syncId);
      return x.sync_run_counter >= runs && !x.locked && x.next_sync_at !== null;
    },
    1_800_000,
    500,
  );
  if (!ok) throw new Error(`sync ${syncId} did not become idle`);
}

async function makeSync(
  l: Lane,
  providerType: string,
  providerConfig: Record<string, unknown>,
  sourcePath: string,
  extra: Record<string, unknown>,
) {
  const bucket = await http(l, 'POST', '/v1/buckets', {
    bucket_name: `bench-${randomBytes(4).toString('hex')}`,
  });
  const conn = await http(l, 'POST', '/v1/organizations/connections', {
    name: `bench-${randomBytes(4).toString('hex')}`,
    provider_type: providerType,
    provider_config: providerConfig,
  });
  if (conn.status !== 200) throw new Error(`connection: ${JSON.stringify(conn.body)}`);
  const sync = await http(l, 'POST', `/v1/buckets/${bucket.body.bucket_id}/syncs`, {
    connection_id: conn.body.connection_id,
    source_path: sourcePath,
    polling_interval_seconds: 900,
    ...extra,
  });
  if (sync.status !== 200) throw new Error(`sync: ${JSON.stringify(sync.body)}`);
  return {
    bucketId: sync.body.bucket_id as string,
    syncId: sync.body.sync_config_id as string,
    notificationPath: (sync.body.event_feed?.notification_path ?? null) as string | null,
  };
}

/** Seconds from t0 until the sync has `n` objects (counted every half second). */
async function untilRegistered(l: Lane, syncId: string, n: number, t0: number): Promise<number> {
  const deadline = now() + 1800;
  while ((await l.store.objects.countDocuments({ sync_config_id: syncId })) < n) {
    if (now() > deadline) throw new Error(`sync ${syncId}: fewer than ${n} objects after 30 minutes`);
    await sleep(500);
  }
  return now() - t0;
}

/** The run records after the first `skip` (oldest first): what each pass did. */
async function runsAfter(l: Lane, bucketId: string, syncId: string, skip: number) {
  const r = await http(l, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs?limit=100`);
  if (r.status !== 200) throw new Error(`runs: ${JSON.stringify(r.body)}`);
  const runs = [...(r.body.results as any[])].sort(
    (a, b) => Date.parse(a.started_at) - Date.parse(b.started_at),
  );
  return runs.slice(skip).map((x) => ({
    started_at: x.started_at,
    duration_s: round(x.duration_seconds),
    files_discovered: x.files_discovered,
    files_synced: x.files_synced,
    status: x.status,
  }));
}

interface BurstSource {
  /** Writes the burst into the listening sync's source. */
  write: () => Promise<void>;
  sync: { bucketId: string; syncId: string };
  /** Runs the sync made before the burst. */
  runsBefore: number;
  /** Puts BURST files into another source, then returns how to make a (polling) sync over it. */
  initial: () => Promise<() => Promise<{ bucketId: string; syncId: string }>>;
  stop?: () => Promise<void>;
}

async function measure(name: string, l: Lane, src: BurstSource) {
  const before = await l.store.objects.countDocuments({ sync_config_id: src.sync.syncId });
  const loadBefore = load();
  say(`${name}: writing ${BURST} files at once (load ${loadBefore.join(' ')})`);
  const t1 = now();
  await src.write();
  const written = now() - t1;
  const burstS = await untilRegistered(l, src.sync.syncId, before + BURST, t1);
  await waitIdle(l, src.sync.bucketId, src.sync.syncId, 0);
  await sleep(3_000); // a pass announced last may still start
  await waitIdle(l, src.sync.bucketId, src.sync.syncId, 0);
  const passes = await runsAfter(l, src.sync.bucketId, src.sync.syncId, src.runsBefore);
  say(`${name}: burst registered in ${round(burstS)} s over ${passes.length} passes; initial sync next`);
  const create = await src.initial(); // the files are written before the clock starts
  const t2 = now();
  const init = await create();
  const initialS = await untilRegistered(l, init.syncId, BURST, t2);
  await waitIdle(l, init.bucketId, init.syncId, 1);
  const out = {
    files: BURST,
    write_s: round(written),
    all_registered_s: round(burstS),
    initial_sync_s: round(initialS),
    ratio: round(burstS / initialS),
    passes: passes.length,
    runs: passes,
    initial_runs: await runsAfter(l, init.bucketId, init.syncId, 0),
    load_before: loadBefore,
    load_after: load(),
  };
  say(`${name}: ${JSON.stringify({ ...out, runs: undefined, initial_runs: undefined })}`);
  return out;
}

async function localSource(l: Lane): Promise<BurstSource> {
  const folder = mkdtempSync(path.join(l.tmp, 'bench-burst-'));
  writeFileSync(path.join(folder, 'seed.txt'), 'seed');
  const sync = await makeSync(l, 'local', { root: folder }, '/', { event_driven: true });
  await waitIdle(l, sync.bucketId, sync.syncId, 2); // the initial pass and the watcher's catch-up pass
  const runsBefore = (await getSync(l, sync.bucketId, sync.syncId)).sync_run_counter;
  return {
    sync,
    runsBefore,
    write: async () => {
      for (let i = 0; i < BURST; i++) writeFileSync(path.join(folder, `burst-${i}.txt`), randomBytes(1024));
    },
    initial: async () => {
      const staging = mkdtempSync(path.join(l.tmp, 'bench-staging-'));
      for (let i = 0; i < BURST; i++) writeFileSync(path.join(staging, `burst-${i}.txt`), randomBytes(1024));
      const initialFolder = path.join(l.tmp, `bench-initial-${randomBytes(3).toString('hex')}`);
      renameSync(staging, initialFolder);
      return () => makeSync(l, 'local', { root: initialFolder }, '/', {});
    },
  };
}

const putAll = (client: S3Client, bucket: string, prefix: string) =>
  forEachLimit(
    Array.from({ length: BURST }, (_, i) => i),
    32,
    async (i) => {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${prefix}burst-${i}.txt`, Body: randomBytes(1024) }),
      );
    },
  );

async function sqsSource(l: Lane): Promise<BurstSource> {
  const moto: Moto = await startMoto();
  const { QueueUrl } = await moto.sqs.send(new CreateQueueCommand({ QueueName: 'bench' }));
  const arn = (await moto.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
  await moto.s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  await moto.s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'in/seed.txt', Body: 'seed' }));
  await moto.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: 'bench',
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: arn,
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
          },
        ],
      },
    }),
  );
  const sync = await makeSync(l, 's3', moto.connection(), 'bench/in', {
    event_driven: true,
    event_feed: { sqs_queue_url: QueueUrl },
  });
  await waitIdle(l, sync.bucketId, sync.syncId, 1);
  const runsBefore = (await getSync(l, sync.bucketId, sync.syncId)).sync_run_counter;
  return {
    sync,
    runsBefore,
    write: () => putAll(moto.s3, 'bench', 'in/'),
    initial: async () => {
      await putAll(moto.s3, 'bench', 'initial/');
      return () => makeSync(l, 's3', moto.connection(), 'bench/initial', {});
    },
    stop: () => moto.stop(),
  };
}

async function minioSource(l: Lane): Promise<BurstSource> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-minio-'));
  const port = await freePort();
  const secret = `secret-${randomBytes(6).toString('hex')}`;
  let minio: Minio = await startMinio({ dir, port, secretAccessKey: secret });
  await minio.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  await minio.client.send(new PutObjectCommand({ Bucket: 'bench', Key: 'in/seed.txt', Body: 'seed' }));
  const { provider_config, credentials } = minio.connection();
  const config = { ...provider_config, credentials };
  const sync = await makeSync(l, 's3', config, 'bench/in', { event_driven: true });
  await waitIdle(l, sync.bucketId, sync.syncId, 1);
  await minio.stop();
  minio = await startMinio({
    dir,
    port,
    secretAccessKey: secret,
    env: {
      MINIO_NOTIFY_WEBHOOK_ENABLE_BENCH: 'on',
      MINIO_NOTIFY_WEBHOOK_ENDPOINT_BENCH: `${l.apiUrl.replace('localhost', '127.0.0.1')}${sync.notificationPath}`,
    },
  });
  await minio.client.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: 'bench',
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            QueueArn: 'arn:minio:sqs::BENCH:webhook',
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
          },
        ],
      },
    }),
  );
  const runsBefore = (await getSync(l, sync.bucketId, sync.syncId)).sync_run_counter;
  return {
    sync,
    runsBefore,
    write: () => putAll(minio.client, 'bench', 'in/'),
    initial: async () => {
      await putAll(minio.client, 'bench', 'initial/');
      return () => makeSync(l, 's3', config, 'bench/initial', {});
    },
    stop: () => minio.stop(),
  };
}

async function main() {
  const started = new Date();
  const s: Stack = await stack();
  const out: Record<string, unknown> = {
    benchmark: 'event-burst',
    started_at: started.toISOString(),
    machine: { host: os.hostname(), cpus: os.cpus().length, load_at_start: load() },
    note: NOTE,
    settings: { burst: BURST, polling_interval_seconds: 900, SYNC_PAGE_SIZE: 1000, sources: SOURCES },
  };
  const file = path.join(
    PROJECT_ROOT,
    'bench/results',
    `${started.toISOString().slice(0, 10)}-event-burst.json`,
  );
  const save = () => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  };
  const makers: Record<string, (l: Lane) => Promise<BurstSource>> = {
    local: localSource,
    sqs: sqsSource,
    minio: minioSource,
  };
  try {
    for (const name of SOURCES) {
      const make = makers[name];
      if (!make) throw new Error(`unknown source ${name}`);
      const l = await lane(s, { SYNC_PAGE_SIZE: '1000', SYNC_STRIDE_MS: '1000' });
      let src: BurstSource | null = null;
      try {
        src = await make(l);
        out[name] = await measure(name, l, src);
      } catch (err) {
        out[name] = { error: err instanceof Error ? err.message : String(err) };
        say(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      } finally {
        await src?.stop?.();
        await l.close();
        save();
      }
    }
  } finally {
    out.finished_at = new Date().toISOString();
    (out.machine as Record<string, unknown>).load_at_end = load();
    save();
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    await stopStack();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
