// End to end on real servers: a `tigris` connection (the S3 provider as provider_type tigris) to
// MinIO standing in for Tigris's endpoint -> HTTP API -> Temporal workflow -> objects.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { forEachLimit } from '../../lib/pool';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';

const SOURCE_BUCKET = 'source';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('tigris sync (MinIO as the endpoint), end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let minio: Minio;
  let bucketId: string;
  const put = (
    key: string,
    body: string,
    extra: { ContentType?: string; Metadata?: Record<string, string> } = {},
  ) => minio.client.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body, ...extra }));
  // As a Tigris connection is written: the endpoint and access keys; region left to its default (auto).
  const providerConfig = (secret: string) => ({
    endpoint_url: minio.url,
    credentials: { type: 'access_key', access_key_id: minio.accessKeyId, secret_access_key: secret },
  });

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    minio = await startMinio();
    await minio.client.send(new CreateBucketCommand({ Bucket: SOURCE_BUCKET }));
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'tigris-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await minio?.stop();
  });

  it('refuses to save a connection whose credentials the endpoint rejects, without echoing the secret', async () => {
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'tigris-rejected',
      provider_type: 'tigris',
      provider_config: providerConfig('wrong-secret-value'),
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /SignatureDoesNotMatch|InvalidAccessKeyId/);
    assert.doesNotMatch(JSON.stringify(r.body), /wrong-secret-value/);
  });

  it('syncs every object under bucket/prefix, a later one after a trigger, drops a deleted one on a full sync, and redacts the secret', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d${i % 4}/sub ${i % 3}/file-${i}.txt`] = `tigris content ${i}`;
    await forEachLimit(Object.entries(files), 16, async ([rel, body]) => {
      await put(`data/${rel}`, body);
    });
    // Content type and user metadata come from HeadObject; the name has no extension to guess from.
    await put('data/report', '{"ok":true}', {
      ContentType: 'application/json',
      Metadata: { owner: 'data-team' },
    });
    files.report = '{"ok":true}';
    // A folder marker: no object.
    await minio.client.send(
      new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'data/empty-folder/', Body: '', ContentLength: 0 }),
    );
    await put('elsewhere/outside.txt', 'not under the prefix');

    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'tigris-minio',
      provider_type: 'tigris',
      provider_config: providerConfig(minio.secretAccessKey),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const connectionId: string = conn.body.connection_id;
    assert.equal(conn.body.provider_type, 'tigris');
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.endpoint_url, minio.url);
    assert.equal(conn.body.provider_config.region, 'auto');
    const got = await http(s, 'GET', `/v1/organizations/connections/${connectionId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.provider_config.credentials, '[redacted]');
    for (const body of [conn.body, got.body])
      assert.doesNotMatch(
        JSON.stringify(body),
        new RegExp(minio.secretAccessKey),
        'the secret is never returned',
      );

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: `${SOURCE_BUCKET}/data`,
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;

    const total = Object.keys(files).length;
    const first = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(1)(x) && x.total_files_synced === total,
      120_000,
    );
    assert.equal(first.status, 'ACTIVE');
    assert.equal(first.total_files_discovered, total);
    assert.equal(first.total_files_failed, 0);

    const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
    let objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.deepEqual(
      new Set(objects.map((o) => o.source_object_id)),
      new Set(Object.keys(files).map((rel) => `${SOURCE_BUCKET}/data/${rel}`)),
    );
    for (const o of objects) {
      const rel = o.source_object_id.slice(`${SOURCE_BUCKET}/data/`.length);
      assert.equal(o.source_provider, 'tigris');
      assert.equal(o.blobs[0].details.hash, sha256(files[rel]), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.equal(o.source_checksum, `md5:${md5(files[rel])}`, `checksum of ${rel}`);
    }
    const report = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/report`)!;
    assert.equal(report.blobs[0].details.mime_type, 'application/json');
    assert.equal(report.metadata.owner, 'data-team');
    assert.equal(report.key_prefix, '/');
    const nested = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/d1/sub 1/file-1.txt`)!;
    assert.equal(nested.key_prefix, '/d1/sub 1');

    // An object added later appears after a trigger (the poll interval is 15 minutes away).
    await put('data/late/arrival.txt', 'late');
    const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    const second = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(2)(x) && x.total_files_synced === total + 1,
      120_000,
    );
    assert.equal(second.status, 'ACTIVE');
    objects = await objectsOf();
    assert.equal(objects.length, total + 1);
    const late = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/late/arrival.txt`);
    assert.ok(late, 'the late object is an object');
    assert.equal(late.blobs[0].details.hash, sha256('late'));
    assert.equal(late.key_prefix, '/late');

    // An object deleted at the source: a full sync removes its object, and only it.
    const gone = `${SOURCE_BUCKET}/data/d0/sub 0/file-0.txt`;
    await minio.client.send(
      new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'data/d0/sub 0/file-0.txt' }),
    );
    const full = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
    assert.equal(full.status, 200, JSON.stringify(full.body));
    const third = await waitForSync(s, bucketId, syncId, idleAfter(3), 120_000);
    assert.equal(third.status, 'ACTIVE');
    assert.equal(third.total_files_synced, total + 1, 'nothing new was synced');
    objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.ok(!objects.some((o) => o.source_object_id === gone), 'the deleted object is gone');
    assert.ok(objects.some((o) => o.source_object_id === `${SOURCE_BUCKET}/data/late/arrival.txt`));
    const [newest] = await s.store.runs
      .find({ sync_config_id: syncId })
      .sort({ started_at: -1 })
      .limit(1)
      .toArray();
    assert.deepEqual(
      [newest.provider_type, newest.full, newest.files_synced, newest.objects_deleted, newest.status],
      ['tigris', true, 0, 1, 'COMPLETED'],
      JSON.stringify(newest),
    );
  });
});
