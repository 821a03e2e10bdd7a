// Growth of a no-change pass with the number of files: per-file cost at 5k, 20k (…) files of a local
// folder, on the embedded default (FerretDB on SQLite) or MONGODB_URI, plus the worker's peak RSS.
//
//   npm run build && node dist/bench/store-growth.js [--sizes=5000,20000] [--passes=2] [--store-only]
//       [--ferretdb=/path/to/ferretdb]   (e.g. an unpatched build, to compare)
//
// Per size: a folder of N files (1–8 KiB), a bucket + local connection + sync over the API, the
// initial pass, then `--passes` triggered passes that change nothing; the pass time is the run
// record's duration (the workflow's pass: list, look up, plan, marks, sweep). The worker runs as a
// child process (dist/worker/index.js, production defaults SYNC_PAGE_SIZE=1000,
// SYNC_FILE_CONCURRENCY=8); its peak RSS is VmHWM over the whole run, start-up included.
//
// --store-only: no Temporal, no worker; times `findBySource` (the page's object lookups) for 1,000
// ids against collections of each size, directly on the store: the point-lookup cost by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, provisionTools, startFerretDB, stopper } from '../lib/servers';
import { Store, type ObjectDoc } from '../store';
import { findBySource, objectKey } from '../store/objects';
import { bucketWithFolder, createSync, getSync, http } from '../test/helpers';
import { lane, stack, stopStack } from '../test/setup/stack';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../worker/process-settings';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const SIZES = (args.sizes ?? '5000,20000').split(',').map(Number);
const PASSES = Number(args.passes ?? 2);
const PROJECT_ROOT = path.resolve(__dirname, '../..');

function vmKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function mongoUri(
  tmp: string,
): Promise<{ uri: string; stop: () => Promise<void>; what: string; pid?: number }> {
  if (process.env.MONGODB_URI)
    return { uri: process.env.MONGODB_URI, stop: async () => {}, what: 'MONGODB_URI' };
  const bin = args.ferretdb ?? provisionTools(PROJECT_ROOT, ['ferretdb']).FERRETDB_PATH!;
  const f = await startFerretDB(bin, path.join(tmp, 'ferretdb'), await freePort());
  return { uri: `mongodb://127.0.0.1:${f.port}/`, stop: f.stop, what: bin, pid: f.child.pid };
}

/** CPU time (user + system, ms) a process has used: less sensitive to a busy machine than wall time. */
function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat (here 12 and 13, after pid and comm).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

function fakeObject(bucketId: string, i: number): ObjectDoc {
  const id = `f/${String(i).padStart(7, '0')}.txt`;
  const key = objectKey(bucketId, 'local', id);
  const now = new Date();
  return {
    _id: key,
    object_id: key,
    bucket_id: bucketId,
    internal_id: 'org_bench',
    namespace_id: 'ns_bench',
    key_prefix: '/f',
    blobs: [
      {
        blob_id: `blob_${i}`,
        property: 'content',
        key_prefix: '/f',
        type: 'text',
        properties: { storage_key: `${bucketId}/${key}/blob_${i}` },
        details: { filename: `${i}.txt`, size_bytes: 4096, mime_type: 'text/plain', hash: 'ab'.repeat(32) },
      },
    ],
    source_details: [{ type: 'local', source_id: id }],
    metadata: {},
    status: 'COMPLETED',
    error: null,
    source_provider: 'local',
    source_object_id: id,
    source_version: `${i}:4096`,
    source_checksum: null,
    content_hash: 'ab'.repeat(32),
    sync_config_id: 'sync_bench',
    last_seen_pass_id: 'p0',
    created_by_run_id: 'run_0',
    created_by_page: 'run_0|',
    created_at: now,
    updated_at: now,
  };
}

/** findBySource for 1,000 ids (the page's lookups) against N stored objects. */
async function storeOnly(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bucket-syncs-growth-'));
  const db = await mongoUri(tmp);
  try {
    const store = await Store.connect(db.uri, `growth_${randomBytes(3).toString('hex')}`);
    const rows: Record<string, unknown>[] = [];
    let have = 0;
    for (const n of SIZES) {
      const bucketId = 'bkt_bench';
      for (; have < n; have += 1000) {
        const docs = Array.from({ length: Math.min(1000, n - have) }, (_, j) =>
          fakeObject(bucketId, have + j),
        );
        await store.objects.insertMany(docs);
      }
      const ids = Array.from(
        { length: 1000 },
        (_, j) => `f/${String(Math.floor((j * n) / 1000)).padStart(7, '0')}.txt`,
      );
      // The best of three: the machine is shared.
      let ms = Infinity;
      let serverCpu: number | null = null;
      for (let r = 0; r < 3; r++) {
        const c0 = cpuMs(db.pid);
        const t0 = process.hrtime.bigint();
        const found = await findBySource(store, bucketId, 'local', ids);
        const took = Number(process.hrtime.bigint() - t0) / 1e6;
        const c1 = cpuMs(db.pid);
        if (found.size !== 1000) throw new Error(`found ${found.size} of 1000`);
        if (took < ms) ms = took;
        if (c0 !== null && c1 !== null && (serverCpu === null || c1 - c0 < serverCpu)) serverCpu = c1 - c0;
      }
      rows.push({
        objects: n,
        store: store.kind,
        id_pushdown: store.idPushdown,
        lookups: 1000,
        ms: Math.round(ms),
        per_lookup_ms: +(ms / 1000).toFixed(3),
        server_cpu_ms: serverCpu,
        load1: +os.loadavg()[0].toFixed(2),
      });
      process.stdout.write(`${JSON.stringify(rows.at(-1))}\n`);
    }
    await store.close();
    print(
      ['objects', 'store', 'id_pushdown', 'lookups', 'ms', 'per_lookup_ms', 'server_cpu_ms', 'load1'],
      rows,
      db.what,
    );
  } finally {
    await db.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function print(cols: string[], rows: Record<string, unknown>[], what: string): void {
  process.stdout.write(`\nstore: ${what}\n| ${cols.join(' | ')} |\n|${cols.map(() => '---:').join('|')}|\n`);
  for (const r of rows)
    process.stdout.write(
      `| ${cols.map((c) => JSON.stringify(r[c] ?? '').replace(/^"|"$/g, '')).join(' | ')} |\n`,
    );
}

async function startWorker(
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const fd = openSync(logFile, 'a');
  // --worker-args="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the worker (written when it stops).
  const workerArgs = (args['worker-args'] ?? '').split(' ').filter(Boolean);
  // With the production worker process settings (worker/process-settings.ts), as the main bench.
  const child = spawn(
    process.execPath,
    [...WORKER_NODE_FLAGS, ...workerArgs, path.join(PROJECT_ROOT, 'dist/worker/index.js')],
    {
      env: { ...WORKER_PROCESS_ENV, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', fd],
    },
  );
  closeSync(fd);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker started')) resolve();
    });
  });
  child.removeAllListeners('exit');
  return { child, stop: stopper(child) };
}

/** Writes the rows so far to bench/results/store-growth-<date>-<host>.json. */
function save(rows: Record<string, unknown>[]): void {
  const out = path.join(PROJECT_ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, `store-growth-${new Date().toISOString().slice(0, 10)}-${os.hostname()}.json`),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        sizes: SIZES,
        passes: PASSES,
        ferretdb: args.ferretdb ?? 'provisioned',
        rows,
      },
      null,
      2,
    ),
  );
}

/** Full passes through Temporal, the API and a worker process. */
async function fullPasses(): Promise<void> {
  // The suite's stack (Temporal dev server + FerretDB, or TEMPORAL_ADDRESS / MONGODB_URI), without
  // its in-process worker: the worker under measurement is a child process.
  if (args.ferretdb) process.env.FERRETDB_PATH = args.ferretdb;
  const s = await stack();
  const rows: Record<string, unknown>[] = [];
  try {
    for (const n of SIZES) {
      const l = await lane(
        s,
        { SYNC_PAGE_SIZE: '1000', SYNC_STRIDE_MS: '1000', SYNC_FILE_CONCURRENCY: '8' },
        { worker: false },
      );
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
      for (const [k, v] of Object.entries(l.env))
        if (v !== undefined) env[k] = Array.isArray(v) ? v.join(':') : String(v);
      const worker = await startWorker(env, path.join(s.tmp, `growth-worker-${n}.log`));
      const pid = worker.child.pid!;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, vmKiB(pid, 'VmHWM') ?? 0)), 200);
      try {
        const files: Record<string, Buffer> = {};
        for (let i = 0; i < n; i++)
          files[`d${i % 100}/f${String(i).padStart(7, '0')}.bin`] = randomBytes(1024 + ((i * 7919) % 7168));
        const { bucketId, connectionId } = await bucketWithFolder(l, files);
        const t0 = Date.now();
        const syncId = await createSync(l, bucketId, {
          connection_id: connectionId,
          source_path: '/',
          polling_interval_seconds: 900,
        });
        const wait = async (pred: (x: any) => boolean) => {
          for (;;) {
            const x = await getSync(l, bucketId, syncId);
            if (pred(x)) return x;
            if (x.status === 'FAILED' || x.status === 'SUSPENDED') throw new Error(JSON.stringify(x));
            await new Promise((r) => setTimeout(r, 250));
          }
        };
        const idle = (runs: number) => (x: any) => x.sync_run_counter >= runs && !x.locked && x.next_sync_at;
        await wait(idle(1));
        const initialS = (Date.now() - t0) / 1000;
        const afterInitial = Math.max(peak, vmKiB(pid, 'VmHWM') ?? 0);
        const passes: number[] = [];
        for (let p = 0; p < PASSES; p++) {
          await http(l, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
          await wait(idle(p + 2));
          const runs = await http(l, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`);
          const run = runs.body.results[0];
          if (run.files_synced !== 0) throw new Error(`no-change pass synced ${run.files_synced}`);
          passes.push(run.duration_seconds);
        }
        peak = Math.max(peak, vmKiB(pid, 'VmHWM') ?? 0);
        const best = Math.min(...passes);
        rows.push({
          files: n,
          initial_s: +initialS.toFixed(1),
          no_change_s: passes.map((x) => x.toFixed(2)).join(' / '),
          per_file_ms: +((best * 1000) / n).toFixed(3),
          rss_after_initial_mb: Math.round(afterInitial / 1024),
          peak_rss_mb: Math.round(peak / 1024),
          load: os.loadavg()[0].toFixed(1),
        });
        process.stdout.write(`${JSON.stringify(rows.at(-1))}\n`);
        save(rows);
      } finally {
        clearInterval(sampler);
        await worker.stop();
        await l.close();
      }
    }
  } finally {
    await stopStack();
  }
  print(
    ['files', 'initial_s', 'no_change_s', 'per_file_ms', 'rss_after_initial_mb', 'peak_rss_mb', 'load'],
    rows,
    process.env.MONGODB_URI ? 'MONGODB_URI' : 'FerretDB (SQLite)',
  );
}

(args['store-only'] ? storeOnly() : fullPasses()).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
