// API fuzz: schemathesis (pinned, provisioned into a venv by scripts/tools/schemathesis.sh) reads
// GET /openapi.json and sends property-based requests (valid and invalid) to every operation of the
// real API. Expect: at least 1,000 requests, no 5xx, and every response conforming to the document
// (status code, content type, headers and body schema).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { provisionTools } from '../../lib/servers';
import { bucketWithFolder, createSync, http } from '../helpers';
import { lane, PROJECT_ROOT, stack, type Stack } from '../setup/stack';

const MAX_EXAMPLES = Number(process.env.CHAOS_FUZZ_EXAMPLES ?? (process.env.CHAOS_FULL === '1' ? 25 : 5));
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'negative_data_rejection',
].join(',');

function run(bin: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(bin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('chaos: API fuzz from /openapi.json (schemathesis)', function () {
  this.timeout(900_000);
  let s: Stack;
  let bin: string;

  before(async function () {
    this.timeout(600_000);
    bin = provisionTools(PROJECT_ROOT, ['schemathesis']).SCHEMATHESIS_PATH!;
    // A lane of its own (database, API, worker): what the fuzz creates stays out of the other tests' way.
    s = await lane(await stack(), {});
  });

  it('an empty offset= or limit= is a 422 like any other bad number', async () => {
    for (const q of ['offset=', 'limit=', 'offset=%20', 'limit=1e2', 'offset=0x10', 'limit=-1']) {
      const r = await http(s, 'GET', `/v1/buckets?${q}`);
      assert.equal(r.status, 422, `${q}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.type, 'ValidationError');
      assert.equal(r.body.error.details.issues[0].loc[0], 'query', q);
    }
    const ok = await http(s, 'GET', '/v1/buckets?offset=0&limit=5');
    assert.equal(ok.status, 200);
  });

  it('sends >= 1,000 requests: 0 server errors, 0 responses that break the spec', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'schemathesis-'));
    // Real ids for the path parameters, so operations on one resource reach their logic, not a 404.
    const { bucketId, connectionId } = await bucketWithFolder(s, { 'a.txt': 'fuzz' });
    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    const col = await http(s, 'POST', '/v1/collections', {
      collection_name: 'fuzz',
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [{ step: 'file_metadata' }],
    });
    assert.equal(col.status, 200, JSON.stringify(col.body));
    // 413 (a body over 1 MB) is a rejection too; the default list leaves it out.
    writeFileSync(
      path.join(dir, 'schemathesis.toml'),
      [
        '[checks.negative_data_rejection]',
        'expected-statuses = [400, 401, 403, 404, 405, 409, 413, 415, 422]',
        '[parameters]',
        `bucket_id = "${bucketId}"`,
        `sync_config_id = "${syncId}"`,
        `connection_id = "${connectionId}"`,
        `collection_id = "${col.body.collection_id}"`,
        '',
      ].join('\n'),
    );
    const args = [
      '--config-file',
      path.join(dir, 'schemathesis.toml'),
      'run',
      `${s.apiUrl}/openapi.json`,
      '--url',
      s.apiUrl,
      '-H',
      `Authorization: Bearer ${s.apiKey}`,
      '-H',
      `X-Namespace: ${s.namespaceId}`,
      '--checks',
      CHECKS,
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      process.env.CHAOS_FUZZ_SEED ?? '20261201',
      '--workers',
      '2',
      '--no-shrink',
      '--continue-on-failure',
      '--request-timeout',
      '30',
      '--suppress-health-check',
      'all',
      '--report',
      'ndjson',
      '--report-dir',
      dir,
    ];
    const r = await run(bin, args, { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' });
    const ndjson = readdirSync(dir).find((f) => f.endsWith('.ndjson'));
    assert.ok(ndjson, `no report written; schemathesis said:\n${r.stdout}\n${r.stderr}`);
    // Every request schemathesis sent and its answer, from the NDJSON report.
    const statuses = new Map<number, number>();
    let requests = 0;
    const serverErrors: string[] = [];
    for (const line of readFileSync(path.join(dir, ndjson), 'utf8').split('\n')) {
      if (!line.includes('"ScenarioFinished"')) continue;
      const ev = JSON.parse(line).ScenarioFinished;
      for (const i of Object.values<any>(ev?.recorder?.interactions ?? {})) {
        requests++;
        const code = i.response?.status_code as number | undefined;
        if (code === undefined) continue;
        statuses.set(code, (statuses.get(code) ?? 0) + 1);
        if (code >= 500) serverErrors.push(`${i.request.method} ${i.request.uri} -> ${code}`);
      }
    }
    writeFileSync(path.join(dir, 'output.txt'), `${r.stdout}\n${r.stderr}`);
    process.stdout.write(`      schemathesis output: ${path.join(dir, 'output.txt')}\n`);
    const byStatus = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([c, n]) => `${c}: ${n}`);
    process.stdout.write(`      ${requests} requests (${byStatus.join(', ')})\n`);
    assert.deepEqual(serverErrors.slice(0, 10), [], 'no 5xx');
    // The exit code covers every check (not_a_server_error, status code, content type, headers, schema).
    const failures = r.stdout
      .split('\n')
      .filter((l) => /^_{3,} .* _{3,}$|^- ST\d+|Received:|Documented:/.test(l));
    assert.equal(
      r.code,
      0,
      `schemathesis found failures (${path.join(dir, 'output.txt')}):\n${failures.join('\n')}`,
    );
    assert.ok(requests >= 1000, `at least 1,000 requests (${requests})`);
  });
});
