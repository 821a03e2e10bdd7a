// Unit tests for the pure parts of Mixpeek compatibility: sync_from as a filter, blob types in
// Mixpeek's enum, a sync's file concurrency, batch_collection_ids in the tier plan, and the
// request schemas accepting what Mixpeek's SDK sends.
import assert from 'node:assert/strict';
import { planTiers } from '../../core/dag';
import type { SourceEntry } from '../../core/entry';
import { compileFilters } from '../../core/filters';
import { MIXPEEK_BLOB_TYPES, mixpeekBlobType } from '../../core/mapping';
import {
  bucketListFilterSchema,
  connectionCreateSchema,
  fileConcurrencyOf,
  objectListFilterSchema,
  syncCreateRequestSchema,
  syncUpdateRequestSchema,
} from '../../core/request-schemas';

const entry = (modifiedAt: string): SourceEntry => ({
  sourceObjectId: 'a.txt',
  path: 'a.txt',
  name: 'a.txt',
  size: 10,
  modifiedAt,
  version: 'v1',
  metadata: {},
});

describe('Mixpeek compatibility (pure)', () => {
  it('sync_from keeps only files modified after it, besides file_filters', () => {
    const keep = compileFilters(null, '2025-06-01T00:00:00Z');
    assert.deepEqual(keep(entry('2025-06-01T00:00:01Z')), { keep: true });
    assert.deepEqual(keep(entry('2025-06-01T00:00:00Z')), { keep: false, reason: 'sync_from' });
    assert.deepEqual(keep(entry('2024-01-01T00:00:00Z')), { keep: false, reason: 'sync_from' });
    assert.deepEqual(compileFilters(null, null)(entry('2024-01-01T00:00:00Z')), { keep: true });
    const both = compileFilters({ include_patterns: ['*.md'] }, '2020-01-01T00:00:00Z');
    assert.deepEqual(both(entry('2025-06-01T00:00:00Z')), { keep: false, reason: 'include_patterns' });
  });

  it('answers blob types in Mixpeek’s BucketSchemaFieldType', () => {
    const cases: [string, string, string][] = [
      ['auto', 'text/plain', 'text'],
      ['auto', 'application/json', 'text'],
      ['auto', 'image/png', 'image'],
      ['auto', 'video/mp4', 'video'],
      ['auto', 'audio/mpeg', 'audio'],
      ['auto', 'application/pdf', 'pdf'],
      ['auto', 'text/csv', 'excel'],
      ['auto', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'excel'],
      ['auto', 'application/octet-stream', 'string'],
      ['json', 'application/json', 'object'],
      ['document', 'application/msword', 'text'],
      ['image', 'application/octet-stream', 'image'],
      ['video', 'text/plain', 'video'],
    ];
    for (const [type, mime, want] of cases)
      assert.equal(mixpeekBlobType(type, mime), want, `${type} ${mime}`);
    for (const t of ['auto', 'json', 'document', 'weird'])
      assert.ok((MIXPEEK_BLOB_TYPES as readonly string[]).includes(mixpeekBlobType(t, 'x/y')));
  });

  it('a sync’s sync_concurrency wins over the worker default, up to the worker’s cap', () => {
    assert.equal(fileConcurrencyOf(null, 8, 100), 8);
    assert.equal(fileConcurrencyOf(undefined, 8, 100), 8);
    assert.equal(fileConcurrencyOf(2, 8, 100), 2);
    assert.equal(fileConcurrencyOf(50, 8, 100), 50);
    assert.equal(fileConcurrencyOf(50, 8, 16), 16);
    assert.equal(fileConcurrencyOf(null, 32, 16), 16);
  });

  it('batch_collection_ids limits the bucket’s collections; downstream ones still follow', () => {
    const cols = [
      { collection_id: 'a', source: { type: 'bucket' as const, bucket_ids: ['b'] } },
      { collection_id: 'c', source: { type: 'bucket' as const, bucket_ids: ['b'] } },
      { collection_id: 'd', source: { type: 'collection' as const, collection_ids: ['a'] } },
      { collection_id: 'e', source: { type: 'collection' as const, collection_ids: ['c'] } },
    ];
    assert.deepEqual(planTiers(cols, 'b'), [
      ['a', 'c'],
      ['d', 'e'],
    ]);
    assert.deepEqual(planTiers(cols, 'b', ['a']), [['a'], ['d']]);
    assert.deepEqual(planTiers(cols, 'b', []), []);
    assert.deepEqual(planTiers(cols, 'b', null), planTiers(cols, 'b'));
  });

  it('accepts what Mixpeek’s SDK always sends, and refuses what cannot be honoured by name', () => {
    // SyncCreateRequest().to_dict() with the SDK's defaults.
    const create = syncCreateRequestSchema.safeParse({
      connection_id: 'conn_1',
      source_path: 'bkt/prefix',
      polling_interval_seconds: 86400,
      batch_size: 50,
      skip_batch_submission: false,
      skip_duplicates: true,
      sync_concurrency: 100,
      batch_collection_ids: ['col_a'],
      sync_from: '2025-01-01T00:00:00Z',
    });
    assert.ok(create.success, JSON.stringify(create.error?.issues));
    const filter = syncCreateRequestSchema.safeParse({
      connection_id: 'c',
      source_path: 'p',
      ingest_filter: { retriever_id: 'ret_1', timeout_seconds: 30 },
    });
    assert.ok(!filter.success);
    assert.deepEqual(filter.error.issues[0].path, ['ingest_filter']);
    assert.match(filter.error.issues[0].message, /retriever/);
    assert.ok(
      !syncCreateRequestSchema.safeParse({ connection_id: 'c', source_path: 'p', sync_concurrency: 101 })
        .success,
    );
    assert.ok(syncUpdateRequestSchema.safeParse({ provider_filters: {}, sync_concurrency: 3 }).success);
    assert.ok(!syncUpdateRequestSchema.safeParse({ polling_interval_seconds: 86401 }).success);
    assert.ok(!syncUpdateRequestSchema.safeParse({ source_path: 'x' }).success, 'undeclared fields stay 422');

    assert.equal(
      connectionCreateSchema.parse({
        name: 'n',
        provider_type: 's3',
        provider_config: {},
        write_enabled: true,
      }).write_enabled,
      true,
    );
    assert.ok(bucketListFilterSchema.safeParse({ case_sensitive: false, search: 'x', limit: 5 }).success);
    const sorted = bucketListFilterSchema.safeParse({ sort: { field: 'created_at' } });
    assert.ok(!sorted.success);
    assert.deepEqual(sorted.error.issues[0].path, ['sort']);
    assert.ok(objectListFilterSchema.safeParse({ return_presigned_urls: false }).success);
    const presigned = objectListFilterSchema.safeParse({ return_presigned_urls: true });
    assert.ok(!presigned.success);
    assert.deepEqual(presigned.error.issues[0].path, ['return_presigned_urls']);
  });
});
