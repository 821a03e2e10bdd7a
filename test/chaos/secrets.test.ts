// Secrets under a real sync: an `s3` connection's secret key, a webhook step's secret and header
// token. After a sync (with provider faults and the pipeline's batches) they appear in no workflow
// history of the namespace (every workflow, every event, payloads decoded), in no log line of a
// worker at trace level, and in no API response the case reads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http_ from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createSync, http, killProcess, waitForSync } from '../helpers';
import { PROJECT_ROOT, type Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, sleep, type S3Source } from './scenario';

const WEBHOOK_SECRET = 'whsec-chaos-7f3a9c2e41';
const HEADER_TOKEN = 'Bearer chaos-header-token-5d1b8e';

/** Every string inside a value, with byte arrays (Temporal payloads) decoded as UTF-8. */
function texts(v: unknown, out: string[] = []): string[] {
  if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'), Buffer.from(v).toString('base64'));
  else if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => texts(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => texts(x, out));
  return out;
}

describe('chaos: no credential in any workflow history, log line or API response', function () {
  this.timeout(900_000);
  let l: Lane;
  let src: S3Source;
  let hook: http_.Server;
  const log: string[] = [];
  let worker: ReturnType<typeof spawn> | null = null;

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane({ SYNC_PAGE_SIZE: '50' }, { worker: false });
    src = await s3Source(l, 200, { rate: 0.1, seed: 1309 });
    hook = http_.createServer((req, res) => {
      req.resume();
      req.once('end', () => res.writeHead(200).end('{}'));
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    if (worker) await killProcess(worker);
    await new Promise((r) => hook?.close(r));
    await src?.close();
    await l?.close();
  });

  it('leaves no secret behind', async () => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      WORKER_ID: 'chaos-secrets',
    };
    for (const [k, v] of Object.entries(l.env))
      if (v !== undefined) env[k] = Array.isArray(v) ? v.join(':') : String(v);
    env.LOG_LEVEL = 'trace';
    worker = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/worker/index.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (d: Buffer) => log.push(d.toString('utf8')));
    worker.stderr!.on('data', (d: Buffer) => log.push(d.toString('utf8')));

    const responses: unknown[] = [];
    const call = async (method: string, p: string, body?: unknown) => {
      const r = await http(l, method, p, body);
      responses.push(r.body);
      return r;
    };
    const col = await call('POST', '/v1/collections', {
      collection_name: 'chaos-secrets',
      source: { type: 'bucket', bucket_ids: [src.bucketId] },
      pipeline: [
        { step: 'file_metadata' },
        {
          step: 'webhook',
          config: {
            url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
            secret: WEBHOOK_SECRET,
            headers: { Authorization: HEADER_TOKEN },
          },
        },
      ],
    });
    assert.equal(col.status, 200, JSON.stringify(col.body));
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      sync_mode: 'initial_only',
    });
    await waitForSync(l, src.bucketId, syncId, (x) => x.status === 'COMPLETED', 600_000);
    await checkInvariants(l, src.expected(syncId));
    const sync = await call('GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}`);
    await call('GET', `/v1/organizations/connections/${src.connectionId}`);
    await call('GET', `/v1/collections/${col.body.collection_id}`);
    await call('GET', `/v1/buckets/${src.bucketId}/syncs/${syncId}/runs`);
    // The pipeline's batches ran too (their workflows are in the histories below).
    for (const task of sync.body.task_ids ?? []) {
      for (let i = 0; i < 120; i++) {
        const t = await call('GET', `/v1/tasks/${task}`);
        if (['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED'].includes(t.body.status)) break;
        await sleep(500);
      }
    }

    const connection = await Connection.connect({ address: l.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection, namespace: l.env.TEMPORAL_NAMESPACE });
    let workflows = 0;
    let events = 0;
    const secrets = [src.minio.secretAccessKey, WEBHOOK_SECRET, HEADER_TOKEN, l.apiKey];
    const found: string[] = [];
    try {
      for await (const wf of client.workflow.list({ query: `TaskQueue = "${l.env.TASK_QUEUE}"` })) {
        workflows++;
        const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        events += history.events?.length ?? 0;
        const all = texts(history).join('\n');
        for (const sec of secrets) if (all.includes(sec)) found.push(`${wf.workflowId}: ${sec.slice(0, 6)}…`);
      }
    } finally {
      await connection.close();
    }
    assert.ok(workflows >= 2, `the sync's workflow and its batches' (${workflows})`);
    assert.deepEqual(found, [], 'no credential in a workflow history');
    const logText = log.join('');
    assert.ok(logText.length > 0, 'the worker logged');
    for (const sec of secrets)
      assert.ok(!logText.includes(sec), `a credential in the worker's log: ${sec.slice(0, 6)}…`);
    const body = JSON.stringify(responses);
    for (const sec of secrets)
      assert.ok(!body.includes(sec), `a credential in an API response: ${sec.slice(0, 6)}…`);
    process.stdout.write(
      `      ${workflows} workflows / ${events} history events, ${logText.split('\n').length} log lines, ` +
        `${responses.length} responses: 0 credentials\n`,
    );
  });
});
