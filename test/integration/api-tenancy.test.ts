// Tenant isolation: 2 organizations x 2 namespaces, every resource type. Another tenant's ids
// answer 404 (never 403) to GET, PATCH, DELETE and actions, and never appear in its lists.
// Collections, documents, batches and tasks too: every route with an id in its path.
// Connections are organization-wide (/v1/organizations/connections): the other namespace of the
// same organization sees them, the other organization does not.
import assert from 'node:assert/strict';
import { stack, type Stack } from '../setup/stack';
import { eventually } from '../helpers';
import {
  api,
  assertError,
  bucket,
  localConnection,
  sync,
  tenant,
  unique,
  until,
  type Who,
} from './api-helpers';

const collectionBody = { collection_name: 'hijack', pipeline: [{ step: 'file_metadata' }] };

interface Owned {
  name: string;
  who: Who & { internal_id: string; ns_id: string };
  bucketId: string;
  connectionId: string;
  syncId: string;
  objectId: string;
  collectionId: string;
  documentId: string;
  /** A DRAFT batch, and a submitted one (COMPLETED) with its task. */
  batchId: string;
  doneBatchId: string;
  taskId: string;
}

describe('API: tenant isolation matrix (2 organizations x 2 namespaces)', function () {
  this.timeout(180_000);
  let s: Stack;
  const tenants: Owned[] = [];

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    const orgA = unique('tenancy-a');
    const orgB = unique('tenancy-b');
    for (const [org, ns, name] of [
      [orgA, 'one', 'A1'],
      [orgA, 'two', 'A2'],
      [orgB, 'one', 'B1'],
      [orgB, 'two', 'B2'],
    ]) {
      const who = await tenant(s, org, ns);
      const { connectionId } = await localConnection(s, { 'f.txt': name }, { who });
      const bucketId = await bucket(s, who);
      const syncId = await sync(s, bucketId, { connection_id: connectionId, source_path: '/' }, who);
      const obj = await api(
        s,
        'POST',
        `/v1/buckets/${bucketId}/objects`,
        { metadata: { owner: name } },
        { who },
      );
      assert.equal(obj.status, 200, obj.text);
      const objectId = obj.body.object_id;
      const col = await api(
        s,
        'POST',
        '/v1/collections',
        {
          collection_name: `col-${name}`,
          source: { type: 'bucket', bucket_ids: [bucketId] },
          pipeline: [{ step: 'file_metadata' }],
        },
        { who },
      );
      assert.equal(col.status, 200, col.text);
      const batches = `/v1/buckets/${bucketId}/batches`;
      const draft = await api(s, 'POST', batches, { object_ids: [objectId] }, { who });
      assert.equal(draft.status, 200, draft.text);
      const done = await api(s, 'POST', batches, { object_ids: [objectId] }, { who });
      assert.equal(done.status, 200, done.text);
      const task = await api(s, 'POST', `${batches}/${done.body.batch_id}/submit`, undefined, { who });
      assert.equal(task.status, 200, task.text);
      tenants.push({
        name,
        who,
        bucketId,
        connectionId,
        syncId,
        objectId,
        collectionId: col.body.collection_id,
        documentId: '',
        batchId: draft.body.batch_id,
        doneBatchId: done.body.batch_id,
        taskId: task.body.task_id,
      });
    }
    for (const t of tenants) {
      const finished = await eventually(async () => {
        const r = await api(s, 'GET', `/v1/tasks/${t.taskId}`, undefined, { who: t.who });
        return r.body.status === 'COMPLETED';
      }, 90_000);
      assert.ok(finished, `${t.name}: task ${t.taskId} did not complete`);
      // (The sync's own file may be processed too: its batches are submitted as they are made.)
      const docs = await api(
        s,
        'POST',
        `/v1/collections/${t.collectionId}/documents/list`,
        { object_id: t.objectId },
        { who: t.who },
      );
      assert.equal(docs.body.results.length, 1, docs.text);
      t.documentId = docs.body.results[0].document_id;
    }
    for (const t of tenants)
      await until(s, t.bucketId, t.syncId, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at, {
        who: t.who,
      });
  });

  it('every resource of every tenant is a 404 (or unlisted) for the three others', async () => {
    let checked = 0;
    for (const owner of tenants)
      for (const other of tenants) {
        if (other === owner) continue;
        const who = other.who;
        const ctx = `${other.name} -> ${owner.name}`;
        const b = `/v1/buckets/${owner.bucketId}`;
        const sp = `${b}/syncs/${owner.syncId}`;
        const op = `${b}/objects/${owner.objectId}`;
        const calls: [string, string, unknown?][] = [
          ['GET', b],
          ['PATCH', b, { description: 'hijack' }],
          ['DELETE', b],
          ['GET', `${b}/syncs`],
          ['POST', `${b}/syncs/list`, {}],
          ['POST', `${b}/syncs`, { connection_id: other.connectionId, source_path: '/' }],
          ['GET', sp],
          ['PATCH', sp, { description: 'hijack' }],
          ['DELETE', sp],
          ['POST', `${sp}/pause`],
          ['POST', `${sp}/resume`],
          ['POST', `${sp}/trigger`],
          ['POST', `${sp}/force-unlock`],
          ['GET', `${sp}/runs`],
          ['GET', `${sp}/dlq`],
          ['POST', `${sp}/dlq/retry`],
          ['GET', `${b}/objects`],
          ['POST', `${b}/objects/list`, {}],
          ['POST', `${b}/objects`, {}],
          ['GET', op],
          ['DELETE', op],
          ['GET', `/v1/analytics/buckets/${owner.bucketId}/sync-performance`],
          ['GET', `/v1/analytics/buckets/${owner.bucketId}/sync-comparison`],
        ];
        const col = `/v1/collections/${owner.collectionId}`;
        const bt = `${b}/batches`;
        calls.push(
          ['GET', col],
          ['DELETE', col],
          ['GET', `${col}/documents`],
          ['POST', `${col}/documents/list`, {}],
          ['GET', `${col}/documents/${owner.documentId}`],
          [
            'POST',
            '/v1/collections',
            { ...collectionBody, source: { type: 'bucket', bucket_ids: [owner.bucketId] } },
          ],
          [
            'POST',
            '/v1/collections',
            { ...collectionBody, source: { type: 'collection', collection_ids: [owner.collectionId] } },
          ],
          ['POST', bt, { object_ids: [owner.objectId] }],
          ['GET', bt],
          ['POST', `${bt}/list`, {}],
          ['GET', `${bt}/${owner.batchId}`],
          ['DELETE', `${bt}/${owner.batchId}`],
          ['POST', `${bt}/${owner.batchId}/submit`],
          ['POST', `${bt}/${owner.batchId}/cancel`],
          ['POST', `${bt}/${owner.batchId}/retry`],
          ['GET', `${bt}/${owner.doneBatchId}/failed-documents`],
          ['DELETE', `${bt}/${owner.doneBatchId}`],
          ['GET', `/v1/tasks/${owner.taskId}`],
          ['DELETE', `/v1/tasks/${owner.taskId}`],
          // Through the other tenant's own bucket and collection: still not found.
          ['GET', `/v1/buckets/${other.bucketId}/batches/${owner.batchId}`],
          ['POST', `/v1/buckets/${other.bucketId}/batches/${owner.batchId}/submit`],
          ['POST', `/v1/buckets/${other.bucketId}/batches/${owner.doneBatchId}/retry`],
          ['GET', `/v1/buckets/${other.bucketId}/batches/${owner.doneBatchId}/failed-documents`],
          ['GET', `/v1/collections/${other.collectionId}/documents/${owner.documentId}`],
        );
        // The owner's object and sync through the other tenant's own bucket: still not found.
        calls.push(['GET', `/v1/buckets/${other.bucketId}/objects/${owner.objectId}`]);
        calls.push(['GET', `/v1/buckets/${other.bucketId}/syncs/${owner.syncId}`]);
        const sameOrg = owner.who.internal_id === other.who.internal_id;
        const c = `/v1/organizations/connections/${owner.connectionId}`;
        if (!sameOrg) {
          calls.push(
            ['GET', c],
            ['PATCH', c, { description: 'hijack' }],
            ['DELETE', c],
            ['POST', `${c}/test`],
          );
          // Nor can a sync in the other tenant's own bucket use the owner's connection.
          calls.push([
            'POST',
            `/v1/buckets/${other.bucketId}/syncs`,
            { connection_id: owner.connectionId, source_path: '/' },
          ]);
        }
        for (const [m, p, body] of calls) {
          const r = await api(s, m, p, body, { who });
          assert.equal(r.status, 404, `${ctx}: ${m} ${p} -> ${r.status} ${r.text.slice(0, 200)}`);
          assertError(r, 404, 'NotFoundError');
          checked++;
        }
        // Lists never show the owner's resources.
        const buckets = await api(s, 'GET', '/v1/buckets?limit=1000', undefined, { who });
        assert.ok(!buckets.text.includes(owner.bucketId), `${ctx}: bucket listed`);
        const bl = await api(s, 'POST', '/v1/buckets/list?limit=1000', {}, { who });
        assert.ok(!bl.text.includes(owner.bucketId), `${ctx}: bucket listed`);
        const ownObjects = await api(
          s,
          'GET',
          `/v1/buckets/${other.bucketId}/objects?limit=1000`,
          undefined,
          { who },
        );
        assert.ok(!ownObjects.text.includes(owner.objectId), `${ctx}: object listed`);
        const ownSyncs = await api(s, 'GET', `/v1/buckets/${other.bucketId}/syncs?limit=1000`, undefined, {
          who,
        });
        assert.ok(!ownSyncs.text.includes(owner.syncId), `${ctx}: sync listed`);
        const conns = await api(s, 'POST', '/v1/organizations/connections/list?limit=1000', {}, { who });
        assert.equal(conns.text.includes(owner.connectionId), sameOrg, `${ctx}: connection listing`);
        // Nor the owner's collections, documents, batches, tasks (an object of the owner is not in
        // the other tenant's bucket: a batch of it is refused as such).
        for (const [m, p, body] of [
          ['GET', '/v1/collections?limit=1000'],
          ['POST', '/v1/collections/list?limit=1000', {}],
          ['POST', '/v1/collections/list?limit=1000', { bucket_id: owner.bucketId }],
          ['GET', `/v1/collections/${other.collectionId}/documents?limit=1000`],
          ['POST', `/v1/collections/${other.collectionId}/documents/list`, { object_id: owner.objectId }],
          ['GET', `/v1/buckets/${other.bucketId}/batches?limit=1000`],
          ['POST', `/v1/buckets/${other.bucketId}/batches/list?limit=1000`, {}],
          ['GET', '/v1/tasks?limit=1000'],
          ['POST', '/v1/tasks/list?limit=1000', {}],
        ] as [string, string, unknown?][]) {
          const r = await api(s, m, p, body, { who });
          assert.equal(r.status, 200, `${ctx}: ${m} ${p} -> ${r.text.slice(0, 200)}`);
          for (const id of [
            owner.collectionId,
            owner.documentId,
            owner.batchId,
            owner.doneBatchId,
            owner.taskId,
          ])
            assert.ok(!r.text.includes(id), `${ctx}: ${m} ${p} lists ${id}`);
          checked++;
        }
        const foreignBatch = await api(
          s,
          'POST',
          `/v1/buckets/${other.bucketId}/batches`,
          { object_ids: [owner.objectId] },
          { who },
        );
        assertError(foreignBatch, 422, 'ValidationError', ['body', 'object_ids', 0]);
        if (sameOrg) {
          // Organization-wide: readable from the other namespace of the same organization.
          const g = await api(s, 'GET', c, undefined, { who });
          assert.equal(g.status, 200, g.text);
        }
        // Another organization's namespace, named with one's own key: unknown.
        if (!sameOrg)
          assertError(
            await api(s, 'GET', '/v1/buckets', undefined, { who: { key: who.key, ns: owner.who.ns_id } }),
            404,
            'NotFoundError',
          );
        checked += 5;
      }
    console.log(`      (${checked} cross-tenant checks)`);
  });

  it('nothing was changed by the attempts: every tenant still sees its own resources intact', async () => {
    for (const t of tenants) {
      const b = await api(s, 'GET', `/v1/buckets/${t.bucketId}`, undefined, { who: t.who });
      assert.equal(b.status, 200, b.text);
      assert.equal(b.body.description, null);
      const sy = await api(s, 'GET', `/v1/buckets/${t.bucketId}/syncs/${t.syncId}`, undefined, {
        who: t.who,
      });
      assert.equal(sy.status, 200);
      assert.equal(sy.body.description, null);
      assert.equal(sy.body.paused, false);
      const o = await api(s, 'GET', `/v1/buckets/${t.bucketId}/objects/${t.objectId}`, undefined, {
        who: t.who,
      });
      assert.equal(o.status, 200);
      assert.deepEqual(o.body.metadata, { owner: t.name });
      const c = await api(s, 'GET', `/v1/organizations/connections/${t.connectionId}`, undefined, {
        who: t.who,
      });
      assert.equal(c.body.status, 'ACTIVE');
      assert.equal(c.body.description, null);
      const col = await api(s, 'GET', `/v1/collections/${t.collectionId}`, undefined, { who: t.who });
      assert.equal(col.status, 200, col.text);
      const doc = await api(
        s,
        'GET',
        `/v1/collections/${t.collectionId}/documents/${t.documentId}`,
        undefined,
        { who: t.who },
      );
      assert.equal(doc.status, 200, doc.text);
      const draft = await api(s, 'GET', `/v1/buckets/${t.bucketId}/batches/${t.batchId}`, undefined, {
        who: t.who,
      });
      assert.equal(draft.body.status, 'DRAFT', draft.text);
      const done = await api(s, 'GET', `/v1/buckets/${t.bucketId}/batches/${t.doneBatchId}`, undefined, {
        who: t.who,
      });
      assert.equal(done.body.status, 'COMPLETED', done.text);
      const task = await api(s, 'GET', `/v1/tasks/${t.taskId}`, undefined, { who: t.who });
      assert.equal(task.body.status, 'COMPLETED', task.text);
      const own = await api(s, 'GET', '/v1/collections', undefined, { who: t.who });
      assert.deepEqual(
        own.body.results.map((x: any) => x.collection_id),
        [t.collectionId],
      );
      const tasks = await api(s, 'GET', '/v1/tasks?limit=1000', undefined, { who: t.who });
      assert.ok(tasks.body.results.some((x: any) => x.task_id === t.taskId));
      for (const o of tenants)
        if (o !== t) assert.ok(!tasks.text.includes(o.taskId), `${t.name} lists ${o.name}'s task`);
      const list = await api(s, 'GET', '/v1/buckets', undefined, { who: t.who });
      assert.deepEqual(
        list.body.results.map((x: any) => x.bucket_id),
        [t.bucketId],
      );
      await api(s, 'DELETE', `/v1/buckets/${t.bucketId}/syncs/${t.syncId}`, undefined, { who: t.who });
    }
  });
});
