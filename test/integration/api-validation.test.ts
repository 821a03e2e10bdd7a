// What a client can get wrong: auth, namespaces, malformed and oversized bodies, unknown routes,
// wrong methods, bad query parameters, unstorable JSON — and a little fuzzing: no request is a 500.
import assert from 'node:assert/strict';
import { stack, type Stack } from '../setup/stack';
import {
  api,
  assertError,
  assertHandled,
  bucket,
  localConnection,
  sync,
  tenant,
  unique,
  until,
} from './api-helpers';

describe('API: auth, namespaces, routes and formats', function () {
  this.timeout(120_000);
  let s: Stack;
  let bucketId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
  });

  it('401 for a missing, malformed or unknown API key', async () => {
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { headers: { authorization: null } }),
      401,
      'AuthenticationError',
    );
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { headers: { authorization: 'Basic abc' } }),
      401,
    );
    assertError(await api(s, 'GET', '/v1/buckets', undefined, { headers: { authorization: 'Bearer' } }), 401);
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { headers: { authorization: 'Bearer sk_nope' } }),
      401,
    );
    // Before anything else: an unknown route or a bad body without a key is still a 401.
    assertError(await api(s, 'GET', '/v1/nothing', undefined, { headers: { authorization: null } }), 401);
    assertError(
      await api(s, 'POST', '/v1/buckets', undefined, { raw: '{bad', headers: { authorization: 'Bearer x' } }),
      401,
    );
  });

  it('namespace by id or name, in X-Namespace or ?namespace=; missing 400, unknown 404', async () => {
    const t = await tenant(s, 'test-org', 'test-ns');
    assert.equal(t.ns_id, s.namespaceId);
    for (const opts of [
      { headers: { 'x-namespace': s.namespaceId } },
      { headers: { 'x-namespace': 'test-ns' } },
    ]) {
      const r = await api(s, 'GET', `/v1/buckets/${bucketId}`, undefined, opts);
      assert.equal(r.status, 200, r.text);
    }
    for (const q of [`namespace=${s.namespaceId}`, 'namespace=test-ns']) {
      const r = await api(s, 'GET', `/v1/buckets/${bucketId}?${q}`, undefined, {
        headers: { 'x-namespace': null },
      });
      assert.equal(r.status, 200, r.text);
    }
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { headers: { 'x-namespace': null } }),
      400,
      'BadRequestError',
    );
    assertError(await api(s, 'GET', '/v1/buckets', undefined, { headers: { 'x-namespace': ' ' } }), 400);
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, { headers: { 'x-namespace': 'ns_unknown' } }),
      404,
      'NotFoundError',
    );
  });

  it('malformed JSON 400, body over 1 MB 413, non-JSON body 415 — in the error format', async () => {
    assertError(
      await api(s, 'POST', '/v1/buckets', undefined, { raw: '{"bucket_name": ' }),
      400,
      'BadRequestError',
    );
    assertError(await api(s, 'POST', '/v1/buckets', undefined, { raw: "{'single': 1}" }), 400);
    const big = JSON.stringify({ bucket_name: 'x', metadata: { blob: 'x'.repeat(1_100_000) } });
    assertError(await api(s, 'POST', '/v1/buckets', undefined, { raw: big }), 413, 'PayloadTooLargeError');
    assertError(
      await api(s, 'POST', '/v1/buckets', undefined, {
        raw: 'bucket_name=x',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
    );
    assertError(
      await api(s, 'POST', '/v1/buckets', undefined, {
        raw: '{"bucket_name":"x"}',
        headers: { 'content-type': 'application/json; charset=latin-9' },
      }),
      415,
    );
    assertError(
      await api(s, 'POST', '/v1/buckets', undefined, {
        raw: 'not gzip at all',
        headers: { 'content-encoding': 'gzip' },
      }),
      400,
    );
    // Without a body at all, a required body is a 422 naming `body`.
    assertError(await api(s, 'POST', '/v1/buckets'), 422, 'ValidationError', ['body']);
    assertError(await api(s, 'POST', '/v1/buckets', undefined, { raw: 'null' }), 422, 'ValidationError', [
      'body',
    ]);
    assertError(await api(s, 'POST', '/v1/buckets', undefined, { raw: '[]' }), 422, 'ValidationError', [
      'body',
    ]);
  });

  it('unknown routes 404; wrong methods on known paths 405 with Allow', async () => {
    assertError(await api(s, 'GET', '/v1/nothing-here'), 404, 'NotFoundError');
    assertError(await api(s, 'GET', '/nothing-here'), 404, 'NotFoundError');
    assertError(await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/sync_x/explode`), 404);
    const cases: [string, string, string][] = [
      ['PUT', '/v1/buckets', 'GET, HEAD, POST'],
      ['PUT', '/v1/buckets/list', 'DELETE, GET, HEAD, PATCH, POST'], // `list` is also a {bucket_id}
      ['PUT', `/v1/buckets/${bucketId}/syncs/list`, 'DELETE, GET, HEAD, PATCH, POST'],
      ['PATCH', '/v1/organizations/connections', 'GET, HEAD, POST'],
      ['POST', `/v1/buckets/${bucketId}`, 'DELETE, GET, HEAD, PATCH'],
      ['PUT', `/v1/buckets/${bucketId}/syncs/sync_x`, 'DELETE, GET, HEAD, PATCH'],
      ['GET', `/v1/buckets/${bucketId}/syncs/sync_x/trigger`, 'POST'],
      ['DELETE', '/v1/organizations/connections', 'GET, HEAD, POST'],
      ['PATCH', `/v1/buckets/${bucketId}/objects/obj_x`, 'DELETE, GET, HEAD'],
      ['POST', `/v1/analytics/buckets/${bucketId}/sync-comparison`, 'GET, HEAD'],
    ];
    for (const [m, p, allow] of cases) {
      const r = await api(s, m, p, m === 'GET' || m === 'DELETE' ? undefined : {});
      assertError(r, 405, 'MethodNotAllowedError');
      assert.equal(r.headers.get('allow'), allow, `${m} ${p}`);
    }
    const r = await api(s, 'PUT', '/openapi.json');
    assertError(r, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  });

  it('bad list query parameters are 422 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=1e3', 'limit'], // an OpenAPI integer is decimal digits
      ['offset=', 'offset'],
      ['limit[a]=1', 'limit'],
      ['offset=-1', 'offset'],
      ['offset=10001', 'offset'],
      ['include_total=maybe', 'include_total'],
      ['include_total=', 'include_total'],
      ['cursor=garbage', 'cursor'],
      [`cursor=${'x'.repeat(300)}`, 'cursor'],
    ];
    for (const p of [
      '/v1/buckets',
      '/v1/organizations/connections',
      `/v1/buckets/${bucketId}/syncs`,
      `/v1/buckets/${bucketId}/objects`,
    ])
      for (const [q, name] of cases)
        assertError(await api(s, 'GET', `${p}?${q}`), 422, 'ValidationError', ['query', name]);
    for (const [q, name] of cases)
      assertError(await api(s, 'POST', `/v1/buckets/list?${q}`, {}), 422, 'ValidationError', ['query', name]);
    const ok = await api(s, 'GET', '/v1/buckets?limit=1000&offset=0&include_total=true&unknown=1');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.pagination.page_size, 1000);
  });

  it('JSON the store cannot hold is a 422 naming the key or value', async () => {
    const post = (body: string) => api(s, 'POST', '/v1/buckets', undefined, { raw: body });
    assertError(await post('{"bucket_name":"x","metadata":{"a.b":1}}'), 422, 'ValidationError', [
      'body',
      'metadata',
      'a.b',
    ]);
    assertError(await post('{"bucket_name":"x","metadata":{"$where":1}}'), 422, undefined, [
      'body',
      'metadata',
      '$where',
    ]);
    assertError(await post('{"bucket_name":"x","metadata":{"k":{"\\u0000":1}}}'), 422, undefined, [
      'body',
      'metadata',
      'k',
      '\u0000',
    ]);
    assertError(await post('{"bucket_name":"x","metadata":{"m":[[1,2],[3]]}}'), 422, undefined, [
      'body',
      'metadata',
      'm',
      0,
    ]);
    assertError(await post('{"bucket_name":"x","metadata":{"n":1e400}}'), 422, undefined, [
      'body',
      'metadata',
      'n',
    ]);
    let deep = '1';
    for (let i = 0; i < 40; i++) deep = `{"a":${deep}}`;
    const r = await post(`{"bucket_name":"x","metadata":${deep}}`);
    assertError(r, 422, 'ValidationError');
    assert.match(r.text, /nested more than 32 levels/);
    // 100 000 levels: refused without exhausting the stack.
    const bomb = '['.repeat(100_000) + ']'.repeat(100_000);
    assertHandled(await post(`{"bucket_name":"x","metadata":{"d":${bomb}}}`), 'array bomb');
    assertHandled(
      await post('{"bucket_name":"x","metadata":' + '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_001)),
      'object bomb',
    );
    // Dotted keys inside schema-mapping targets too.
    const { connectionId } = await localConnection(s);
    assertError(
      await api(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
        connection_id: connectionId,
        source_path: '/',
        schema_mapping: {
          mappings: { 'a.b': { target_type: 'field', source: { type: 'constant', value: 1 } } },
        },
      }),
      422,
      undefined,
      ['body', 'schema_mapping', 'mappings', 'a.b'],
    );
    // Unicode is fine.
    const u = await post(
      '{"bucket_name":"ünïcødé 😀","metadata":{"名前":"値","emoji":"😀","lone":"\\ud800"}}',
    );
    assert.equal(u.status, 200, u.text);
    assert.equal(u.body.bucket_name, 'ünïcødé 😀');
    assert.equal(u.body.metadata['名前'], '値');
  });

  it('odd path parameters are 404s, never 500s', async () => {
    for (const id of [
      '%00',
      '%ZZ',
      '..',
      '%2e%2e',
      'ü',
      'x'.repeat(5000),
      '%7B%7D',
      'a%2Fb',
      "'; drop",
      '$where',
    ])
      for (const p of [
        `/v1/buckets/${id}`,
        `/v1/buckets/${id}/syncs/${id}`,
        `/v1/buckets/${bucketId}/objects/${id}`,
        `/v1/organizations/connections/${id}`,
        `/v1/analytics/buckets/${id}/sync-performance`,
      ])
        assertHandled(await api(s, 'GET', p), `GET ${p.slice(0, 80)}`);
    const r = await api(s, 'GET', '/v1/organizations/connections/%7B%22%24ne%22%3A1%7D');
    assertError(r, 404);
  });
});

describe('API: fuzzing request bodies — no 500s', function () {
  this.timeout(300_000);
  let s: Stack;
  let bucketId: string;
  let connectionId: string;
  let syncId: string;
  let objectId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
    ({ connectionId } = await localConnection(s, { 'f.txt': 'f' }));
    syncId = await sync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await until(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at);
    objectId = (await api(s, 'POST', `/v1/buckets/${bucketId}/objects`, {})).body.object_id;
  });

  const VALUES: unknown[] = [
    null,
    [],
    {},
    '',
    'x',
    0,
    -1,
    1.5,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    true,
    [[1]],
    { $gt: '' },
    { 'a.b': 1 },
    ['x', { y: null }],
    'ü😀\u0000\ud800',
    'x'.repeat(20_000),
  ];

  it('every field of every body endpoint, set to every kind of wrong value', async () => {
    const sp = () => `/v1/buckets/${bucketId}/syncs/${syncId}`;
    // [method, path, a valid base body, fields to mutate]
    const endpoints: [string, () => string, Record<string, unknown>][] = [
      ['POST', () => '/v1/buckets', { bucket_name: 'fz', description: 'd', bucket_schema: {}, metadata: {} }],
      ['POST', () => '/v1/buckets/list', { bucket_name: 'fz' }],
      ['PATCH', () => `/v1/buckets/${bucketId}`, { bucket_name: 'fz', description: 'd', metadata: {} }],
      [
        'POST',
        () => '/v1/organizations/connections',
        {
          name: 'fz',
          provider_type: 'local',
          provider_config: { root: '/nonexistent-fuzz' },
          description: 'd',
          metadata: {},
          test_before_save: true,
        },
      ],
      [
        'POST',
        () => '/v1/organizations/connections/list',
        { provider_type: 'local', status: 'ACTIVE', is_active: true },
      ],
      [
        'PATCH',
        () => `/v1/organizations/connections/${connectionId}`,
        {
          description: 'd',
          metadata: {},
          provider_config: { root: '/nonexistent-fuzz' },
          test_before_save: true,
        },
      ],
      ['POST', () => `/v1/organizations/connections/${connectionId}/test`, { source_path: 'nope' }],
      [
        'POST',
        () => `/v1/buckets/${bucketId}/syncs`,
        {
          // an unknown connection: a body that passes validation stops at 404, starting no workflow
          connection_id: 'conn_fuzz_missing',
          source_path: '/',
          sync_mode: 'continuous',
          file_filters: { include_patterns: ['*'] },
          schema_mapping: { mappings: {} },
          polling_interval_seconds: 300,
          batch_size: 50,
          skip_duplicates: true,
          reconcile: {},
          provider_filters: {},
          max_objects_per_run: 10,
          description: 'd',
          metadata: {},
        },
      ],
      [
        'POST',
        () => `/v1/buckets/${bucketId}/syncs/list`,
        { connection_id: 'c', status: 'ACTIVE', is_active: true },
      ],
      [
        'PATCH',
        sp,
        { description: 'd', polling_interval_seconds: 900, batch_size: 50, file_filters: null, metadata: {} },
      ],
      ['POST', () => `${sp()}/pause`, { reason: 'r' }],
      ['POST', () => `${sp()}/dlq/retry`, { source_object_ids: ['x'] }],
      ['POST', () => `/v1/buckets/${bucketId}/objects`, { key_prefix: '/', blobs: [], metadata: {} }],
      ['POST', () => `/v1/buckets/${bucketId}/objects/list`, { key_prefix: '/', status: 'COMPLETED' }],
    ];
    let count = 0;
    const started = Date.now();
    for (const [method, p, base] of endpoints) {
      for (const whole of [null, [], 'str', 42, true, [base], { ...base, unknown_field: 1 }]) {
        assertHandled(
          await api(s, method, p(), undefined, { raw: JSON.stringify(whole) }),
          `${method} ${p()} ${JSON.stringify(whole)}`,
        );
        count++;
      }
      for (const key of Object.keys(base)) {
        for (const v of VALUES) {
          const body = { ...base, [key]: v };
          const r = await api(s, method, p(), body);
          assertHandled(r, `${method} ${p()} ${key}=${JSON.stringify(v).slice(0, 60)}`);
          count++;
          // Nested: the same value one level down in object-valued fields.
          if (base[key] && typeof base[key] === 'object' && !Array.isArray(base[key])) {
            const nested = { ...base, [key]: { ...base[key], fuzz: v, root: v } };
            assertHandled(
              await api(s, method, p(), nested),
              `${method} ${p()} ${key}.*=${JSON.stringify(v).slice(0, 60)}`,
            );
            count++;
          }
        }
      }
    }
    // The sync and the object survived whatever the fuzzing did to them.
    assert.equal((await api(s, 'GET', sp())).status, 200);
    assert.equal((await api(s, 'GET', `/v1/buckets/${bucketId}/objects/${objectId}`)).status, 200);
    console.log(`      (${count} fuzzed requests in ${Date.now() - started} ms, none a 5xx)`);
  });

  it('query strings and headers of every shape', async () => {
    const qs = [
      'limit=1&limit=2',
      'include_total[]=true',
      'namespace[]=x',
      'namespace[a]=b',
      'offset=1e400',
      'full_sync=true&full_sync=false',
      'hours=-0',
      'hours=1e3',
      'sync_config_id[$ne]=x',
      'cursor=eyJvIjotMX0',
      '%ZZ=1',
    ];
    const paths = [
      '/v1/buckets',
      `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`,
      `/v1/analytics/buckets/${bucketId}/sync-performance`,
      `/v1/buckets/${bucketId}/objects`,
    ];
    for (const p of paths)
      for (const q of qs) {
        const m = p.endsWith('trigger') ? 'POST' : 'GET';
        assertHandled(await api(s, m, `${p}?${q}`), `${m} ${p}?${q}`);
      }
    const headerCases: Record<string, string>[] = [
      { 'x-namespace': 'ü' },
      { 'x-namespace': 'x'.repeat(10_000) },
      { authorization: `Bearer ${'k'.repeat(10_000)}` },
      { 'content-type': 'application/json; charset=utf-16' },
      { 'content-type': 'application/vnd.api+json' },
    ];
    for (const h of headerCases)
      assertHandled(
        await api(s, 'POST', '/v1/buckets/list', {}, { headers: h }),
        JSON.stringify(h).slice(0, 80),
      );
    const other = await tenant(s, unique('fuzz-org'), 'ns');
    assertHandled(
      await api(s, 'GET', '/v1/buckets', undefined, {
        who: other,
        headers: { 'x-namespace': s.namespaceId },
      }),
      'foreign ns',
    );
  });
});
