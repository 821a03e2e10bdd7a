// Unit tests for core/request-schemas.ts: defaults and ranges of the contract (shared/reference/api.md).
import assert from 'node:assert/strict';
import type { z } from 'zod';
import {
  fileFiltersSchema,
  syncCreateSchema,
  syncUpdateSchema,
  taskStatusSchema,
} from '../../core/request-schemas';
import { TASK_STATUSES } from '../../core/status';

const BASE = { connection_id: 'conn_abc123', source_path: '/videos/2025/' };

/** Parses and expects failure; returns the issue paths as dotted strings. */
function failPaths(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to be rejected`);
  return r.error.issues.map((i) => i.path.map(String).join('.'));
}

function assertRejectedAt(schema: z.ZodType, input: unknown, path: string): void {
  const paths = failPaths(schema, input);
  assert.ok(paths.includes(path), `expected an issue at "${path}", got ${JSON.stringify(paths)}`);
}

function assertAccepted(schema: z.ZodType, input: unknown): unknown {
  const r = schema.safeParse(input);
  assert.ok(r.success, `expected ${JSON.stringify(input)} to parse: ${JSON.stringify(r.error?.issues)}`);
  return r.data;
}

describe('schemas: syncCreateSchema defaults', () => {
  it('fills every default of the contract', () => {
    const parsed = syncCreateSchema.parse(BASE);
    assert.deepEqual(parsed, {
      connection_id: 'conn_abc123',
      source_path: '/videos/2025/',
      sync_mode: 'continuous',
      polling_interval_seconds: 300,
      batch_size: 50,
      skip_duplicates: true,
      create_object_on_confirm: true,
      skip_batch_submission: false,
      reconcile: {
        on_delete: true,
        on_update: true,
        on_filter_drift: true,
        re_extract_on_update: true,
        re_extract_fields: [],
      },
      reconcile_on_sync: false,
      provider_filters: {},
      max_objects_per_run: 100000,
      batch_chunk_size: 100,
      max_batch_chunk_size: 1000,
      resume_enabled: true,
      resume_checkpoint_frequency: 1000,
      metadata: {},
      sync_concurrency: null,
      batch_collection_ids: null,
      ingest_filter: null,
      sync_from: null,
    });
  });

  it('leaves file_filters, schema_mapping and description unset by default', () => {
    const parsed = syncCreateSchema.parse(BASE);
    assert.equal('file_filters' in parsed, false);
    assert.equal('schema_mapping' in parsed, false);
    assert.equal('description' in parsed, false);
  });

  it('fills reconcile defaults inside a partial reconcile object', () => {
    const parsed = syncCreateSchema.parse({ ...BASE, reconcile: { on_delete: false } });
    assert.deepEqual(parsed.reconcile, {
      on_delete: false,
      on_update: true,
      on_filter_drift: true,
      re_extract_on_update: true,
      re_extract_fields: [],
    });
  });

  it('does not share default objects between parses', () => {
    const a = syncCreateSchema.parse(BASE);
    const b = syncCreateSchema.parse(BASE);
    a.reconcile.re_extract_fields.push('title');
    a.reconcile.on_delete = false;
    a.metadata.k = 1;
    a.provider_filters.k = 1;
    assert.deepEqual(b.reconcile.re_extract_fields, []);
    assert.equal(b.reconcile.on_delete, true);
    assert.deepEqual(b.metadata, {});
    assert.deepEqual(b.provider_filters, {});
    assert.deepEqual(syncCreateSchema.parse(BASE).reconcile, {
      on_delete: true,
      on_update: true,
      on_filter_drift: true,
      re_extract_on_update: true,
      re_extract_fields: [],
    });
  });

  it('keeps given values over defaults', () => {
    const parsed = syncCreateSchema.parse({
      ...BASE,
      sync_mode: 'initial_only',
      polling_interval_seconds: 30,
      batch_size: 100,
      skip_duplicates: false,
      max_objects_per_run: 1,
      resume_checkpoint_frequency: 10000,
      description: null,
      file_filters: null,
      schema_mapping: null,
    });
    assert.equal(parsed.sync_mode, 'initial_only');
    assert.equal(parsed.polling_interval_seconds, 30);
    assert.equal(parsed.batch_size, 100);
    assert.equal(parsed.skip_duplicates, false);
    assert.equal(parsed.max_objects_per_run, 1);
    assert.equal(parsed.resume_checkpoint_frequency, 10000);
    assert.equal(parsed.description, null);
    assert.equal(parsed.file_filters, null);
    assert.equal(parsed.schema_mapping, null);
  });
});

describe('schemas: syncCreateSchema validation', () => {
  it('requires connection_id and source_path', () => {
    assertRejectedAt(syncCreateSchema, { source_path: 'x' }, 'connection_id');
    assertRejectedAt(syncCreateSchema, { connection_id: 'c' }, 'source_path');
    assertRejectedAt(syncCreateSchema, { ...BASE, connection_id: '' }, 'connection_id');
    assertRejectedAt(syncCreateSchema, { ...BASE, source_path: '' }, 'source_path');
  });

  const ranges: [string, number[], number[]][] = [
    ['polling_interval_seconds', [30, 86400], [29, 86401]],
    ['batch_size', [1, 100], [0, 101]],
    ['max_objects_per_run', [1, 10_000_000], [0, -1]],
    ['batch_chunk_size', [1, 1000], [0, 1001]],
    ['max_batch_chunk_size', [1, 1000], [0, 1001]],
    ['resume_checkpoint_frequency', [100, 10000], [99, 10001]],
  ];
  for (const [field, ok, bad] of ranges) {
    it(`${field}: accepts ${ok.join(', ')}; rejects ${bad.join(', ')} naming the field`, () => {
      for (const v of ok) {
        const parsed = assertAccepted(syncCreateSchema, { ...BASE, [field]: v }) as Record<string, unknown>;
        assert.equal(parsed[field], v);
      }
      for (const v of bad) assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, [field]: v }), [field]);
      assert.deepEqual(
        failPaths(syncCreateSchema, { ...BASE, [field]: ok[0] + 0.5 }),
        [field],
        'non-integer',
      );
      assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, [field]: String(ok[0]) }), [field], 'string');
    });
  }

  it('rejects an unknown sync_mode', () => {
    assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, sync_mode: 'sometimes' }), ['sync_mode']);
  });

  it('rejects unknown top-level fields', () => {
    const r = syncCreateSchema.safeParse({ ...BASE, polling_interval: 300 });
    assert.equal(r.success, false);
    assert.equal(r.error.issues[0].code, 'unrecognized_keys');
    assert.ok(JSON.stringify(r.error.issues).includes('polling_interval'));
  });

  it('rejects unknown fields inside reconcile and file_filters', () => {
    assertRejectedAt(
      syncCreateSchema,
      { ...BASE, reconcile: { on_delete: true, on_rename: true } },
      'reconcile',
    );
    assertRejectedAt(syncCreateSchema, { ...BASE, file_filters: { include: ['*.mp4'] } }, 'file_filters');
  });

  it('rejects a description over 500 characters', () => {
    assertAccepted(syncCreateSchema, { ...BASE, description: 'x'.repeat(500) });
    assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, description: 'x'.repeat(501) }), ['description']);
  });

  it('accepts metadata with 50 keys and rejects 51', () => {
    const make = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    assertAccepted(syncCreateSchema, { ...BASE, metadata: make(50) });
    assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, metadata: make(51) }), ['metadata']);
  });

  it('accepts any JSON values in metadata and provider_filters', () => {
    const parsed = syncCreateSchema.parse({
      ...BASE,
      metadata: { a: [1, 'x'], b: { c: null }, d: true },
      provider_filters: { prefix: 'x/', nested: { y: 1 } },
    });
    assert.deepEqual(parsed.metadata, { a: [1, 'x'], b: { c: null }, d: true });
    assert.deepEqual(parsed.provider_filters, { prefix: 'x/', nested: { y: 1 } });
  });

  it('parses the create body of the seed (include_patterns + max_size_bytes)', () => {
    const body = {
      connection_id: 'conn_abc123',
      source_path: '/videos/2025/',
      sync_mode: 'continuous',
      polling_interval_seconds: 300,
      skip_duplicates: true,
      file_filters: { include_patterns: ['*.mp4', '*.mov'], max_size_bytes: 5368709120 },
    };
    const parsed = syncCreateSchema.parse(body);
    assert.deepEqual(parsed.file_filters, {
      include_patterns: ['*.mp4', '*.mov'],
      max_size_bytes: 5368709120,
    });
    assert.equal(parsed.batch_size, 50);
  });

  it('names the nested path of a bad file filter', () => {
    assert.deepEqual(failPaths(syncCreateSchema, { ...BASE, file_filters: { patterns: ['('] } }), [
      'file_filters.patterns.0',
    ]);
  });
});

describe('schemas: fileFiltersSchema', () => {
  it('parses the seed examples unchanged', () => {
    for (const f of [
      { extensions: ['.mp4', '.mov'] },
      { extensions: ['.jpg', '.png'], min_size_bytes: 1024 },
      { max_size_bytes: 10485760, patterns: ['.*-processed\\.jpg$'] },
      {
        include_patterns: ['*.mp4', '*.mov', '*.webm'],
        exclude_patterns: ['*/drafts/*', '*_temp.*'],
        min_size_bytes: 1024,
        max_size_bytes: 5368709120,
        modified_after: '2025-01-01T00:00:00Z',
        mime_types: ['video/mp4', 'video/quicktime'],
      },
      {
        metadata_filters: [
          { field: 'status', operator: 'equals', value: 'approved' },
          { field: 'tags', operator: 'contains', value: 'hero' },
        ],
      },
    ]) {
      assert.deepEqual(assertAccepted(fileFiltersSchema, f), f);
    }
  });

  it('parses the JSON text of the regex seed', () => {
    const f = JSON.parse('{"max_size_bytes": 10485760, "patterns": [".*-processed\\\\.jpg$"]}') as unknown;
    const parsed = fileFiltersSchema.parse(f);
    assert.deepEqual(parsed.patterns, ['.*-processed\\.jpg$']);
    assert.ok(new RegExp(parsed.patterns[0]).test('a-processed.jpg'));
  });

  it('accepts an empty object', () => {
    assert.deepEqual(fileFiltersSchema.parse({}), {});
  });

  it('rejects unknown fields', () => {
    const r = fileFiltersSchema.safeParse({ extensions: ['.mp4'], extension: '.mp4' });
    assert.equal(r.success, false);
    assert.equal(r.error.issues[0].code, 'unrecognized_keys');
  });

  it('rejects an invalid regex in patterns, naming the index', () => {
    assert.deepEqual(failPaths(fileFiltersSchema, { patterns: ['ok', '[unclosed'] }), ['patterns.1']);
    assert.deepEqual(failPaths(fileFiltersSchema, { patterns: ['(?<name'] }), ['patterns.0']);
  });

  it('rejects negative or fractional sizes', () => {
    assert.deepEqual(failPaths(fileFiltersSchema, { min_size_bytes: -1 }), ['min_size_bytes']);
    assert.deepEqual(failPaths(fileFiltersSchema, { max_size_bytes: 1.5 }), ['max_size_bytes']);
    assertAccepted(fileFiltersSchema, { min_size_bytes: 0, max_size_bytes: 0 });
  });

  it('rejects min_size_bytes greater than max_size_bytes', () => {
    assert.deepEqual(failPaths(fileFiltersSchema, { min_size_bytes: 11, max_size_bytes: 10 }), [
      'min_size_bytes',
    ]);
    assertAccepted(fileFiltersSchema, { min_size_bytes: 10, max_size_bytes: 10 });
  });

  it('requires ISO 8601 date-times for the modified window', () => {
    assertAccepted(fileFiltersSchema, { modified_after: '2023-11-07T05:31:56Z' });
    assertAccepted(fileFiltersSchema, { modified_before: '2023-11-07T05:31:56.123+02:00' });
    assert.deepEqual(failPaths(fileFiltersSchema, { modified_after: 'yesterday' }), ['modified_after']);
    assert.deepEqual(failPaths(fileFiltersSchema, { modified_before: '2023-13-07T05:31:56Z' }), [
      'modified_before',
    ]);
  });

  it('accepts each of the nine metadata operators and rejects others', () => {
    for (const operator of [
      'equals',
      'not_equals',
      'contains',
      'not_contains',
      'gt',
      'lt',
      'gte',
      'lte',
      'exists',
    ]) {
      assertAccepted(fileFiltersSchema, { metadata_filters: [{ field: 'a', operator, value: 1 }] });
    }
    assertAccepted(fileFiltersSchema, { metadata_filters: [{ field: 'a', operator: 'exists' }] });
    assert.deepEqual(
      failPaths(fileFiltersSchema, { metadata_filters: [{ field: 'a', operator: 'like', value: 1 }] }),
      ['metadata_filters.0.operator'],
    );
    assertRejectedAt(
      fileFiltersSchema,
      { metadata_filters: [{ field: '', operator: 'equals' }] },
      'metadata_filters.0.field',
    );
    assertRejectedAt(
      fileFiltersSchema,
      { metadata_filters: [{ field: 'a', operator: 'equals', x: 1 }] },
      'metadata_filters.0',
    );
  });

  it('rejects empty strings in pattern and type lists', () => {
    assert.deepEqual(failPaths(fileFiltersSchema, { include_patterns: [''] }), ['include_patterns.0']);
    assert.deepEqual(failPaths(fileFiltersSchema, { extensions: [''] }), ['extensions.0']);
    assert.deepEqual(failPaths(fileFiltersSchema, { mime_types: [''] }), ['mime_types.0']);
  });

  it('caps list lengths at 100 entries', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `*.e${i}`);
    assertAccepted(fileFiltersSchema, { include_patterns: list(100) });
    assert.deepEqual(failPaths(fileFiltersSchema, { include_patterns: list(101) }), ['include_patterns']);
  });
});

describe('schemas: syncUpdateSchema', () => {
  it('rejects an empty object', () => {
    const r = syncUpdateSchema.safeParse({});
    assert.equal(r.success, false);
    assert.match(r.error.issues[0].message, /at least one field/);
  });

  it('accepts any single field', () => {
    for (const u of [
      { description: 'x' },
      { description: null },
      { metadata: { a: 1 } },
      { is_active: false },
      { polling_interval_seconds: 60 },
      { batch_size: 10 },
      { schema_mapping: null },
      { file_filters: { extensions: ['.mp4'] } },
      { file_filters: null },
      { skip_batch_submission: true },
      { max_objects_per_run: 5 },
    ]) {
      assert.deepEqual(assertAccepted(syncUpdateSchema, u), u);
    }
  });

  it('does not inject defaults', () => {
    assert.deepEqual(syncUpdateSchema.parse({ is_active: true }), { is_active: true });
  });

  it('fills reconcile defaults when reconcile is given', () => {
    assert.deepEqual(syncUpdateSchema.parse({ reconcile: { on_delete: false } }), {
      reconcile: {
        on_delete: false,
        on_update: true,
        on_filter_drift: true,
        re_extract_on_update: true,
        re_extract_fields: [],
      },
    });
  });

  it('uppercases a lowercase status', () => {
    assert.deepEqual(syncUpdateSchema.parse({ status: 'suspended' }), { status: 'SUSPENDED' });
  });

  it('applies the create ranges', () => {
    assert.deepEqual(failPaths(syncUpdateSchema, { polling_interval_seconds: 29 }), [
      'polling_interval_seconds',
    ]);
    assert.deepEqual(failPaths(syncUpdateSchema, { polling_interval_seconds: 86401 }), [
      'polling_interval_seconds',
    ]);
    assert.deepEqual(failPaths(syncUpdateSchema, { batch_size: 0 }), ['batch_size']);
    assert.deepEqual(failPaths(syncUpdateSchema, { batch_size: 101 }), ['batch_size']);
    assert.deepEqual(failPaths(syncUpdateSchema, { max_objects_per_run: 0 }), ['max_objects_per_run']);
    assert.deepEqual(failPaths(syncUpdateSchema, { status: 'nope' }), ['status']);
  });

  it('rejects unknown fields and fields that cannot be changed', () => {
    assertRejectedAt(syncUpdateSchema, { is_active: true, foo: 1 }, '');
    assert.equal(syncUpdateSchema.safeParse({ source_path: 'elsewhere' }).success, false);
    assert.equal(syncUpdateSchema.safeParse({ connection_id: 'conn_x' }).success, false);
  });

  it('rejects metadata with 51 keys', () => {
    const meta = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(failPaths(syncUpdateSchema, { metadata: meta }), ['metadata']);
  });
});

describe('schemas: taskStatusSchema', () => {
  it('accepts every status in lowercase, uppercase or mixed case and answers uppercase', () => {
    for (const s of TASK_STATUSES) {
      assert.equal(taskStatusSchema.parse(s), s);
      assert.equal(taskStatusSchema.parse(s.toLowerCase()), s);
    }
    assert.equal(taskStatusSchema.parse('In_Progress'), 'IN_PROGRESS');
  });

  it('rejects unknown statuses and non-strings', () => {
    for (const v of ['RUNNING', '', 'in progress', 1, null, undefined]) {
      assert.equal(taskStatusSchema.safeParse(v).success, false, `${String(v)} should be rejected`);
    }
  });
});
