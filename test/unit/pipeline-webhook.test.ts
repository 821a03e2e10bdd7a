// Unit tests for the webhook step (pipeline/steps/webhook.ts) against a real local node:http
// receiver: the body and headers sent, the signature (verified as a receiver would), and how each
// failure is classified (5xx/429/timeout/refused retryable; other 4xx and redirects not).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliver, signPayload, verifySignature } from '../../pipeline/steps/webhook';
import { steps, StepError, type DeliverStep, type Delivery } from '../../pipeline/steps';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = 'whsec_0123456789abcdef';

const delivery: Delivery = {
  deliveryId: 'dlv_batch1_col1_0',
  collectionId: 'col_1',
  batchId: 'batch_1',
  documents: [
    { document_id: 'doc_1', text: 'héllo', nested: { n: 1 } },
    { document_id: 'doc_2', text: null },
  ],
};

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function expectStepError(p: Promise<unknown>, retryable: boolean, pattern: RegExp): Promise<StepError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof StepError, `expected a StepError, got ${String(caught)}`);
  assert.equal(caught.retryable, retryable, caught.message);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes(SECRET), 'the secret leaked into the error');
  return caught;
}

describe('pipeline step webhook', () => {
  let server: Server;
  let base: string;
  const received: Received[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        received.push({
          method: req.method!,
          url: req.url!,
          headers: req.headers,
          body: Buffer.concat(parts).toString(),
        });
        const status = Number(/^\/status\/(\d+)/.exec(req.url!)?.[1] ?? 200);
        if (req.url === '/hang') return; // never answers
        if (req.url === '/echo-secret') {
          res
            .writeHead(500)
            .end(`bad request with token ${SECRET} and Authorization ${String(req.headers.authorization)}`);
          return;
        }
        if (status >= 300 && status < 400) res.setHeader('Location', `${base}/status/200`);
        res
          .writeHead(status, { 'Content-Type': 'text/plain' })
          .end(status === 200 ? 'ok' : `failure ${status}\n  detail`);
      });
    });
    base = `http://127.0.0.1:${await listen(server)}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  beforeEach(() => {
    received.length = 0;
  });

  it('POSTs the documents as JSON with delivery headers and a verifiable signature', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await deliver({ url: `${base}/hook?x=1`, secret: SECRET }, delivery);
    assert.equal(result.statusCode, 200);
    assert.ok(Number.isInteger(result.durationMs) && result.durationMs >= 0);
    assert.equal(received.length, 1);
    const r = received[0];
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hook?x=1');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['user-agent'], 'bucket-syncs');
    assert.equal(r.headers['x-bucketsyncs-delivery'], delivery.deliveryId);
    assert.deepEqual(JSON.parse(r.body), {
      delivery_id: delivery.deliveryId,
      batch_id: 'batch_1',
      collection_id: 'col_1',
      documents: delivery.documents,
    });
    const ts = r.headers['x-bucketsyncs-timestamp'] as string;
    assert.match(ts, /^\d+$/);
    assert.ok(Number(ts) >= before && Number(ts) <= Math.floor(Date.now() / 1000));
    const signature = r.headers['x-bucketsyncs-signature'] as string;
    assert.equal(signature, `sha256=${signPayload(SECRET, ts, r.body)}`);
    assert.equal(verifySignature(SECRET, ts, r.body, signature), true);
    assert.equal(verifySignature(SECRET, ts, Buffer.from(r.body), signature), true);
  });

  it('keeps the delivery id across attempts, each attempt signed', async () => {
    await deliver({ url: `${base}/hook`, secret: SECRET }, delivery);
    await deliver({ url: `${base}/hook`, secret: SECRET }, delivery);
    assert.equal(received.length, 2);
    for (const r of received) {
      assert.equal(r.headers['x-bucketsyncs-delivery'], delivery.deliveryId);
      const sig = r.headers['x-bucketsyncs-signature'] as string;
      assert.equal(
        verifySignature(SECRET, r.headers['x-bucketsyncs-timestamp'] as string, r.body, sig),
        true,
      );
    }
  });

  it('sends no signature without a secret, and the configured extra headers', async () => {
    await deliver(
      { url: `${base}/hook`, headers: { Authorization: 'Bearer abc123', 'X-Tenant': 't1' } },
      delivery,
    );
    const r = received[0];
    assert.equal(r.headers['x-bucketsyncs-signature'], undefined);
    assert.equal(r.headers.authorization, 'Bearer abc123');
    assert.equal(r.headers['x-tenant'], 't1');
  });

  it('verifySignature rejects a wrong secret, a changed body, a stale timestamp, a malformed header', () => {
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"a":1}';
    const good = `sha256=${signPayload(SECRET, ts, body)}`;
    assert.equal(verifySignature(SECRET, ts, body, good), true);
    assert.equal(verifySignature('another-secret', ts, body, good), false);
    assert.equal(verifySignature(SECRET, ts, '{"a":2}', good), false);
    assert.equal(verifySignature(SECRET, ts + 1, body, good), false);
    const old = ts - 301;
    assert.equal(verifySignature(SECRET, old, body, `sha256=${signPayload(SECRET, old, body)}`), false);
    assert.equal(verifySignature(SECRET, old, body, `sha256=${signPayload(SECRET, old, body)}`, 600), true);
    assert.equal(verifySignature(SECRET, 'abc', body, good), false);
    for (const header of [
      undefined,
      null,
      '',
      'sha256=',
      good.slice(0, -2),
      good.replace('sha256=', 'sha1='),
      `${good}00`,
    ])
      assert.equal(verifySignature(SECRET, ts, body, header), false, String(header));
  });

  it('classifies 500, 502, 503, 429 and 408 as retryable', async () => {
    for (const status of [500, 502, 503, 429, 408]) {
      const err = await expectStepError(
        deliver({ url: `${base}/status/${status}`, secret: SECRET }, delivery),
        true,
        new RegExp(`answered ${status}: failure ${status} detail$`),
      );
      assert.ok(!err.message.includes('/status/'), 'errors name the origin only');
    }
  });

  it('classifies 400, 401, 404 and 422 as not retryable', async () => {
    for (const status of [400, 401, 404, 422])
      await expectStepError(
        deliver({ url: `${base}/status/${status}` }, delivery),
        false,
        new RegExp(`answered ${status}`),
      );
  });

  it('does not follow redirects', async () => {
    await expectStepError(
      deliver({ url: `${base}/status/302` }, delivery),
      false,
      /answered 302.*redirects are not followed/,
    );
    assert.equal(received.length, 1);
  });

  it('times out a receiver that never answers, retryably', async () => {
    await expectStepError(
      deliver({ url: `${base}/hang`, secret: SECRET, timeout_seconds: 1 }, delivery),
      true,
      /timed out after 1s/,
    );
    assert.equal(received.length, 1);
  });

  it('treats a refused connection as retryable', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    await expectStepError(
      deliver({ url: `http://127.0.0.1:${port}/hook` }, delivery),
      true,
      /unreachable: ECONNREFUSED/,
    );
  });

  it('keeps the secret and header values out of errors, even when the receiver echoes them', async () => {
    const err = await expectStepError(
      deliver(
        { url: `${base}/echo-secret`, secret: SECRET, headers: { Authorization: 'Bearer tok-987654' } },
        delivery,
      ),
      true,
      /answered 500/,
    );
    assert.ok(!err.message.includes('tok-987654'));
    assert.match(err.message, /\[redacted\]/);
  });

  it('rejects documents that are not JSON-serialisable, non-retryably', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectStepError(
      deliver({ url: `${base}/hook` }, { ...delivery, documents: [cyclic] }),
      false,
      /not JSON-serialisable/,
    );
    assert.equal(received.length, 0);
  });

  it('stops at a cancelled signal with its reason', async () => {
    const controller = new AbortController();
    const pending = deliver({ url: `${base}/hang`, timeout_seconds: 60 }, delivery, controller.signal);
    while (received.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('activity cancelled'));
    await assert.rejects(pending, /activity cancelled/);
  });

  it('registry: a deliver step whose config is validated', async () => {
    const step = steps.webhook as DeliverStep;
    assert.equal(step.kind, 'deliver');
    const r = await step.deliver({ url: `${base}/hook` }, delivery);
    assert.equal(r.statusCode, 200);
    await expectStepError(
      step.deliver({ url: 'ftp://example.com' }, delivery),
      false,
      /invalid webhook config: url/,
    );
    await expectStepError(step.deliver({}, delivery), false, /invalid webhook config: url/);
  });
});
