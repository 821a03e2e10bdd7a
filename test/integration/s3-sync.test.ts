// End to end on real servers: an `s3` connection to MinIO -> HTTP API -> Temporal workflow -> objects.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { forEachLimit } from '../../lib/pool';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';

const SOURCE_BUCKET = 'source';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('s3 sync from MinIO, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let minio: Minio;
  let bucketId: string;
  let connectionId: string;
  const put = (
    key: string,
    body: string,
    extra: { ContentType?: string; Metadata?: Record<string, string> } = {},
  ) => minio.client.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body, ...extra }));

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    minio = await startMinio();
    await minio.client.send(new CreateBucketCommand({ Bucket: SOURCE_BUCKET }));
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 's3-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await minio?.stop();
  });

  it('refuses to save a connection whose credentials S3 rejects, without echoing the secret', async () => {
    const { provider_config, credentials } = minio.connection('wrong-secret-value');
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 's3-rejected',
      provider_type: 's3',
      provider_config: { ...provider_config, credentials },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /SignatureDoesNotMatch|InvalidAccessKeyId/);
    assert.doesNotMatch(JSON.stringify(r.body), /wrong-secret-value/);
  });

  it('syncs every file under bucket/prefix into objects, a later file after a trigger, and redacts the secret', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`d${i % 4}/sub ${i % 3}/file-${i}.txt`] = `content ${i}`;
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

    const { provider_config, credentials } = minio.connection();
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'minio',
      provider_type: 's3',
      provider_config: { ...provider_config, credentials },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    connectionId = conn.body.connection_id;
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.endpoint_url, minio.url);
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

    const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
    let objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.deepEqual(
      new Set(objects.map((o) => o.source_object_id)),
      new Set(Object.keys(files).map((rel) => `${SOURCE_BUCKET}/data/${rel}`)),
    );
    for (const o of objects) {
      const rel = o.source_object_id.slice(`${SOURCE_BUCKET}/data/`.length);
      assert.equal(o.blobs[0].details.hash, sha256(files[rel]), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.match(o.source_checksum ?? '', /^md5:[0-9a-f]{32}$/);
    }
    const report = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/report`)!;
    assert.equal(report.blobs[0].details.mime_type, 'application/json');
    assert.equal(report.metadata.owner, 'data-team');
    assert.equal(report.key_prefix, '/');

    // A file added later appears after a trigger (the poll interval is 15 minutes away).
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
    assert.ok(late, 'the late file is an object');
    assert.equal(late.blobs[0].details.hash, sha256('late'));
    assert.equal(late.key_prefix, '/late');
  });
});
