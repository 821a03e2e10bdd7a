// Benchmark (issue 14): how soon an event-driven sync registers a new file, without waiting for its
// poll (`polling_interval_seconds` 900). `npm run build && node dist/bench/event-latency.js`.
//
// Per source (a local folder through the worker's filesystem watcher; MinIO through its webhook
// notification target posting to the API):
//   - latency: files written one by one (the next after the previous is registered); for each, the time
//     from the write returning to its object being in the store (polled every 20 ms): p50, p95, max;
//   - burst (local): BENCH_BURST files written at once into a listening sync, time until all are
//     registered, against an initial sync of the same number of files (a new sync over a folder that
//     already holds them) on the same servers.
// Servers as in the tests (Temporal dev server + FerretDB, or TEMPORAL_ADDRESS / MONGODB_URI), one lane
// (own database and task queue) with the production page size.
//
// Settings (environment or --name=value): BENCH_FILES (--files, 200), BENCH_BURST (--burst, 5000),
// BENCH_SOURCES (--sources, local,s3), BENCH_NOTE (--note).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { freePort } from '../lib/servers';
import { eventually, getSync, http } from '../test/helpers';
import { startMinio, type Minio } from '../test/providers/fixtures/s3';
import { lane, PROJECT_ROOT, stack, stopStack, type Lane } from '../test/setup/stack';

const arg = (name: string, env: string, dflt: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? process.env[env] ?? dflt;
const FILES = Number(arg('files', 'BENCH_FILES', '200'));
const BURST = Number(arg('burst', 'BENCH_BURST', '5000'));
const SOURCES = arg('sources', 'BENCH_SOURCES', 'local,s3').split(',');
const NOTE = arg('note', 'BENCH_NOTE', '');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const now = () => Number(process.hrtime.bigint()) / 1e9;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function registered(l: Lane, syncId: string, sourceObjectId: string, timeoutS = 120): Promise<boolean> {
  const deadline = now() + timeoutS;
  while (now() < deadline) {
    if (
      await l.store.objects.findOne(
        { sync_config_id: syncId, source_object_id: sourceObjectId },
        { projection: { _id: 1 } },
      )
    )
      return true;
    await sleep(20);
  }
  return false;
}

async function waitIdle(l: Lane, bucketId: string, syncId: string, runs: number): Promise<void> {
  const ok = await eventually(
    async () => {
      const x = await getSync(l, bucketId, syncId);
      return x.sync_run_counter >= runs && !x.locked && x.next_sync_at !== null;
    },
    900_000,
    250,
  );
  if (!ok) throw new Error(`sync ${syncId} did not become idle`);
}

async function makeSync(
  l: Lane,
  providerType: string,
  providerConfig: Record<string, unknown>,
  sourcePath: string,
  eventDriven: boolean,
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
    event_driven: eventDriven,
  });
  if (sync.status !== 200) throw new Error(`sync: ${JSON.stringify(sync.body)}`);
  return {
    bucketId: sync.body.bucket_id as string,
    syncId: sync.body.sync_config_id as string,
    notificationPath: (sync.body.event_feed?.notification_path ?? null) as string | null,
  };
}

function summary(lat: number[]) {
  return {
    files: lat.length,
    p50_s: round(percentile(lat, 50)),
    p95_s: round(percentile(lat, 95)),
    max_s: round(Math.max(...lat)),
    mean_s: round(lat.reduce((a, b) => a + b, 0) / lat.length),
  };
}

async function benchLocal(l: Lane) {
  const folder = mkdtempSync(path.join(l.tmp, 'bench-events-'));
  writeFileSync(path.join(folder, 'seed.txt'), 'seed');
  const { bucketId, syncId } = await makeSync(l, 'local', { root: folder }, '/', true);
  await waitIdle(l, bucketId, syncId, 2); // the initial pass and the watcher's catch-up pass
  const lat: number[] = [];
  for (let i = 0; i < FILES; i++) {
    const rel = `one-by-one/f-${i}.txt`;
    mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    writeFileSync(path.join(folder, rel), randomBytes(2048));
    const t0 = now();
    if (!(await registered(l, syncId, rel))) throw new Error(`${rel} was not registered`);
    lat.push(now() - t0);
  }
  const latency = summary(lat);
  process.stderr.write(`bench: local latency ${JSON.stringify(latency)}\n`);

  // Burst: BURST files at once into the listening sync...
  const before = await l.store.objects.countDocuments({ sync_config_id: syncId });
  const staging = mkdtempSync(path.join(l.tmp, 'bench-burst-'));
  const t1 = now();
  for (let i = 0; i < BURST; i++) writeFileSync(path.join(folder, `burst-${i}.txt`), randomBytes(1024));
  const written = now() - t1;
  while ((await l.store.objects.countDocuments({ sync_config_id: syncId })) < before + BURST)
    await sleep(250);
  const burstS = now() - t1;
  await waitIdle(l, bucketId, syncId, 0);
  const passes = (await getSync(l, bucketId, syncId)).sync_run_counter;
  // ...against an initial sync of as many files (already there when the sync is made).
  for (let i = 0; i < BURST; i++) writeFileSync(path.join(staging, `burst-${i}.txt`), randomBytes(1024));
  const initialFolder = path.join(l.tmp, `bench-initial-${randomBytes(3).toString('hex')}`);
  renameSync(staging, initialFolder);
  const t2 = now();
  const init = await makeSync(l, 'local', { root: initialFolder }, '/', false);
  while ((await l.store.objects.countDocuments({ sync_config_id: init.syncId })) < BURST) await sleep(250);
  const initialS = now() - t2;
  const burst = {
    files: BURST,
    write_s: round(written),
    all_registered_s: round(burstS),
    initial_sync_s: round(initialS),
    ratio: round(burstS / initialS),
    passes_total_for_the_sync: passes,
  };
  process.stderr.write(`bench: local burst ${JSON.stringify(burst)}\n`);
  return { latency, burst };
}

async function benchMinio(l: Lane) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-minio-'));
  const port = await freePort();
  const secret = `secret-${randomBytes(6).toString('hex')}`;
  let minio: Minio = await startMinio({ dir, port, secretAccessKey: secret });
  try {
    await minio.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await minio.client.send(new PutObjectCommand({ Bucket: 'bench', Key: 'in/seed.txt', Body: 'seed' }));
    const { provider_config, credentials } = minio.connection();
    const { bucketId, syncId, notificationPath } = await makeSync(
      l,
      's3',
      { ...provider_config, credentials },
      'bench/in',
      true,
    );
    await waitIdle(l, bucketId, syncId, 1);
    await minio.stop();
    minio = await startMinio({
      dir,
      port,
      secretAccessKey: secret,
      env: {
        MINIO_NOTIFY_WEBHOOK_ENABLE_BENCH: 'on',
        MINIO_NOTIFY_WEBHOOK_ENDPOINT_BENCH: `${l.apiUrl.replace('localhost', '127.0.0.1')}${notificationPath}`,
      },
    });
    await minio.client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'bench',
        NotificationConfiguration: {
          QueueConfigurations: [{ QueueArn: 'arn:minio:sqs::BENCH:webhook', Events: ['s3:ObjectCreated:*'] }],
        },
      }),
    );
    const lat: number[] = [];
    for (let i = 0; i < FILES; i++) {
      const key = `in/one-by-one/f-${i}.txt`;
      await minio.client.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: randomBytes(2048) }));
      const t0 = now();
      if (!(await registered(l, syncId, `bench/${key}`))) throw new Error(`${key} was not registered`);
      lat.push(now() - t0);
    }
    const latency = summary(lat);
    process.stderr.write(`bench: minio latency ${JSON.stringify(latency)}\n`);
    return { latency };
  } finally {
    await minio.stop();
  }
}

async function main() {
  const started = new Date();
  const s = await stack();
  const l = await lane(s, { SYNC_PAGE_SIZE: '1000', SYNC_STRIDE_MS: '1000' });
  const out: Record<string, unknown> = {
    benchmark: 'event-latency',
    started_at: started.toISOString(),
    machine: {
      host: os.hostname(),
      cpus: os.cpus().length,
      load_at_start: os.loadavg().map((x) => round(x, 2)),
    },
    note: NOTE,
    settings: { files: FILES, burst: BURST, polling_interval_seconds: 900, SYNC_PAGE_SIZE: 1000 },
  };
  try {
    if (SOURCES.includes('local')) out.local = await benchLocal(l);
    if (SOURCES.includes('s3')) out.minio = await benchMinio(l);
  } finally {
    out.finished_at = new Date().toISOString();
    (out.machine as Record<string, unknown>).load_at_end = os.loadavg().map((x) => round(x, 2));
    const file = path.join(
      PROJECT_ROOT,
      'bench/results',
      `${started.toISOString().slice(0, 10)}-event-latency.json`,
    );
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    await stopStack();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
