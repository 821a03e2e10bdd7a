// The Temporal dev server stopped and restarted mid-pass, then FerretDB stopped and restarted
// mid-pass, on a private set of servers (the suite's shared ones stay up for the other cases):
// the pass resumes from its checkpoint with the invariants intact, and meanwhile the API answers
// 503 + Retry-After, never a 500.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { createOrgNamespaceKey } from '../../api/auth';
import { startApi } from '../../api/server';
import { loadEnv } from '../../config/env';
import { SEARCH_ATTRIBUTE_ARGS } from '../../core/search-attributes';
import { freePort, provisionTools, startFerretDB, startTemporalDev, type Started } from '../../lib/servers';
import { Store } from '../../store';
import { createSync, http, killProcess, startWorker } from '../helpers';
import { PROJECT_ROOT, stack, type Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { s3Source, sleep, type S3Source } from './scenario';

const N = 1000;
const OUTAGE_MS = 8_000;

describe('chaos: Temporal, then FerretDB, stopped and restarted mid-pass', function () {
  this.timeout(1_200_000);
  let l: Lane;
  let src: S3Source;
  let temporal: Started | null = null;
  let ferret: Started | null = null;
  let worker: ChildProcess | null = null;
  let dir = '';
  let temporalPort = 0;
  let ferretPort = 0;
  const tools = () => provisionTools(PROJECT_ROOT, ['temporal', 'ferretdb']);
  const startTemporal = async () =>
    startTemporalDev(tools().TEMPORAL_CLI_PATH!, {
      dbFile: path.join(dir, 'temporal.db'),
      port: temporalPort,
      uiPort: await freePort(),
      searchAttributeArgs: SEARCH_ATTRIBUTE_ARGS,
    });
  const startFerret = () => startFerretDB(tools().FERRETDB_PATH!, path.join(dir, 'ferretdb'), ferretPort);

  before(async function () {
    this.timeout(600_000);
    const s = await stack();
    dir = mkdtempSync(path.join(s.tmp, 'chaos-private-'));
    temporalPort = await freePort();
    ferretPort = await freePort();
    [temporal, ferret] = await Promise.all([startTemporal(), startFerret()]);
    const blobDir = path.join(dir, 'blobs');
    mkdirSync(blobDir);
    const env = loadEnv({
      MONGODB_URI: `mongodb://127.0.0.1:${ferretPort}/`,
      MONGODB_DB: 'bucket_syncs_chaos',
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TASK_QUEUE: `bucket-syncs-chaos-${randomBytes(4).toString('hex')}`,
      SECRETS_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'error',
      PORT: '0',
      // Worker processes take any free port for /metrics.
      WORKER_METRICS_PORT: '0',
      SYNC_PAGE_SIZE: '50',
      BLOB_DIR: blobDir,
      BLOB_PARTIAL_MAX_AGE_SECONDS: '10',
    });
    const store = await Store.connect(env.MONGODB_URI, env.MONGODB_DB);
    const api = await startApi(env, { store });
    const key = await createOrgNamespaceKey(store, {
      orgName: 'chaos',
      namespaceName: 'chaos',
      keyName: 'chaos',
    });
    l = {
      env,
      apiUrl: api.url,
      apiKey: key.api_key,
      namespaceId: key.namespace_id,
      store,
      tmp: s.tmp,
      // Its workers are processes of the test's own; none serves /metrics to the test.
      workerMetricsUrl: '',
      close: async () => {
        await api.close();
        await store.close();
      },
    };
    src = await s3Source(l, N);
  });
  after(async () => {
    if (worker) await killProcess(worker);
    await src?.close();
    await l?.close();
    await temporal?.stop();
    await ferret?.stop();
  });

  it('resumes the pass from its checkpoint; the API answers 503 + Retry-After meanwhile', async () => {
    worker = startWorker(l, 'chaos-restarts');
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      sync_mode: 'initial_only',
    });
    const path_ = `/v1/buckets/${src.bucketId}/syncs/${syncId}`;
    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    const during: Record<string, number> = {};
    const probe = async () => {
      for (const [m, p] of [
        ['GET', path_],
        ['POST', `${path_}/trigger`],
        ['GET', `/v1/buckets/${src.bucketId}/objects?limit=5`],
      ] as const) {
        const r = await http(l, m, p).catch(() => ({ status: 0, headers: new Headers() }));
        const k = `${r.status}${r.status === 503 ? (r.headers.get('retry-after') ? '+Retry-After' : '-no-Retry-After') : ''}`;
        during[k] = (during[k] ?? 0) + 1;
        assert.notEqual(r.status, 500, `${m} ${p} answered 500`);
        assert.ok(r.status !== 503 || r.headers.get('retry-after'), `${m} ${p}: 503 without Retry-After`);
      }
    };
    const outage = async (what: string, stop: () => Promise<void>, start: () => Promise<void>) => {
      await stop();
      const until = Date.now() + OUTAGE_MS;
      while (Date.now() < until) {
        await probe();
        await sleep(500);
      }
      await start();
      return what;
    };
    const at: number[] = [];
    while ((await count()) < N / 4) await sleep(50);
    at.push(await count());
    await outage(
      'temporal',
      () => temporal!.stop(),
      async () => {
        temporal = await startTemporal();
      },
    );
    const after1 = at[0];
    let n = 0;
    for (let i = 0; i < 1200 && (n = await count()) < Math.max(after1 + 100, N / 2); i++) await sleep(100);
    assert.ok(n > after1, 'the pass went on after Temporal came back');
    at.push(n);
    await outage(
      'ferretdb',
      () => ferret!.stop(),
      async () => {
        ferret = await startFerret();
      },
    );

    // A page that failed while a server was away fails the run after its retries; the pass is then
    // resumed by the next run (a trigger, instead of waiting for the polling interval).
    let st: any = null;
    const deadline = Date.now() + 900_000;
    while (Date.now() < deadline) {
      const r = await http(l, 'GET', path_);
      st = r.body;
      if (r.status === 200 && st.status === 'COMPLETED') break;
      if (r.status === 200 && !st.locked && st.next_sync_at) await http(l, 'POST', `${path_}/trigger`);
      if (worker.exitCode !== null) worker = startWorker(l, 'chaos-restarts-2');
      await sleep(1000);
    }
    assert.equal(st?.status, 'COMPLETED', JSON.stringify(st));
    const summary = await checkInvariants(l, src.expected(syncId, { discovered: 'at-least-files' }));
    const runs = await l.store.runs.find({ sync_config_id: syncId }).toArray();
    process.stdout.write(
      `      Temporal down at ${at[0]} objects, FerretDB down at ${at[1]}; API meanwhile: ` +
        `${JSON.stringify(during)}; ${runs.length} run record(s)\n      ${summary}\n`,
    );
    assert.ok(
      Object.keys(during).some((k) => k.startsWith('503')),
      'the API said 503 while a server was away',
    );
  });
});
