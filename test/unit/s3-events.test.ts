// S3 event notifications (core/s3-events.ts): what a body names, SNS envelopes, which SQS queue URL a
// connection may read, and the Announcer's acknowledgement (lib/announcer.ts announceAndWait).
import assert from 'node:assert/strict';
import pino from 'pino';
import {
  parseS3Event,
  regionOfQueueUrl,
  s3IdsUnder,
  sqsMessageEvent,
  sqsQueueUrlProblem,
} from '../../core/s3-events';
import { Announcer } from '../../lib/announcer';

const record = (eventName: string | undefined, key: string, bucket = 'b') => ({
  ...(eventName ? { eventName } : {}),
  eventTime: '2026-12-01T12:00:00.000Z',
  s3: { bucket: { name: bucket }, object: { key } },
});

describe('S3 event notifications: parsing', () => {
  it('reads created and removed keys (form-encoded), AWS and MinIO event names, each id once', () => {
    const ev = parseS3Event({
      Records: [
        record('ObjectCreated:Put', 'in/a+b%2Bc.txt'),
        record('s3:ObjectRemoved:Delete', 'in/%C3%A9t%C3%A9.txt'),
        record('LifecycleExpiration:Delete', 'in/old.txt'),
        record('ObjectCreated:Copy', 'in/a+b%2Bc.txt'),
        record(undefined, 'in/no-name.txt'),
      ],
    });
    assert.deepEqual(ev, {
      ids: ['b/in/a b+c.txt', 'b/in/été.txt', 'b/in/old.txt', 'b/in/no-name.txt'],
      times: Array(5).fill(Date.parse('2026-12-01T12:00:00.000Z')),
      ignored: 0,
      test: false,
    });
  });

  it('ignores events that change nothing, and knows the test event', () => {
    const ev = parseS3Event({
      Records: [record('ObjectAccessed:Get', 'k'), record('ObjectTagging:Put', 'k')],
    });
    assert.deepEqual(ev?.ids, []);
    assert.equal(ev?.ignored, 2);
    assert.deepEqual(parseS3Event({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' }), {
      ids: [],
      times: [],
      ignored: 0,
      test: true,
    });
    assert.deepEqual(parseS3Event({ Key: 'b/k' })?.ids, ['b/k']); // MinIO's top-level form
  });

  it('refuses what is not an S3 event', () => {
    for (const body of [
      null,
      'x',
      [1],
      {},
      { Records: 'no' },
      { Records: [{}] },
      { Records: [record('ObjectCreated:Put', '')] },
      { Records: [record('ObjectCreated:Put', '%E0%A4%A')] },
      { Records: Array(1001).fill(record('ObjectCreated:Put', 'k')) },
    ])
      assert.equal(parseS3Event(body), null, JSON.stringify(body)?.slice(0, 80));
  });

  it('unwraps SNS notifications; a body that is not JSON is null', () => {
    const inner = { Records: [record('ObjectCreated:Put', 'k')] };
    assert.deepEqual(sqsMessageEvent(JSON.stringify(inner)), inner);
    assert.deepEqual(
      sqsMessageEvent(JSON.stringify({ Type: 'Notification', Message: JSON.stringify(inner) })),
      inner,
    );
    assert.equal(sqsMessageEvent('nope'), null);
    assert.equal(sqsMessageEvent(JSON.stringify({ Type: 'Notification', Message: '{bad' })), null);
    assert.equal(sqsMessageEvent(undefined), null);
  });

  it('keeps the ids under a source path as the s3 provider reads it', () => {
    const ids = ['b/in/a.txt', 'b/in/', 'b/inside.txt', 'b/in/sub/c.txt', 'c/in/a.txt', 'b/x.txt'];
    assert.deepEqual(s3IdsUnder('b/in', ids), ['b/in/a.txt', 'b/in/sub/c.txt']);
    assert.deepEqual(s3IdsUnder('/b/in/', ids), ['b/in/a.txt', 'b/in/sub/c.txt']);
    assert.deepEqual(s3IdsUnder('b', ids), ['b/in/a.txt', 'b/inside.txt', 'b/in/sub/c.txt', 'b/x.txt']);
  });
});

describe('S3 event notifications: which queue a connection may read', () => {
  it('AWS connections: AWS SQS queue URLs over https only', () => {
    assert.equal(sqsQueueUrlProblem('https://sqs.eu-west-1.amazonaws.com/123456789012/q', null), null);
    assert.equal(sqsQueueUrlProblem('https://eu-west-1.queue.amazonaws.com/123456789012/q', null), null);
    assert.equal(sqsQueueUrlProblem('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q', null), null);
    for (const bad of [
      'http://sqs.eu-west-1.amazonaws.com/123456789012/q',
      'https://evil.example/123456789012/q',
      'https://sqs.eu-west-1.amazonaws.com.evil.example/1/q',
      'https://sqs.eu-west-1.amazonaws.com/q',
      'https://sqs.eu-west-1.amazonaws.com/1/q?x=1',
      'https://user:pw@sqs.eu-west-1.amazonaws.com/1/q',
      'ftp://sqs.eu-west-1.amazonaws.com/1/q',
      'nope',
      `https://sqs.eu-west-1.amazonaws.com/1/${'q'.repeat(3000)}`,
    ])
      assert.ok(sqsQueueUrlProblem(bad, null), bad);
  });

  it('S3-compatible connections: the host of their endpoint_url only', () => {
    assert.equal(sqsQueueUrlProblem('http://127.0.0.1:4566/000000000000/q', 'http://127.0.0.1:4566'), null);
    assert.equal(sqsQueueUrlProblem('http://localstack:4567/1/q', 'localstack:4566'), null);
    assert.ok(sqsQueueUrlProblem('https://sqs.us-east-1.amazonaws.com/1/q', 'http://127.0.0.1:9000'));
    assert.ok(sqsQueueUrlProblem('http://10.0.0.1/1/q', 'http://127.0.0.1:9000'));
  });

  it('the region of an AWS queue URL', () => {
    assert.equal(regionOfQueueUrl('https://sqs.ap-south-2.amazonaws.com/1/q'), 'ap-south-2');
    assert.equal(regionOfQueueUrl('https://us-west-2.queue.amazonaws.com/1/q'), 'us-west-2');
    assert.equal(regionOfQueueUrl('http://127.0.0.1:4566/1/q'), null);
  });
});

describe('change feeds: the Announcer acknowledges', () => {
  const log = pino({ level: 'silent' });

  it('announceAndWait resolves true once the signal carrying the events is sent, false when it is lost', async () => {
    const sent: unknown[] = [];
    let fail = false;
    const a = new Announcer(
      async (_id, msg) => {
        if (fail) throw new Error('temporal down');
        sent.push(msg);
      },
      log,
      30,
    );
    const acks = [
      a.announceAndWait('s', ['x']),
      a.announceAndWait('s', ['y']),
      a.announceAndWait('t', ['z']),
    ];
    assert.deepEqual(await Promise.all(acks), [true, true, true]);
    assert.equal(sent.length, 2); // one per sync
    fail = true;
    assert.equal(await a.announceAndWait('s', ['w']), false);
    await a.close();
  });
});
