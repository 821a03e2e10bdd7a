// What the chaos cases share: sizes (CI small, full by hand), a lane of their own (database, task
// queue, blob folder), and an `s3` source on MinIO reached through the fault-injecting proxy.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { forEachLimit } from '../../lib/pool';
import { http } from '../helpers';
import { startMinio, type Minio } from '../providers/fixtures/s3';
import { lane, stack, type Lane } from '../setup/stack';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { sha256, type Expected } from './invariants';

/** `CHAOS_FULL=1`: the documented full size (20,000 files); else CHAOS_FILES (1,000 by default; CI: 500). */
export const FULL = process.env.CHAOS_FULL === '1';
export const FILES = Number(process.env.CHAOS_FILES ?? (FULL ? 20_000 : 1_000));
export const SOURCE_BUCKET = 'chaos';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lane whose blob folder is its own (the invariants walk it). */
export async function chaosLane(overrides: Record<string, string> = {}, opts: { worker?: boolean } = {}) {
  const s = await stack();
  const blobDir = mkdtempSync(path.join(s.tmp, 'chaos-blobs-'));
  return lane(
    s,
    { BLOB_DIR: blobDir, BLOB_PARTIAL_MAX_AGE_SECONDS: '10', LOG_LEVEL: 'error', ...overrides },
    opts,
  );
}

export interface S3Source {
  minio: Minio;
  proxy: FaultProxy;
  bucketId: string;
  connectionId: string;
  /** source_object_id -> SHA-256 */
  files: Map<string, string>;
  bytes: number;
  put(rel: string, body: string | Buffer, metadata?: Record<string, string>): Promise<void>;
  remove(rel: string): Promise<void>;
  expected(syncId: string, extra?: Partial<Expected>): Expected;
  close(): Promise<void>;
}

/** MinIO with `n` files under `chaos/data/`, the proxy in front, a bucket and an `s3` connection through it. */
export async function s3Source(
  l: Lane,
  n: number,
  opts: { rate?: number; seed?: number } = {},
): Promise<S3Source> {
  const minio = await startMinio();
  const proxy = await startFaultProxy(minio.url, { rate: 0, seed: opts.seed });
  await minio.client.send(new CreateBucketCommand({ Bucket: SOURCE_BUCKET }));
  const files = new Map<string, string>();
  const sizes = new Map<string, number>();
  const put = async (rel: string, body: string | Buffer, metadata?: Record<string, string>) => {
    await minio.client.send(
      new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: `data/${rel}`, Body: body, Metadata: metadata }),
    );
    files.set(`${SOURCE_BUCKET}/data/${rel}`, sha256(body));
    sizes.set(`${SOURCE_BUCKET}/data/${rel}`, Buffer.byteLength(body));
  };
  const salt = randomBytes(4).toString('hex');
  await forEachLimit(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      // Sizes from a few bytes to ~6 KB, so byte totals catch a file counted twice.
      const body = `chaos ${salt} file ${i}\n${'x'.repeat((i * 37) % 6000)}`;
      await put(`d${i % 25}/file-${String(i).padStart(6, '0')}.txt`, body);
    },
  );
  const bucket = await http(l, 'POST', '/v1/buckets', { bucket_name: `chaos-${salt}` });
  if (bucket.status !== 200) throw new Error(`bucket: ${JSON.stringify(bucket.body)}`);
  const c = minio.connection();
  const conn = await http(l, 'POST', '/v1/organizations/connections', {
    name: `chaos-s3-${salt}`,
    provider_type: 's3',
    provider_config: { ...c.provider_config, endpoint_url: proxy.url, credentials: c.credentials },
  });
  if (conn.status !== 200) throw new Error(`connection: ${JSON.stringify(conn.body)}`);
  proxy.rate = opts.rate ?? 0;
  const src: S3Source = {
    minio,
    proxy,
    bucketId: bucket.body.bucket_id,
    connectionId: conn.body.connection_id,
    files,
    get bytes() {
      return [...sizes.values()].reduce((a, b) => a + b, 0);
    },
    put,
    async remove(rel) {
      await minio.client.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: `data/${rel}` }));
      files.delete(`${SOURCE_BUCKET}/data/${rel}`);
      sizes.delete(`${SOURCE_BUCKET}/data/${rel}`);
    },
    expected: (syncId, extra = {}) => ({
      syncId,
      bucketId: src.bucketId,
      provider: 's3',
      files: new Map(files),
      bytes: src.bytes,
      ...extra,
    }),
    async close() {
      await proxy.close();
      await minio.stop();
    },
  };
  return src;
}

export function faultSummary(p: FaultProxy): string {
  const f = p.faults;
  return (
    `${p.requests} provider requests, ${f['5xx'] + f.throttle + f.reset + f.slow} faults ` +
    `(${f['5xx']} 5xx, ${f.throttle} 429/503 + Retry-After, ${f.reset} resets, ${f.slow} slow)`
  );
}
