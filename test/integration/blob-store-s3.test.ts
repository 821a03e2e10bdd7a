// End to end on real servers, with the blob store configured by environment: BLOB_STORE=s3 sends a
// sync's bytes to a MinIO bucket (and an API delete removes them there); a worker starting on a
// folder store sweeps the stale partial files interrupted copies left.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { loadEnv } from '../../config/env';
import { createSyncWorker } from '../../worker/worker';
import { bucketWithFolder, createSync, http, idleAfter, waitForSync } from '../helpers';
import { lane, stack, workflowBundle, type Lane, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';

const BLOB_BUCKET = 'bucket-syncs-blobs';
const PREFIX = 'prod/blobs';
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('blob store from configuration, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let minio: Minio;
  let l: Lane;

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    minio = await startMinio();
    await minio.client.send(new CreateBucketCommand({ Bucket: BLOB_BUCKET }));
    l = await lane(s, {
      BLOB_STORE: 's3',
      BLOB_S3_BUCKET: BLOB_BUCKET,
      BLOB_S3_PREFIX: PREFIX,
      BLOB_S3_ENDPOINT: minio.url,
      BLOB_S3_ACCESS_KEY_ID: minio.accessKeyId,
      BLOB_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
      // A folder of its own: the test shows nothing is written there.
      BLOB_DIR: mkdtempSync(path.join(s.tmp, 'unused-blob-dir-')),
    });
  });
  after(async () => {
    await l?.close();
    await minio?.stop();
  });

  const blobKeys = async () => {
    const out: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await minio.client.send(
        new ListObjectsV2Command({ Bucket: BLOB_BUCKET, ContinuationToken }),
      );
      for (const o of page.Contents ?? []) out.push(o.Key!);
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort();
  };

  it('BLOB_STORE=s3: a sync writes its blobs to the bucket under the prefix; total_bytes_synced counts them; delete removes them', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++)
      files[`d${i % 3}/f-${i}.txt`] = Buffer.from(`content of file ${i}\n`.repeat(i + 1));
    files['big/large.bin'] = Buffer.alloc(12 * 1024 * 1024 + 3, 0x5a); // multipart (8 MiB parts)
    const { bucketId, connectionId } = await bucketWithFolder(l, files);
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    const total = Object.keys(files).length;
    const synced = await waitForSync(
      l,
      bucketId,
      syncId,
      (x) => idleAfter(1)(x) && x.total_files_synced === total,
      120_000,
    );
    const bytes = Object.values(files).reduce((n, b) => n + b.length, 0);
    assert.equal(synced.total_bytes_synced, bytes, 'total_bytes_synced = the bytes stored');

    const objects = await l.store.objects.find({ sync_config_id: syncId }).toArray();
    assert.equal(objects.length, total);
    const stored = await blobKeys();
    const expected: string[] = [];
    for (const o of objects) {
      const blob = o.blobs[0];
      const storageKey = blob.properties.storage_key as string;
      const objectKey = `${PREFIX}/${storageKey}`;
      expected.push(objectKey);
      const body = files[o.source_object_id];
      assert.ok(body, `a source file for ${o.source_object_id}`);
      const got = await minio.client.send(new GetObjectCommand({ Bucket: BLOB_BUCKET, Key: objectKey }));
      const bytesBack = Buffer.from(await got.Body!.transformToByteArray());
      assert.equal(bytesBack.length, blob.details.size_bytes);
      assert.equal(sha256(bytesBack), blob.details.hash);
      assert.equal(blob.details.hash, sha256(body));
    }
    assert.deepEqual(stored, expected.sort(), 'exactly the objects’ blobs are in the bucket');
    assert.deepEqual(readdirSync(l.env.BLOB_DIR), [], 'nothing in the folder store');

    // The API builds its blob store from the same configuration: deleting an object removes its blob.
    const victim = objects[0];
    const del = await http(l, 'DELETE', `/v1/buckets/${bucketId}/objects/${victim.object_id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const victimKey = `${PREFIX}/${victim.blobs[0].properties.storage_key as string}`;
    const after = await blobKeys();
    assert.ok(!after.includes(victimKey), 'the deleted object’s blob is gone');
    assert.equal(after.length, stored.length - 1);
  });

  it('a worker starting on a folder store sweeps partial files older than an hour, and only those', async () => {
    const dir = mkdtempSync(path.join(s.tmp, 'sweep-blobs-'));
    mkdirSync(path.join(dir, 'bkt_1', 'obj_1'), { recursive: true });
    const at = (rel: string) => path.join(dir, 'bkt_1', 'obj_1', rel);
    writeFileSync(at('blob_1'), 'complete');
    writeFileSync(at('blob_2.partial-0badf00d'), 'left by a killed copy');
    writeFileSync(at('blob_3.partial-1234abcd'), 'a copy in progress');
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(at('blob_1'), old, old);
    utimesSync(at('blob_2.partial-0badf00d'), old, old);

    const env = loadEnv({
      ...Object.fromEntries(
        Object.entries(s.env).map(([k, v]) => [k, Array.isArray(v) ? v.join(':') : String(v)]),
      ),
      BLOB_DIR: dir,
      TASK_QUEUE: `sweep-test-${path.basename(dir)}`, // a queue of its own: it takes no other test's tasks
    });
    const handle = await createSyncWorker(env, { workflowBundle: await workflowBundle(), store: s.store });
    const running = handle.worker.run();
    try {
      assert.equal(await handle.swept, 1);
    } finally {
      handle.worker.shutdown();
      await running;
      await handle.close();
    }
    assert.equal(existsSync(at('blob_2.partial-0badf00d')), false, 'the stale partial is gone');
    assert.deepEqual(readdirSync(path.dirname(at('x'))).sort(), ['blob_1', 'blob_3.partial-1234abcd']);
  });
});
