// Unit tests for core/pipeline.ts: step config defaults and ranges, unknown fields rejected, the
// pipeline's discriminated union, output keys of repeated steps, the webhook retry policy, and
// parseStepConfig of the step registry.
import assert from 'node:assert/strict';
import type { z } from 'zod';
import {
  STEP_KINDS,
  STEP_NAMES,
  fileMetadataConfigSchema,
  outputKeyOf,
  outputKeys,
  pipelineSchema,
  pipelineStepSchema,
  textExtractConfigSchema,
  webhookConfigSchema,
  webhookRetryPolicy,
} from '../../core/pipeline';
import { parseStepConfig, steps, StepError } from '../../pipeline/steps';

function issuePaths(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input)} to be rejected`);
  return r.error.issues.map((i) => i.path.map(String).join('.'));
}

function assertRejectedAt(schema: z.ZodType, input: unknown, path: string): void {
  const paths = issuePaths(schema, input);
  assert.ok(paths.includes(path), `expected an issue at "${path}", got ${JSON.stringify(paths)}`);
}

const URL = 'https://hooks.example.com/in';

describe('pipeline schemas: step configs', () => {
  it('file_metadata: defaults sniff_bytes to 4100 within 512..65536', () => {
    assert.deepEqual(fileMetadataConfigSchema.parse({}), { sniff_bytes: 4100 });
    assert.deepEqual(fileMetadataConfigSchema.parse({ sniff_bytes: 512 }), { sniff_bytes: 512 });
    assert.deepEqual(fileMetadataConfigSchema.parse({ sniff_bytes: 65536 }), { sniff_bytes: 65536 });
    for (const bad of [511, 65537, 1000.5, '4100', null])
      assertRejectedAt(fileMetadataConfigSchema, { sniff_bytes: bad }, 'sniff_bytes');
  });

  it('text_extract: defaults max_chars to 1_000_000 within 1..10_000_000', () => {
    assert.deepEqual(textExtractConfigSchema.parse({}), { max_chars: 1_000_000 });
    assert.deepEqual(textExtractConfigSchema.parse({ max_chars: 1 }), { max_chars: 1 });
    assert.deepEqual(textExtractConfigSchema.parse({ max_chars: 10_000_000 }), { max_chars: 10_000_000 });
    for (const bad of [0, -1, 10_000_001, 2.5])
      assertRejectedAt(textExtractConfigSchema, { max_chars: bad }, 'max_chars');
  });

  it('webhook: requires an http(s) url and fills timeout_seconds 10, retries 3', () => {
    assert.deepEqual(webhookConfigSchema.parse({ url: URL }), { url: URL, timeout_seconds: 10, retries: 3 });
    assert.equal(
      webhookConfigSchema.parse({ url: 'http://127.0.0.1:9000/x' }).url,
      'http://127.0.0.1:9000/x',
    );
    assertRejectedAt(webhookConfigSchema, {}, 'url');
    for (const bad of [
      'ftp://example.com/x',
      'file:///etc/passwd',
      'not a url',
      'javascript:alert(1)',
      `${URL}/${'a'.repeat(2048)}`,
    ])
      assertRejectedAt(webhookConfigSchema, { url: bad }, 'url');
  });

  it('webhook: ranges of secret, timeout_seconds and retries', () => {
    const full = { url: URL, secret: '12345678', timeout_seconds: 60, retries: 0 };
    assert.deepEqual(webhookConfigSchema.parse(full), full);
    assert.equal(
      webhookConfigSchema.parse({ url: URL, secret: 's'.repeat(256), retries: 10, timeout_seconds: 1 })
        .retries,
      10,
    );
    assertRejectedAt(webhookConfigSchema, { url: URL, secret: '1234567' }, 'secret');
    assertRejectedAt(webhookConfigSchema, { url: URL, secret: 's'.repeat(257) }, 'secret');
    for (const t of [0, 61, 1.5])
      assertRejectedAt(webhookConfigSchema, { url: URL, timeout_seconds: t }, 'timeout_seconds');
    for (const r of [-1, 11]) assertRejectedAt(webhookConfigSchema, { url: URL, retries: r }, 'retries');
  });

  it('webhook: extra headers, at most 20, none the step sets itself', () => {
    const ok = { url: URL, headers: { Authorization: 'Bearer x', 'X-Tenant': 't' } };
    assert.deepEqual(webhookConfigSchema.parse(ok).headers, ok.headers);
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v']));
    assertRejectedAt(webhookConfigSchema, { url: URL, headers: many }, 'headers');
    for (const name of [
      'Host',
      'content-length',
      'Content-Type',
      'X-BucketSyncs-Signature',
      'bad header',
      '',
    ])
      assert.ok(
        issuePaths(webhookConfigSchema, { url: URL, headers: { [name]: 'v' } }).some((p) =>
          p.startsWith('headers'),
        ),
        `header ${JSON.stringify(name)} accepted`,
      );
    assertRejectedAt(
      webhookConfigSchema,
      { url: URL, headers: { 'X-A': 'line\r\nInjected: 1' } },
      'headers.X-A',
    );
    assertRejectedAt(webhookConfigSchema, { url: URL, headers: { 'X-A': 1 } }, 'headers.X-A');
    assertRejectedAt(webhookConfigSchema, { url: URL, headers: { 'X-A': 'a', 'x-a': 'b' } }, 'headers');
  });

  it('rejects unknown fields in every config', () => {
    assertRejectedAt(fileMetadataConfigSchema, { sniff: 1 }, '');
    assertRejectedAt(textExtractConfigSchema, { maxChars: 5 }, '');
    assertRejectedAt(webhookConfigSchema, { url: URL, retry: 2 }, '');
  });
});

describe('pipeline schemas: the pipeline', () => {
  it('fills a missing config with the step defaults', () => {
    assert.deepEqual(
      pipelineSchema.parse([{ step: 'file_metadata' }, { step: 'text_extract', config: { max_chars: 5 } }]),
      [
        { step: 'file_metadata', config: { sniff_bytes: 4100 } },
        { step: 'text_extract', config: { max_chars: 5 } },
      ],
    );
    const parsed = pipelineSchema.parse([{ step: 'webhook', config: { url: URL } }]);
    assert.deepEqual(parsed, [{ step: 'webhook', config: { url: URL, timeout_seconds: 10, retries: 3 } }]);
  });

  it('reports a webhook without config at config.url', () => {
    assertRejectedAt(pipelineSchema, [{ step: 'webhook' }], '0.config.url');
  });

  it('rejects unknown steps, unknown fields and invalid configs with their paths', () => {
    assertRejectedAt(pipelineSchema, [{ step: 'ocr' }], '0.step');
    assertRejectedAt(pipelineSchema, [{ step: 'text_extract', name: 'x' }], '0');
    assertRejectedAt(
      pipelineSchema,
      [{ step: 'text_extract' }, { step: 'text_extract', config: { max_chars: 0 } }],
      '1.config.max_chars',
    );
    assertRejectedAt(pipelineStepSchema, { step: 'file_metadata', config: { max_chars: 1 } }, 'config');
  });

  it('holds 1 to 10 steps', () => {
    assertRejectedAt(pipelineSchema, [], '');
    const ten = Array.from({ length: 10 }, () => ({ step: 'text_extract' }));
    assert.equal(pipelineSchema.parse(ten).length, 10);
    assertRejectedAt(pipelineSchema, [...ten, { step: 'file_metadata' }], '');
    assertRejectedAt(pipelineSchema, { step: 'text_extract' }, '');
  });

  it('keys outputs by step name, and by step_index when a step repeats', () => {
    const pipeline = pipelineSchema.parse([
      { step: 'file_metadata' },
      { step: 'text_extract', config: { max_chars: 100 } },
      { step: 'text_extract' },
      { step: 'webhook', config: { url: URL } },
    ]);
    assert.equal(outputKeyOf('file_metadata', 0, pipeline), 'file_metadata');
    assert.equal(outputKeyOf('text_extract', 1, pipeline), 'text_extract_1');
    assert.equal(outputKeyOf('text_extract', 2, pipeline), 'text_extract_2');
    assert.deepEqual(outputKeys(pipeline), ['file_metadata', 'text_extract_1', 'text_extract_2', 'webhook']);
    // Distinct keys for any pipeline of repeated steps.
    const repeated = Array.from({ length: 10 }, (_, i) => ({ step: STEP_NAMES[i % 3] }));
    assert.equal(new Set(outputKeys(repeated)).size, 10);
  });

  it('says which steps map and which deliver', () => {
    assert.deepEqual(STEP_KINDS, { file_metadata: 'map', text_extract: 'map', webhook: 'deliver' });
    for (const name of STEP_NAMES) assert.equal(steps[name].kind, STEP_KINDS[name]);
  });

  it('webhookRetryPolicy: retries + 1 attempts of timeout + 5 seconds', () => {
    assert.deepEqual(webhookRetryPolicy({ retries: 3, timeout_seconds: 10 }), {
      maximumAttempts: 4,
      startToCloseSeconds: 15,
    });
    assert.deepEqual(
      webhookRetryPolicy(webhookConfigSchema.parse({ url: URL, retries: 0, timeout_seconds: 60 })),
      {
        maximumAttempts: 1,
        startToCloseSeconds: 65,
      },
    );
  });
});

describe('pipeline schemas: parseStepConfig', () => {
  it('fills defaults, and treats a missing config as {}', () => {
    assert.deepEqual(parseStepConfig('text_extract', undefined), { max_chars: 1_000_000 });
    assert.deepEqual(parseStepConfig('file_metadata', { sniff_bytes: 600 }), { sniff_bytes: 600 });
    assert.deepEqual(parseStepConfig('webhook', { url: URL }), { url: URL, timeout_seconds: 10, retries: 3 });
  });

  it('throws a non-retryable StepError naming the field, never the secret', () => {
    const secret = 'super-secret-value';
    for (const [step, config, pattern] of [
      ['webhook', { url: 'ftp://x', secret }, /^invalid webhook config: url: /],
      ['webhook', { url: URL, secret, extra: 1 }, /^invalid webhook config: \(config\): .*extra/],
      ['nope', {}, /^unknown step "nope"$/],
    ] as const) {
      assert.throws(
        () => parseStepConfig(step as 'webhook', config),
        (err: unknown) => {
          assert.ok(err instanceof StepError);
          assert.equal(err.retryable, false);
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes(secret));
          return true;
        },
      );
    }
  });
});
