// OpenTelemetry traces end to end: an API process and a worker process (the prebuilt workflow
// bundle, as `npm run start:*` runs them) export to an in-process OTLP/HTTP receiver. Creating a
// sync is one trace from the API request through the workflow start, the workflow run and the
// activities it schedules to the provider calls of the page; a trigger is one trace from its
// request to the workflow's signal handler; no credential appears in any exported byte.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadEnv } from '../../config/env';
import { freePort } from '../../lib/servers';
import { activeTracer, startTracing } from '../../lib/tracing';
import { createSync, eventually, http, idleAfter, killProcess, waitForSync, writeFiles } from '../helpers';
import { lane, PROJECT_ROOT, stack, type Lane, type Stack } from '../setup/stack';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
}

/** OTLP/JSON ids are hex; accept base64 too (the protobuf-JSON mapping). */
const hexId = (v: unknown): string => {
  if (typeof v !== 'string' || v === '') return '';
  return /^[0-9a-f]+$/.test(v) ? v : Buffer.from(v, 'base64').toString('hex');
};

function anyValue(v: any): unknown {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  return JSON.stringify(v);
}

/** A collector of one: POST /v1/traces (JSON, gzip or not) -> spans, and every raw body. */
class Receiver {
  readonly spans: OtlpSpan[] = [];
  readonly bodies: string[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        const text = raw.toString('utf8');
        this.bodies.push(text);
        const body = JSON.parse(text);
        for (const rs of body.resourceSpans ?? []) {
          const resource = Object.fromEntries(
            (rs.resource?.attributes ?? []).map((a: any) => [a.key, anyValue(a.value)]),
          );
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              this.spans.push({
                traceId: hexId(s.traceId),
                spanId: hexId(s.spanId),
                parentSpanId: hexId(s.parentSpanId),
                name: s.name,
                kind: s.kind,
                service: String(resource['service.name']),
                attributes: Object.fromEntries(
                  (s.attributes ?? []).map((a: any) => [a.key, anyValue(a.value)]),
                ),
              });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  named(name: string, traceId?: string): OtlpSpan[] {
    return this.spans.filter((s) => s.name === name && (traceId === undefined || s.traceId === traceId));
  }
}

/** A project entry point as its own process with the lane's environment plus `extra`. */
function startProcess(
  l: Lane,
  script: string,
  extra: Record<string, string>,
): { child: ChildProcess; out: string[] } {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const [k, v] of Object.entries(l.env)) {
    if (v !== undefined) env[k] = Array.isArray(v) ? v.join(':') : String(v);
  }
  Object.assign(env, extra);
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, script)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
  return { child, out };
}

describe('OpenTelemetry traces: API -> workflow -> activity -> provider, over OTLP', function () {
  this.timeout(180_000);
  const receiver = new Receiver();
  let l: Lane;
  let s: Stack;
  const procs: { child: ChildProcess; out: string[] }[] = [];

  before(async function () {
    this.timeout(300_000);
    await receiver.start();
    l = await lane(await stack(), { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { worker: false });
    const port = await freePort();
    // Spans leave within 200 ms instead of the SDK's 5 s.
    const otel = { OTEL_BSP_SCHEDULE_DELAY: '200', LOG_LEVEL: 'warn' };
    procs.push(startProcess(l, 'dist/worker/index.js', { ...otel, WORKER_ID: 'trace-worker' }));
    procs.push(startProcess(l, 'dist/api/server.js', { ...otel, PORT: String(port) }));
    // The lane's key and namespace, through the traced API process.
    s = { ...l, apiUrl: `http://127.0.0.1:${port}` };
    const up = await eventually(async () => {
      try {
        return (await fetch(`${s.apiUrl}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 60_000);
    assert.ok(up, `the API process did not start: ${procs.map((p) => p.out.join('')).join('\n')}`);
  });

  after(async () => {
    for (const p of procs) await killProcess(p.child);
    await receiver.close();
  });

  it('one trace from the create request to the provider calls; a trigger traced to its handler; no credentials', async () => {
    const folder = mkdtempSync(path.join(l.tmp, 'trace-src-'));
    writeFiles(folder, { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });
    const localSecret = `local-secret-${randomBytes(8).toString('hex')}`;
    const bucket = await http(s, 'POST', '/v1/buckets', {
      bucket_name: `trace-${randomBytes(3).toString('hex')}`,
    });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    const bucketId = bucket.body.bucket_id as string;
    // Credentials on the connection the sync uses (decrypted in the activity, handed to the provider).
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `trace-local-${randomBytes(3).toString('hex')}`,
      provider_type: 'local',
      provider_config: { root: folder, credentials: { password: localSecret } },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    // And a connection test that fails with a secret in its credentials: a provider.test error span.
    const s3Secret = `s3-secret-${randomBytes(8).toString('hex')}`;
    const s3 = await http(s, 'POST', '/v1/organizations/connections', {
      name: `trace-s3-${randomBytes(3).toString('hex')}`,
      provider_type: 's3',
      provider_config: {
        region: 'us-east-1',
        endpoint_url: 'http://127.0.0.1:1',
        credentials: { type: 'access_key', access_key_id: 'AKIDTRACETEST', secret_access_key: s3Secret },
      },
    });
    assert.equal(s3.status, 400, JSON.stringify(s3.body));

    const syncId = await createSync(s, bucketId, {
      connection_id: conn.body.connection_id,
      source_path: '/',
    });
    await waitForSync(s, bucketId, syncId, idleAfter(1));
    // The trigger ends the first run's wait: its RunWorkflow span ends (continue-as-new) and is exported.
    const t = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    await waitForSync(s, bucketId, syncId, idleAfter(2));

    const create = () =>
      receiver.spans.find(
        (x) =>
          x.name === 'POST /v1/buckets/:bucket_id/syncs' &&
          x.attributes['url.path'] === `/v1/buckets/${bucketId}/syncs`,
      );
    const complete = await eventually(async () => {
      const root = create();
      if (!root) return false;
      const names = new Set(receiver.spans.filter((x) => x.traceId === root.traceId).map((x) => x.name));
      return (
        [
          'RunWorkflow:syncWorkflow',
          'ContinueAsNew:syncWorkflow',
          'RunActivity:syncPage',
          'provider.list',
        ].every((n) => names.has(n)) &&
        receiver.spans.some((x) => x.name === 'HandleSignal:trigger') &&
        receiver.spans.some((x) => x.name === 'POST /v1/buckets/:bucket_id/syncs/:sync_config_id/trigger') &&
        receiver.spans.some((x) => x.name === 'provider.test')
      );
    }, 30_000);
    const root = create();
    assert.ok(
      root,
      `no span of the create request; got ${[...new Set(receiver.spans.map((x) => x.name))].join(', ')}`,
    );
    const trace = receiver.spans.filter((x) => x.traceId === root.traceId);
    assert.ok(complete, `trace incomplete: ${trace.map((x) => x.name).join(', ')}`);

    // The request span is the root: a server span of the API process.
    assert.equal(root.parentSpanId, '');
    assert.equal(root.kind, 2); // SPAN_KIND_SERVER
    assert.equal(root.service, 'bucket-syncs-api');
    assert.equal(root.attributes['http.response.status_code'], 200);
    // Every other span of the trace hangs under a span of the same trace.
    const byId = new Map(trace.map((x) => [x.spanId, x]));
    for (const x of trace)
      if (x !== root)
        assert.ok(byId.has(x.parentSpanId), `${x.name}: parent ${x.parentSpanId} not in the trace`);
    const parentOf = (x: OtlpSpan) => byId.get(x.parentSpanId)!;
    const one = (name: string) => {
      const found = trace.filter((x) => x.name === name);
      assert.ok(found.length >= 1, `no ${name} in the trace: ${trace.map((x) => x.name).join(', ')}`);
      return found;
    };
    // API request -> StartWorkflow (the client interceptor) -> RunWorkflow (the worker).
    const [start] = one('StartWorkflow:syncWorkflow');
    assert.equal(parentOf(start), root);
    const [run] = one('RunWorkflow:syncWorkflow');
    assert.equal(parentOf(run), start);
    assert.equal(run.service, 'bucket-syncs-worker');
    // RunWorkflow -> StartActivity:syncPage -> RunActivity:syncPage -> provider.list / provider.read.
    const pages = one('RunActivity:syncPage');
    for (const page of pages) {
      assert.equal(parentOf(page).name, 'StartActivity:syncPage');
      assert.equal(parentOf(parentOf(page)), run);
      assert.equal(page.attributes['temporalWorkflowId'], `sync-${syncId}`);
    }
    const lists = one('provider.list');
    for (const x of lists) {
      assert.ok(pages.includes(parentOf(x)), 'provider.list under a page activity');
      assert.equal(x.attributes['bucket_syncs.provider'], 'local');
    }
    assert.equal(
      lists.reduce((n, x) => n + Number(x.attributes['bucket_syncs.entries']), 0),
      2,
      'the first pass listed both files',
    );
    // Both files are small: each is read whole (`provider.read`), not streamed (`provider.open`).
    const reads = one('provider.read');
    assert.equal(reads.length, 2);
    assert.equal(trace.filter((x) => x.name === 'provider.open').length, 0);
    for (const x of reads) {
      assert.ok(pages.includes(parentOf(x)), 'provider.read under a page activity');
      assert.equal(x.attributes['bucket_syncs.provider'], 'local');
    }
    // The other activities of the run too (settings, state records).
    one('RunActivity:loadSyncSettings');
    one('RunActivity:recordSyncState');
    // The next run (after continue-as-new) is a trace of its own, rooted at its RunWorkflow.
    const runs = receiver.spans.filter(
      (x) => x.name === 'RunWorkflow:syncWorkflow' && x.traceId !== root.traceId,
    );
    for (const r of runs) assert.equal(r.parentSpanId, '');

    // The trigger: request -> SignalWorkflow:trigger -> HandleSignal:trigger, one trace.
    const trig = receiver.spans.find(
      (x) => x.attributes['url.path'] === `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`,
    );
    assert.ok(trig);
    assert.equal(trig.name, 'POST /v1/buckets/:bucket_id/syncs/:sync_config_id/trigger');
    const trigTrace = receiver.spans.filter((x) => x.traceId === trig.traceId);
    const signal = trigTrace.find((x) => x.name === 'SignalWorkflow:trigger');
    assert.ok(signal, `no SignalWorkflow:trigger: ${trigTrace.map((x) => x.name).join(', ')}`);
    assert.equal(signal.parentSpanId, trig.spanId);
    const handled = await eventually(async () =>
      receiver.spans.find((x) => x.name === 'HandleSignal:trigger' && x.traceId === trig.traceId),
    );
    assert.ok(handled, 'HandleSignal:trigger in the trigger trace');
    assert.equal(handled.parentSpanId, signal.spanId);

    // The failed connection test: an error span under its request, credentials left out.
    const tested = receiver.spans.find(
      (x) => x.name === 'provider.test' && x.attributes['bucket_syncs.provider'] === 's3',
    );
    assert.ok(tested);
    assert.equal(
      receiver.spans.find((x) => x.spanId === tested.parentSpanId)?.name,
      'POST /v1/organizations/connections',
    );

    // Not one credential in any exported byte: API key, secrets key, connection secrets.
    const all = receiver.bodies.join('\n');
    for (const [what, secret] of [
      ['API key', s.apiKey],
      ['SECRETS_KEY', l.env.SECRETS_KEY],
      ['local connection password', localSecret],
      ['s3 secret access key', s3Secret],
    ])
      assert.ok(!all.includes(secret), `${what} in an exported span`);
    assert.ok(!/authorization|bearer/i.test(all), 'an authorization header in a span');
  });

  it('off without OTEL_EXPORTER_OTLP_ENDPOINT: no tracer is installed, no SDK module loaded', () => {
    // What the API and the worker load at start, in a fresh process: no tracing module among them.
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `for (const m of ['api/server', 'worker/worker', 'providers']) require('./dist/' + m);
         const otel = Object.keys(require.cache).filter((k) => /sdk-trace|exporter-trace|interceptors-opentelemetry/.test(k));
         process.stdout.write(JSON.stringify(otel));`,
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(probe.status, 0, probe.stderr);
    assert.deepEqual(JSON.parse(probe.stdout), []);
    const base = { MONGODB_URI: 'mongodb://x', SECRETS_KEY: randomBytes(32).toString('hex') };
    const env = loadEnv({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: '' });
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    assert.equal(startTracing(env, 'api'), null);
    assert.equal(activeTracer(), null);
    assert.throws(
      () => loadEnv({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/,
    );
  });
});
