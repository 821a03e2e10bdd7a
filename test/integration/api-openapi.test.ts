// The OpenAPI document (GET /openapi.json) and the docs page (GET /docs): unauthenticated, 3.1,
// every express route in `paths`, every $ref resolves, and the page lists every path.
import assert from 'node:assert/strict';
import { createApp } from '../../api/app';
import { registeredRoutes, routeTable } from '../../api/route';
import { SyncControl } from '../../api/sync-control';
import { decodeKey } from '../../config/env';
import { createLogger } from '../../lib/logger';
import { SecretBox } from '../../store/secrets';
import { stack, type Stack } from '../setup/stack';
import { api } from './api-helpers';

type Json = any;

function resolvePointer(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local refs: ${ref}`);
  let cur: Json = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function refsOf(node: Json, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, out));
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsOf(v, out);
    }
  return out;
}

const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('API: OpenAPI document and docs page', function () {
  this.timeout(120_000);
  let s: Stack;
  let doc: Json;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    const r = await api(s, 'GET', '/openapi.json', undefined, {
      headers: { authorization: null, 'x-namespace': null },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/);
    doc = r.body;
  });

  it('is OpenAPI 3.1 with info, security and paths', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    assert.ok(Object.keys(doc.paths).length >= 20);
    for (const [p, item] of Object.entries<Json>(doc.paths))
      for (const [m, op] of Object.entries<Json>(item)) {
        assert.ok(['get', 'post', 'put', 'patch', 'delete'].includes(m), `${m} ${p}`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${m} ${p}: responses`);
        // Every {param} in the path is declared as a path parameter.
        for (const [, name] of p.matchAll(/\{([^}]+)\}/g))
          assert.ok(
            (op.parameters ?? []).some(
              (x: Json) => x.in === 'path' && x.name === name && x.required === true,
            ),
            `${m} ${p}: path parameter ${name}`,
          );
        // Change notifications are authenticated by their channel's secret, not an API key.
        if (p.startsWith('/v1/notifications/')) assert.deepEqual(op.security, [], `${m} ${p}: security`);
        else if (p.startsWith('/v1/')) {
          assert.deepEqual(op.security, [{ bearerAuth: [] }], `${m} ${p}: security`);
        }
        if (p.startsWith('/v1/')) assert.ok(op.responses['401'], `${m} ${p}: 401 documented`);
      }
  });

  it('lists every route registered in express (walking the router stack), and nothing else', async () => {
    // An app built the way startApi builds it; its router stack is walked, nothing is listened on.
    const control = await SyncControl.connect(
      s.env.TEMPORAL_ADDRESS,
      s.env.TEMPORAL_NAMESPACE,
      s.env.TASK_QUEUE,
    );
    const app = createApp({
      env: s.env,
      store: s.store,
      secrets: new SecretBox(decodeKey(s.env.SECRETS_KEY)!),
      control,
      log: createLogger('silent', 'api'),
    });
    const routes = registeredRoutes(app).filter((r) => r.path.startsWith('/v1/'));
    assert.ok(routes.length >= 30, `found ${routes.length} routes`);
    for (const r of routes)
      assert.ok(
        doc.paths[toOpenApi(r.path)]?.[r.method.toLowerCase()],
        `${r.method} ${r.path} is not in the document`,
      );
    const inExpress = new Set(routes.map((r) => `${r.method.toLowerCase()} ${toOpenApi(r.path)}`));
    for (const [p, item] of Object.entries<Json>(doc.paths))
      for (const m of Object.keys(item))
        assert.ok(inExpress.has(`${m} ${p}`), `${m} ${p} documented but not routed`);
    // Routes declared with route() carry their request and response schemas.
    for (const r of routeTable.values()) {
      const op = doc.paths[toOpenApi(r.path)][r.method];
      assert.equal(op['x-undocumented'], undefined, `${r.method} ${r.path}`);
      assert.ok(op.summary, `${r.method} ${r.path}: summary`);
      if (r.body)
        assert.ok(op.requestBody?.content?.['application/json']?.schema, `${r.method} ${r.path}: body`);
      if (r.response) assert.ok(op.responses[String(r.status)].content, `${r.method} ${r.path}: response`);
    }
    // The contract's endpoints, by name.
    for (const [m, p] of [
      ['post', '/v1/buckets'],
      ['patch', '/v1/buckets/{bucket_id}'],
      ['delete', '/v1/buckets/{bucket_id}'],
      ['post', '/v1/organizations/connections/{connection_id}/test'],
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/trigger'],
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/dlq/retry'],
      ['post', '/v1/buckets/{bucket_id}/objects/list'],
      ['get', '/v1/analytics/buckets/{bucket_id}/sync-performance'],
      ['get', '/v1/analytics/buckets/{bucket_id}/sync-comparison'],
      ['post', '/v1/collections'],
      ['get', '/v1/collections'],
      ['post', '/v1/collections/list'],
      ['get', '/v1/collections/{collection_id}'],
      ['delete', '/v1/collections/{collection_id}'],
      ['get', '/v1/collections/{collection_id}/documents'],
      ['post', '/v1/collections/{collection_id}/documents/list'],
      ['get', '/v1/collections/{collection_id}/documents/{document_id}'],
      ['post', '/v1/buckets/{bucket_id}/batches'],
      ['get', '/v1/buckets/{bucket_id}/batches'],
      ['post', '/v1/buckets/{bucket_id}/batches/list'],
      ['get', '/v1/buckets/{bucket_id}/batches/{batch_id}'],
      ['delete', '/v1/buckets/{bucket_id}/batches/{batch_id}'],
      ['post', '/v1/buckets/{bucket_id}/batches/{batch_id}/submit'],
      ['post', '/v1/buckets/{bucket_id}/batches/{batch_id}/cancel'],
      ['post', '/v1/buckets/{bucket_id}/batches/{batch_id}/retry'],
      ['get', '/v1/buckets/{bucket_id}/batches/{batch_id}/failed-documents'],
      ['get', '/v1/tasks'],
      ['post', '/v1/tasks/list'],
      ['get', '/v1/tasks/{task_id}'],
      ['delete', '/v1/tasks/{task_id}'],
      // Mixpeek's SDK calls these.
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/jobs'],
      ['get', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/jobs/{sync_job_id}'],
      ['get', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/metrics'],
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/dlq'],
      ['get', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/dlq'],
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/unlock'],
      ['post', '/v1/buckets/{bucket_id}/syncs/{sync_config_id}/force-unlock'],
    ])
      assert.ok(doc.paths[p]?.[m], `${m} ${p}`);
    // Creates answer 200 (Mixpeek's SDK maps only 200), and nothing documents a 201.
    for (const p of [
      '/v1/buckets',
      '/v1/organizations/connections',
      '/v1/buckets/{bucket_id}/syncs',
      '/v1/buckets/{bucket_id}/objects',
      '/v1/collections',
      '/v1/buckets/{bucket_id}/batches',
    ])
      assert.ok(doc.paths[p].post.responses['200']?.content, `post ${p}: 200`);
    for (const [p, item] of Object.entries<Json>(doc.paths))
      for (const [m, op] of Object.entries<Json>(item))
        assert.equal(op.responses['201'], undefined, `${m} ${p}`);
    await control.close();
  });

  it('every $ref resolves', () => {
    const refs = refsOf(doc);
    assert.ok(refs.length > 50, `only ${refs.length} refs`);
    for (const ref of new Set(refs)) assert.ok(resolvePointer(doc, ref) !== undefined, `unresolved ${ref}`);
    // Every component schema is an object schema description (not an empty placeholder).
    for (const [name, schema] of Object.entries<Json>(doc.components.schemas))
      assert.ok(schema && typeof schema === 'object', name);
  });

  it('documents the contract’s constraints from the zod schemas', () => {
    const create = doc.components.schemas.SyncCreateRequest;
    assert.deepEqual(create.required, ['connection_id', 'source_path']);
    assert.equal(create.additionalProperties, false);
    const poll = create.properties.polling_interval_seconds;
    assert.deepEqual([poll.minimum, poll.maximum, poll.default], [30, 86400, 300]);
    const conc = create.properties.sync_concurrency;
    assert.deepEqual([conc.minimum, conc.maximum], [1, 100]);
    for (const f of ['batch_collection_ids', 'ingest_filter', 'sync_from'])
      assert.ok(create.properties[f], `SyncCreateRequest.${f}`);
    const update = doc.components.schemas.SyncUpdateRequest;
    for (const f of ['sync_concurrency', 'batch_collection_ids', 'ingest_filter', 'provider_filters'])
      assert.ok(update.properties[f], `SyncUpdateRequest.${f}`);
    assert.equal(update.properties.polling_interval_seconds.maximum, 86400);
    assert.ok(doc.components.schemas.StorageConnectionCreateRequest.properties.write_enabled);
    assert.ok(doc.components.schemas.ListBucketsRequest.properties.case_sensitive);
    assert.ok(doc.components.schemas.ObjectListRequest.properties.return_presigned_urls);
    // Mixpeek's response shapes.
    const bucketResp = doc.components.schemas.BucketResponse;
    for (const f of ['object_count', 'total_size_bytes']) assert.ok(bucketResp.required.includes(f), f);
    assert.ok(doc.components.schemas.ListBucketsResponse.required.includes('total_count'));
    assert.deepEqual(doc.components.schemas.Pagination.properties.next_page.type, ['string', 'null']);
    assert.deepEqual(doc.components.schemas.SyncJobModel.properties.status.enum, [
      'running',
      'completed',
      'failed',
      'interrupted',
      'skipped',
    ]);
    for (const f of ['sync_job_id', 'internal_id', 'namespace_id'])
      assert.ok(doc.components.schemas.SyncJobModel.required.includes(f), f);
    assert.ok(doc.components.schemas.BlobModel.properties.type.enum.includes('text'));
    assert.ok(!doc.components.schemas.BlobModel.properties.type.enum.includes('auto'));
    const batch = create.properties.batch_size;
    assert.deepEqual([batch.minimum, batch.maximum, batch.default], [1, 100, 50]);
    assert.deepEqual(create.properties.sync_mode.enum.sort(), ['continuous', 'initial_only']);
    assert.equal(create.properties.description.maxLength, 500);
    const limit = doc.paths['/v1/buckets'].get.parameters.find((x: Json) => x.name === 'limit');
    assert.deepEqual([limit.schema.minimum, limit.schema.maximum, limit.schema.default], [1, 1000, 100]);
    const hours = doc.paths['/v1/analytics/buckets/{bucket_id}/sync-performance'].get.parameters.find(
      (x: Json) => x.name === 'hours',
    );
    assert.deepEqual([hours.schema.minimum, hours.schema.maximum, hours.schema.default], [1, 720, 168]);
    assert.ok(doc.components.schemas.TaskStatus.enum.includes('SUSPENDED'));
    assert.ok(doc.components.schemas.ErrorResponse.properties.error);
    // Collections and batches.
    const col = doc.components.schemas.CollectionCreateRequest;
    assert.deepEqual([...col.required].sort(), ['collection_name', 'pipeline', 'source']);
    assert.equal(col.additionalProperties, false);
    assert.deepEqual([col.properties.pipeline.minItems, col.properties.pipeline.maxItems], [1, 10]);
    const ids = doc.components.schemas.BatchCreateRequest.properties.object_ids;
    assert.deepEqual([ids.minItems, ids.maxItems], [1, 1000]);
    assert.deepEqual([...doc.components.schemas.BatchStatus.enum].sort(), [
      'CANCELED',
      'COMPLETED',
      'COMPLETED_WITH_ERRORS',
      'DRAFT',
      'FAILED',
      'IN_PROGRESS',
      'PENDING',
    ]);
    for (const m of ['CollectionModel', 'DocumentModel', 'BatchModel', 'TaskResponse', 'FailedDocument'])
      assert.ok(doc.components.schemas[m], m);
  });

  it('GET /docs is a self-contained HTML page listing every path and method', async () => {
    const r = await api(s, 'GET', '/docs', undefined, {
      headers: { authorization: null, 'x-namespace': null },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/html/);
    assert.match(r.text, /^<!doctype html>/i);
    for (const [p, item] of Object.entries<Json>(doc.paths)) {
      const escaped = p.replace(/&/g, '&amp;');
      assert.ok(r.text.includes(`<code>${escaped}</code>`), `docs page lacks ${p}`);
      for (const m of Object.keys(item))
        assert.ok(r.text.includes(`>${m.toUpperCase()}</code> <code>${escaped}`), `${m} ${p}`);
    }
    assert.ok(r.text.includes('id="schema-SyncCreateRequest"'));
    assert.ok(!/<script[^>]+src=/i.test(r.text), 'no external scripts');
    assert.ok(!/\ssrc=["']?https?:/i.test(r.text), 'nothing loaded from elsewhere');
    assert.ok(!/<link[^>]+href=["']https?:/i.test(r.text), 'no external stylesheets');
  });
});
