// What one `_id` lookup costs the store, by the shape of the document it returns: an object as the
// sync engine writes it (whole, and projected to the fields GET object answers with), the same
// object with `blobs`, `source_details` and `metadata` packed into one JSON string field, and a
// document of three fields. It is the cache-miss path of GET object
// (api/routes/objects.ts) and the reason FerretDB's share of it is what it is (README, Benchmarks).
//
//   npm run build && node dist/bench/lookup-cost.js [--docs=5000] [--seconds=10] [--concurrency=20]
//       [--ferretdb=/path/to/ferretdb]        (the embedded default unless MONGODB_URI is set)
//
// Per shape: `--docs` documents inserted into a collection of their own, then `--concurrency`
// clients each reading a random `_id` after the other for `--seconds`. Reports lookups a second,
// the latency of each (p50 / p99), and CPU time per lookup of the store's process (FerretDB's, from
// /proc; none for MONGODB_URI) and of this process (the driver's side). Results go to
// bench/results/<date>-<host>-lookup-cost.json and .md.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Document } from 'mongodb';
import { build } from 'hdr-histogram-js';
import { freePort, provisionTools, startFerretDB, type Started } from '../lib/servers';
import type { ObjectDoc } from '../store';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const DOCS = Number(args.docs ?? 5000);
const SECONDS = Number(args.seconds ?? 10);
const CONCURRENCY = Number(args.concurrency ?? 20);
const PROJECT_ROOT = path.resolve(__dirname, '../..');

type Shape =
  'object' | 'object, projected to the API answer' | 'object, three fields packed' | 'three fields';
const SHAPES: Shape[] = [
  'object',
  'object, projected to the API answer',
  'object, three fields packed',
  'three fields',
];

/** The fields GET object answers with (api/routes/objects.ts serializeObject). */
const ANSWER_FIELDS = [
  'object_id',
  'bucket_id',
  'key_prefix',
  'blobs',
  'source_details',
  'source_provider',
  'metadata',
  'status',
  'error',
  'sync_config_id',
  'created_at',
  'updated_at',
];

const idOf = (i: number) => `bkt_bench:local:dir/sub/${String(i).padStart(7, '0')}.bin`;

/** An object as a local sync registers one (fields as in store/doc-types.ts ObjectDoc). */
function objectDoc(i: number): ObjectDoc {
  const now = new Date();
  const rel = `dir/sub/${String(i).padStart(7, '0')}.bin`;
  return {
    _id: idOf(i),
    object_id: idOf(i),
    bucket_id: 'bkt_bench',
    internal_id: 'org_bench',
    namespace_id: 'ns_bench',
    key_prefix: '/dir/sub',
    blobs: [
      {
        blob_id: `blob_${i}`,
        property: 'content',
        key_prefix: '/dir/sub',
        type: 'document',
        properties: { storage_key: `bkt_bench/${i}/content`, source_url: `file:///data/${rel}` },
        details: {
          filename: `${i}.bin`,
          size_bytes: 4096,
          mime_type: 'application/octet-stream',
          hash: 'e'.repeat(64),
        },
      },
    ],
    source_details: [{ type: 'local', source_id: rel }],
    metadata: { folder: 'dir/sub', extension: 'bin' },
    status: 'COMPLETED',
    error: null,
    source_provider: 'local',
    source_object_id: rel,
    source_version: `1764000000000-4096`,
    source_checksum: null,
    content_hash: 'f'.repeat(64),
    sync_config_id: 'sync_bench',
    last_seen_pass_id: 'pass_bench',
    created_by_run_id: 'run_bench',
    created_by_page: 'run_bench|0',
    created_at: now,
    updated_at: now,
  };
}

function docOf(shape: Shape, i: number): Document {
  const o = objectDoc(i);
  if (shape === 'object' || shape === 'object, projected to the API answer') return o;
  if (shape === 'three fields') return { _id: o._id, bucket_id: o.bucket_id, status: o.status };
  const { blobs, source_details, metadata, ...rest } = o;
  return { ...rest, packed: JSON.stringify({ blobs, source_details, metadata }) };
}

function cpuMsOf(pid: number | undefined): number | null {
  if (!pid) return null;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

interface Row {
  shape: Shape;
  lookups: number;
  per_s: number;
  p50_ms: number;
  p99_ms: number;
  store_cpu_ms_per_lookup: number | null;
  client_cpu_ms_per_lookup: number;
}

async function measure(client: MongoClient, shape: Shape, storePid: number | undefined): Promise<Row> {
  const coll = client.db('lookup_cost').collection(shape.replace(/\W+/g, '_'));
  await coll.drop().catch(() => undefined);
  for (let i = 0; i < DOCS; i += 1000)
    await coll.insertMany(Array.from({ length: Math.min(1000, DOCS - i) }, (_, j) => docOf(shape, i + j)));
  const h = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const options = shape.includes('projected')
    ? { projection: Object.fromEntries(ANSWER_FIELDS.map((f) => [f, 1])) }
    : {};
  let lookups = 0;
  const storeBefore = cpuMsOf(storePid);
  const clientBefore = process.cpuUsage();
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        const found = await coll.findOne(
          { _id: idOf(Math.floor(Math.random() * DOCS)) } as Document,
          options,
        );
        h.recordValue(Math.max(1, Number((process.hrtime.bigint() - t) / 1000n)));
        if (!found) throw new Error(`a ${shape} document was not found`);
        lookups++;
      }
    }),
  );
  const storeAfter = cpuMsOf(storePid);
  const c = process.cpuUsage(clientBefore);
  const row: Row = {
    shape,
    lookups,
    per_s: Math.round(lookups / SECONDS),
    p50_ms: h.getValueAtPercentile(50) / 1000,
    p99_ms: h.getValueAtPercentile(99) / 1000,
    store_cpu_ms_per_lookup:
      storeBefore === null || storeAfter === null ? null : +((storeAfter - storeBefore) / lookups).toFixed(3),
    client_cpu_ms_per_lookup: +((c.user + c.system) / 1000 / lookups).toFixed(3),
  };
  h.destroy();
  await coll.drop();
  return row;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bucket-syncs-lookup-cost-'));
  let ferret: Started | null = null;
  let uri = process.env.MONGODB_URI;
  let store = 'MONGODB_URI';
  if (!uri) {
    const bin = args.ferretdb ?? provisionTools(PROJECT_ROOT, ['ferretdb']).FERRETDB_PATH!;
    ferret = await startFerretDB(bin, path.join(tmp, 'ferretdb'), await freePort());
    uri = `mongodb://127.0.0.1:${ferret.port}/`;
    store = `FerretDB (SQLite): ${bin}`;
  }
  const client = new MongoClient(uri, { ignoreUndefined: true });
  const rows: Row[] = [];
  try {
    await client.connect();
    for (const shape of SHAPES) {
      const row = await measure(client, shape, ferret?.child.pid);
      rows.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  } finally {
    await client.close();
    await ferret?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const outDir = path.join(PROJECT_ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `${new Date().toISOString().slice(0, 10)}-${os.hostname()}-lookup-cost`);
  const settings = { docs: DOCS, seconds: SECONDS, concurrency: CONCURRENCY, store, cpus: os.cpus().length };
  writeFileSync(`${base}.json`, `${JSON.stringify({ benchmark: 'lookup-cost', settings, rows }, null, 2)}\n`);
  const md = [
    `${DOCS} documents per shape, ${CONCURRENCY} concurrent \`findOne({_id})\` for ${SECONDS} s; ${store}`,
    '',
    '| document | lookups/s | p50 (ms) | p99 (ms) | store CPU per lookup (ms) | client CPU per lookup (ms) |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.shape} | ${r.per_s} | ${r.p50_ms} | ${r.p99_ms} | ${r.store_cpu_ms_per_lookup ?? '–'} | ${r.client_cpu_ms_per_lookup} |`,
    ),
  ].join('\n');
  writeFileSync(`${base}.md`, `${md}\n`);
  process.stdout.write(`${md}\nresults: ${base}.json (.md)\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `lookup-cost failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
