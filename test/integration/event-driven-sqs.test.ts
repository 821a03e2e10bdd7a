// Event-driven s3 syncs reading an SQS queue (issue 14, the AWS path), end to end on moto's server:
// its S3 is the sync's source and sends the bucket's event notifications to its SQS queue
// (PutBucketNotificationConfiguration with a QueueConfiguration, as on AWS); the worker long-polls the
// queue with the connection's credentials, announces the keys and deletes each message once
// announced. Polling is 900 s throughout, so what arrives within seconds came through the queue.
// Plus the queue reader on its own (worker/queue-feeds.ts): a message whose announcement failed
// stays on the queue and is announced again; malformed ones are deleted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import pino from 'pino';
import type { ChangesAnnounced } from '../../core/change-feed';
import { Announcer } from '../../lib/announcer';
import type { Store } from '../../store';
import { SecretBox } from '../../store/secrets';
import { QueueFeeds } from '../../worker/queue-feeds';
import { eventually, getSync, http, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startMoto, type Moto } from '../providers/fixtures/moto';

const BUCKET = 'feed';

async function makeQueue(sqs: SQSClient, name: string) {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: attrs.Attributes!.QueueArn! };
}

/** Messages on the queue, visible or being handled. */
async function onQueue(sqs: SQSClient, url: string): Promise<number> {
  const a = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** An S3 event notification as S3 sends it to SQS (keys form-encoded). */
function s3Event(eventName: string, key: string) {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        eventTime: new Date().toISOString(),
        eventName,
        s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%20/g, '+') } },
      },
    ],
  });
}

describe('event-driven s3 syncs (S3 -> SQS queue read by the worker, on moto)', function () {
  this.timeout(120_000);
  let s: Stack;
  let moto: Moto;
  let queue: { url: string; arn: string };
  let bucketId: string;
  let syncId: string;
  let connectionId: string;

  const keysOf = async () =>
    (await s.store.objects.find({ sync_config_id: syncId }).toArray()).map((o) => o.source_object_id).sort();
  const put = (key: string) =>
    moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` }));

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    moto = await startMoto();
    queue = await makeQueue(moto.sqs, `feed-${randomBytes(4).toString('hex')}`);
    await moto.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await put('in/first.txt');
    // As on AWS: the bucket's create and remove events under in/ go to the queue (S3 sends an
    // s3:TestEvent message first, which the worker deletes without a pass).
    await moto.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: BUCKET,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: queue.arn,
              Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
            },
          ],
        },
      }),
    );
    const bucket = await http(s, 'POST', '/v1/buckets', {
      bucket_name: `sqs-events-${randomBytes(3).toString('hex')}`,
    });
    bucketId = bucket.body.bucket_id;
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `moto-${randomBytes(3).toString('hex')}`,
      provider_type: 's3',
      provider_config: moto.connection(),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    connectionId = conn.body.connection_id;
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: `${BUCKET}/in`,
      polling_interval_seconds: 900,
      event_driven: true,
      event_feed: { sqs_queue_url: queue.url },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    syncId = created.body.sync_config_id;
    assert.equal(created.body.event_feed.kind, 'bucket_notifications');
    assert.equal(created.body.event_feed.sqs_queue_url, queue.url);
    await waitForSync(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && !!x.next_sync_at);
  });
  after(async () => {
    // The sync goes first, so the worker stops reading the queue before its server stops.
    if (syncId) await http(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${syncId}`);
    await new Promise((r) => setTimeout(r, 4_000));
    await moto?.stop();
  });

  it('shows the queue in GET, and the test event S3 sent is deleted from the queue', async () => {
    const got = await getSync(s, bucketId, syncId);
    assert.equal(got.event_feed.sqs_queue_url, queue.url);
    assert.deepEqual(await keysOf(), [`${BUCKET}/in/first.txt`]);
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, queue.url)) === 0, 20_000));
  });

  it('registers objects put into S3 and deletes removed ones, through the queue, without a poll', async () => {
    const runsBefore = (await getSync(s, bucketId, syncId)).sync_run_counter;
    for (const k of ['in/a.txt', 'in/sub dir/b+c.txt', 'outside/x.txt']) await put(k);
    assert.ok(
      await eventually(async () => (await keysOf()).length === 3, 20_000),
      `objects: ${JSON.stringify(await keysOf())}`,
    );
    assert.deepEqual(await keysOf(), [
      `${BUCKET}/in/a.txt`,
      `${BUCKET}/in/first.txt`,
      `${BUCKET}/in/sub dir/b+c.txt`,
    ]);

    await moto.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'in/a.txt' }));
    assert.ok(await eventually(async () => (await keysOf()).length === 2, 20_000));
    assert.deepEqual(await keysOf(), [`${BUCKET}/in/first.txt`, `${BUCKET}/in/sub dir/b+c.txt`]);
    // Every message was deleted once announced.
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, queue.url)) === 0, 20_000));
    const sync = await waitForSync(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(sync.sync_run_counter > runsBefore);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('deletes malformed messages and keeps reading', async () => {
    for (const body of [
      'not json',
      '{"Records":[{"s3":{"bucket":{}}}]}',
      '[1,2]',
      '{"Records":[{"s3":{"bucket":{"name":"feed"},"object":{"key":"%E0%A4%A"}}}]}',
    ])
      await moto.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    await put('in/after-junk.txt');
    assert.ok(
      await eventually(async () => (await keysOf()).includes(`${BUCKET}/in/after-junk.txt`), 20_000),
      `objects: ${JSON.stringify(await keysOf())}`,
    );
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, queue.url)) === 0, 20_000));
  });

  it('the OpenAPI document describes event_feed in requests and responses', async () => {
    const doc = (await http(s, 'GET', '/openapi.json')).body;
    const schemas = doc.components.schemas;
    const text = JSON.stringify(schemas.SyncCreateRequest.properties.event_feed);
    assert.match(text, /sqs_queue_url/);
    assert.match(JSON.stringify(schemas.SyncUpdateRequest.properties.event_feed), /sqs_queue_url/);
    assert.match(JSON.stringify(schemas.SyncConfigurationModel.properties.event_feed), /sqs_queue_url/);
  });

  it('refuses a queue the sync cannot read: 422 naming the field', async () => {
    const body = {
      connection_id: connectionId,
      source_path: `${BUCKET}/in`,
      polling_interval_seconds: 900,
    };
    const cases: [Record<string, unknown>, string][] = [
      // No event_driven: nothing would read it.
      [{ event_feed: { sqs_queue_url: queue.url } }, 'body.event_feed'],
      // Another host than the connection's endpoint: its credentials would go there.
      [
        {
          event_driven: true,
          event_feed: { sqs_queue_url: 'https://sqs.us-east-1.amazonaws.com/123456789012/q' },
        },
        'body.event_feed.sqs_queue_url',
      ],
      [{ event_driven: true, event_feed: { sqs_queue_url: 'not a url' } }, 'body.event_feed.sqs_queue_url'],
      [
        { event_driven: true, event_feed: { sqs_queue_url: `${moto.url}/just-a-name` } },
        'body.event_feed.sqs_queue_url',
      ],
      [{ event_driven: true, event_feed: { queue: queue.url } }, 'body.event_feed.queue'],
    ];
    for (const [extra, loc] of cases) {
      const r = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, { ...body, ...extra });
      assert.equal(r.status, 422, `${JSON.stringify(extra)}: ${JSON.stringify(r.body)}`);
      const locs = r.body.error.details.issues.map((i: { loc: string[] }) => i.loc.join('.'));
      assert.ok(locs.includes(loc), `${loc} in ${JSON.stringify(r.body)}`);
    }
    // PATCH on a sync that does not listen.
    const quiet = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, body);
    assert.equal(quiet.status, 200, JSON.stringify(quiet.body));
    const r = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${quiet.body.sync_config_id}`, {
      event_feed: { sqs_queue_url: queue.url },
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /body\.event_feed/);
    await http(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${quiet.body.sync_config_id}`);
  });

  it('PATCH event_feed null stops reading the queue; PATCH it again and the queue is read again', async () => {
    const off = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, { event_feed: null });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.event_driven, true);
    assert.equal(off.body.event_feed.sqs_queue_url, undefined);
    // The reader stops within a reconcile round (3 s), aborting its long poll; but the server still
    // holds that poll open (20 s), and a message arriving meanwhile would go to it and stay hidden for
    // its visibility timeout (SQS does the same). Past both, messages stay on the queue.
    await new Promise((r) => setTimeout(r, 25_000));
    await put('in/while-off.txt');
    await new Promise((r) => setTimeout(r, 4_000));
    assert.ok(!(await keysOf()).includes(`${BUCKET}/in/while-off.txt`));
    const visible = await moto.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    assert.equal(visible.Attributes?.ApproximateNumberOfMessages, '1');

    const on = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, {
      event_feed: { sqs_queue_url: queue.url },
    });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.event_feed.sqs_queue_url, queue.url);
    // What waited on the queue is read now.
    assert.ok(await eventually(async () => (await keysOf()).includes(`${BUCKET}/in/while-off.txt`), 20_000));
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, queue.url)) === 0, 20_000));
  });
});

describe('the SQS queue reader (worker/queue-feeds.ts) against moto', function () {
  this.timeout(120_000);
  let moto: Moto;
  let feeds: QueueFeeds | null = null;
  before(async function () {
    this.timeout(600_000);
    moto = await startMoto();
  });
  after(async () => {
    await feeds?.close();
    await moto?.stop();
  });

  it('deletes a message only once its announcement was delivered; a failed one comes back', async () => {
    const q = await makeQueue(moto.sqs, 'reader');
    const secrets = new SecretBox(randomBytes(32));
    const conn = moto.connection();
    const { credentials, ...providerConfig } = conn;
    // The two reads a reconcile makes, of one event-driven s3 sync naming the queue.
    const store = {
      syncs: {
        find: () => ({
          toArray: async () => [
            {
              sync_config_id: 'sync_q',
              connection_id: 'conn_q',
              internal_id: 'org',
              source_path: `${BUCKET}/in`,
              event_feed: { kind: 'bucket_notifications', channel_id: null, sqs_queue_url: q.url },
            },
          ],
        }),
      },
      connections: {
        find: () => ({
          toArray: async () => [
            {
              connection_id: 'conn_q',
              internal_id: 'org',
              provider_type: 's3',
              status: 'ACTIVE',
              provider_config: providerConfig,
              credentials_sealed: secrets.seal(credentials),
            },
          ],
        }),
      },
    } as unknown as Store;
    const sent: ChangesAnnounced[] = [];
    let failures = 1;
    const announcer = new Announcer(
      async (id, msg) => {
        assert.equal(id, 'sync_q');
        if (failures-- > 0) throw new Error('temporal down');
        sent.push(msg);
      },
      pino({ level: 'silent' }),
      50,
    );
    feeds = new QueueFeeds(store, secrets, announcer, pino({ level: 'silent' }), {
      waitSeconds: 1,
      visibilityTimeoutSeconds: 2,
    });
    await feeds.reconcile();
    assert.deepEqual(feeds.polled(), [{ queueUrl: q.url, syncIds: ['sync_q'] }]);

    await moto.sqs.send(
      new SendMessageCommand({ QueueUrl: q.url, MessageBody: s3Event('ObjectCreated:Put', 'in/a b.txt') }),
    );
    // The first signal fails: the message stays, comes back after its visibility timeout, and the
    // second delivery is announced and deleted.
    assert.ok(await eventually(async () => sent.length > 0, 30_000), 'announced again after the failure');
    assert.deepEqual(sent[0], { count: 1, keys: [`${BUCKET}/in/a b.txt`] });
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, q.url)) === 0, 20_000));
    assert.equal(feeds.stats.kept, 1);
    assert.equal(feeds.stats.deleted, 1);

    // Only what is under the sync's path is announced; other events, a test event, an SNS envelope,
    // and junk.
    sent.length = 0;
    const bodies = [
      s3Event('ObjectRemoved:Delete', 'elsewhere/x.txt'),
      s3Event('ObjectAccessed:Get', 'in/read.txt'),
      JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: BUCKET }),
      JSON.stringify({ Type: 'Notification', Message: s3Event('ObjectRemoved:Delete', 'in/via-sns.txt') }),
      '{"no":"records"}',
    ];
    for (const b of bodies) await moto.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: b }));
    assert.ok(await eventually(async () => (await onQueue(moto.sqs, q.url)) === 0, 20_000));
    await announcer.close();
    assert.deepEqual(sent, [{ count: 1, keys: [`${BUCKET}/in/via-sns.txt`] }]);
    assert.equal(feeds.stats.malformed, 1);
    assert.equal(feeds.stats.deleted, 1 + bodies.length);

    await feeds.close();
    assert.deepEqual(feeds.polled(), []);
    feeds = null;
  });
});
