// Collections, documents, batches and tasks over HTTP on the real servers: every endpoint's success
// and error paths (the happy path from a sync to documents is pipeline.test.ts). Batches hold still
// where a test needs them to: IN_PROGRESS behind a webhook receiver that never answers, PENDING on a
// lane no worker polls (until one is started).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  batchModel,
  collectionModel,
  deleteModel,
  documentModel,
  failedDocumentModel,
  listModel,
  taskModel,
} from '../../api/responses';
import { createSyncWorker, type WorkerHandle } from '../../worker/worker';
import { eventually } from '../helpers';
import { lane, stack, workflowBundle, type Lane, type Stack } from '../setup/stack';
import { api, assertError, assertModel, bucket, tenant, unique, type Who } from './api-helpers';

const collectionList = listModel(collectionModel, 'TestCollection');
const documentList = listModel(documentModel, 'TestDocument');
const batchList = listModel(batchModel, 'TestBatch');
const taskList = listModel(taskModel, 'TestTask');
const failedList = listModel(failedDocumentModel, 'TestFailedDocument');
const TERMINAL = ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED'];

/** A webhook receiver that answers 200, or holds requests open while `hold` is set. */
class Receiver {
  server!: Server;
  url = '';
  hold = false;
  hits = 0;
  private held: ServerResponse[] = [];

  async start() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        this.hits++;
        if (this.hold) this.held.push(res);
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop() {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

async function collection(s: Stack, body: Record<string, unknown>, who?: Who): Promise<string> {
  const r = await api(s, 'POST', '/v1/collections', body, { who });
  assert.equal(r.status, 200, r.text);
  return r.body.collection_id;
}

const fromBucket = (bucketId: string, pipeline: unknown[] = [{ step: 'text_extract' }]) => ({
  collection_name: unique('col'),
  source: { type: 'bucket', bucket_ids: [bucketId] },
  pipeline,
});

async function objects(s: Stack, bucketId: string, n: number, who?: Who): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/objects`,
      { blobs: [{ property: 'content', type: 'text', data: `text ${i}` }], metadata: { i } },
      { who },
    );
    assert.equal(r.status, 200, r.text);
    ids.push(r.body.object_id);
  }
  return ids;
}

async function draft(s: Stack, bucketId: string, objectIds: string[], who?: Who): Promise<any> {
  const r = await api(s, 'POST', `/v1/buckets/${bucketId}/batches`, { object_ids: objectIds }, { who });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** Polls a resource until `pred` holds; fails with the last body. */
async function until(s: Stack, p: string, pred: (x: any) => boolean, who?: Who, ms = 90_000): Promise<any> {
  let last: any = null;
  const ok = await eventually(async () => {
    const r = await api(s, 'GET', p, undefined, { who });
    last = r.body;
    return r.status === 200 && pred(last);
  }, ms);
  assert.ok(ok, `${p} never got there; last: ${JSON.stringify(last)}`);
  return last;
}

describe('API: collections', function () {
  this.timeout(120_000);
  let s: Stack;
  let org: string;
  let own: Who;
  let bucketId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    org = unique('api-col-org');
    own = await tenant(s, org, 'main');
    bucketId = await bucket(s, own);
  });

  it('creates a collection reading from a bucket (defaults filled in) and one reading from it', async () => {
    const r = await api(
      s,
      'POST',
      '/v1/collections',
      {
        collection_name: 'text',
        source: { type: 'bucket', bucket_ids: [bucketId] },
        pipeline: [{ step: 'text_extract' }, { step: 'file_metadata', config: { sniff_bytes: 1024 } }],
      },
      { who: own },
    );
    assert.equal(r.status, 200, r.text);
    assertModel(collectionModel, r.body);
    assert.match(r.body.collection_id, /^col_/);
    assert.equal(r.body.collection_name, 'text');
    assert.equal(r.body.description, null);
    assert.equal(r.body.namespace_id, own.ns);
    assert.deepEqual(r.body.metadata, {});
    assert.deepEqual(r.body.source, { type: 'bucket', bucket_ids: [bucketId] });
    assert.deepEqual(r.body.pipeline, [
      { step: 'text_extract', config: { max_chars: 1_000_000 } },
      { step: 'file_metadata', config: { sniff_bytes: 1024 } },
    ]);
    assert.equal(r.body._id, undefined);
    assert.equal(r.body.internal_id, undefined);
    assert.equal(r.body.secrets_sealed, undefined);

    const down = await api(
      s,
      'POST',
      '/v1/collections',
      {
        collection_name: 'downstream',
        description: 'reads text',
        source: { type: 'collection', collection_ids: [r.body.collection_id] },
        pipeline: [
          {
            step: 'webhook',
            config: {
              url: 'https://example.com/hook',
              secret: 'whsec-0123456789',
              headers: { 'X-Team': 'a' },
            },
          },
        ],
        metadata: { team: 'data' },
      },
      { who: own },
    );
    assert.equal(down.status, 200, down.text);
    assertModel(collectionModel, down.body);
    assert.equal(down.body.description, 'reads text');
    assert.deepEqual(down.body.source, { type: 'collection', collection_ids: [r.body.collection_id] });
    assert.deepEqual(down.body.pipeline[0].config, {
      url: 'https://example.com/hook',
      secret: '[redacted]',
      timeout_seconds: 10,
      retries: 3,
      headers: { 'X-Team': '[redacted]' }, // header values are sealed like the secret
    });
    assert.deepEqual(down.body.metadata, { team: 'data' });
    const got = await api(s, 'GET', `/v1/collections/${down.body.collection_id}`, undefined, { who: own });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body, down.body);
  });

  it('404 for a source bucket or collection that is missing or in another namespace', async () => {
    const other = await tenant(s, org, 'other');
    const otherBucket = await bucket(s, other);
    const otherCol = await collection(s, fromBucket(otherBucket), other);
    const mine = await collection(s, fromBucket(bucketId), own);
    for (const source of [
      { type: 'bucket', bucket_ids: ['bkt_missing'] },
      { type: 'bucket', bucket_ids: [otherBucket] },
      { type: 'bucket', bucket_ids: [bucketId, otherBucket] },
      { type: 'collection', collection_ids: ['col_missing'] },
      { type: 'collection', collection_ids: [otherCol] },
      { type: 'collection', collection_ids: [mine, otherCol] },
    ]) {
      const r = await api(
        s,
        'POST',
        '/v1/collections',
        { collection_name: 'x', source, pipeline: [{ step: 'text_extract' }] },
        { who: own },
      );
      assertError(r, 404, 'NotFoundError');
    }
    // A bucket id given as a collection and the reverse: not found either.
    assertError(
      await api(
        s,
        'POST',
        '/v1/collections',
        {
          collection_name: 'x',
          source: { type: 'collection', collection_ids: [bucketId] },
          pipeline: [{ step: 'text_extract' }],
        },
        { who: own },
      ),
      404,
    );
    assertError(
      await api(
        s,
        'POST',
        '/v1/collections',
        {
          collection_name: 'x',
          source: { type: 'bucket', bucket_ids: [mine] },
          pipeline: [{ step: 'text_extract' }],
        },
        { who: own },
      ),
      404,
    );
    // The other namespace's collection is unknown here, and was not touched.
    assertError(await api(s, 'GET', `/v1/collections/${otherCol}`, undefined, { who: own }), 404);
    assert.equal((await api(s, 'GET', `/v1/collections/${otherCol}`, undefined, { who: other })).status, 200);
  });

  it('422 for bad bodies, naming the field', async () => {
    const ok = {
      collection_name: 'v',
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [{ step: 'text_extract' }],
    };
    const hook = (config: Record<string, unknown>) => ({
      ...ok,
      pipeline: [{ step: 'webhook', config: { url: 'https://example.com/h', ...config } }],
    });
    const cases: [unknown, (string | number)[]][] = [
      // the pipeline
      [{ ...ok, pipeline: [{ step: 'ocr' }] }, ['body', 'pipeline', 0, 'step']],
      [{ ...ok, pipeline: [{ config: {} }] }, ['body', 'pipeline', 0, 'step']],
      [{ ...ok, pipeline: [] }, ['body', 'pipeline']],
      [
        { ...ok, pipeline: Array.from({ length: 11 }, () => ({ step: 'text_extract' })) },
        ['body', 'pipeline'],
      ],
      [{ ...ok, pipeline: { step: 'text_extract' } }, ['body', 'pipeline']],
      [{ ...ok, pipeline: [{ step: 'text_extract', extra: 1 }] }, ['body', 'pipeline', 0, 'extra']],
      [
        { ...ok, pipeline: [{ step: 'text_extract', config: { max_chars: 1, foo: 1 } }] },
        ['body', 'pipeline', 0, 'config', 'foo'],
      ],
      [
        { ...ok, pipeline: [{ step: 'text_extract', config: { max_chars: 0 } }] },
        ['body', 'pipeline', 0, 'config', 'max_chars'],
      ],
      [
        { ...ok, pipeline: [{ step: 'file_metadata', config: { sniff_bytes: 100 } }] },
        ['body', 'pipeline', 0, 'config', 'sniff_bytes'],
      ],
      // webhooks
      [{ ...ok, pipeline: [{ step: 'webhook' }] }, ['body', 'pipeline', 0, 'config', 'url']],
      [hook({ url: 'not a url' }), ['body', 'pipeline', 0, 'config', 'url']],
      [hook({ url: 'ftp://example.com/h' }), ['body', 'pipeline', 0, 'config', 'url']],
      [hook({ url: `https://example.com/${'x'.repeat(2100)}` }), ['body', 'pipeline', 0, 'config', 'url']],
      [hook({ retries: 11 }), ['body', 'pipeline', 0, 'config', 'retries']],
      [hook({ retries: -1 }), ['body', 'pipeline', 0, 'config', 'retries']],
      [hook({ retries: 1.5 }), ['body', 'pipeline', 0, 'config', 'retries']],
      [hook({ retries: '3' }), ['body', 'pipeline', 0, 'config', 'retries']],
      [hook({ timeout_seconds: 0 }), ['body', 'pipeline', 0, 'config', 'timeout_seconds']],
      [hook({ timeout_seconds: 61 }), ['body', 'pipeline', 0, 'config', 'timeout_seconds']],
      [hook({ secret: 'short' }), ['body', 'pipeline', 0, 'config', 'secret']],
      [hook({ secret: 'x'.repeat(257) }), ['body', 'pipeline', 0, 'config', 'secret']],
      [hook({ method: 'PUT' }), ['body', 'pipeline', 0, 'config', 'method']],
      [hook({ headers: { 'X-A': '1', 'x-a': '2' } }), ['body', 'pipeline', 0, 'config', 'headers']],
      [
        hook({ headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])) }),
        ['body', 'pipeline', 0, 'config', 'headers'],
      ],
      [hook({ headers: { 'X-A': 'a\r\nInjected: 1' } }), ['body', 'pipeline', 0, 'config', 'headers', 'X-A']],
      [hook({ headers: { 'X-A': 5 } }), ['body', 'pipeline', 0, 'config', 'headers', 'X-A']],
      // the rest of the body
      [{ ...ok, color: 'red' }, ['body', 'color']],
      [{ ...ok, collection_id: 'col_mine' }, ['body', 'collection_id']],
      [{ ...ok, collection_name: '' }, ['body', 'collection_name']],
      [{ ...ok, collection_name: 'x'.repeat(101) }, ['body', 'collection_name']],
      [{ source: ok.source, pipeline: ok.pipeline }, ['body', 'collection_name']],
      [{ ...ok, source: undefined }, ['body', 'source']],
      [{ ...ok, pipeline: undefined }, ['body', 'pipeline']],
      [{ ...ok, source: { type: 'folder', bucket_ids: [bucketId] } }, ['body', 'source', 'type']],
      [{ ...ok, source: { type: 'bucket', bucket_ids: [] } }, ['body', 'source', 'bucket_ids']],
      [{ ...ok, source: { type: 'bucket', bucket_ids: bucketId } }, ['body', 'source', 'bucket_ids']],
      [
        { ...ok, source: { type: 'bucket', bucket_ids: Array.from({ length: 21 }, (_, i) => `bkt_${i}`) } },
        ['body', 'source', 'bucket_ids'],
      ],
      [{ ...ok, source: { type: 'collection', bucket_ids: [bucketId] } }, ['body', 'source', 'bucket_ids']],
      [{ ...ok, source: { type: 'bucket', bucket_ids: [bucketId], x: 1 } }, ['body', 'source', 'x']],
      [{ ...ok, metadata: { 'a.b': 1 } }, ['body', 'metadata', 'a.b']],
    ];
    const count = async () =>
      (await api(s, 'GET', '/v1/collections?include_total=true', undefined, { who: own })).body.total;
    const before = await count();
    for (const [body, loc] of cases) {
      const r = await api(s, 'POST', '/v1/collections', body, { who: own });
      assertError(r, 422, 'ValidationError', loc);
    }
    // Reserved and malformed header names are refused too (wherever the issue is placed).
    for (const headers of [
      { 'Content-Type': 'text/plain' },
      { host: 'evil' },
      { 'X-BucketSyncs-Signature': 'forged' },
      { 'bad header': 'v' },
    ])
      assertError(
        await api(s, 'POST', '/v1/collections', hook({ headers }), { who: own }),
        422,
        'ValidationError',
      );
    assertError(await api(s, 'POST', '/v1/collections', undefined, { who: own }), 422, 'ValidationError', [
      'body',
    ]);
    // Ten steps is the limit, not over it; a step may repeat.
    const ten = await api(
      s,
      'POST',
      '/v1/collections',
      { ...ok, pipeline: Array.from({ length: 10 }, () => ({ step: 'text_extract' })) },
      { who: own },
    );
    assert.equal(ten.status, 200, ten.text);
    assert.equal(ten.body.pipeline.length, 10);
    // Nothing was created by the refusals: only the ten-step collection is new.
    assert.equal(await count(), before + 1);
  });

  it('lists with GET and POST /list: collection_name and bucket_id filters, pagination', async () => {
    const lister = await tenant(s, org, unique('lists'));
    const b1 = await bucket(s, lister);
    const b2 = await bucket(s, lister);
    const one = await collection(s, { ...fromBucket(b1), collection_name: 'Alpha-one' }, lister);
    const two = await collection(s, { ...fromBucket(b2), collection_name: 'alpha-two' }, lister);
    const both = await collection(
      s,
      { ...fromBucket(b1), collection_name: 'beta', source: { type: 'bucket', bucket_ids: [b1, b2] } },
      lister,
    );
    const down = await collection(
      s,
      {
        collection_name: 'gamma.*',
        source: { type: 'collection', collection_ids: [one] },
        pipeline: [{ step: 'file_metadata' }],
      },
      lister,
    );
    const ids = (r: any) => r.body.results.map((c: any) => c.collection_id).sort();

    const all = await api(s, 'GET', '/v1/collections?include_total=true', undefined, { who: lister });
    assert.equal(all.status, 200, all.text);
    assertModel(collectionList, all.body);
    assert.equal(all.body.total, 4);
    assert.deepEqual(ids(all), [one, two, both, down].sort());
    const posted = await api(s, 'POST', '/v1/collections/list', undefined, { who: lister });
    assert.equal(posted.status, 200, posted.text);
    assert.deepEqual(ids(posted), ids(all));

    const list = (body: unknown, q = '') => api(s, 'POST', `/v1/collections/list${q}`, body, { who: lister });
    assert.deepEqual(ids(await list({ collection_name: 'ALPHA' })), [one, two].sort());
    assert.deepEqual(ids(await list({ collection_name: 'a-t' })), [two]);
    assert.deepEqual(ids(await list({ collection_name: 'gamma.*' })), [down]);
    assert.deepEqual(ids(await list({ collection_name: '^a' })), [], 'a name is matched literally');
    assert.deepEqual(ids(await list({ bucket_id: b1 })), [one, both].sort());
    assert.deepEqual(ids(await list({ bucket_id: b2 })), [two, both].sort());
    assert.deepEqual(ids(await list({ bucket_id: b1, collection_name: 'beta' })), [both]);
    assert.deepEqual(ids(await list({ bucket_id: 'bkt_missing' })), []);
    assert.deepEqual(ids(await list({ bucket_id: bucketId })), [], 'another namespace’s bucket');

    const p1 = await list({}, '?limit=3');
    assert.equal(p1.body.results.length, 3);
    assert.equal(p1.body.pagination.next_page, '2');
    assert.equal(typeof p1.body.pagination.next_cursor, 'string');
    const p2 = await list({}, `?limit=3&cursor=${p1.body.pagination.next_cursor}`);
    assert.equal(p2.body.results.length, 1);
    assert.equal(p2.body.pagination.next_cursor, null);
    assert.deepEqual([...ids(p1), ...ids(p2)].sort(), ids(all));
    const off = await api(s, 'GET', '/v1/collections?limit=2&offset=2&include_total=1', undefined, {
      who: lister,
    });
    assert.equal(off.body.pagination.page, 2);
    assert.equal(off.body.pagination.total_pages, 2);
    assert.equal(off.body.pagination.previous_page, '1');

    assertError(await list({ nope: 1 }), 422, 'ValidationError', ['body', 'nope']);
    assertError(await list({ collection_name: 5 }), 422, 'ValidationError', ['body', 'collection_name']);
    assertError(await list({ bucket_id: '' }), 422, 'ValidationError', ['body', 'bucket_id']);
    assertError(await list({ bucket_id: { $ne: null } }), 422, 'ValidationError', [
      'body',
      'bucket_id',
      '$ne',
    ]);
    assertError(await list({ bucket_id: ['x'] }), 422, 'ValidationError', ['body', 'bucket_id']);
    assertError(await list({}, '?limit=0'), 422, 'ValidationError', ['query', 'limit']);
    assertError(
      await api(s, 'GET', '/v1/collections?cursor=garbage', undefined, { who: lister }),
      422,
      'ValidationError',
      ['query', 'cursor'],
    );
  });

  it('gets and deletes; 404 for unknown ids; DELETE is 409 while another collection reads from it', async () => {
    const up = await collection(s, fromBucket(bucketId), own);
    const down = await collection(
      s,
      {
        collection_name: 'reads-up',
        source: { type: 'collection', collection_ids: [up] },
        pipeline: [{ step: 'file_metadata' }],
      },
      own,
    );
    const g = await api(s, 'GET', `/v1/collections/${up}`, undefined, { who: own });
    assert.equal(g.status, 200, g.text);
    assertModel(collectionModel, g.body);
    assert.equal(g.body.collection_id, up);
    assertError(
      await api(s, 'GET', '/v1/collections/col_missing', undefined, { who: own }),
      404,
      'NotFoundError',
    );
    assertError(
      await api(s, 'DELETE', '/v1/collections/col_missing', undefined, { who: own }),
      404,
      'NotFoundError',
    );

    const refused = await api(s, 'DELETE', `/v1/collections/${up}`, undefined, { who: own });
    assertError(refused, 409, 'ConflictError');
    assert.deepEqual(refused.body.error.details.collection_ids, [down]);
    assert.equal((await api(s, 'GET', `/v1/collections/${up}`, undefined, { who: own })).status, 200);

    const d1 = await api(s, 'DELETE', `/v1/collections/${down}`, undefined, { who: own });
    assert.equal(d1.status, 200, d1.text);
    assertModel(deleteModel, d1.body);
    const d2 = await api(s, 'DELETE', `/v1/collections/${up}`, undefined, { who: own });
    assert.equal(d2.status, 200, d2.text);
    assertModel(deleteModel, d2.body);
    assertError(await api(s, 'GET', `/v1/collections/${up}`, undefined, { who: own }), 404, 'NotFoundError');
    assertError(
      await api(s, 'DELETE', `/v1/collections/${up}`, undefined, { who: own }),
      404,
      'NotFoundError',
    );
    assertError(await api(s, 'GET', `/v1/collections/${up}/documents`, undefined, { who: own }), 404);
  });

  it('a bucket that a collection reads from cannot be deleted (409) until the collection is gone', async () => {
    const b = await bucket(s, own);
    const c = await collection(s, fromBucket(b), own);
    const refused = await api(s, 'DELETE', `/v1/buckets/${b}`, undefined, { who: own });
    assertError(refused, 409, 'ConflictError');
    assert.deepEqual(refused.body.error.details.collection_ids, [c]);
    assert.equal((await api(s, 'DELETE', `/v1/collections/${c}`, undefined, { who: own })).status, 200);
    assert.equal((await api(s, 'DELETE', `/v1/buckets/${b}`, undefined, { who: own })).status, 200);
  });

  it('webhook header values are sealed like the secret: every response shows "[redacted]"', async () => {
    const token = 'Bearer hdr-token-5c2e7a9b41';
    const r = await api(
      s,
      'POST',
      '/v1/collections',
      {
        collection_name: 'with-headers',
        source: { type: 'bucket', bucket_ids: [bucketId] },
        pipeline: [
          { step: 'webhook', config: { url: 'http://127.0.0.1:9/hook', headers: { Authorization: token } } },
        ],
      },
      { who: own },
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.pipeline[0].config.headers, { Authorization: '[redacted]' });
    assert.equal(r.body.pipeline[0].config.secret, undefined, 'no secret was given');
    const g = await api(s, 'GET', `/v1/collections/${r.body.collection_id}`, undefined, { who: own });
    assert.deepEqual(g.body.pipeline[0].config.headers, { Authorization: '[redacted]' });
    assert.doesNotMatch(g.text, /hdr-token/);
    const stored = await s.store.collections.findOne({ collection_id: r.body.collection_id });
    assert.doesNotMatch(JSON.stringify(stored), /hdr-token/, 'not stored in plain');
  });

  it('documents: listed and read one by one after a batch; filters; 404s', async () => {
    const b = await bucket(s, own);
    const col = await collection(s, fromBucket(b), own);
    const other = await collection(s, fromBucket(b, [{ step: 'file_metadata' }]), own);
    const docs = (body: unknown, q = '') =>
      api(s, 'POST', `/v1/collections/${col}/documents/list${q}`, body, { who: own });

    const empty = await api(s, 'GET', `/v1/collections/${col}/documents?include_total=true`, undefined, {
      who: own,
    });
    assert.equal(empty.status, 200, empty.text);
    assertModel(documentList, empty.body);
    assert.equal(empty.body.total, 0);

    const [o1, o2] = await objects(s, b, 2, own);
    const batch = await draft(s, b, [o1, o2], own);
    const task = await api(s, 'POST', `/v1/buckets/${b}/batches/${batch.batch_id}/submit`, undefined, {
      who: own,
    });
    assert.equal(task.status, 200, task.text);
    const done = await until(s, `/v1/tasks/${task.body.task_id}`, (t) => TERMINAL.includes(t.status), own);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.deepEqual(done.outputs, { documents_completed: 4, documents_failed: 0 });
    // An object's document_count: one document per collection that processed it.
    const countOf = async (o: string) =>
      (await api(s, 'GET', `/v1/buckets/${b}/objects/${o}`, undefined, { who: own })).body.document_count;
    assert.deepEqual([await countOf(o1), await countOf(o2)], [2, 2]);

    const all = await api(s, 'GET', `/v1/collections/${col}/documents?include_total=true`, undefined, {
      who: own,
    });
    assertModel(documentList, all.body);
    assert.equal(all.body.total, 2);
    assert.deepEqual(all.body.results.map((d: any) => d.object_id).sort(), [o1, o2].sort());
    for (const d of all.body.results) {
      assert.equal(d.collection_id, col);
      assert.equal(d.bucket_id, b);
      assert.equal(d.batch_id, batch.batch_id);
      assert.equal(d.status, 'COMPLETED');
      assert.equal(typeof d.text_extract, 'object', 'the step’s output is a top-level field');
      assert.equal(d._id, undefined);
      assert.equal(d.internal_id, undefined);
    }
    const byObject = await docs({ object_id: o1 });
    assert.deepEqual(
      byObject.body.results.map((d: any) => d.object_id),
      [o1],
    );
    assert.equal((await docs({ batch_id: batch.batch_id })).body.results.length, 2);
    assert.equal((await docs({ batch_id: 'btch_other' })).body.results.length, 0);
    assert.equal((await docs({ status: 'COMPLETED' })).body.results.length, 2);
    assert.equal((await docs({ status: 'FAILED' })).body.results.length, 0);
    const page = await docs({}, '?limit=1');
    assert.equal(page.body.results.length, 1);
    assert.equal(page.body.pagination.next_page, '2');

    const docId = byObject.body.results[0].document_id;
    const one = await api(s, 'GET', `/v1/collections/${col}/documents/${docId}`, undefined, { who: own });
    assert.equal(one.status, 200, one.text);
    assertModel(documentModel, one.body);
    assert.deepEqual(one.body, byObject.body.results[0]);
    // The document of another collection (of the same object) is not found through this one.
    const otherDoc = (
      await api(s, 'POST', `/v1/collections/${other}/documents/list`, { object_id: o1 }, { who: own })
    ).body.results[0];
    assert.ok(otherDoc.file_metadata, JSON.stringify(otherDoc));
    assertError(
      await api(s, 'GET', `/v1/collections/${col}/documents/${otherDoc.document_id}`, undefined, {
        who: own,
      }),
      404,
      'NotFoundError',
    );
    assertError(
      await api(s, 'GET', `/v1/collections/${col}/documents/doc_missing`, undefined, { who: own }),
      404,
      'NotFoundError',
    );
    assertError(await docs({ status: 'weird' }), 422, 'ValidationError', ['body', 'status']);
    assertError(await docs({ object_id: '' }), 422, 'ValidationError', ['body', 'object_id']);
    assertError(await docs({ nope: 1 }), 422, 'ValidationError', ['body', 'nope']);
    for (const [m, p] of [
      ['GET', '/v1/collections/col_missing/documents'],
      ['POST', '/v1/collections/col_missing/documents/list'],
      ['GET', `/v1/collections/col_missing/documents/${docId}`],
    ])
      assertError(await api(s, m, p, m === 'POST' ? {} : undefined, { who: own }), 404, 'NotFoundError');

    // Deleting the collection removes its documents with it.
    assert.equal((await api(s, 'DELETE', `/v1/collections/${col}`, undefined, { who: own })).status, 200);
    assert.equal(await s.store.documents.countDocuments({ collection_id: col }), 0);
    assert.equal(await s.store.documents.countDocuments({ collection_id: other }), 2);
    assert.equal(await countOf(o1), 1);
  });
});

describe('API: batches', function () {
  this.timeout(180_000);
  let s: Stack;
  let own: Who;
  let plain: string; // a bucket no collection reads from
  let objs: string[];
  const receiver = new Receiver();

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    own = await tenant(s, unique('api-batch-org'), 'main');
    plain = await bucket(s, own);
    objs = await objects(s, plain, 3, own);
    await receiver.start();
  });
  after(() => receiver.stop());

  const b = (bucketId: string, batchId = '', tail = '') =>
    `/v1/buckets/${bucketId}/batches${batchId ? `/${batchId}` : ''}${tail}`;

  it('creates a DRAFT batch of objects created through POST objects', async () => {
    const r = await api(
      s,
      'POST',
      b(plain),
      { object_ids: [objs[1], objs[0]], metadata: { k: 'v' } },
      { who: own },
    );
    assert.equal(r.status, 200, r.text);
    assertModel(batchModel, r.body);
    assert.match(r.body.batch_id, /^btch_/);
    assert.equal(r.body.bucket_id, plain);
    assert.equal(r.body.status, 'DRAFT');
    assert.deepEqual(r.body.object_ids, [objs[1], objs[0]]);
    assert.deepEqual(r.body.collection_ids, []);
    assert.equal(r.body.type, 'BUCKET');
    assert.equal(r.body.task_id, null);
    assert.equal(r.body.current_tier, null);
    assert.equal(r.body.total_tiers, null);
    assert.deepEqual(r.body.dag_tiers, []);
    assert.equal(r.body.error_summary, null);
    assert.equal(r.body.sync_config_id, null);
    assert.deepEqual(r.body.metadata, { k: 'v' });
    for (const hidden of ['_id', 'internal_id', 'object_keys', 'task_ids', 'held', 'chunk_size', 'page_key'])
      assert.equal(r.body[hidden], undefined, hidden);
    const g = await api(s, 'GET', b(plain, r.body.batch_id), undefined, { who: own });
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.body, r.body);
  });

  it('422 for object ids not in the bucket, repeated, none or over 1000; 404 for an unknown bucket', async () => {
    const elsewhere = await bucket(s, own);
    const [foreign] = await objects(s, elsewhere, 1, own);
    const stranger = await tenant(s, unique('api-batch-stranger'), 'ns');
    const strangerBucket = await bucket(s, stranger);
    const [strangers] = await objects(s, strangerBucket, 1, stranger);
    const post = (body: unknown) => api(s, 'POST', b(plain), body, { who: own });

    let r = await post({ object_ids: [objs[0], foreign] });
    assertError(r, 422, 'ValidationError', ['body', 'object_ids', 1]);
    assert.equal(r.body.error.details.issues.length, 1);
    r = await post({ object_ids: ['obj_missing', objs[0], strangers] });
    assertError(r, 422, 'ValidationError', ['body', 'object_ids', 0]);
    assertError(r, 422, 'ValidationError', ['body', 'object_ids', 2]);
    assert.ok(!r.text.includes(strangerBucket), 'the other tenant’s bucket is not named');
    // 1000 unknown ids pass the schema and fail the lookup; the issues are capped.
    r = await post({ object_ids: Array.from({ length: 1000 }, (_, i) => `obj_none_${i}`) });
    assertError(r, 422, 'ValidationError', ['body', 'object_ids', 0]);
    assert.ok(r.body.error.details.issues.length <= 20);
    assert.match(r.body.error.message, /1000 object\(s\) not in bucket/);

    const cases: [unknown, (string | number)[]][] = [
      [{ object_ids: [objs[0], objs[0]] }, ['body', 'object_ids']],
      [{ object_ids: [] }, ['body', 'object_ids']],
      [{ object_ids: Array.from({ length: 1001 }, (_, i) => `obj_${i}`) }, ['body', 'object_ids']],
      [{}, ['body', 'object_ids']],
      [{ object_ids: objs[0] }, ['body', 'object_ids']],
      [{ object_ids: [''] }, ['body', 'object_ids', 0]],
      [{ object_ids: [5] }, ['body', 'object_ids', 0]],
      [{ object_ids: [{ $gt: '' }] }, ['body', 'object_ids', 0, '$gt']],
      [{ object_ids: [{ a: 1 }] }, ['body', 'object_ids', 0]],
      [{ object_ids: [objs[0]], status: 'COMPLETED' }, ['body', 'status']],
      [{ object_ids: [objs[0]], metadata: { $x: 1 } }, ['body', 'metadata', '$x']],
    ];
    for (const [body, loc] of cases) assertError(await post(body), 422, 'ValidationError', loc);
    assertError(await api(s, 'POST', b(plain), undefined, { who: own }), 422, 'ValidationError', ['body']);
    // Nothing was created by the refusals.
    const list = await api(s, 'GET', `${b(plain)}?include_total=true&limit=1000`, undefined, { who: own });
    assert.ok(list.body.results.every((x: any) => x.object_ids.length <= 3));

    for (const [m, p] of [
      ['POST', b('bkt_missing')],
      ['GET', b('bkt_missing')],
      ['POST', b('bkt_missing', '', '/list')],
      ['GET', b('bkt_missing', 'btch_x')],
      ['DELETE', b('bkt_missing', 'btch_x')],
      ['POST', b('bkt_missing', 'btch_x', '/submit')],
      ['POST', b('bkt_missing', 'btch_x', '/cancel')],
      ['POST', b('bkt_missing', 'btch_x', '/retry')],
      ['GET', b('bkt_missing', 'btch_x', '/failed-documents')],
      ['GET', b(plain, 'btch_missing')],
      ['DELETE', b(plain, 'btch_missing')],
      ['POST', b(plain, 'btch_missing', '/submit')],
      ['POST', b(plain, 'btch_missing', '/cancel')],
      ['POST', b(plain, 'btch_missing', '/retry')],
      ['GET', b(plain, 'btch_missing', '/failed-documents')],
    ])
      assertError(
        await api(s, m, p, m === 'POST' && p.endsWith('/batches') ? { object_ids: [objs[0]] } : undefined, {
          who: own,
        }),
        404,
        'NotFoundError',
      );
    // A batch of another bucket (same tenant) is not found through this one.
    const theirs = await draft(s, elsewhere, [foreign], own);
    assertError(
      await api(s, 'GET', b(plain, theirs.batch_id), undefined, { who: own }),
      404,
      'NotFoundError',
    );
    assertError(await api(s, 'POST', b(plain, theirs.batch_id, '/submit'), undefined, { who: own }), 404);
  });

  it('submit answers a TaskResponse; with no collection on the bucket the batch COMPLETES at once', async () => {
    const batch = await draft(s, plain, objs.slice(0, 2), own);
    const r = await api(s, 'POST', b(plain, batch.batch_id, '/submit'), undefined, { who: own });
    assert.equal(r.status, 200, r.text);
    assertModel(taskModel, r.body);
    assert.match(r.body.task_id, /^task_/);
    assert.equal(r.body.task_type, 'BATCH_PROCESSING');
    assert.equal(r.body.status, 'COMPLETED');
    assert.deepEqual(r.body.inputs, { batch_id: batch.batch_id, bucket_id: plain, object_count: 2 });
    assert.deepEqual(r.body.outputs, { documents_completed: 0, documents_failed: 0 });
    assert.equal(r.body.additional_data.note, 'no collection reads from this bucket');
    assert.equal(r.body.additional_data.total_tiers, 0);
    assert.equal(r.body.additional_data.workflow_id, `batch-${batch.batch_id}`);
    assert.equal(r.body.error, null);

    const g = await api(s, 'GET', b(plain, batch.batch_id), undefined, { who: own });
    assertModel(batchModel, g.body);
    assert.equal(g.body.status, 'COMPLETED');
    assert.equal(g.body.task_id, r.body.task_id);
    assert.equal(g.body.total_tiers, 0);
    assert.deepEqual(g.body.error_summary, { documents_completed: 0, documents_failed: 0 });
    const t = await api(s, 'GET', `/v1/tasks/${r.body.task_id}`, undefined, { who: own });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(t.body, r.body);

    // A finished batch: submit, cancel and retry are 409s, naming its status; nothing changes.
    for (const action of ['/submit', '/cancel', '/retry']) {
      const c = await api(s, 'POST', b(plain, batch.batch_id, action), undefined, { who: own });
      assertError(c, 409, 'ConflictError');
      assert.equal(c.body.error.details.status, 'COMPLETED', action);
    }
    const again = await api(s, 'GET', b(plain, batch.batch_id), undefined, { who: own });
    assert.deepEqual(again.body, g.body);

    const failed = await api(s, 'GET', b(plain, batch.batch_id, '/failed-documents'), undefined, {
      who: own,
    });
    assert.equal(failed.status, 200, failed.text);
    assertModel(failedList, failed.body);
    assert.deepEqual(failed.body.results, []);
    assertError(
      await api(s, 'GET', b(plain, batch.batch_id, '/failed-documents?limit=0'), undefined, { who: own }),
      422,
      'ValidationError',
      ['query', 'limit'],
    );

    const del = await api(s, 'DELETE', b(plain, batch.batch_id), undefined, { who: own });
    assert.equal(del.status, 200, del.text);
    assertModel(deleteModel, del.body);
    assertError(await api(s, 'GET', b(plain, batch.batch_id), undefined, { who: own }), 404, 'NotFoundError');
    assertError(
      await api(s, 'DELETE', b(plain, batch.batch_id), undefined, { who: own }),
      404,
      'NotFoundError',
    );
    // Its task stays readable.
    assert.equal((await api(s, 'GET', `/v1/tasks/${r.body.task_id}`, undefined, { who: own })).status, 200);
  });

  it('cancel: a DRAFT turns CANCELED, again answers it unchanged; submit is then 409, retry a new task', async () => {
    const batch = await draft(s, plain, [objs[2]], own);
    const c1 = await api(s, 'POST', b(plain, batch.batch_id, '/cancel'), undefined, { who: own });
    assert.equal(c1.status, 200, c1.text);
    assertModel(batchModel, c1.body);
    assert.equal(c1.body.status, 'CANCELED');
    assert.equal(c1.body.task_id, null);
    const c2 = await api(s, 'POST', b(plain, batch.batch_id, '/cancel'), undefined, { who: own });
    assert.equal(c2.status, 200, c2.text);
    assert.deepEqual(c2.body, c1.body, 'unchanged');
    const sub = await api(s, 'POST', b(plain, batch.batch_id, '/submit'), undefined, { who: own });
    assertError(sub, 409, 'ConflictError');
    assert.equal(sub.body.error.details.status, 'CANCELED');

    const retry = await api(s, 'POST', b(plain, batch.batch_id, '/retry'), undefined, { who: own });
    assert.equal(retry.status, 200, retry.text);
    assertModel(taskModel, retry.body);
    assert.equal(retry.body.status, 'COMPLETED', 'still no collection: completes at once');
    assert.equal(retry.body.additional_data.note, 'no collection reads from this bucket');
    const g = await api(s, 'GET', b(plain, batch.batch_id), undefined, { who: own });
    assert.equal(g.body.status, 'COMPLETED');
    assert.equal(g.body.task_id, retry.body.task_id);
    // Retrying a COMPLETED batch is refused.
    assertError(await api(s, 'POST', b(plain, batch.batch_id, '/retry'), undefined, { who: own }), 409);
    // A CANCELED (or DRAFT) batch may be deleted.
    const d = await draft(s, plain, [objs[2]], own);
    assert.equal((await api(s, 'DELETE', b(plain, d.batch_id), undefined, { who: own })).status, 200);
  });

  it('IN_PROGRESS behind a receiver that holds the request: delete 409, cancel -> CANCELED, retry runs it', async () => {
    receiver.hold = true;
    const bk = await bucket(s, own);
    const ids = await objects(s, bk, 2, own);
    const col = await collection(
      s,
      fromBucket(bk, [
        { step: 'text_extract' },
        { step: 'webhook', config: { url: `${receiver.url}/hold`, timeout_seconds: 60, retries: 0 } },
      ]),
      own,
    );
    const batch = await draft(s, bk, ids, own);
    const sub = await api(s, 'POST', b(bk, batch.batch_id, '/submit'), undefined, { who: own });
    assert.equal(sub.status, 200, sub.text);
    assertModel(taskModel, sub.body);
    assert.equal(sub.body.status, 'PENDING');
    assert.equal(sub.body.outputs, null);
    assert.equal(sub.body.additional_data.total_tiers, 1);
    assert.equal(sub.body.additional_data.note, undefined);
    const hits = receiver.hits;
    assert.ok(await eventually(async () => receiver.hits > hits, 60_000), 'the webhook was called');
    const running = await until(s, b(bk, batch.batch_id), (x) => x.status === 'IN_PROGRESS', own);
    assert.deepEqual(running.collection_ids, [col]);
    assert.deepEqual(running.dag_tiers, [[col]]);
    assert.equal(running.total_tiers, 1);

    for (const [m, action] of [
      ['DELETE', ''],
      ['POST', '/submit'],
      ['POST', '/retry'],
    ]) {
      const r = await api(s, m, b(bk, batch.batch_id, action), undefined, { who: own });
      assertError(r, 409, 'ConflictError');
      assert.equal(r.body.error.details.status, 'IN_PROGRESS', `${m} ${action}`);
    }
    const inProgress = await api(s, 'POST', '/v1/tasks/list', { status: 'IN_PROGRESS' }, { who: own });
    assert.deepEqual(
      inProgress.body.results.map((t: any) => t.task_id),
      [sub.body.task_id],
    );
    const listed = await api(s, 'POST', b(bk, '', '/list'), { status: 'IN_PROGRESS' }, { who: own });
    assert.deepEqual(
      listed.body.results.map((x: any) => x.batch_id),
      [batch.batch_id],
    );

    const cancel = await api(s, 'POST', b(bk, batch.batch_id, '/cancel'), undefined, { who: own });
    assert.equal(cancel.status, 200, cancel.text);
    assertModel(batchModel, cancel.body);
    const canceled = await until(s, b(bk, batch.batch_id), (x) => TERMINAL.includes(x.status), own);
    assert.equal(canceled.status, 'CANCELED', JSON.stringify(canceled));
    const task = await api(s, 'GET', `/v1/tasks/${sub.body.task_id}`, undefined, { who: own });
    assert.equal(task.body.status, 'CANCELED');
    const again = await api(s, 'POST', b(bk, batch.batch_id, '/cancel'), undefined, { who: own });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.status, 'CANCELED');

    // Retry: a new task that runs what did not finish, the receiver answering this time.
    receiver.hold = false;
    // (A 409 "still closing" is possible for a moment after CANCELED shows; then it goes through.)
    let retry: any = null;
    const retried = await eventually(async () => {
      retry = await api(s, 'POST', b(bk, batch.batch_id, '/retry'), undefined, { who: own });
      assert.ok(retry.status === 200 || retry.status === 409, retry.text);
      return retry.status === 200;
    }, 30_000);
    assert.ok(retried, retry.text);
    assertModel(taskModel, retry.body);
    assert.notEqual(retry.body.task_id, sub.body.task_id);
    const done = await until(s, `/v1/tasks/${retry.body.task_id}`, (t) => TERMINAL.includes(t.status), own);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.deepEqual(done.outputs, { documents_completed: 2, documents_failed: 0 });
    const after = await api(s, 'GET', b(bk, batch.batch_id), undefined, { who: own });
    assert.equal(after.body.status, 'COMPLETED');
    assert.equal(after.body.task_id, retry.body.task_id);
    const failed = await api(s, 'GET', b(bk, batch.batch_id, '/failed-documents'), undefined, { who: own });
    assertModel(failedList, failed.body);
    assert.deepEqual(failed.body.results, [], 'a clean batch has no failed documents');
    assert.equal(
      (await api(s, 'GET', `/v1/tasks/${sub.body.task_id}`, undefined, { who: own })).body.status,
      'CANCELED',
      'the first task keeps its outcome',
    );
    const docs = await api(s, 'GET', `/v1/collections/${col}/documents`, undefined, { who: own });
    assert.ok(
      docs.body.results.every((d: any) => d.status === 'COMPLETED' && d.webhook.status_code === 200),
      docs.text,
    );
  });

  it('lists with GET and POST /list and a status filter', async () => {
    const bk = await bucket(s, own);
    const ids = await objects(s, bk, 1, own);
    const drafted = await draft(s, bk, ids, own);
    const canceled = await draft(s, bk, ids, own);
    const completed = await draft(s, bk, ids, own);
    await api(s, 'POST', b(bk, canceled.batch_id, '/cancel'), undefined, { who: own });
    await api(s, 'POST', b(bk, completed.batch_id, '/submit'), undefined, { who: own });

    const all = await api(s, 'GET', `${b(bk)}?include_total=true`, undefined, { who: own });
    assert.equal(all.status, 200, all.text);
    assertModel(batchList, all.body);
    assert.equal(all.body.total, 3);
    const byStatus = async (status: string) =>
      (await api(s, 'POST', b(bk, '', '/list'), { status }, { who: own })).body.results.map(
        (x: any) => x.batch_id,
      );
    assert.deepEqual(await byStatus('DRAFT'), [drafted.batch_id]);
    assert.deepEqual(await byStatus('CANCELED'), [canceled.batch_id]);
    assert.deepEqual(await byStatus('COMPLETED'), [completed.batch_id]);
    assert.deepEqual(await byStatus('FAILED'), []);
    const noBody = await api(s, 'POST', b(bk, '', '/list'), undefined, { who: own });
    assert.equal(noBody.body.results.length, 3);
    const p1 = await api(s, 'POST', `${b(bk, '', '/list')}?limit=2`, {}, { who: own });
    assert.equal(p1.body.results.length, 2);
    const p2 = await api(
      s,
      'POST',
      `${b(bk, '', '/list')}?limit=2&cursor=${p1.body.pagination.next_cursor}`,
      {},
      {
        who: own,
      },
    );
    assert.equal(p2.body.results.length, 1);
    assert.equal(p2.body.pagination.next_cursor, null);

    assertError(
      await api(s, 'POST', b(bk, '', '/list'), { status: 'weird' }, { who: own }),
      422,
      'ValidationError',
      ['body', 'status'],
    );
    assertError(
      await api(s, 'POST', b(bk, '', '/list'), { status: 'completed' }, { who: own }),
      422,
      undefined,
      ['body', 'status'],
    );
    assertError(await api(s, 'POST', b(bk, '', '/list'), { bucket_id: bk }, { who: own }), 422, undefined, [
      'body',
      'bucket_id',
    ]);
    assertError(await api(s, 'GET', `${b(bk)}?limit=1001`, undefined, { who: own }), 422, undefined, [
      'query',
      'limit',
    ]);
  });
});

describe('API: tasks', function () {
  this.timeout(180_000);
  let s: Stack;
  let own: Who;
  let bk: string;
  let completedTask: any;
  let canceledTask: any;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    own = await tenant(s, unique('api-task-org'), 'main');
    bk = await bucket(s, own);
    const ids = await objects(s, bk, 2, own);
    const one = await draft(s, bk, ids, own);
    completedTask = (
      await api(s, 'POST', `/v1/buckets/${bk}/batches/${one.batch_id}/submit`, undefined, { who: own })
    ).body;
    // A batch canceled as a DRAFT, then retried: its task completes at once too.
    const two = await draft(s, bk, ids, own);
    await api(s, 'POST', `/v1/buckets/${bk}/batches/${two.batch_id}/cancel`, undefined, { who: own });
    canceledTask = (
      await api(s, 'POST', `/v1/buckets/${bk}/batches/${two.batch_id}/retry`, undefined, { who: own })
    ).body;
  });

  it('gets a task; unknown ids 404 for GET and DELETE', async () => {
    const r = await api(s, 'GET', `/v1/tasks/${completedTask.task_id}`, undefined, { who: own });
    assert.equal(r.status, 200, r.text);
    assertModel(taskModel, r.body);
    assert.deepEqual(r.body, completedTask);
    for (const hidden of ['_id', 'internal_id', 'namespace_id', 'batch_id', 'bucket_id'])
      assert.equal(r.body[hidden], undefined, hidden);
    for (const m of ['GET', 'DELETE'])
      assertError(await api(s, m, '/v1/tasks/task_missing', undefined, { who: own }), 404, 'NotFoundError');
  });

  it('DELETE of a finished task answers it unchanged', async () => {
    const d = await api(s, 'DELETE', `/v1/tasks/${completedTask.task_id}`, undefined, { who: own });
    assert.equal(d.status, 200, d.text);
    assertModel(taskModel, d.body);
    assert.deepEqual(d.body, completedTask);
    const g = await api(s, 'GET', `/v1/tasks/${completedTask.task_id}`, undefined, { who: own });
    assert.deepEqual(g.body, completedTask);
  });

  it('lists with GET and POST /list, status and task_type filters', async () => {
    const all = await api(s, 'GET', '/v1/tasks?include_total=true', undefined, { who: own });
    assert.equal(all.status, 200, all.text);
    assertModel(taskList, all.body);
    assert.equal(all.body.total, 2);
    assert.deepEqual(
      all.body.results.map((t: any) => t.task_id).sort(),
      [completedTask.task_id, canceledTask.task_id].sort(),
    );
    const list = (body: unknown, q = '') => api(s, 'POST', `/v1/tasks/list${q}`, body, { who: own });
    assert.equal((await list(undefined)).body.results.length, 2);
    assert.equal((await list({ status: 'COMPLETED' })).body.results.length, 2);
    assert.equal((await list({ status: 'IN_PROGRESS' })).body.results.length, 0);
    assert.equal((await list({ task_type: 'BATCH_PROCESSING' })).body.results.length, 2);
    const p1 = await list({}, '?limit=1');
    assert.equal(p1.body.results.length, 1);
    assert.equal(p1.body.pagination.next_page, '2');
    assertError(await list({ status: 'weird' }), 422, 'ValidationError', ['body', 'status']);
    assertError(await list({ task_type: 'SYNC' }), 422, 'ValidationError', ['body', 'task_type']);
    assertError(await list({ batch_id: 'x' }), 422, 'ValidationError', ['body', 'batch_id']);
    assertError(await list({}, '?offset=-1'), 422, 'ValidationError', ['query', 'offset']);
  });
});

describe('API: a PENDING batch (no worker polls its lane) and DELETE of its task', function () {
  this.timeout(180_000);
  let l: Lane;
  let handle: WorkerHandle | null = null;
  let running: Promise<void> | null = null;

  before(async function () {
    this.timeout(300_000);
    l = await lane(await stack(), {}, { worker: false });
  });
  after(async () => {
    if (handle) {
      handle.worker.shutdown();
      await running;
      await handle.close();
    }
  });

  it('stays PENDING (delete 409); DELETE /v1/tasks cancels it, CANCELED once a worker runs', async () => {
    const bk = await bucket(l);
    const ids = await objects(l, bk, 1);
    await collection(l, fromBucket(bk));
    const batch = await draft(l, bk, ids);
    const sub = await api(l, 'POST', `/v1/buckets/${bk}/batches/${batch.batch_id}/submit`);
    assert.equal(sub.status, 200, sub.text);
    assert.equal(sub.body.status, 'PENDING');
    const g = await api(l, 'GET', `/v1/buckets/${bk}/batches/${batch.batch_id}`);
    assert.equal(g.body.status, 'PENDING');
    const del = await api(l, 'DELETE', `/v1/buckets/${bk}/batches/${batch.batch_id}`);
    assertError(del, 409, 'ConflictError');
    assert.equal(del.body.error.details.status, 'PENDING');
    const pending = await api(l, 'POST', '/v1/tasks/list', { status: 'PENDING' });
    assert.deepEqual(
      pending.body.results.map((t: any) => t.task_id),
      [sub.body.task_id],
    );

    const kill = await api(l, 'DELETE', `/v1/tasks/${sub.body.task_id}`);
    assert.equal(kill.status, 200, kill.text);
    assertModel(taskModel, kill.body);
    assert.equal(kill.body.task_id, sub.body.task_id);

    // A batch that reads CANCELED while its workflow is still open (the moment between the
    // workflow recording its outcome and closing; held here by the absent worker): a retry is a
    // 409 to try again, never a 500, and changes nothing.
    const closing = await draft(l, bk, ids);
    const closingTask = await api(l, 'POST', `/v1/buckets/${bk}/batches/${closing.batch_id}/submit`);
    assert.equal(closingTask.body.status, 'PENDING', closingTask.text);
    await l.store.batches.updateOne({ _id: closing.batch_id }, { $set: { status: 'CANCELED' } });
    await l.store.tasks.updateOne({ _id: closingTask.body.task_id }, { $set: { status: 'CANCELED' } });
    const early = await api(l, 'POST', `/v1/buckets/${bk}/batches/${closing.batch_id}/retry`);
    assertError(early, 409, 'ConflictError');
    assert.equal(early.headers.get('retry-after'), '1');
    const still = await api(l, 'GET', `/v1/buckets/${bk}/batches/${closing.batch_id}`);
    assert.equal(still.body.status, 'CANCELED');
    assert.equal(still.body.task_id, closingTask.body.task_id);
    assert.equal((await api(l, 'POST', '/v1/tasks/list', {})).body.results.length, 2, 'no task left behind');

    handle = await createSyncWorker(l.env, { workflowBundle: await workflowBundle(), store: l.store });
    running = handle.worker.run();
    const done = await until(l, `/v1/buckets/${bk}/batches/${batch.batch_id}`, (x) =>
      TERMINAL.includes(x.status),
    );
    assert.equal(done.status, 'CANCELED', JSON.stringify(done));
    const t = await until(l, `/v1/tasks/${sub.body.task_id}`, (x) => TERMINAL.includes(x.status));
    assert.equal(t.status, 'CANCELED');
    const again = await api(l, 'DELETE', `/v1/tasks/${sub.body.task_id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, t, 'a finished task is answered unchanged');
    assert.equal((await api(l, 'DELETE', `/v1/buckets/${bk}/batches/${batch.batch_id}`)).status, 200);

    // Once the worker has closed the other batch's workflow, its retry goes through.
    let retried: any = null;
    const ok = await eventually(async () => {
      retried = await api(l, 'POST', `/v1/buckets/${bk}/batches/${closing.batch_id}/retry`);
      assert.ok(retried.status === 200 || retried.status === 409, retried.text);
      return retried.status === 200;
    }, 60_000);
    assert.ok(ok, retried?.text);
    assert.notEqual(retried.body.task_id, closingTask.body.task_id);
    const rerun = await until(l, `/v1/tasks/${retried.body.task_id}`, (x) => TERMINAL.includes(x.status));
    assert.equal(rerun.status, 'COMPLETED', JSON.stringify(rerun));
  });
});
