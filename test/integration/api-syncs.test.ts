// Syncs over HTTP on the real servers: the seed requests verbatim, every endpoint's success and
// error paths, analytics from the run history, and Temporal down -> 503 with nothing half-written.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startApi } from '../../api/server';
import { loadEnv } from '../../config/env';
import {
  deleteModel,
  dlqEntryModel,
  dlqRetryModel,
  listModel,
  syncComparisonModel,
  syncConfigModel,
  syncPerformanceModel,
  syncRunModel,
  triggerModel,
} from '../../api/responses';
import { dlqKey } from '../../store/objects';
import { stack, type Stack } from '../setup/stack';
import { tcpProxy, type Proxy } from '../setup/proxy';
import {
  api,
  assertError,
  assertModel,
  bucket,
  localConnection,
  sync,
  tenant,
  unique,
  until,
  type Who,
} from './api-helpers';

// The seed pages' requests, verbatim (bodies byte for byte as the pages print them).
const SEED_CREATE_BODY = `{
    "connection_id": "conn_abc123",
    "source_path": "/videos/2025/",
    "sync_mode": "continuous",
    "polling_interval_seconds": 300,
    "skip_duplicates": true,
    "file_filters": {
      "include_patterns": ["*.mp4", "*.mov"],
      "max_size_bytes": 5368709120
    }
  }`;
const SEED_PATCH_BODY = `{
  "description": "Pause sync temporarily",
  "is_active": false
}`;
const SEED_FILTERS = {
  file_filters: {
    include_patterns: ['*.mp4', '*.mov', '*.webm'],
    exclude_patterns: ['*/drafts/*', '*_temp.*'],
    min_size_bytes: 1024,
    max_size_bytes: 5368709120,
    modified_after: '2025-01-01T00:00:00Z',
    mime_types: ['video/mp4', 'video/quicktime'],
  },
};
const SEED_METADATA_FILTERS = {
  file_filters: {
    metadata_filters: [
      { field: 'status', operator: 'equals', value: 'approved' },
      { field: 'tags', operator: 'contains', value: 'hero' },
    ],
  },
};
const SEED_SCHEMA_MAPPING = {
  schema_mapping: {
    field_mappings: {
      product_name: { source: 'metadata.title' },
      category: { source: 'metadata.tags[0]' },
    },
  },
};
const SEED_LEGACY_FILTERS = [
  { extensions: ['.mp4', '.mov'] },
  { extensions: ['.jpg', '.png'], min_size_bytes: 1024 },
  { max_size_bytes: 10485760, patterns: ['.*-processed\\.jpg$'] },
];

describe('API: syncs — the seed requests verbatim', function () {
  this.timeout(120_000);
  let s: Stack;
  let who: Who;
  let BUCKET_ID: string;
  let SYNC_ID: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    // The seeds name their connection `conn_abc123` and their namespace `production`: a connection
    // by that name (ids or names are accepted) in an organization of its own.
    const t = await tenant(s, unique('seed-org'), 'production');
    who = { key: t.key, ns: 'production' };
    await localConnection(
      s,
      {
        'videos/2025/a.mp4': 'mp4',
        'videos/2025/b.mov': 'mov',
        'videos/2025/c.txt': 'txt',
        'other/d.mp4': 'd',
      },
      { who, name: 'conn_abc123' },
    );
    BUCKET_ID = await bucket(s, who);
  });

  // curl -X POST ".../syncs" -H "Authorization: Bearer $KEY" -H "X-Namespace: $NS" -H "Content-Type: application/json" -d '…'
  it('creates the seed sync', async () => {
    const r = await api(s, 'POST', `/v1/buckets/${BUCKET_ID}/syncs`, undefined, {
      who,
      raw: SEED_CREATE_BODY,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 200, r.text);
    assertModel(syncConfigModel, r.body);
    SYNC_ID = r.body.sync_config_id;
    assert.match(SYNC_ID, /^sync_/);
    assert.equal(r.body.source_path, '/videos/2025/');
    assert.equal(r.body.status, 'PENDING');
    assert.equal(r.body.batch_size, 50);
    assert.equal(r.body.reconcile_on_sync, false);
    assert.deepEqual(r.body.reconcile, {
      on_delete: true,
      on_update: true,
      on_filter_drift: true,
      re_extract_on_update: true,
      re_extract_fields: [],
    });
    assert.equal(r.body.file_filters.max_size_bytes, 5368709120);
  });

  // curl -X POST ".../syncs/$SYNC_ID/trigger" -H "Authorization: Bearer $KEY" -H "X-Namespace: $NS"
  it('triggers it and syncs exactly the matching files', async () => {
    await until(s, BUCKET_ID, SYNC_ID, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at, {
      who,
    });
    const r = await api(s, 'POST', `/v1/buckets/${BUCKET_ID}/syncs/${SYNC_ID}/trigger`, undefined, {
      who,
      headers: { 'content-type': null },
    });
    assert.equal(r.status, 200, r.text);
    assertModel(triggerModel, r.body);
    assert.deepEqual(Object.keys(r.body).sort(), ['message', 'status', 'sync_config_id', 'sync_job_id']);
    assert.equal(r.body.sync_config_id, SYNC_ID);
    const done = await until(s, BUCKET_ID, SYNC_ID, (x) => x.sync_run_counter >= 2 && !x.locked, { who });
    assert.equal(done.total_files_synced, 2);
    const objects = await s.store.objects.find({ sync_config_id: SYNC_ID }).toArray();
    assert.deepEqual(objects.map((o) => o.source_object_id).sort(), [
      'videos/2025/a.mp4',
      'videos/2025/b.mov',
    ]);
  });

  // curl ".../syncs/$SYNC_ID" -H "Authorization: Bearer $KEY" -H "X-Namespace: $NS"
  it('gets it with the monitoring fields', async () => {
    const r = await api(s, 'GET', `/v1/buckets/${BUCKET_ID}/syncs/${SYNC_ID}`, undefined, { who });
    assert.equal(r.status, 200, r.text);
    assertModel(syncConfigModel, r.body);
    for (const k of [
      'total_files_discovered',
      'total_files_synced',
      'total_files_failed',
      'total_bytes_synced',
      'last_sync_at',
      'next_sync_at',
      'consecutive_failures',
    ])
      assert.ok(k in r.body, k);
    assert.ok(r.body.last_sync_at);
    assert.equal(r.body.total_files_failed, 0);
  });

  // curl -X POST ".../syncs/$SYNC_ID/pause" -H "Authorization: Bearer $KEY" -H "X-Namespace: $NS"
  it('pauses it and resumes it (seed 004: no X-Namespace needed with ?namespace=)', async () => {
    const p = await api(s, 'POST', `/v1/buckets/${BUCKET_ID}/syncs/${SYNC_ID}/pause`, undefined, {
      who,
      headers: { 'content-type': null },
    });
    assert.equal(p.status, 200, p.text);
    assertModel(syncConfigModel, p.body);
    assert.equal(p.body.paused, true);
    assert.equal(p.body.status, 'SUSPENDED');
    assert.equal(p.body.is_active, false);
    const r = await api(
      s,
      'POST',
      `/v1/buckets/${BUCKET_ID}/syncs/${SYNC_ID}/resume?namespace=production`,
      undefined,
      {
        who,
        headers: { 'x-namespace': null },
      },
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.paused, false);
    assert.equal(r.body.status, 'ACTIVE');
  });

  // Seed 003: PATCH with {"description": "Pause sync temporarily", "is_active": false}
  it('patches it with the seed body', async () => {
    const r = await api(s, 'PATCH', `/v1/buckets/${BUCKET_ID}/syncs/${SYNC_ID}`, undefined, {
      who,
      raw: SEED_PATCH_BODY,
    });
    assert.equal(r.status, 200, r.text);
    assertModel(syncConfigModel, r.body);
    assert.equal(r.body.description, 'Pause sync temporarily');
    assert.equal(r.body.is_active, false);
    assert.equal(r.body.paused, true);
  });

  it('accepts the seed pages’ filter, metadata filter, schema mapping and legacy examples', async () => {
    for (const extra of [
      SEED_FILTERS,
      SEED_METADATA_FILTERS,
      SEED_SCHEMA_MAPPING,
      ...SEED_LEGACY_FILTERS.map((f) => ({ file_filters: f })),
    ]) {
      const r = await api(
        s,
        'POST',
        `/v1/buckets/${BUCKET_ID}/syncs`,
        {
          connection_id: 'conn_abc123',
          source_path: 'other',
          sync_mode: 'initial_only',
          metadata: { environment: 'production', project: 'video-pipeline' },
          ...extra,
        },
        { who },
      );
      assert.equal(r.status, 200, `${JSON.stringify(extra)}: ${r.text}`);
    }
  });
});

describe('API: syncs — lifecycle, validation, runs, DLQ', function () {
  this.timeout(120_000);
  let s: Stack;
  let bucketId: string;
  let connectionId: string;
  let syncId: string;
  const path = () => `/v1/buckets/${bucketId}/syncs/${syncId}`;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
    ({ connectionId } = await localConnection(s, { 'a.txt': 'a', 'b/c.txt': 'c' }));
    syncId = await sync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await until(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at);
  });

  it('refuses bad create bodies with 422 naming the field', async () => {
    const base = `/v1/buckets/${bucketId}/syncs`;
    const ok = { connection_id: connectionId, source_path: '/' };
    const cases: [Record<string, unknown>, (string | number)[]][] = [
      [{ source_path: '/' }, ['body', 'connection_id']],
      [{ connection_id: connectionId }, ['body', 'source_path']],
      [{ ...ok, polling_interval_seconds: 29 }, ['body', 'polling_interval_seconds']],
      [{ ...ok, polling_interval_seconds: 86401 }, ['body', 'polling_interval_seconds']],
      [{ ...ok, sync_concurrency: 0 }, ['body', 'sync_concurrency']],
      [{ ...ok, sync_concurrency: 101 }, ['body', 'sync_concurrency']],
      [{ ...ok, ingest_filter: { retriever_id: 'ret_1' } }, ['body', 'ingest_filter']],
      [{ ...ok, sync_from: 'yesterday' }, ['body', 'sync_from']],
      [{ ...ok, source_path: 'no-such-folder' }, ['body', 'source_path']],
      [{ ...ok, polling_interval_seconds: 60.5 }, ['body', 'polling_interval_seconds']],
      [{ ...ok, batch_size: 0 }, ['body', 'batch_size']],
      [{ ...ok, batch_size: 101 }, ['body', 'batch_size']],
      [{ ...ok, sync_mode: 'one_time' }, ['body', 'sync_mode']],
      [{ ...ok, resume_checkpoint_frequency: 99 }, ['body', 'resume_checkpoint_frequency']],
      [{ ...ok, batch_chunk_size: 1001 }, ['body', 'batch_chunk_size']],
      [{ ...ok, max_objects_per_run: 0 }, ['body', 'max_objects_per_run']],
      [{ ...ok, description: 'x'.repeat(501) }, ['body', 'description']],
      [
        { ...ok, metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) },
        ['body', 'metadata'],
      ],
      [{ ...ok, surprise: true }, ['body', 'surprise']],
      [
        { ...ok, file_filters: { modified_after: '2025-13-45T00:00:00Z' } },
        ['body', 'file_filters', 'modified_after'],
      ],
      [
        { ...ok, file_filters: { modified_before: 'yesterday' } },
        ['body', 'file_filters', 'modified_before'],
      ],
      [
        {
          ...ok,
          file_filters: { modified_after: '2025-02-01T00:00:00Z', modified_before: '2025-01-01T00:00:00Z' },
        },
        ['body', 'file_filters', 'modified_after'],
      ],
      [
        { ...ok, file_filters: { include_patterns: ['*.{mp4,mov'] } },
        ['body', 'file_filters', 'include_patterns', 0],
      ],
      [
        { ...ok, file_filters: { exclude_patterns: ['ok/*', '[abc'] } },
        ['body', 'file_filters', 'exclude_patterns', 1],
      ],
      [{ ...ok, file_filters: { patterns: ['(unclosed'] } }, ['body', 'file_filters', 'patterns', 0]],
      [
        { ...ok, file_filters: { min_size_bytes: 10, max_size_bytes: 5 } },
        ['body', 'file_filters', 'min_size_bytes'],
      ],
      [{ ...ok, file_filters: { min_size_bytes: -1 } }, ['body', 'file_filters', 'min_size_bytes']],
      [
        { ...ok, file_filters: { metadata_filters: [{ field: 'a', operator: 'like', value: 1 }] } },
        ['body', 'file_filters', 'metadata_filters', 0, 'operator'],
      ],
      [
        {
          ...ok,
          schema_mapping: {
            mappings: { t: { target_type: 'field', source: { type: 'filename_regex', pattern: '(' } } },
          },
        },
        ['body', 'schema_mapping', 'mappings', 't', 'source', 'pattern'],
      ],
      [{ ...ok, reconcile: { on_delete: 'yes' } }, ['body', 'reconcile', 'on_delete']],
    ];
    for (const [body, loc] of cases)
      assertError(await api(s, 'POST', base, body), 422, 'ValidationError', loc);
    assertError(
      await api(s, 'POST', base, { connection_id: 'conn_missing', source_path: '/' }),
      404,
      'NotFoundError',
    );
    assertError(await api(s, 'POST', '/v1/buckets/bkt_missing/syncs', ok), 404, 'NotFoundError');
    // Valid globs pass, escaped brackets included.
    const r = await api(s, 'POST', base, {
      ...ok,
      sync_mode: 'initial_only',
      file_filters: { include_patterns: ['**/*.{mp4,mov}', 'x\\[1\\].txt', '[!a]*', '@(a|b).txt'] },
    });
    assert.equal(r.status, 200, r.text);
    await api(s, 'DELETE', `${base}/${r.body.sync_config_id}`);
  });

  it('gets and lists with GET and POST /list filters (status accepts lowercase)', async () => {
    const g = await api(s, 'GET', path());
    assert.equal(g.status, 200);
    assertModel(syncConfigModel, g.body);
    assert.equal(g.body._id, undefined);
    assert.equal(g.body.deleted, undefined);
    const all = await api(s, 'GET', `/v1/buckets/${bucketId}/syncs?include_total=true`);
    assert.equal(all.status, 200, all.text);
    assertModel(listModel(syncConfigModel, 'S'), all.body);
    assert.ok(all.body.results.some((x: any) => x.sync_config_id === syncId));
    const active = await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/list`, {
      connection_id: connectionId,
      status: 'active',
      is_active: true,
    });
    assert.deepEqual(
      active.body.results.map((x: any) => x.sync_config_id),
      [syncId],
    );
    const none = await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/list`, { status: 'FAILED' });
    assert.deepEqual(none.body.results, []);
    assertError(
      await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/list`, { status: 'BROKEN' }),
      422,
      undefined,
      ['body', 'status'],
    );
    assertError(await api(s, 'GET', `/v1/buckets/${bucketId}/syncs/sync_missing`), 404, 'NotFoundError');
  });

  it('pause and resume are idempotent: they answer the current state', async () => {
    const p1 = await api(s, 'POST', `${path()}/pause`, { reason: 'first' });
    assert.equal(p1.status, 200, p1.text);
    assert.equal(p1.body.paused, true);
    assert.equal(p1.body.pause_reason, 'first');
    const p2 = await api(s, 'POST', `${path()}/pause`, { reason: 'second' });
    assert.equal(p2.status, 200, p2.text);
    assert.equal(p2.body.paused, true);
    assert.equal(p2.body.status, 'SUSPENDED');
    assert.equal(p2.body.pause_reason, 'first', 'the pause in force is kept');

    const t = await api(s, 'POST', `${path()}/trigger`);
    assert.equal(t.status, 200, t.text);
    assert.equal(t.body.status, 'SUSPENDED');
    assert.equal(t.body.sync_job_id, null);

    const r1 = await api(s, 'POST', `${path()}/resume`);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.body.paused, false);
    const r2 = await api(s, 'POST', `${path()}/resume`);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.body.paused, false);
    assert.equal(r2.body.status, 'ACTIVE');
    assertError(await api(s, 'POST', `${path()}/pause`, { reason: 5 }), 422, undefined, ['body', 'reason']);
    assertError(await api(s, 'POST', `${path()}/pause`, { why: 'x' }), 422, undefined, ['body', 'why']);
    await until(s, bucketId, syncId, (x) => !x.locked && x.next_sync_at);
  });

  it('trigger answers {sync_config_id, sync_job_id, status, message}; ?full_sync validated', async () => {
    const runsBefore = (await api(s, 'GET', path())).body.sync_run_counter;
    const t = await api(s, 'POST', `${path()}/trigger?full_sync=true`);
    assert.equal(t.status, 200, t.text);
    assertModel(triggerModel, t.body);
    assert.deepEqual(Object.keys(t.body).sort(), ['message', 'status', 'sync_config_id', 'sync_job_id']);
    // The run normally starts within the trigger's short wait; on a very slow machine it is still queued.
    if (t.body.sync_job_id === null) assert.equal(t.body.status, 'PENDING', t.text);
    else assert.ok(['IN_PROGRESS', 'COMPLETED', 'COMPLETED_WITH_ERRORS'].includes(t.body.status), t.text);
    await until(s, bucketId, syncId, (x) => x.sync_run_counter > runsBefore && !x.locked && x.next_sync_at);
    // The job id is the run's id, as current_sync_run_id and sync_progress show it.
    const after = await api(s, 'GET', path());
    if (t.body.sync_job_id !== null)
      assert.equal(after.body.sync_progress.sync_run_id, t.body.sync_job_id, 'the job id names the run');
    assertError(await api(s, 'POST', `${path()}/trigger?full_sync=maybe`), 422, undefined, [
      'query',
      'full_sync',
    ]);
    assertError(await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/sync_missing/trigger`), 404);
  });

  it('PATCH applies fields; is_active and ACTIVE/SUSPENDED steer the workflow; other statuses are 422', async () => {
    const p = await api(s, 'PATCH', path(), {
      polling_interval_seconds: 600,
      batch_size: 10,
      metadata: { env: 'prod' },
      file_filters: { include_patterns: ['*.txt'] },
      reconcile: { on_delete: false },
    });
    assert.equal(p.status, 200, p.text);
    assertModel(syncConfigModel, p.body);
    assert.equal(p.body.polling_interval_seconds, 600);
    assert.equal(p.body.batch_size, 10);
    assert.deepEqual(p.body.metadata, { env: 'prod' });
    assert.equal(p.body.reconcile.on_delete, false);
    assert.equal(p.body.reconcile.on_update, true);
    const susp = await api(s, 'PATCH', path(), { status: 'suspended' });
    assert.equal(susp.status, 200, susp.text);
    assert.equal(susp.body.paused, true);
    const back = await api(s, 'PATCH', path(), { is_active: true });
    assert.equal(back.body.paused, false);
    assert.equal(back.body.is_active, true);
    assertError(await api(s, 'PATCH', path(), { status: 'completed' }), 422, 'ValidationError', [
      'body',
      'status',
    ]);
    assertError(await api(s, 'PATCH', path(), { status: 'paused' }), 422, 'ValidationError', [
      'body',
      'status',
    ]);
    assertError(await api(s, 'PATCH', path(), {}), 422, 'ValidationError', ['body']);
    assertError(await api(s, 'PATCH', path(), { polling_interval_seconds: 10 }), 422, undefined, [
      'body',
      'polling_interval_seconds',
    ]);
    assertError(await api(s, 'PATCH', path(), { source_path: '/x' }), 422, undefined, [
      'body',
      'source_path',
    ]);
    assertError(
      await api(s, 'PATCH', path(), { file_filters: { include_patterns: ['{a'] } }),
      422,
      undefined,
      ['body', 'file_filters', 'include_patterns', 0],
    );
    assertError(await api(s, 'PATCH', `/v1/buckets/${bucketId}/syncs/sync_missing`, { batch_size: 5 }), 404);
  });

  it('force-unlock answers the model with the lock released', async () => {
    // A lock left behind by a worker that died. The sync is paused first and the pause waited for in
    // the store: its workflow then writes nothing (no run starts to retake the lock, no state write
    // races the ones below; FerretDB can lose one of two concurrent updates of a document).
    assert.equal((await api(s, 'POST', `${path()}/pause`, { reason: 'force-unlock test' })).status, 200);
    for (let i = 0; i < 300; i++) {
      const d = await s.store.syncs.findOne({ sync_config_id: syncId });
      if (d?.status === 'SUSPENDED' && d.paused && !d.locked) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await s.store.syncs.updateOne(
      { sync_config_id: syncId },
      {
        $set: {
          locked: true,
          locked_by_worker_id: 'dead-worker',
          locked_at: new Date(Date.now() - 3_600_000),
          lock_expires_at: new Date(Date.now() - 3_540_000),
        },
      },
    );
    const r = await api(s, 'POST', `${path()}/force-unlock`);
    assert.equal(r.status, 200, r.text);
    assertModel(syncConfigModel, r.body);
    assert.equal(r.body.locked, false);
    assert.equal(r.body.locked_by_worker_id, null);
    assertError(await api(s, 'POST', `/v1/buckets/${bucketId}/syncs/sync_missing/force-unlock`), 404);
    assert.equal((await api(s, 'POST', `${path()}/resume`)).status, 200);
    await until(s, bucketId, syncId, (x) => !x.paused && x.status !== 'SUSPENDED');
  });

  it('runs: history newest first, paginated', async () => {
    const r = await api(s, 'GET', `${path()}/runs?include_total=true`);
    assert.equal(r.status, 200, r.text);
    assertModel(listModel(syncRunModel, 'R'), r.body);
    assert.ok(r.body.total >= 2);
    const starts = r.body.results.map((x: any) => x.started_at);
    assert.deepEqual(starts, [...starts].sort().reverse());
    const one = await api(s, 'GET', `${path()}/runs?limit=1`);
    assert.equal(one.body.results.length, 1);
    assertError(await api(s, 'GET', `${path()}/runs?limit=0`), 422, undefined, ['query', 'limit']);
  });

  it('dlq lists failed files and dlq/retry re-queues them', async () => {
    const now = new Date();
    const entry = (id: string, status: 'PENDING' | 'FAILED') => ({
      _id: dlqKey(syncId, id),
      sync_config_id: syncId,
      bucket_id: bucketId,
      source_object_id: id,
      path: id,
      entry: {
        sourceObjectId: id,
        path: id,
        name: id,
        size: 1,
        modifiedAt: now.toISOString(),
        version: null,
      } as any,
      attempts: status === 'FAILED' ? 3 : 1,
      last_error: 'boom',
      first_failed_at: now,
      last_failed_at: now,
      status,
      last_attempt_run_id: 'run_x',
    });
    await s.store.dlq.insertMany([entry('bad/one.txt', 'FAILED'), entry('bad/two.txt', 'FAILED')]);
    const l = await api(s, 'GET', `${path()}/dlq?include_total=true`);
    assert.equal(l.status, 200, l.text);
    assertModel(listModel(dlqEntryModel, 'D'), l.body);
    assert.equal(l.body.total, 2);
    assert.deepEqual(Object.keys(l.body.results[0]).sort(), [
      'attempts',
      'first_failed_at',
      'last_error',
      'last_failed_at',
      'path',
      'source_object_id',
      'status',
    ]);
    const one = await api(s, 'POST', `${path()}/dlq/retry`, { source_object_ids: ['bad/one.txt'] });
    assert.equal(one.status, 200, one.text);
    assertModel(dlqRetryModel, one.body);
    assert.equal(one.body.requeued, 1);
    const rest = await api(s, 'POST', `${path()}/dlq/retry`);
    assert.equal(rest.body.requeued, 1);
    const after = await s.store.dlq.find({ sync_config_id: syncId }).toArray();
    assert.ok(after.every((d) => d.status === 'PENDING' && d.attempts === 0));
    assertError(await api(s, 'POST', `${path()}/dlq/retry`, { source_object_ids: [] }), 422, undefined, [
      'body',
      'source_object_ids',
    ]);
    assertError(await api(s, 'POST', `${path()}/dlq/retry`, { source_object_ids: 'x' }), 422, undefined, [
      'body',
      'source_object_ids',
    ]);
    await s.store.dlq.deleteMany({ sync_config_id: syncId });
  });

  it('DELETE stops the sync; its objects stay; then 404', async () => {
    const objects = await s.store.objects.countDocuments({ sync_config_id: syncId });
    assert.ok(objects > 0);
    const d = await api(s, 'DELETE', path());
    assert.equal(d.status, 200, d.text);
    assertModel(deleteModel, d.body);
    assertError(await api(s, 'GET', path()), 404, 'NotFoundError');
    assertError(await api(s, 'DELETE', path()), 404, 'NotFoundError');
    for (const sub of ['pause', 'resume', 'trigger', 'force-unlock'])
      assertError(await api(s, 'POST', `${path()}/${sub}`), 404, 'NotFoundError');
    assert.equal(await s.store.objects.countDocuments({ sync_config_id: syncId }), objects);
    const listed = await api(s, 'GET', `/v1/buckets/${bucketId}/syncs`);
    assert.ok(!listed.body.results.some((x: any) => x.sync_config_id === syncId));
  });
});

describe('API: sync analytics', function () {
  this.timeout(120_000);
  let s: Stack;
  let bucketId: string;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
    const hour = 3_600_000;
    const run = (
      id: string,
      cfg: string,
      hoursAgo: number,
      status: string,
      dur: number,
      mbps: number,
      files: number,
    ) => ({
      sync_run_id: id,
      sync_config_id: cfg,
      bucket_id: bucketId,
      internal_id: 'x',
      namespace_id: s.namespaceId,
      provider_type: cfg === 'sync_a' ? 'local' : 's3',
      pass_id: 'p',
      full: true,
      started_at: new Date(Date.now() - hoursAgo * hour),
      finished_at: new Date(Date.now() - hoursAgo * hour + dur * 1000),
      duration_seconds: dur,
      files_discovered: files,
      files_synced: files,
      files_failed: status === 'FAILED' ? 1 : 0,
      bytes_synced: files * 1000,
      objects_deleted: 0,
      throughput_mbps: mbps,
      status: status as any,
      error: null,
    });
    await s.store.runs.insertMany([
      run(`run_${randomBytes(4).toString('hex')}`, 'sync_a', 1, 'COMPLETED', 10, 2, 5),
      run(`run_${randomBytes(4).toString('hex')}`, 'sync_a', 2, 'FAILED', 20, 0, 0),
      run(`run_${randomBytes(4).toString('hex')}`, 'sync_a', 3, 'COMPLETED_WITH_ERRORS', 30, 4, 3),
      run(`run_${randomBytes(4).toString('hex')}`, 'sync_b', 5, 'COMPLETED', 40, 8, 10),
      run(`run_${randomBytes(4).toString('hex')}`, 'sync_a', 200, 'COMPLETED', 99, 99, 99), // outside 168 h
    ]);
  });

  it('sync-performance: runs newest first, summary over the range, filters and limits', async () => {
    const base = `/v1/analytics/buckets/${bucketId}/sync-performance`;
    const r = await api(s, 'GET', base);
    assert.equal(r.status, 200, r.text);
    assertModel(syncPerformanceModel, r.body);
    assert.equal(r.body.bucket_id, bucketId);
    assert.equal(r.body.sync_config_id, null);
    assert.equal(r.body.time_range.hours, 168);
    assert.equal(r.body.runs.length, 4);
    assert.deepEqual(
      r.body.runs.map((x: any) => x.duration_seconds),
      [10, 20, 30, 40],
    );
    assert.deepEqual(r.body.summary, {
      total_runs: 4,
      successful_runs: 3,
      failed_runs: 1,
      success_rate: 0.75,
      total_files_discovered: 18,
      total_files_synced: 18,
      total_files_failed: 1,
      total_bytes_synced: 18000,
      avg_duration_seconds: 25,
      avg_throughput_mbps: 3.5,
    });
    const a = await api(s, 'GET', `${base}?sync_config_id=sync_a&hours=720&limit=2`);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.sync_config_id, 'sync_a');
    assert.equal(a.body.runs.length, 2, 'limit');
    assert.equal(a.body.summary.total_runs, 4, 'the summary covers every run in range');
    const recent = await api(s, 'GET', `${base}?hours=1`);
    assert.equal(recent.body.summary.total_runs, 0);
    for (const q of ['hours=0', 'hours=721', 'hours=abc', 'limit=0', 'limit=1001', 'limit=1.5'])
      assertError(await api(s, 'GET', `${base}?${q}`), 422, 'ValidationError', ['query', q.split('=')[0]]);
    assertError(
      await api(s, 'GET', '/v1/analytics/buckets/bkt_missing/sync-performance'),
      404,
      'NotFoundError',
    );
  });

  it('sync-comparison: per config averages, success rate and totals', async () => {
    const base = `/v1/analytics/buckets/${bucketId}/sync-comparison`;
    const r = await api(s, 'GET', base);
    assert.equal(r.status, 200, r.text);
    assertModel(syncComparisonModel, r.body);
    const byId = Object.fromEntries(r.body.configs.map((c: any) => [c.sync_config_id, c]));
    assert.deepEqual(byId.sync_a, {
      sync_config_id: 'sync_a',
      provider_type: 'local',
      total_runs: 3,
      avg_duration_seconds: 20,
      avg_throughput_mbps: 2,
      success_rate: 0.6667,
      total_files_synced: 8,
      total_bytes_synced: 8000,
    });
    assert.equal(byId.sync_b.success_rate, 1);
    assert.equal(byId.sync_b.total_bytes_synced, 10000);
    const wide = await api(s, 'GET', `${base}?hours=720`);
    assert.equal(wide.body.configs.find((c: any) => c.sync_config_id === 'sync_a').total_runs, 4);
    assertError(await api(s, 'GET', `${base}?hours=0`), 422, undefined, ['query', 'hours']);
    assertError(await api(s, 'GET', '/v1/analytics/buckets/bkt_missing/sync-comparison'), 404);
  });

  it('a real sync’s runs show up, and its config is compared even before it runs', async () => {
    const { connectionId } = await localConnection(s, { 'r.txt': 'r' });
    const id = await sync(s, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });
    await until(s, bucketId, id, (x) => x.status === 'COMPLETED');
    const perf = await api(
      s,
      'GET',
      `/v1/analytics/buckets/${bucketId}/sync-performance?sync_config_id=${id}`,
    );
    assert.equal(perf.body.runs.length, 1);
    assert.equal(perf.body.runs[0].status, 'COMPLETED');
    assert.equal(perf.body.runs[0].files_synced, 1);
    const cmp = await api(s, 'GET', `/v1/analytics/buckets/${bucketId}/sync-comparison`);
    const mine = cmp.body.configs.find((c: any) => c.sync_config_id === id);
    assert.equal(mine.provider_type, 'local');
    assert.equal(mine.total_runs, 1);
  });
});

describe('API: Temporal unreachable', function () {
  this.timeout(120_000);
  let s: Stack;
  let down: { url: string; close: () => Promise<void> };
  let temporal: Proxy;
  let bucketId: string;
  let connectionId: string;
  let syncId: string;
  /** SyncControl's deadline for one Temporal call (api/sync-control.ts). */
  const DEADLINE_MS = 10_000;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    bucketId = await bucket(s);
    ({ connectionId } = await localConnection(s, { 'f.txt': 'f' }));
    syncId = await sync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    await until(s, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && x.next_sync_at);
    // A second API on the same store whose Temporal is behind a proxy that starts closed (a
    // refused port, later opened again onto the real server).
    temporal = await tcpProxy(s.env.TEMPORAL_ADDRESS, { startDown: true });
    const env = loadEnv({
      ...Object.fromEntries(
        Object.entries(s.env).map(([k, v]) => [k, Array.isArray(v) ? v.join(':') : String(v)]),
      ),
      TEMPORAL_ADDRESS: temporal.address,
      PORT: '0',
    });
    down = await startApi(env, { store: s.store });
  });
  after(async () => {
    await down?.close();
    await temporal?.close();
  });

  it('POST a sync -> 503 with Retry-After, and no config is left in the DB', async () => {
    const before = await s.store.syncs.countDocuments({ bucket_id: bucketId });
    const started = Date.now();
    const r = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/syncs`,
      { connection_id: connectionId, source_path: '/', description: 'never' },
      { base: down.url },
    );
    const ms = Date.now() - started;
    assertError(r, 503, 'ServiceUnavailableError');
    assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
    assert.equal(await s.store.syncs.countDocuments({ bucket_id: bucketId }), before);
    assert.equal(await s.store.syncs.countDocuments({ description: 'never' }), 0);
    // The first call knows nothing yet: it waits for one short health probe, not the deadline.
    assert.ok(ms < DEADLINE_MS, `first 503 took ${ms} ms`);
    console.log(`      (503 after ${ms} ms)`);
  });

  it('pause -> 503; PATCH -> 503 and its fields are rolled back; reads still work', async () => {
    const p = `/v1/buckets/${bucketId}/syncs/${syncId}`;
    const before = await s.store.syncs.findOne({ sync_config_id: syncId });
    const r = await api(s, 'POST', `${p}/pause`, undefined, { base: down.url });
    assertError(r, 503, 'ServiceUnavailableError');
    assert.ok(r.headers.get('retry-after'));
    // Resuming an active sync needs no workflow call: the stored state says it is not paused.
    const res = await api(s, 'POST', `${p}/resume`, undefined, { base: down.url });
    assert.equal(res.status, 200, res.text);
    const patched = await api(
      s,
      'PATCH',
      p,
      { polling_interval_seconds: 60, description: 'changed' },
      { base: down.url },
    );
    assertError(patched, 503, 'ServiceUnavailableError');
    const after = await s.store.syncs.findOne({ sync_config_id: syncId });
    assert.equal(after?.polling_interval_seconds, before?.polling_interval_seconds);
    assert.equal(after?.description, before?.description);
    assert.equal(after?.deleted, false);
    assert.equal(after?.paused, false);
    // Reads do not need Temporal.
    const g = await api(s, 'GET', p, undefined, { base: down.url });
    assert.equal(g.status, 200, g.text);
    assert.equal(
      (await api(s, 'GET', `/v1/buckets/${bucketId}/syncs`, undefined, { base: down.url })).status,
      200,
    );
    // The real API still works on the same sync.
    assert.equal((await api(s, 'GET', p)).body.polling_interval_seconds, 900);
  });

  it('while Temporal is known down every call answers 503 at once; when it is back the API recovers by itself', async () => {
    const p = `/v1/buckets/${bucketId}/syncs/${syncId}`;
    // Known down (the tests above found out): no call waits for the deadline, nothing is written.
    for (const [method, path] of [
      ['POST', `${p}/trigger`],
      ['POST', `${p}/force-unlock`],
      ['POST', `${p}/pause`],
      ['DELETE', p],
    ] as const) {
      const started = Date.now();
      const r = await api(s, method, path, undefined, { base: down.url });
      const ms = Date.now() - started;
      assertError(r, 503, 'ServiceUnavailableError');
      assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
      assert.ok(ms < DEADLINE_MS / 2, `${method} ${path}: 503 after ${ms} ms, not at once`);
      console.log(`      (${method} ${path.split('/').at(-1)}: 503 after ${ms} ms)`);
    }
    const created = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/syncs`,
      { connection_id: connectionId, source_path: '/', description: 'never either' },
      { base: down.url },
    );
    assertError(created, 503, 'ServiceUnavailableError');
    assert.equal(await s.store.syncs.countDocuments({ description: 'never either' }), 0);
    const still = await s.store.syncs.findOne({ sync_config_id: syncId });
    assert.equal(still?.deleted, false);
    assert.equal(still?.paused, false);

    // Temporal comes back: with no restart of the API, its calls go through again.
    const runs = still?.sync_run_counter ?? 0;
    await temporal.up();
    const deadline = Date.now() + 60_000;
    let trig;
    for (;;) {
      trig = await api(s, 'POST', `${p}/trigger`, undefined, { base: down.url });
      if (trig.status !== 503 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(trig.status, 200, trig.text);
    // The triggered run happens (the worker is on the real server).
    await until(s, bucketId, syncId, (x) => x.sync_run_counter > runs && !x.locked && x.next_sync_at);
    // A sync created through the recovered API gets its config and its workflow.
    const fresh = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/syncs`,
      { connection_id: connectionId, source_path: '/', polling_interval_seconds: 900 },
      { base: down.url },
    );
    assert.equal(fresh.status, 200, fresh.text);
    await until(s, bucketId, fresh.body.sync_config_id, (x) => x.sync_run_counter >= 1 && x.next_sync_at);
    assert.equal(
      (await api(s, 'DELETE', `/v1/buckets/${bucketId}/syncs/${fresh.body.sync_config_id}`)).status,
      200,
    );
    assert.equal((await api(s, 'DELETE', p, undefined, { base: down.url })).status, 200);
  });
});
