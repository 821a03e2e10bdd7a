// From a sync to processed documents, on real servers: a folder of text, JSON and image files ->
// objects -> batches -> one Temporal workflow per batch running the bucket's collections tier by
// tier (text_extract, a webhook to a local receiver, a downstream file_metadata collection).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { verifySignature } from '../../pipeline/steps';
import {
  bucketWithFolder,
  createSync,
  eventually,
  http,
  idleAfter,
  killProcess,
  startWorker,
  waitForSync,
  writeFiles,
} from '../helpers';
import { lane, stack, type Lane, type Stack } from '../setup/stack';
import { png } from '../unit/pipeline-fixtures';

const SECRET = 'whsec-test-8f3a9c1d2e';

interface Delivery {
  path: string;
  deliveryId: string;
  signed: boolean;
  objectIds: string[];
}

/** A local webhook receiver; `answer` decides each request's status (or holds it with 'hang'). */
class Receiver {
  server!: Server;
  url = '';
  deliveries: Delivery[] = [];
  hits = new Map<string, number>();
  answer: (path: string, hit: number) => number | 'hang' = () => 200;
  private hung: ServerResponse[] = [];

  async start() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const hit = (this.hits.get(path) ?? 0) + 1;
        this.hits.set(path, hit);
        const status = this.answer(path, hit);
        if (status === 'hang') {
          this.hung.push(res);
          return;
        }
        if (status === 200) {
          const parsed = JSON.parse(body) as { documents: { object_id: string }[] };
          this.deliveries.push({
            path,
            deliveryId: String(req.headers['x-bucketsyncs-delivery']),
            signed: verifySignature(
              SECRET,
              String(req.headers['x-bucketsyncs-timestamp']),
              body,
              req.headers['x-bucketsyncs-signature'] as string | undefined,
            ),
            objectIds: parsed.documents.map((d) => d.object_id),
          });
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop() {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

const FILES: Record<string, string | Buffer> = {
  'notes/a.txt': 'hello from a text file',
  'notes/b.md': '# Title\n\nSome *markdown* text.',
  'data/c.json': JSON.stringify({ name: 'widget', tags: ['x', 'y'] }),
  'img/d.png': png(31, 17),
};

async function task(s: Stack, taskId: string, until: (t: any) => boolean, timeoutMs = 90_000): Promise<any> {
  let last: any = null;
  await eventually(async () => {
    last = (await http(s, 'GET', `/v1/tasks/${taskId}`)).body;
    return until(last);
  }, timeoutMs);
  return last;
}
const terminal = (t: any) => ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED'].includes(t?.status);

async function collection(s: Stack, body: Record<string, unknown>): Promise<string> {
  const r = await http(s, 'POST', '/v1/collections', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.collection_id;
}

async function documents(s: Stack, collectionId: string): Promise<any[]> {
  const r = await http(s, 'POST', `/v1/collections/${collectionId}/documents/list?limit=1000`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.results;
}

/** A bucket over FILES with the given collections, synced once (initial_only); its sync when done. */
async function syncedBucket(
  s: Stack,
  collections: (bucketId: string) => Promise<string[]>,
  sync: Record<string, unknown> = {},
) {
  const { bucketId, connectionId } = await bucketWithFolder(s, FILES);
  const collectionIds = await collections(bucketId);
  const syncId = await createSync(s, bucketId, {
    connection_id: connectionId,
    source_path: '/',
    sync_mode: 'initial_only',
    batch_size: 2,
    ...sync,
  });
  const done = await waitForSync(s, bucketId, syncId, (x) => x.status === 'COMPLETED', 90_000);
  return { bucketId, syncId, collectionIds, sync: done };
}

describe('processing pipeline: sync -> batches -> tasks -> documents', function () {
  this.timeout(180_000);
  let s: Stack;
  const receiver = new Receiver();

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    await receiver.start();
  });
  after(() => receiver.stop());

  it('runs every batch through the collections tier by tier: tasks COMPLETED, every object has its documents', async () => {
    receiver.answer = () => 200;
    const { bucketId, sync, collectionIds } = await syncedBucket(s, async (bucketId) => {
      const text = await collection(s, {
        collection_name: 'text',
        source: { type: 'bucket', bucket_ids: [bucketId] },
        pipeline: [{ step: 'text_extract' }],
      });
      const hook = await collection(s, {
        collection_name: 'hook',
        source: { type: 'bucket', bucket_ids: [bucketId] },
        pipeline: [{ step: 'webhook', config: { url: `${receiver.url}/ok`, secret: SECRET } }],
      });
      const meta = await collection(s, {
        collection_name: 'meta-of-text',
        source: { type: 'collection', collection_ids: [text] },
        pipeline: [{ step: 'file_metadata' }],
      });
      return [text, hook, meta];
    });
    const [text, hook, meta] = collectionIds;
    assert.equal(sync.total_files_synced, 4);
    assert.equal(sync.batches_created, 2, 'four objects in batches of 2');
    assert.equal(sync.batch_ids.length, 2);
    assert.equal(sync.task_ids.length, 2);

    for (const taskId of sync.task_ids) {
      const t = await task(s, taskId, terminal);
      assert.equal(t.status, 'COMPLETED', JSON.stringify(t));
      assert.equal(t.task_type, 'BATCH_PROCESSING');
      assert.equal(t.outputs.documents_failed, 0);
      assert.equal(t.outputs.documents_completed, 6, '2 objects x 3 collections');
    }
    const batch = (await http(s, 'GET', `/v1/buckets/${bucketId}/batches/${sync.batch_ids[0]}`)).body;
    assert.equal(batch.status, 'COMPLETED');
    assert.equal(batch.total_tiers, 2);
    assert.deepEqual(batch.dag_tiers[1], [meta]);
    assert.deepEqual([...batch.dag_tiers[0]].sort(), [text, hook].sort());
    assert.equal(batch.object_ids.length, 2);

    const objects = (await http(s, 'POST', `/v1/buckets/${bucketId}/objects/list`, {})).body.results;
    const nameOf = new Map<string, string>(
      objects.map((o: any) => [o.object_id, o.blobs[0].details.filename]),
    );
    assert.equal(nameOf.size, 4);

    const textDocs = await documents(s, text);
    assert.equal(textDocs.length, 4);
    const byName = new Map(textDocs.map((d) => [nameOf.get(d.object_id), d]));
    assert.equal(byName.get('a.txt').text_extract.text, 'hello from a text file');
    assert.match(byName.get('b.md').text_extract.text, /Some markdown text/);
    assert.match(byName.get('c.json').text_extract.text, /widget/);
    assert.equal(byName.get('d.png').text_extract.skipped, true, 'an image has no text, and is no error');
    assert.ok(textDocs.every((d) => d.status === 'COMPLETED'));

    const metaDocs = await documents(s, meta);
    assert.equal(metaDocs.length, 4);
    const pngMeta = metaDocs.find((d) => nameOf.get(d.object_id) === 'd.png');
    assert.deepEqual(
      { w: pngMeta.file_metadata.image.width, h: pngMeta.file_metadata.image.height },
      { w: 31, h: 17 },
    );
    assert.equal(pngMeta.file_metadata.mime_type, 'image/png');

    const hookDocs = await documents(s, hook);
    assert.equal(hookDocs.length, 4);
    assert.ok(hookDocs.every((d) => d.status === 'COMPLETED' && d.webhook.status_code === 200));
    const delivered = receiver.deliveries.filter((d) => d.path === '/ok');
    assert.ok(
      delivered.every((d) => d.signed),
      'every delivery carries a valid HMAC signature',
    );
    assert.deepEqual(delivered.flatMap((d) => d.objectIds).sort(), [...nameOf.keys()].sort());

    // The documents are readable one by one, and the webhook secret never shows.
    const one = await http(s, 'GET', `/v1/collections/${text}/documents/${textDocs[0].document_id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.object_id, textDocs[0].object_id);
    const col = await http(s, 'GET', `/v1/collections/${hook}`);
    assert.equal(col.body.pipeline[0].config.secret, '[redacted]');
    assert.doesNotMatch(JSON.stringify(col.body), new RegExp(SECRET));
  });

  it('a receiver that answers 500 twice then 200: the webhook is retried and the task still COMPLETES', async () => {
    receiver.answer = (path, hit) => (path === '/flaky' && hit <= 2 ? 500 : 200);
    const { sync, collectionIds } = await syncedBucket(
      s,
      async (bucketId) => [
        await collection(s, {
          collection_name: 'flaky-hook',
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [
            { step: 'webhook', config: { url: `${receiver.url}/flaky`, secret: SECRET, retries: 3 } },
          ],
        }),
      ],
      { batch_size: 10 },
    );
    assert.equal(sync.task_ids.length, 1);
    const t = await task(s, sync.task_ids[0], terminal);
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t));
    assert.equal(receiver.hits.get('/flaky'), 3);
    const docs = await documents(s, collectionIds[0]);
    assert.equal(docs.length, 4);
    assert.ok(docs.every((d) => d.status === 'COMPLETED' && d.webhook.attempts === 3));
  });

  it('a receiver that always answers 500: COMPLETED_WITH_ERRORS, failed documents listed; retry completes them', async () => {
    let down = true;
    receiver.answer = (path) => (path === '/down' && down ? 500 : 200);
    const { bucketId, sync, collectionIds } = await syncedBucket(
      s,
      async (bucketId) => [
        await collection(s, {
          collection_name: 'text-2',
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [{ step: 'text_extract' }],
        }),
        await collection(s, {
          collection_name: 'down-hook',
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [
            { step: 'webhook', config: { url: `${receiver.url}/down`, retries: 1, timeout_seconds: 2 } },
          ],
        }),
      ],
      { batch_size: 10 },
    );
    const [, hook] = collectionIds;
    const t = await task(s, sync.task_ids[0], terminal);
    assert.equal(t.status, 'COMPLETED_WITH_ERRORS', JSON.stringify(t));
    assert.deepEqual(t.outputs, { documents_completed: 4, documents_failed: 4 });
    assert.equal(receiver.hits.get('/down'), 2, 'retries: 1 -> two attempts');
    const batchId = sync.batch_ids[0];
    const batch = (await http(s, 'GET', `/v1/buckets/${bucketId}/batches/${batchId}`)).body;
    assert.equal(batch.status, 'COMPLETED_WITH_ERRORS');
    assert.equal(batch.error_summary.documents_failed, 4);
    const failed = await http(s, 'GET', `/v1/buckets/${bucketId}/batches/${batchId}/failed-documents`);
    assert.equal(failed.status, 200);
    assert.equal(failed.body.results.length, 4);
    for (const f of failed.body.results) {
      assert.equal(f.collection_id, hook);
      assert.equal(f.failed_step, 'webhook');
      assert.match(f.error, /500/);
    }

    // Submitting again is refused; retry makes a new task and completes the failed documents.
    assert.equal((await http(s, 'POST', `/v1/buckets/${bucketId}/batches/${batchId}/submit`)).status, 409);
    down = false;
    const retried = await http(s, 'POST', `/v1/buckets/${bucketId}/batches/${batchId}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.notEqual(retried.body.task_id, t.task_id);
    const t2 = await task(s, retried.body.task_id, terminal);
    assert.equal(t2.status, 'COMPLETED', JSON.stringify(t2));
    assert.deepEqual(t2.outputs, { documents_completed: 8, documents_failed: 0 });
    const after = await http(s, 'GET', `/v1/buckets/${bucketId}/batches/${batchId}/failed-documents`);
    assert.equal(after.body.results.length, 0);
    assert.equal(
      (await http(s, 'GET', `/v1/tasks/${t.task_id}`)).body.status,
      'COMPLETED_WITH_ERRORS',
      'the first task keeps its outcome',
    );
  });

  it('re_extract_on_update: a changed file is submitted again and its document replaced; off: it is not', async () => {
    for (const reExtract of [true, false]) {
      const { folder, bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'first words' });
      const col = await collection(s, {
        collection_name: `re-${reExtract}`,
        source: { type: 'bucket', bucket_ids: [bucketId] },
        pipeline: [{ step: 'text_extract' }],
      });
      const syncId = await createSync(s, bucketId, {
        connection_id: connectionId,
        source_path: '/',
        reconcile: { re_extract_on_update: reExtract },
      });
      const first = await waitForSync(s, bucketId, syncId, idleAfter(1), 90_000);
      assert.equal(first.batches_created, 1);
      await task(s, first.task_ids[0], terminal);
      assert.equal((await documents(s, col))[0].text_extract.text, 'first words');

      writeFiles(folder, { 'a.txt': 'second, longer words' });
      assert.equal((await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`)).status, 200);
      const second = await waitForSync(s, bucketId, syncId, idleAfter(2), 90_000);
      const objects = (await http(s, 'POST', `/v1/buckets/${bucketId}/objects/list`, {})).body.results;
      assert.equal(objects.length, 1, 'the same object, updated');
      assert.equal(objects[0].blobs[0].details.size_bytes, 'second, longer words'.length);
      if (reExtract) {
        assert.equal(second.batches_created, 2, 'the changed object went into a new batch');
        assert.equal(second.task_ids.length, 2);
        const t = await task(s, second.task_ids[1], terminal);
        assert.equal(t.status, 'COMPLETED', JSON.stringify(t));
        const docs = await documents(s, col);
        assert.equal(docs.length, 1, 'the document is replaced, not duplicated');
        assert.equal(docs[0].text_extract.text, 'second, longer words');
        assert.equal(docs[0].batch_id, second.batch_ids[1]);
      } else {
        assert.equal(second.batches_created, 1, 'no batch for a changed object');
        assert.equal((await documents(s, col))[0].text_extract.text, 'first words');
      }
      assert.equal((await http(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${syncId}`)).status, 200);
    }
  });

  it('skip_batch_submission holds the batches (DRAFT) until it is switched off', async () => {
    const { bucketId, syncId, sync, collectionIds } = await syncedBucket(
      s,
      async (bucketId) => [
        await collection(s, {
          collection_name: 'held-text',
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [{ step: 'text_extract' }],
        }),
      ],
      { batch_size: 3, skip_batch_submission: true },
    );
    assert.equal(sync.total_files_synced, 4);
    assert.equal(sync.batches_created, 2);
    assert.deepEqual(sync.task_ids, [], 'nothing submitted');
    const drafts = await http(s, 'POST', `/v1/buckets/${bucketId}/batches/list`, { status: 'DRAFT' });
    assert.equal(drafts.body.results.length, 2);
    assert.ok(drafts.body.results.every((b: any) => b.task_id === null));
    assert.equal((await documents(s, collectionIds[0])).length, 0);

    const patched = await http(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, {
      skip_batch_submission: false,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const done = await eventually(async () => {
      const r = await http(s, 'POST', `/v1/buckets/${bucketId}/batches/list`, { status: 'COMPLETED' });
      return r.body.results.length === 2;
    }, 90_000);
    assert.ok(done, 'both held batches were submitted and completed');
    const docs = await documents(s, collectionIds[0]);
    assert.equal(docs.length, 4);
    assert.ok(docs.every((d) => d.status === 'COMPLETED'));
  });
});

describe('processing pipeline: a worker killed mid-batch', function () {
  this.timeout(300_000);
  let l: Lane;
  let worker: ChildProcess | null = null;
  const receiver = new Receiver();

  before(async function () {
    this.timeout(300_000);
    const s = await stack();
    l = await lane(s, {}, { worker: false });
    await receiver.start();
  });
  after(async () => {
    if (worker) await killProcess(worker);
    await receiver.stop();
  });

  it('the batch still completes, once: one task, one document per object and collection', async () => {
    const first = new Promise<void>((resolve) => {
      receiver.answer = (path, hit) => {
        if (hit === 1) {
          resolve();
          return 'hang'; // the worker dies while this delivery is in flight
        }
        return 200;
      };
    });
    worker = startWorker(l, 'pipeline-worker-0');
    const { sync, collectionIds } = await syncedBucket(
      l,
      async (bucketId) => [
        await collection(l, {
          collection_name: 'text',
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [
            { step: 'text_extract' },
            { step: 'webhook', config: { url: `${receiver.url}/k`, timeout_seconds: 3 } },
          ],
        }),
      ],
      { batch_size: 10 },
    );
    await first;
    await killProcess(worker);
    worker = startWorker(l, 'pipeline-worker-1');
    const t = await task(l, sync.task_ids[0], terminal, 120_000);
    assert.equal(t.status, 'COMPLETED', JSON.stringify(t));
    const batch = (await http(l, 'GET', `/v1/buckets/${sync.bucket_id}/batches/${sync.batch_ids[0]}`)).body;
    assert.equal(batch.status, 'COMPLETED');
    const tasks = await http(l, 'POST', '/v1/tasks/list', {});
    assert.equal(tasks.body.results.filter((x: any) => x.inputs.batch_id === batch.batch_id).length, 1);
    const docs = await documents(l, collectionIds[0]);
    assert.equal(docs.length, 4, 'one document per object');
    assert.ok(docs.every((d) => d.status === 'COMPLETED' && d.text_extract && d.webhook.status_code === 200));
    // At-least-once delivery with a stable id: the receiver can dedupe the one it saw twice.
    const ids = receiver.deliveries.map((d) => d.deliveryId);
    assert.equal(new Set(ids).size, 1);
    assert.deepEqual(receiver.deliveries.at(-1)!.objectIds.length, 4);
  });
});
