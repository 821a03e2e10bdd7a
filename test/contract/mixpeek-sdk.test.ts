// Mixpeek's published Python SDK (pinned in test/contract/requirements.txt, installed into a virtual
// environment by scripts/tools/python-venv.sh) against the real stack, unchanged: buckets,
// connections (an `s3` one to MinIO), syncs and their jobs / metrics / DLQ / unlock, objects and
// analytics. test/contract/mixpeek_sdk_flow.py makes the calls and fails on any answer the SDK
// cannot parse; this side checks what it reports against what the server holds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { provisionTools } from '../../lib/servers';
import { stack, PROJECT_ROOT, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';
import { api } from '../integration/api-helpers';

const SCRIPT = path.join(PROJECT_ROOT, 'test/contract/mixpeek_sdk_flow.py');
const TXT_FILES = 12;

interface FlowReport {
  ok: boolean;
  failed_call?: string;
  error?: string;
  calls: { call: string; status: number; type: string }[];
  blob_type: string;
  source_type: string;
  object_count: number;
  total_size_bytes: number;
  trigger: Record<string, unknown>;
  jobs: { status: string; trigger: string | null; files_synced: number }[];
  metrics: { total_files_synced: number; sync_run_counter: number; healthy: boolean; dlq_total: number };
  dlq_total: number;
  performance_runs: number;
  triggered_job_found?: boolean;
  comparison_configs: number;
  delete: Record<string, unknown>;
}

function runPython(python: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [SCRIPT],
      { env: { ...process.env, ...env }, timeout: 240_000, maxBuffer: 8 << 20 },
      (err, stdout, stderr) => {
        // The script prints its report also when it fails (exit 1): the report says why.
        if (err && !stdout.trim()) reject(new Error(`${err.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

describe('Mixpeek Python SDK against this API (contract)', function () {
  this.timeout(300_000);
  let s: Stack;
  let minio: Minio;
  let python: string;

  before(async function () {
    this.timeout(600_000);
    python = provisionTools(PROJECT_ROOT, ['python-venv']).CONTRACT_PYTHON!;
    s = await stack();
    minio = await startMinio();
    await minio.client.send(new CreateBucketCommand({ Bucket: 'sdk-source' }));
    for (let i = 0; i < TXT_FILES; i++)
      await minio.client.send(
        new PutObjectCommand({ Bucket: 'sdk-source', Key: `docs/file-${i}.txt`, Body: `text ${i}` }),
      );
    // Not *.txt: the sync's file_filters keep it out.
    await minio.client.send(new PutObjectCommand({ Bucket: 'sdk-source', Key: 'docs/skip.bin', Body: 'x' }));
  });
  after(async () => {
    await minio?.stop();
  });

  it('runs the whole flow with every answer parsed into the SDK’s models', async () => {
    const { stdout, stderr } = await runPython(python, {
      API_URL: s.apiUrl,
      API_KEY: s.apiKey,
      NAMESPACE: s.namespaceId,
      S3_ENDPOINT: minio.url,
      S3_ACCESS_KEY_ID: minio.accessKeyId,
      S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
      S3_SOURCE: 'sdk-source/docs',
      EXPECTED_FILES: String(TXT_FILES),
    });
    let report: FlowReport;
    try {
      report = JSON.parse(stdout.trim().split('\n').pop()!) as FlowReport;
    } catch {
      assert.fail(`no report from the SDK flow:\n${stdout}\n${stderr}`);
    }
    assert.ok(report.ok, `SDK call ${report.failed_call} failed: ${report.error}\n${stderr}`);

    const names = new Set(report.calls.map((c) => c.call));
    for (const name of [
      'create_bucket',
      'get_bucket',
      'list_buckets',
      'list_buckets_get',
      'create_connection',
      'list_connections',
      'get_connection',
      'test_connection',
      'create_sync',
      'get_sync',
      'list_syncs',
      'list_objects',
      'get_object',
      'update_sync',
      'pause_sync',
      'resume_sync',
      'trigger_sync',
      'list_sync_jobs',
      'get_sync_job',
      'get_sync_metrics',
      'list_dlq',
      'unlock_sync',
      'sync_performance',
      'sync_comparison',
      'delete_sync',
    ])
      assert.ok(names.has(name), `the flow did not make the call ${name}`);
    assert.ok(report.calls.every((c) => c.status === 200));

    // What the SDK saw is what the server holds.
    assert.equal(report.object_count, TXT_FILES);
    const bytes = Array.from({ length: TXT_FILES }, (_, i) => `text ${i}`.length).reduce((a, b) => a + b, 0);
    assert.equal(report.total_size_bytes, bytes);
    assert.equal(report.blob_type, 'text');
    assert.equal(report.source_type, 'bucket');
    assert.ok(report.jobs.length >= 2, JSON.stringify(report.jobs));
    assert.ok(
      report.jobs.every((j) =>
        ['running', 'completed', 'failed', 'interrupted', 'skipped'].includes(j.status),
      ),
    );
    assert.equal(report.jobs.at(-1)!.files_synced, TXT_FILES, 'the first run synced every file');
    assert.ok(report.jobs.every((j) => j.status === 'completed' && j.trigger === null));
    assert.equal(report.jobs[0].files_synced, 0, 'the full sync found nothing new');
    assert.equal(report.triggered_job_found, true, 'the trigger named its run');
    assert.equal(report.metrics.total_files_synced, TXT_FILES);
    assert.ok(report.metrics.sync_run_counter >= 2);
    assert.equal(report.metrics.dlq_total, 0);
    assert.equal(report.dlq_total, 0);
    assert.ok(report.performance_runs >= 2);
    assert.equal(report.comparison_configs, 1);

    const objects = await s.store.objects.countDocuments({
      bucket_id: { $exists: true },
      source_provider: 's3',
    });
    assert.ok(objects >= TXT_FILES);
  });

  it('refuses by name what it cannot honour, and tests source_path with the provider', async () => {
    const { provider_config, credentials } = minio.connection();
    // Organization-level: no namespace needed (Mixpeek's SDK sends none), S3Config's provider_type inside.
    const conn = await api(
      s,
      'POST',
      '/v1/organizations/connections',
      {
        name: `checks-${Date.now()}`,
        provider_type: 's3',
        provider_config: { provider_type: 's3', ...provider_config, credentials },
      },
      { headers: { 'x-namespace': null } },
    );
    assert.equal(conn.status, 200, conn.text);
    assert.equal(conn.body.write_enabled, false);
    const connPath = `/v1/organizations/connections/${conn.body.connection_id}`;
    const writable = await api(s, 'PATCH', connPath, { write_enabled: true, status: 'ACTIVE' });
    assert.equal(writable.status, 200, writable.text);
    assert.equal((await api(s, 'GET', connPath)).body.write_enabled, true);
    const status = await api(s, 'PATCH', connPath, { status: 'SUSPENDED' });
    assert.equal(status.status, 422, status.text);
    assert.deepEqual(status.body.error.details.issues[0].loc, ['body', 'status']);
    const bucket = await api(s, 'POST', '/v1/buckets', { bucket_name: `checks-${Date.now()}` });
    assert.equal(bucket.status, 200, bucket.text);
    const syncs = `/v1/buckets/${bucket.body.bucket_id}/syncs`;
    const create = (extra: Record<string, unknown>) =>
      api(s, 'POST', syncs, {
        connection_id: conn.body.connection_id,
        source_path: 'sdk-source/docs',
        ...extra,
      });
    const refused = async (extra: Record<string, unknown>, loc: (string | number)[], msg: RegExp) => {
      const r = await create(extra);
      assert.equal(r.status, 422, `${JSON.stringify(extra)}: ${r.text}`);
      assert.deepEqual(r.body.error.details.issues[0].loc, loc);
      assert.match(r.body.error.details.issues[0].msg, msg);
    };
    await refused(
      { source_path: 'no-such-bucket/x' },
      ['body', 'source_path'],
      /path must exist in the storage provider: .+/,
    );
    await refused({ ingest_filter: { retriever_id: 'ret_1' } }, ['body', 'ingest_filter'], /retriever/);
    await refused(
      { batch_collection_ids: ['nope'] },
      ['body', 'batch_collection_ids', 0],
      /no collection nope/,
    );
    await refused({ sync_concurrency: 101 }, ['body', 'sync_concurrency'], /100/);
    assert.equal((await s.store.syncs.countDocuments({ bucket_id: bucket.body.bucket_id })).valueOf(), 0);

    const presigned = await api(s, 'POST', `/v1/buckets/${bucket.body.bucket_id}/objects/list`, {
      return_presigned_urls: true,
    });
    assert.equal(presigned.status, 422, presigned.text);
    assert.deepEqual(presigned.body.error.details.issues[0].loc, ['body', 'return_presigned_urls']);
    const sorted = await api(s, 'POST', '/v1/buckets/list', { case_sensitive: true, sort: { field: 'x' } });
    assert.equal(sorted.status, 422, sorted.text);
    assert.deepEqual(sorted.body.error.details.issues[0].loc, ['body', 'sort']);
    const search = await api(s, 'POST', '/v1/buckets/list', { search: 'CHECKS-', case_sensitive: false });
    assert.ok(search.body.results.some((b: { bucket_id: string }) => b.bucket_id === bucket.body.bucket_id));
    const exact = await api(s, 'POST', '/v1/buckets/list', { search: 'CHECKS-', case_sensitive: true });
    assert.ok(!exact.body.results.some((b: { bucket_id: string }) => b.bucket_id === bucket.body.bucket_id));
  });
});
