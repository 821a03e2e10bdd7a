// Benchmark: bucket-syncs against Debian's rclone on one file set, one machine (`npm run bench`).
//
// For each source (a local folder, MinIO over S3) it measures bucket-syncs (initial full sync over the
// HTTP API, an incremental pass with no changes, one with a share of the files changed) and rclone
// (`rclone copy`, then `rclone sync` with no changes and with the same files changed) into a local
// folder. It prints a markdown table and writes bench/results/<date>-<host>.json.
//
// Servers come up as in the test suite (test/setup/stack.ts: Temporal dev server + FerretDB, or
// TEMPORAL_ADDRESS / MONGODB_URI); every source gets a lane of its own (its own database and task
// queue), and its worker runs as a child process so that its peak RSS is its own (/proc/<pid>/status
// VmHWM, reset with /proc/<pid>/clear_refs once the worker has bundled its workflows and started).
//
// A bucket-syncs pass's time (wall) runs from the request that starts it to the end of its run record
// (passSeconds); what the bench's polling saw is kept as `observed_s` in the JSON.
//
// Per size and source it also counts the workflow's history events per pass (all its runs, across
// continue-as-new) and measures the API under load: autocannon (bench/load.ts, a child process) offers
// BENCH_API_RATE requests/s over BENCH_API_CONNECTIONS connections to GET sync, GET bucket, GET object
// (50 ids in turn, then 5,000 ids in turn: every read a cache miss) and the first page of the objects
// list, with the synced objects present (and, with --api-objects, topped up to that many objects by
// direct inserts). The load goes to an API process of its own (dist/api/server.js, as in
// production); the passes are driven through the API inside this process. Latency percentiles count each response once (bench/load.ts says why not autocannon's).
//
// Settings (environment or --name=value arguments):
//   BENCH_SIZES (--sizes, 5000)              numbers of small files, comma-separated: one file set
//                                            (and one lane per source) each, e.g. 5000,20000,100000
//   BENCH_SMALL_FILES (--small)              one size (the same as --sizes=<n>)
//                                            small files' sizes are uniform in 1-64 KiB
//   BENCH_LARGE_FILES (--large, 20)         large files of BENCH_LARGE_MB (--large-mb, 8) MiB
//   BENCH_CHANGED_PCT (--changed-pct, 1)    share of the files changed before the last pass
//   BENCH_SOURCES (--sources, local,s3)     which sources to measure
//   BENCH_RCLONE_CHECKSUM (--rclone-checksum) rclone compares with --checksum instead of size+modtime
//   BENCH_DIR (--dir, a temporary folder)   where sources and copies go; BENCH_KEEP=1 keeps it
//   BENCH_NOTE (--note)                     free text stored with the results (e.g. other load)
//   BENCH_WORKER_NODE_ARGS                  Node flags of the worker process (V8 flags, --cpu-prof …)
//   BENCH_WORKER_ENV                        more variables of the worker process (K=V,K2=V2)
//   BENCH_LABEL (--label, <sizes>-<sources>) results go to bench/results/<date>-<host>-<label>.json/.md
//   BENCH_PHASE_TIMEOUT (--phase-timeout, 3600) seconds a bucket-syncs pass may take; one that takes
//                                            longer is recorded as timed out and the source's
//                                            remaining passes are skipped (the API is still measured)
//   BENCH_API_RATE (--api-rate, 500), BENCH_API_CONNECTIONS (--api-connections, 20),
//   BENCH_API_SECONDS (--api-seconds, 10)    the API load per endpoint; --api-seconds=0 skips it
//   BENCH_API_OBJECTS (--api-objects, 0)     before its API load, the local lane of the largest size
//                                            is topped up to this many objects (direct inserts into
//                                            its bucket), e.g. 100000
//   SYNC_PAGE_SIZE (1000), SYNC_STRIDE_MS (1000), SYNC_FILE_CONCURRENCY (8): the worker's, as in production;
//   API_READ_CACHE_MS (500): the API's.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { forEachLimit } from '../lib/pool';
import { objectKey } from '../store/objects';
import { addToOrder } from '../store/object-order';
import type { ObjectDoc } from '../store';
import { workflowIdForSync } from '../workflows/messages';
import type { LoadResult, LoadSpec } from './load';
import { freePort, provisionTools, startNodeScript, stopper } from '../lib/servers';
import { http, idleAfter, getSync } from '../test/helpers';
import { startMinio, type Minio } from '../test/providers/fixtures/s3';
import { lane, PROJECT_ROOT, stack, stopStack, type Lane, type Stack } from '../test/setup/stack';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../worker/process-settings';

type SourceKind = 'local' | 's3';
const MiB = 1024 * 1024;
const S3_BUCKET = 'bench-source';
const S3_PREFIX = 'data';

// ---------------------------------------------------------------------------------------------
// Settings

function settings() {
  const args = new Map<string, string>();
  for (const a of process.argv.slice(2)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a} (use --name=value)`);
    args.set(m[1], m[2] ?? '1');
  }
  const get = (arg: string, env: string, def: string) => args.get(arg) ?? process.env[env] ?? def;
  const int = (arg: string, env: string, def: number) => {
    const v = Number(get(arg, env, String(def)));
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${arg} / ${env}: not a number >= 0`);
    return v;
  };
  const sources = get('sources', 'BENCH_SOURCES', 'local,s3')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const x of sources) if (x !== 'local' && x !== 's3') throw new Error(`unknown source ${x}`);
  const flag = (arg: string, env: string) => ['1', 'true', 'yes'].includes(get(arg, env, ''));
  const sizes = get('sizes', 'BENCH_SIZES', get('small', 'BENCH_SMALL_FILES', '5000'))
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const n = Number(x.replace(/k$/i, '000'));
      if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes: ${x} is not a whole number >= 1`);
      return n;
    });
  return {
    sizes,
    smallMinKiB: 1,
    smallMaxKiB: 64,
    large: Math.floor(int('large', 'BENCH_LARGE_FILES', 20)),
    largeMiB: int('large-mb', 'BENCH_LARGE_MB', 8),
    changedPct: int('changed-pct', 'BENCH_CHANGED_PCT', 1),
    sources: sources as SourceKind[],
    rcloneChecksum: flag('rclone-checksum', 'BENCH_RCLONE_CHECKSUM'),
    dir: get('dir', 'BENCH_DIR', ''),
    keep: flag('keep', 'BENCH_KEEP'),
    note: get('note', 'BENCH_NOTE', ''),
    label: get('label', 'BENCH_LABEL', ''),
    phaseTimeoutS: int('phase-timeout', 'BENCH_PHASE_TIMEOUT', 3600),
    apiRate: int('api-rate', 'BENCH_API_RATE', 500),
    apiConnections: Math.max(1, Math.floor(int('api-connections', 'BENCH_API_CONNECTIONS', 20))),
    apiSeconds: int('api-seconds', 'BENCH_API_SECONDS', 10),
    apiObjects: Math.floor(int('api-objects', 'BENCH_API_OBJECTS', 0)),
    pageSize: process.env.SYNC_PAGE_SIZE ?? '1000',
    strideMs: process.env.SYNC_STRIDE_MS ?? '1000',
    fileConcurrency: process.env.SYNC_FILE_CONCURRENCY ?? '8',
  };
}
type Settings = ReturnType<typeof settings>;

// ---------------------------------------------------------------------------------------------
// Measuring

const secondsSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/**
 * A pass's time: from the request that started it (`sinceMs`, this machine's clock) to its run
 * record's end (`started_at` + `duration_seconds`, the worker's clock: the same machine). What a
 * client polling without pause would see; the bench's own polling (every 250 ms, through the API's
 * read cache of up to API_READ_CACHE_MS) adds up to ~0.75 s. Falls back to the observed time.
 */
function passSeconds(
  run: { started_at?: string | null; duration_seconds?: number | null } | null,
  sinceMs: number,
  observed: number,
): number {
  const started = run?.started_at ? Date.parse(run.started_at) : NaN;
  const done = started + (run?.duration_seconds ?? NaN) * 1000;
  return Number.isFinite(done) && done >= sinceMs && done - sinceMs <= observed * 1000
    ? (done - sinceMs) / 1000
    : observed;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

function procStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux: `5` into clear_refs). */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The load on the machine: 1-minute load average and the busy share of all CPUs over a phase. */
function cpuTimes(): { busy: number; total: number } {
  const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
  const v = cpu.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
function loadProbe() {
  const start = cpuTimes();
  const load1Before = os.loadavg()[0];
  return () => {
    const end = cpuTimes();
    return {
      load1_before: round(load1Before),
      load1_after: round(os.loadavg()[0]),
      cpu_busy_pct: round((100 * (end.busy - start.busy)) / Math.max(1, end.total - start.total), 1),
    };
  };
}

interface Phase {
  tool: 'bucket-syncs' | 'rclone';
  phase: 'initial' | 'no change' | 'changed';
  wall_s: number;
  files: number;
  bytes: number;
  files_per_s: number;
  mb_per_s: number;
  peak_rss_mb: number | null;
  /** bucket-syncs, changed pass: trigger -> every changed object holds the new bytes. */
  detect_s?: number;
  /** bucket-syncs: the run record's own duration (from the workflow's start of the pass). */
  run_record_s?: number;
  /** Trigger to the bench's poll seeing the pass idle (polling every 250 ms through the read cache). */
  observed_s?: number;
  /** bucket-syncs: events added to the workflow's history by the pass (all runs) and its runs. */
  history_events?: number;
  workflow_runs?: number;
  /** bucket-syncs: the pass did not finish within --phase-timeout (wall_s is the timeout). */
  timed_out?: boolean;
  /** What the tool did: files copied / checked (rclone's stats; bucket-syncs' run record). */
  did: Record<string, unknown>;
  load: ReturnType<ReturnType<typeof loadProbe>>;
}

function phase(p: Omit<Phase, 'files_per_s' | 'mb_per_s'>): Phase {
  return {
    ...p,
    wall_s: round(p.wall_s, 3),
    files_per_s: round(p.files / p.wall_s, 1),
    mb_per_s: round(p.bytes / MiB / p.wall_s, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// The file set

interface FileSet {
  rels: string[];
  sizes: number[];
  totalBytes: number;
}

/** Deterministic sizes (mulberry32, fixed seed); random contents. */
function writeSource(dir: string, cfg: Settings, small: number): FileSet {
  let seed = 0x5eed;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rels: string[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < small; i++) {
    rels.push(`d${String(i % 50).padStart(2, '0')}/f${String(i).padStart(6, '0')}.bin`);
    const kib = cfg.smallMinKiB + rand() * (cfg.smallMaxKiB - cfg.smallMinKiB);
    sizes.push(Math.round(kib * 1024));
  }
  for (let i = 0; i < cfg.large; i++) {
    rels.push(`large/big-${String(i).padStart(3, '0')}.bin`);
    sizes.push(Math.round(cfg.largeMiB * MiB));
  }
  for (let i = 0; i < rels.length; i++) {
    const file = path.join(dir, rels[i]);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(sizes[i]));
  }
  return { rels, sizes, totalBytes: sizes.reduce((a, b) => a + b, 0) };
}

/** Every k-th file, k = 100 / pct: the same files for both tools. */
function changedIndexes(set: FileSet, pct: number): number[] {
  if (pct <= 0) return [];
  const every = Math.max(1, Math.round(100 / pct));
  return set.rels.map((_, i) => i).filter((i) => i % every === 0);
}

// ---------------------------------------------------------------------------------------------
// bucket-syncs

interface WorkerChild {
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** The lane's worker as a child process (as test/helpers startWorker), resolved once it has started. */
/** The lane's settings as a child process's environment. */
function envOf(l: Lane): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const [k, v] of Object.entries(l.env)) {
    if (v !== undefined) env[k] = Array.isArray(v) ? v.join(':') : String(v);
  }
  return env;
}

/**
 * Writes the kernel still holds go to disk before a timed phase (`sync`): each phase starts with
 * no writeback pending, so no tool pays for the one before it (the copies of 840 MB leave seconds
 * of writeback behind, which slowed whichever tool came next by up to 2x).
 */
function flushWrites(): void {
  execFileSync('sync', [], { stdio: 'ignore' });
}

async function startWorkerChild(l: Lane, id: string, logFile: string): Promise<WorkerChild> {
  const env: NodeJS.ProcessEnv = { ...envOf(l), WORKER_ID: id, ...WORKER_PROCESS_ENV };
  env.LOG_LEVEL = 'info'; // only start/stop are logged at info: the line says when it is ready
  // BENCH_WORKER_ENV: more variables for the worker process (`K=V,K2=V2`, e.g. MALLOC_ARENA_MAX=2).
  for (const kv of (process.env.BENCH_WORKER_ENV ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  // stderr (the Temporal SDK's own log) goes to a file next to the copies.
  const logFd = openSync(logFile, 'a');
  // BENCH_WORKER_NODE_ARGS: Node flags for the worker (V8 heap sizes, --cpu-prof --cpu-prof-dir=…).
  const nodeArgs = [
    ...WORKER_NODE_FLAGS,
    ...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  const child = spawn(process.execPath, [...nodeArgs, path.join(PROJECT_ROOT, 'dist/worker/index.js')], {
    env,
    stdio: ['ignore', 'pipe', logFd],
  });
  closeSync(logFd);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('worker did not start within 180 s')), 180_000);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before starting`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker started')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return { child, stop: stopper(child) };
}

/** Size of the lane's database: the FerretDB SQLite file(s), or dbStats on a MongoDB server. */
async function databaseBytes(s: Stack, l: Lane): Promise<{ what: string; bytes: number | null }> {
  const ferretDir = path.join(s.tmp, 'ferretdb');
  if (!process.env.MONGODB_URI && existsSync(ferretDir)) {
    const bytes = readdirSync(ferretDir)
      .filter((f) => f.startsWith(`${l.env.MONGODB_DB}.sqlite`))
      .reduce((sum, f) => sum + statSync(path.join(ferretDir, f)).size, 0);
    return { what: 'FerretDB SQLite file', bytes };
  }
  try {
    const st = await l.store.db.command({ dbStats: 1 });
    return { what: 'dbStats dataSize + indexSize', bytes: Number(st.dataSize) + Number(st.indexSize) };
  } catch {
    return { what: 'unknown', bytes: null };
  }
}

/** Polls the sync until `pred` holds (every 100 ms); null when it does not within the timeout. */
async function waitSync(
  l: Lane,
  bucketId: string,
  syncId: string,
  pred: (x: any) => boolean,
  timeoutMs: number,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const x = await getSync(l, bucketId, syncId);
    if (pred(x)) return x;
    if (Date.now() > deadline) return null;
    await sleep(250);
  }
}

/** Events in the history of every run of the workflow (closed runs from visibility, the open one described). */
async function historyTotals(client: Client, workflowId: string): Promise<{ events: number; runs: number }> {
  await sleep(1_500); // visibility records a run's close a moment after it
  let events = 0;
  let runs = 0;
  for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    runs += 1;
    if (w.status.name !== 'RUNNING') events += w.historyLength;
  }
  events += (await client.workflow.getHandle(workflowId).describe()).historyLength;
  return { events, runs };
}

async function latestRun(l: Lane, bucketId: string, syncId: string): Promise<any> {
  const r = await http(l, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`);
  return r.body.results?.[0] ?? null;
}

function runDid(run: any): Record<string, unknown> {
  if (!run) return {};
  const keys = ['status', 'files_discovered', 'files_synced', 'files_failed', 'error'];
  return Object.fromEntries(keys.filter((k) => k in run).map((k) => [k, run[k]]));
}

// ---------------------------------------------------------------------------------------------
// rclone

interface Rclone {
  bin: string;
  version: string;
}

function parseRcloneStats(text: string): Record<string, unknown> {
  const did: Record<string, unknown> = {};
  // The final stats block: "Transferred: 5020 / 5020, 100%" (files) and "Checks: 5020 / 5020, 100%".
  for (const [key, re] of [
    ['transferred', /^Transferred:\s+(\d+) \/ \d+, /m],
    ['checks', /^Checks:\s+(\d+) \/ \d+, /m],
    ['deleted', /^Deleted:\s+(\d+)/m],
    ['errors', /^Errors:\s+(\d+)/m],
  ] as const) {
    const all = [...text.matchAll(new RegExp(re.source, 'gm'))];
    if (all.length) did[key] = Number(all[all.length - 1][1]);
  }
  did.transferred ??= 0;
  did.checks ??= 0;
  return did;
}

async function runRclone(
  rc: Rclone,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ wall_s: number; peak_rss_mb: number | null; did: Record<string, unknown> }> {
  const t0 = process.hrtime.bigint();
  // The remote is configured by RCLONE_CONFIG_* alone: no AWS_* of this shell (an AWS_CA_BUNDLE makes
  // rclone 1.60 refuse its own HTTP transport; credentials or profiles would override the remote's).
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const child = spawn('/usr/bin/time', ['-f', 'BENCH_MAXRSS_KB=%M', rc.bin, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const wall = secondsSince(t0);
  if (code !== 0) throw new Error(`rclone ${args.join(' ')} exited with ${code}:\n${out}`);
  const rss = /BENCH_MAXRSS_KB=(\d+)/.exec(out);
  return {
    wall_s: wall,
    peak_rss_mb: rss ? round(Number(rss[1]) / 1024, 1) : null,
    did: parseRcloneStats(out),
  };
}

// ---------------------------------------------------------------------------------------------
// The API under load

interface ApiLatency {
  endpoint: string;
  objects_present: number;
  /** A bucket-syncs pass that timed out was still running during the measurement. */
  pass_running: boolean;
  rate_offered: number;
  connections: number;
  seconds: number;
  result: LoadResult | null;
  error?: string;
  load: ReturnType<ReturnType<typeof loadProbe>>;
}

/** GET object reads these many objects in turn: at 500 req/s each is read 10 times a second. */
const HOT_OBJECTS = 50;
/** …and, as a second endpoint, these many: each comes back after 10 s, past the API's cache. */
const MISS_OBJECTS = 5000;

/** One autocannon run in a child process (bench/load.ts). */
function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/bench/load.js')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(JSON.stringify(spec));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line) resolve(JSON.parse(line) as LoadResult);
      else reject(new Error(`load generator exited with ${code}: ${err.slice(-2000)}`));
    }),
  );
}

/** Adds objects to the bucket directly (as a sync would have registered them) up to `total`. */
async function topUpObjects(l: Lane, bucketId: string, total: number, log: (m: string) => void) {
  const have = await l.store.objects.countDocuments({ bucket_id: bucketId });
  if (have >= total) return have;
  log(`inserting ${total - have} more objects (direct inserts) for the API measurements`);
  const now = new Date();
  const CHUNK = 1000;
  for (let i = have; i < total; i += CHUNK) {
    const docs: ObjectDoc[] = [];
    for (let j = i; j < Math.min(total, i + CHUNK); j++) {
      const src = `bench-extra/${String(j).padStart(7, '0')}.bin`;
      const key = objectKey(bucketId, 'local', src);
      docs.push({
        _id: key,
        object_id: key,
        bucket_id: bucketId,
        internal_id: 'bench',
        namespace_id: l.namespaceId,
        key_prefix: '/bench-extra',
        blobs: [],
        source_details: [{ type: 'local', source_id: src }],
        metadata: {},
        status: 'COMPLETED',
        error: null,
        source_provider: 'local',
        source_object_id: src,
        source_version: null,
        source_checksum: null,
        content_hash: null,
        sync_config_id: null,
        last_seen_pass_id: null,
        created_by_run_id: null,
        created_by_page: null,
        created_at: now,
        updated_at: now,
      });
    }
    // Listed as the service lists what it creates (store/object-order.ts): entries first.
    await addToOrder(l.store, docs);
    await l.store.objects.insertMany(docs, { ordered: false });
  }
  return total;
}

async function measureApi(
  l: Lane,
  cfg: Settings,
  ids: { bucketId: string; syncId: string; objectIds: string[]; passRunning: boolean },
  log: (m: string) => void,
): Promise<ApiLatency[]> {
  if (cfg.apiSeconds <= 0) return [];
  const objects = await l.store.objects.countDocuments({});
  const b = `/v1/buckets/${ids.bucketId}`;
  // An unfiltered list reads a page of the bucket's list entries (store/object-order.ts), so it
  // gets the same load as the reads of one item.
  const endpoints: [string, string[], number, number][] = [
    ['GET sync', [`${b}/syncs/${ids.syncId}`], cfg.apiConnections, cfg.apiSeconds],
    ['GET bucket', [b], cfg.apiConnections, cfg.apiSeconds],
    [
      'GET object',
      ids.objectIds.slice(0, HOT_OBJECTS).map((o) => `${b}/objects/${o}`),
      cfg.apiConnections,
      cfg.apiSeconds,
    ],
    // Ids in turn that come back only after API_READ_CACHE_MS: every read goes to the store.
    [
      `GET object (${ids.objectIds.length} ids: all misses)`,
      ids.objectIds.map((o) => `${b}/objects/${o}`),
      cfg.apiConnections,
      cfg.apiSeconds,
    ],
    ['GET objects (first page, limit 100)', [`${b}/objects`], cfg.apiConnections, cfg.apiSeconds],
    ['GET objects?limit=1', [`${b}/objects?limit=1`], cfg.apiConnections, cfg.apiSeconds],
  ];
  const out: ApiLatency[] = [];
  for (const [endpoint, paths, connections, seconds] of endpoints) {
    log(`API load: ${endpoint}, ${cfg.apiRate} req/s, ${connections} connections, ${seconds} s`);
    const probe = loadProbe();
    const row: Omit<ApiLatency, 'load' | 'result'> = {
      endpoint,
      objects_present: objects,
      pass_running: ids.passRunning,
      rate_offered: cfg.apiRate,
      connections,
      seconds,
    };
    try {
      const result = await runLoad({
        url: l.apiUrl,
        paths,
        headers: { authorization: `Bearer ${l.apiKey}`, 'x-namespace': l.namespaceId },
        connections,
        rate: cfg.apiRate,
        seconds,
      });
      out.push({ ...row, result, load: probe() });
    } catch (err) {
      out.push({ ...row, result: null, error: (err as Error).message, load: probe() });
    }
    await sleep(3_000); // requests still queued in the API or the store drain before the next endpoint
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One source

interface SourceResult {
  source: SourceKind;
  files: number;
  phases: Phase[];
  api: ApiLatency[];
  database: { what: string; bytes: number | null; objects: number };
  worker_rss_after_start_mb: number | null;
  changed_files: number;
}

async function benchSource(
  kind: SourceKind,
  ctx: {
    s: Stack;
    cfg: Settings;
    temporal: Client;
    set: FileSet;
    srcDir: string;
    work: string;
    minio: Minio | null;
    rc: Rclone | null;
  },
): Promise<SourceResult> {
  const { s, cfg, set, srcDir, work, minio, rc, temporal } = ctx;
  const timeoutMs = cfg.phaseTimeoutS * 1000;
  const tag = `${kind}-${set.rels.length}`;
  const phases: Phase[] = [];
  const log = (msg: string) =>
    process.stderr.write(
      `bench [${kind} ${set.rels.length}] ${new Date().toISOString().slice(11, 19)}: ${msg}\n`,
    );
  const l = await lane(
    s,
    {
      SYNC_PAGE_SIZE: cfg.pageSize,
      SYNC_STRIDE_MS: cfg.strideMs,
      SYNC_FILE_CONCURRENCY: cfg.fileConcurrency,
      // The API's production default (the test stack turns the read cache off).
      API_READ_CACHE_MS: process.env.API_READ_CACHE_MS ?? '500',
      BLOB_DIR: path.join(work, `blobs-${tag}`),
    },
    { worker: false },
  );
  const worker = await startWorkerChild(l, `bench-${tag}`, path.join(work, `worker-${tag}.log`));
  const pid = worker.child.pid!;
  try {
    const rssAfterStart = procStatusKiB(pid, 'VmRSS');
    const peakMb = () => {
      const kib = procStatusKiB(pid, 'VmHWM');
      return kib === null ? null : round(kib / 1024, 1);
    };

    const bucket = await http(l, 'POST', '/v1/buckets', { bucket_name: `bench-${tag}` });
    if (bucket.status !== 200) throw new Error(`bucket: ${JSON.stringify(bucket.body)}`);
    const bucketId: string = bucket.body.bucket_id;
    const connBody =
      kind === 'local'
        ? { provider_type: 'local', provider_config: { root: srcDir } }
        : (() => {
            const c = minio!.connection();
            return {
              provider_type: 's3',
              provider_config: { ...c.provider_config, credentials: c.credentials },
            };
          })();
    const conn = await http(l, 'POST', '/v1/organizations/connections', {
      name: `bench-${tag}`,
      ...connBody,
    });
    if (conn.status !== 200) throw new Error(`connection: ${JSON.stringify(conn.body)}`);
    const n = set.rels.length;

    // --- bucket-syncs: initial full sync (create the sync -> its first run finished)
    const wfId = (id: string) => workflowIdForSync(id);
    let history = { events: 0, runs: 0 };
    const historyDelta = async (syncId: string) => {
      try {
        const now = await historyTotals(temporal, wfId(syncId));
        const d = { history_events: now.events - history.events, workflow_runs: now.runs - history.runs };
        history = now;
        return d;
      } catch (err) {
        log(`history: ${(err as Error).message}`);
        return {};
      }
    };
    flushWrites();
    log(`bucket-syncs initial sync of ${n} files`);
    resetPeak(pid);
    let probe = loadProbe();
    let t0 = process.hrtime.bigint();
    let sinceMs = Date.now();
    const created = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: kind === 'local' ? '/' : `${S3_BUCKET}/${S3_PREFIX}/n${n}`,
      // The longest interval allowed: the passes below are triggered, a scheduled one would interfere.
      polling_interval_seconds: 900,
      // One run for the whole first pass (the default cap of 100,000 would cut 100,000 + large files).
      max_objects_per_run: Math.max(100_000, set.rels.length + 1),
    });
    if (created.status !== 200) throw new Error(`sync: ${JSON.stringify(created.body)}`);
    const syncId: string = created.body.sync_config_id;
    let st = await waitSync(l, bucketId, syncId, (x) => idleAfter(1)(x), timeoutMs);
    let observed = secondsSince(t0);
    let run = await latestRun(l, bucketId, syncId);
    let wall = passSeconds(run, sinceMs, observed);
    let timedOut = st === null;
    if (timedOut) log(`initial sync did not finish within ${cfg.phaseTimeoutS} s`);
    else if (st.total_files_synced !== n) log(`WARNING: ${st.total_files_synced} of ${n} files synced`);
    phases.push(
      phase({
        tool: 'bucket-syncs',
        phase: 'initial',
        wall_s: wall,
        files: n,
        bytes: set.totalBytes,
        peak_rss_mb: peakMb(),
        run_record_s: run?.duration_seconds,
        observed_s: round(observed, 3),
        ...(timedOut ? { timed_out: true } : await historyDelta(syncId)),
        did: { ...runDid(run), total_bytes_synced: st?.total_bytes_synced },
        load: probe(),
      }),
    );

    // --- rclone: initial copy
    const rcloneEnv: NodeJS.ProcessEnv = {};
    let rcloneSrc = srcDir;
    if (kind === 's3') {
      Object.assign(rcloneEnv, {
        RCLONE_CONFIG_MINIO_TYPE: 's3',
        RCLONE_CONFIG_MINIO_PROVIDER: 'Minio',
        RCLONE_CONFIG_MINIO_ENV_AUTH: 'false',
        RCLONE_CONFIG_MINIO_ACCESS_KEY_ID: minio!.accessKeyId,
        RCLONE_CONFIG_MINIO_SECRET_ACCESS_KEY: minio!.secretAccessKey,
        RCLONE_CONFIG_MINIO_ENDPOINT: minio!.url,
        RCLONE_CONFIG_MINIO_REGION: 'us-east-1',
      });
      rcloneSrc = `minio:${S3_BUCKET}/${S3_PREFIX}/n${n}`;
    }
    const rcloneDst = path.join(work, `rclone-${tag}`);
    const rcloneCommon = [
      '--config',
      path.join(work, 'rclone.conf'), // absent: the remote is defined by the environment only
      '--stats',
      '1h', // no periodic stats, the final block only
      '--stats-log-level',
      'NOTICE',
      ...(cfg.rcloneChecksum ? ['--checksum'] : []),
    ];
    const rclone = async (ph: Phase['phase'], verb: 'copy' | 'sync', files: number, bytes: number) => {
      if (!rc) return;
      flushWrites();
      log(`rclone ${verb} (${ph})`);
      const p = loadProbe();
      const r = await runRclone(rc, [verb, rcloneSrc, rcloneDst, ...rcloneCommon], rcloneEnv);
      phases.push(
        phase({
          tool: 'rclone',
          phase: ph,
          wall_s: r.wall_s,
          files,
          bytes,
          peak_rss_mb: r.peak_rss_mb,
          did: r.did,
          load: p(),
        }),
      );
    };
    await rclone('initial', 'copy', n, set.totalBytes);

    const trigger = async () => {
      const r = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
      if (r.status >= 300) throw new Error(`trigger: ${r.status} ${JSON.stringify(r.body)}`);
    };
    // --- no changes
    let runs = (st?.sync_run_counter as number) ?? 1;
    if (!timedOut) {
      flushWrites();
      log('bucket-syncs incremental pass, no changes');
      resetPeak(pid);
      probe = loadProbe();
      t0 = process.hrtime.bigint();
      sinceMs = Date.now();
      await trigger();
      st = await waitSync(l, bucketId, syncId, idleAfter(runs + 1), timeoutMs);
      observed = secondsSince(t0);
      run = await latestRun(l, bucketId, syncId);
      wall = passSeconds(run, sinceMs, observed);
      timedOut = st === null;
      if (timedOut) log(`no-change pass did not finish within ${cfg.phaseTimeoutS} s`);
      phases.push(
        phase({
          tool: 'bucket-syncs',
          phase: 'no change',
          wall_s: wall,
          files: n,
          bytes: 0,
          peak_rss_mb: peakMb(),
          run_record_s: run?.duration_seconds,
          observed_s: round(observed, 3),
          ...(timedOut ? { timed_out: true } : await historyDelta(syncId)),
          did: runDid(run),
          load: probe(),
        }),
      );
    }
    await rclone('no change', 'sync', n, 0);

    // --- a share of the files changed (same sizes, new bytes)
    const changed = changedIndexes(set, cfg.changedPct);
    const changedBytes = changed.reduce((sum, i) => sum + set.sizes[i], 0);
    log(`changing ${changed.length} files (${round(changedBytes / MiB, 1)} MiB)`);
    const newHashes: string[] = [];
    await forEachLimit(changed, 16, async (i) => {
      const body = randomBytes(set.sizes[i]);
      newHashes.push(createHash('sha256').update(body).digest('hex'));
      if (kind === 'local') writeFileSync(path.join(srcDir, set.rels[i]), body);
      else
        await minio!.client.send(
          new PutObjectCommand({ Bucket: S3_BUCKET, Key: `${S3_PREFIX}/n${n}/${set.rels[i]}`, Body: body }),
        );
    });
    if (!timedOut) {
      flushWrites();
      log('bucket-syncs incremental pass, files changed');
      runs = st.sync_run_counter as number;
      // The changed files' objects, found once before the pass (one query over the sync's objects).
      // Nothing reads them while the pass runs: polling 1% of 100,000 objects by `_id` every few
      // seconds put ~1,000 FerretDB reads per poll beside the pass it measured. Detection comes
      // afterwards from the objects' `updated_at` (the worker's clock, this machine's).
      const changedRels = new Set(changed.map((i) => set.rels[i]));
      const changedIds = (
        await l.store.objects
          .find({ sync_config_id: syncId }, { projection: { _id: 1, source_object_id: 1 } })
          .toArray()
      )
        .filter((o) => [...changedRels].some((r) => o.source_object_id.endsWith(r)))
        .map((o) => o._id);
      const hashes = new Set(newHashes);
      resetPeak(pid);
      probe = loadProbe();
      const startedAt = Date.now();
      t0 = process.hrtime.bigint();
      await trigger();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const x = await getSync(l, bucketId, syncId);
        if (idleAfter(runs + 1)(x)) {
          st = x;
          break;
        }
        if (Date.now() > deadline) {
          timedOut = true;
          log(`changed pass did not finish within ${cfg.phaseTimeoutS} s`);
          break;
        }
        await sleep(250);
      }
      observed = secondsSince(t0);
      const after = [
        ...(
          await l.store.lookupByIds(l.store.objects, changedIds, { content_hash: 1, updated_at: 1 })
        ).values(),
      ].filter((o) => o.content_hash !== null && hashes.has(o.content_hash));
      const got = after.length;
      // Detection: trigger -> the last changed object got its new bytes.
      const lastUpdate = Math.max(...after.map((o) => new Date(o.updated_at).getTime()));
      const detect = got > 0 ? Math.max(0, (lastUpdate - startedAt) / 1000) : null;
      if (got < newHashes.length)
        log(`WARNING: only ${got} of ${newHashes.length} changed objects updated by the pass`);
      run = await latestRun(l, bucketId, syncId);
      wall = passSeconds(run, startedAt, observed);
      phases.push(
        phase({
          tool: 'bucket-syncs',
          phase: 'changed',
          wall_s: wall,
          files: n,
          bytes: changedBytes,
          peak_rss_mb: peakMb(),
          ...(detect !== null ? { detect_s: round(detect, 3) } : {}),
          run_record_s: run?.duration_seconds,
          observed_s: round(observed, 3),
          ...(timedOut ? { timed_out: true } : await historyDelta(syncId)),
          did: { ...runDid(run), changed_objects_updated: `${got}/${newHashes.length}` },
          load: probe(),
        }),
      );
    }
    await rclone('changed', 'sync', n, changedBytes);

    // --- the API under load, with this lane's objects present (topped up with --api-objects)
    if (cfg.apiObjects > 0 && kind === 'local' && set.rels.length - cfg.large === Math.max(...cfg.sizes))
      await topUpObjects(l, bucketId, cfg.apiObjects, log);
    const objectIds = (
      await l.store.objects
        .find({ bucket_id: bucketId }, { projection: { object_id: 1 } })
        .limit(MISS_OBJECTS)
        .toArray()
    ).map((o) => o.object_id);
    // The load goes to an API process of its own (`node dist/api/server.js`, as `npm run dev` and
    // the Dockerfile run it), not to the API inside this process: this process's own work and
    // garbage collections would sit in the measured tail.
    const apiPort = await freePort();
    const apiChild = await startNodeScript(path.join(PROJECT_ROOT, 'dist/api/server.js'), {
      env: { ...envOf(l), PORT: String(apiPort), LOG_LEVEL: 'warn' },
      log: { file: path.join(work, `api-${tag}.log`) },
      port: apiPort,
    });
    let api: ApiLatency[];
    try {
      api = await measureApi(
        { ...l, apiUrl: `http://127.0.0.1:${apiPort}` },
        cfg,
        { bucketId, syncId, objectIds, passRunning: timedOut },
        log,
      );
    } finally {
      await apiChild.stop();
    }

    const db = await databaseBytes(s, l);
    return {
      source: kind,
      files: n,
      phases,
      api,
      database: { ...db, objects: await l.store.objects.countDocuments({ sync_config_id: syncId }) },
      worker_rss_after_start_mb: rssAfterStart === null ? null : round(rssAfterStart / 1024, 1),
      changed_files: changed.length,
    };
  } finally {
    await worker.stop();
    await l.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '–' : String(x));

function table(results: SourceResult[]): string {
  const rows = [
    '| files | source | tool | pass | wall (s) | files/s | MB/s | peak RSS (MB) | history events (runs) | changed detected (s) | did | load1 / CPU busy |',
    '|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of results) {
    for (const p of r.phases) {
      const did = Object.entries(p.did)
        .filter(([k, v]) => k !== 'error' && v !== undefined && !(k === 'status' && v === 'COMPLETED'))
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const wall = p.timed_out ? `> ${p.wall_s} (timed out)` : String(p.wall_s);
      const hist = p.history_events === undefined ? '–' : `${p.history_events} (${p.workflow_runs})`;
      rows.push(
        `| ${r.files} | ${r.source} | ${p.tool} | ${p.phase} | ${wall} | ${p.phase === 'initial' ? p.files_per_s : '–'} | ${
          p.phase === 'initial' ? p.mb_per_s : '–'
        } | ${fmt(p.peak_rss_mb)} | ${hist} | ${fmt(p.detect_s)} | ${did} | ${p.load.load1_before}→${p.load.load1_after} / ${p.load.cpu_busy_pct}% |`,
      );
    }
  }
  return rows.join('\n');
}

function apiTable(results: SourceResult[]): string {
  const rows = [
    '| files synced | source | objects stored | endpoint | offered (req/s), connections | served (req/s) | p50 (ms) | p99 (ms) | max (ms) | p99 corrected / autocannon (ms) | non-2xx / errors / timeouts | load1 / CPU busy |',
    '|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of results)
    for (const a of r.api) {
      const x = a.result;
      rows.push(
        `| ${r.files} | ${r.source} | ${a.objects_present}${a.pass_running ? ' (a pass running)' : ''} | ${a.endpoint} | ${a.rate_offered}, ${a.connections} | ${fmt(x?.req_per_s)} | ${fmt(
          x?.latency_ms.p50,
        )} | ${fmt(x?.latency_ms.p99)} | ${fmt(x?.latency_ms.max)} | ${fmt(x?.corrected_latency_ms.p99)} / ${fmt(
          x?.autocannon_latency_ms.p99,
        )} | ${
          x ? `${x.non_2xx} / ${x.errors} / ${x.timeouts}` : `failed: ${a.error?.slice(0, 80)}`
        } | ${a.load.load1_before}→${a.load.load1_after} / ${a.load.cpu_busy_pct}% |`,
      );
    }
  return rows.join('\n');
}

function toolVersion(bin: string | undefined, args: string[]): string {
  if (!bin) return 'external';
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cfg = settings();
  const started = new Date();
  const machine = {
    host: os.hostname(),
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    mem_gb: round(os.totalmem() / 1024 ** 3, 1),
    load_at_start: os.loadavg().map((x) => round(x)),
    node: process.version,
  };
  process.stderr.write(`bench: ${JSON.stringify({ ...cfg, machine })}\n`);

  const tools = provisionTools(PROJECT_ROOT, ['rclone', 'temporal', 'ferretdb']);
  const rc: Rclone | null = tools.RCLONE_PATH
    ? { bin: tools.RCLONE_PATH, version: toolVersion(tools.RCLONE_PATH, ['version']) }
    : null;

  const work = cfg.dir
    ? (mkdirSync(cfg.dir, { recursive: true }), cfg.dir)
    : mkdtempSync(path.join(os.tmpdir(), 'bucket-syncs-bench-'));
  let minio: Minio | null = null;
  const results: SourceResult[] = [];
  const fileSets: Record<string, unknown>[] = [];
  const label = cfg.label || `${cfg.sizes.join('-')}-${cfg.sources.join('-')}`;
  const resultsDir = path.join(PROJECT_ROOT, 'bench/results');
  const file = path.join(resultsDir, `${started.toISOString().slice(0, 10)}-${machine.host}-${label}`);
  /** Writes <file>.json and <file>.md: after every source (partial: true) and at the end. */
  const writeResults = (final: boolean) => {
    const out = {
      benchmark: 'sync-vs-rclone',
      partial: !final,
      started_at: started.toISOString(),
      finished_at: new Date().toISOString(),
      machine: { ...machine, load_at_end: os.loadavg().map((x) => round(x)) },
      shared_machine:
        'the machine may be shared with other work: the load average and CPU busy share are recorded per phase',
      note: cfg.note,
      file_sets: fileSets,
      bucket_syncs: {
        SYNC_PAGE_SIZE: Number(cfg.pageSize),
        SYNC_STRIDE_MS: Number(cfg.strideMs),
        API_READ_CACHE_MS: Number(process.env.API_READ_CACHE_MS ?? '500'),
        SYNC_FILE_CONCURRENCY: Number(cfg.fileConcurrency),
        blob_store: 'folder (local disk)',
        database: process.env.MONGODB_URI
          ? 'MongoDB (MONGODB_URI)'
          : `FerretDB (SQLite): ${toolVersion(tools.FERRETDB_PATH, ['--version'])}`,
        temporal: process.env.TEMPORAL_ADDRESS
          ? 'TEMPORAL_ADDRESS'
          : `temporal server start-dev (${toolVersion(tools.TEMPORAL_CLI_PATH, ['--version'])})`,
        worker: 'child process; peak RSS = VmHWM, reset after start-up (workflow bundling excluded)',
        api: `its own process (node dist/api/server.js); load from autocannon (child process), ${cfg.apiRate} req/s offered, ${cfg.apiConnections} connections, ${cfg.apiSeconds} s per endpoint; latency_ms counts each 2xx response once, corrected_latency_ms adds coordinated-omission values at the connection's interval, autocannon_latency_ms is autocannon's (its 1 ms interval weighs a response by its latency; bench/load.ts)`,
      },
      rclone: rc
        ? {
            version: rc.version,
            mode: cfg.rcloneChecksum ? '--checksum (size + hash)' : 'default (size + modification time)',
            transfers: 4,
            checkers: 8,
            destination: 'local folder',
          }
        : null,
      results,
    };
    const md = `${table(results)}\n\n${apiTable(results)}\n`;
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(`${file}.json`, `${JSON.stringify({ ...out, table_markdown: md }, null, 2)}\n`);
    writeFileSync(`${file}.md`, md);
    if (!final) return;
    process.stdout.write(`\n${md}\n`);
    for (const r of results)
      process.stdout.write(
        `${r.files} files, ${r.source}: database ${r.database.what} ${r.database.bytes === null ? '?' : round(r.database.bytes / MiB, 1)} MiB for ${r.database.objects} objects; worker RSS after start ${r.worker_rss_after_start_mb} MB\n`,
      );
    process.stdout.write(`results: ${path.relative(PROJECT_ROOT, file)}.json (.md)\n`);
  };
  const writePartial = () => writeResults(false);
  try {
    const s = await stack();
    const connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    const temporal = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
    if (cfg.sources.includes('s3')) {
      minio = await startMinio();
      await minio.client.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
    }
    for (const small of cfg.sizes) {
      const srcDir = path.join(work, `source-${small}`);
      process.stderr.write(`bench: writing ${small} + ${cfg.large} files into ${srcDir}\n`);
      const set = writeSource(srcDir, cfg, small);
      fileSets.push({
        files: set.rels.length,
        small_files: small,
        small_sizes_kib: [cfg.smallMinKiB, cfg.smallMaxKiB],
        large_files: cfg.large,
        large_size_mib: cfg.largeMiB,
        total_mib: round(set.totalBytes / MiB, 1),
        changed_pct: cfg.changedPct,
      });
      if (minio) {
        process.stderr.write(`bench: uploading the file set to MinIO\n`);
        await forEachLimit(set.rels, 16, async (rel) => {
          await minio!.client.send(
            new PutObjectCommand({
              Bucket: S3_BUCKET,
              Key: `${S3_PREFIX}/n${set.rels.length}/${rel}`,
              Body: readFileSync(path.join(srcDir, rel)),
            }),
          );
        });
      }
      // The s3 pass runs first: the local pass changes files of the local folder, which is MinIO's origin.
      for (const kind of [...cfg.sources].sort((a, b) => (a === 's3' ? -1 : b === 's3' ? 1 : 0))) {
        results.push(await benchSource(kind, { s, cfg, set, srcDir, work, minio, rc, temporal }));
        writePartial(); // a long run keeps what it measured so far
      }
      if (!cfg.keep && !cfg.dir) rmSync(srcDir, { recursive: true, force: true });
    }
    await connection.close();

    writeResults(true);
  } finally {
    await minio?.stop();
    await stopStack();
    if (!cfg.keep && !cfg.dir) rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    void stopStack().finally(() => process.exit(1));
  },
);
