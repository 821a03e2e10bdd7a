// Event-driven syncs from MinIO (issue 14): MinIO's webhook notification target posts each event to
// the sync's notification path; the API signals the workflow, which looks the keys up (HeadObject)
// through the usual page activity. Plus the endpoint's refusals: forged, revoked, stale, replayed,
// rate-limited. Polling is 900 s throughout, so what arrives within seconds came through the webhook.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { eventually, getSync, http, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';
import { freePort } from '../../lib/servers';

const BUCKET = 'events';
const TARGET = 'BSYNC';

/** A MinIO-shaped notification body for `key`, event time now unless given. */
function minioEvent(key: string, eventTime = new Date().toISOString()) {
  return {
    EventName: 's3:ObjectCreated:Put',
    Key: `${BUCKET}/${key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventTime,
        eventName: 's3:ObjectCreated:Put',
        s3: {
          bucket: { name: BUCKET },
          object: { key: encodeURIComponent(key), sequencer: randomBytes(8).toString('hex') },
        },
      },
    ],
  };
}

describe('event-driven s3 syncs (MinIO webhook notifications)', function () {
  this.timeout(180_000);
  let s: Stack;
  let minio: Minio;
  let bucketId: string;
  let syncId: string;
  let notificationPath: string;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'minio-events-'));
  let port = 0;
  const secret = `secret-${randomBytes(6).toString('hex')}`;

  const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${s.apiUrl}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const keysOf = async () =>
    (await s.store.objects.find({ sync_config_id: syncId }).toArray()).map((o) => o.source_object_id).sort();

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    port = await freePort();
    minio = await startMinio({ dir, port, secretAccessKey: secret });
    await minio.client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await minio.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/first.txt', Body: 'first' }));
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 's3-events' });
    bucketId = bucket.body.bucket_id;
    const { provider_config, credentials } = minio.connection();
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `minio-events-${port}`,
      provider_type: 's3',
      provider_config: { ...provider_config, credentials },
    });
    assert.equal(conn.status, 201, JSON.stringify(conn.body));
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: `${BUCKET}/in`,
      polling_interval_seconds: 900,
      event_driven: true,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    syncId = created.body.sync_config_id;
    assert.equal(created.body.event_feed.kind, 'bucket_notifications');
    notificationPath = created.body.event_feed.notification_path;
    assert.match(notificationPath, /^\/v1\/notifications\/s3\/bsn_[A-Za-z0-9_-]{43}$/);
    await waitForSync(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && !!x.next_sync_at);

    // MinIO reads its notification targets at start: restart it on the same data with the webhook
    // target pointing at this sync's path, then subscribe the bucket to it.
    await minio.stop();
    minio = await startMinio({
      dir,
      port,
      secretAccessKey: secret,
      env: {
        [`MINIO_NOTIFY_WEBHOOK_ENABLE_${TARGET}`]: 'on',
        [`MINIO_NOTIFY_WEBHOOK_ENDPOINT_${TARGET}`]: `${s.apiUrl.replace('localhost', '127.0.0.1')}${notificationPath}`,
      },
    });
    await minio.client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: BUCKET,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: `arn:minio:sqs::${TARGET}:webhook`,
              Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
            },
          ],
        },
      }),
    );
  });
  after(async () => {
    await minio?.stop();
  });

  it('the GET never shows the channel secret again', async () => {
    const got = await getSync(s, bucketId, syncId);
    assert.equal(got.event_driven, true);
    assert.deepEqual(Object.keys(got.event_feed).sort(), ['enabled_at', 'kind', 'receives_notifications']);
    assert.equal(got.event_feed.receives_notifications, true);
    assert.doesNotMatch(JSON.stringify(got), /bsn_/);
    assert.deepEqual(await keysOf(), [`${BUCKET}/in/first.txt`]);
  });

  it('registers objects put into MinIO and deletes removed ones, through the webhook, without a poll', async () => {
    const runsBefore = (await getSync(s, bucketId, syncId)).sync_run_counter;
    for (const k of ['in/a.txt', 'in/sub dir/b c.txt', 'outside/x.txt'])
      await minio.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: k, Body: `body of ${k}` }));
    assert.ok(
      await eventually(async () => (await keysOf()).length === 3, 20_000),
      `objects: ${JSON.stringify(await keysOf())}`,
    );
    assert.deepEqual(await keysOf(), [
      `${BUCKET}/in/a.txt`,
      `${BUCKET}/in/first.txt`,
      `${BUCKET}/in/sub dir/b c.txt`,
    ]);

    await minio.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'in/a.txt' }));
    assert.ok(await eventually(async () => (await keysOf()).length === 2, 20_000));
    const sync = await waitForSync(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(sync.sync_run_counter > runsBefore);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('needs no API key, and refuses forged, stale and replayed notifications alike', async () => {
    const ok = await post(notificationPath, minioEvent('in/first.txt'));
    assert.equal(ok.status, 204);

    const forged = await post(
      `/v1/notifications/s3/bsn_${randomBytes(32).toString('base64url')}`,
      minioEvent('in/x'),
    );
    const malformed = await post('/v1/notifications/s3/not-a-token', minioEvent('in/x'));
    const stale = await post(
      notificationPath,
      minioEvent('in/x', new Date(Date.now() - 3_600_000).toISOString()),
    );
    const body = minioEvent('in/first.txt');
    const first = await post(notificationPath, body);
    const replayed = await post(notificationPath, body);
    assert.equal(first.status, 204);
    const refusals = [forged, malformed, stale, replayed];
    const bodies: any[] = await Promise.all(refusals.map((r) => r.json()));
    for (const [i, r] of refusals.entries()) {
      assert.equal(r.status, 401, `refusal ${i}`);
      // One answer for every refusal: nothing says whether the token or the sync exists.
      assert.deepEqual(bodies[i], bodies[0]);
    }
    assert.equal(bodies[0].error.message, 'unauthorized');
    assert.equal(bodies[0].error.details, null);

    // A valid channel with a body that is not an S3 event: 400, not a 500.
    const notS3 = await post(notificationPath, { hello: 'world' });
    assert.equal(notS3.status, 400);
    const notJson = await post(notificationPath, '{nope');
    assert.equal(notJson.status, 400);
  });

  it('a channel switched off (PATCH event_driven false) answers 401 like any forgery; on again, a new secret', async () => {
    const off = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, { event_driven: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.event_feed, null);
    const revoked = await eventually(async () => {
      const r = await post(notificationPath, minioEvent('in/first.txt'));
      return r.status === 401 ? r : null;
    }, 10_000);
    assert.ok(revoked, 'the old secret stops working');
    assert.equal(await s.store.eventChannels.countDocuments({ sync_config_id: syncId }), 0);

    // Switched on again: a new secret.
    const on = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, { event_driven: true });
    assert.equal(on.status, 200);
    const fresh: string = on.body.event_feed.notification_path;
    assert.notEqual(fresh, notificationPath);
    assert.equal((await post(fresh, minioEvent('in/first.txt'))).status, 204);
    notificationPath = fresh;
  });

  it('rate-limits a client that keeps failing, without silencing a live channel', async () => {
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const r = await post(
        `/v1/notifications/s3/bsn_${randomBytes(32).toString('base64url')}`,
        minioEvent('in/y'),
      );
      if (r.status === 429) {
        limited++;
        assert.ok(r.headers.get('retry-after'));
      } else assert.equal(r.status, 401);
    }
    assert.ok(limited >= 5, `${limited} of 40 forged calls were rate-limited`);
    const live = await post(notificationPath, minioEvent('in/first.txt'));
    assert.equal(live.status, 204);
  });

  it('a deleted sync’s channel answers 401', async () => {
    await http(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${syncId}`);
    assert.equal(await s.store.eventChannels.countDocuments({ sync_config_id: syncId }), 0);
    assert.ok(
      await eventually(
        async () => (await post(notificationPath, minioEvent('in/first.txt'))).status === 401,
        10_000,
      ),
    );
  });
});
