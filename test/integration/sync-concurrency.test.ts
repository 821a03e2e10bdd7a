// sync_concurrency (Mixpeek's per-sync setting) really bounds how many files of the sync are read at
// once: an `s3` connection to MinIO goes through an HTTP proxy that holds every object download
// (GetObject) for a moment and records how many were in flight together. With N files waiting and
// each download held, the peak is exactly the sync's concurrency, also after a PATCH changes it.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { http as call, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startMinio, type Minio } from '../providers/fixtures/s3';

const HOLD_MS = 400;

interface CountingProxy {
  url: string;
  peak(): number;
  reset(): void;
  close(): Promise<void>;
}

/** Forwards to `target`; object GETs (not listings) are held HOLD_MS and counted while in flight. */
async function countingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target);
  let inFlight = 0;
  let peak = 0;
  const server = http.createServer((req, res) => {
    const download =
      req.method === 'GET' && !/[?&]list-type=/.test(req.url ?? '') && /^\/[^/?]+\/.+/.test(req.url ?? '');
    if (download) {
      inFlight++;
      peak = Math.max(peak, inFlight);
    }
    const forward = () => {
      const up = http.request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on('end', () => {
            if (download) inFlight--;
          });
        },
      );
      up.on('error', () => {
        if (download) inFlight--;
        res.destroy();
      });
      req.pipe(up);
    };
    if (download) setTimeout(forward, HOLD_MS);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    peak: () => peak,
    reset: () => {
      peak = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('sync_concurrency bounds the files read at once (s3 through a counting proxy)', function () {
  this.timeout(240_000);
  let s: Stack;
  let minio: Minio;
  let proxy: CountingProxy;
  const put = (key: string, body: string) =>
    minio.client.send(new PutObjectCommand({ Bucket: 'conc', Key: key, Body: body }));

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    minio = await startMinio();
    await minio.client.send(new CreateBucketCommand({ Bucket: 'conc' }));
    proxy = await countingProxy(minio.url);
  });
  after(async () => {
    await proxy?.close();
    await minio?.stop();
  });

  it('runs exactly sync_concurrency downloads at once, and the PATCHed value on the next run', async () => {
    for (let i = 0; i < 9; i++) await put(`a/f${i}.txt`, `first ${i}`);
    const bucket = await call(s, 'POST', '/v1/buckets', { bucket_name: 'concurrency' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    const { credentials } = minio.connection();
    const conn = await call(s, 'POST', '/v1/organizations/connections', {
      name: `conc-${Date.now()}`,
      provider_type: 's3',
      provider_config: { region: 'us-east-1', endpoint_url: proxy.url, use_ssl: false, credentials },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const b = bucket.body.bucket_id as string;
    proxy.reset();
    const created = await call(s, 'POST', `/v1/buckets/${b}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: 'conc/a',
      polling_interval_seconds: 3600,
      sync_concurrency: 3,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.sync_concurrency, 3);
    const id = created.body.sync_config_id as string;
    const first = await waitForSync(s, b, id, idleAfter(1), 120_000);
    assert.equal(first.total_files_synced, 9);
    assert.equal(proxy.peak(), 3, 'three of the nine held downloads in flight together, never more');

    const patched = await call(s, 'PATCH', `/v1/buckets/${b}/syncs/${id}`, { sync_concurrency: 5 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.sync_concurrency, 5);
    for (let i = 0; i < 10; i++) await put(`a/g${i}.txt`, `second ${i}`);
    proxy.reset();
    const trig = await call(s, 'POST', `/v1/buckets/${b}/syncs/${id}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    const second = await waitForSync(
      s,
      b,
      id,
      (x) => idleAfter(2)(x) && x.total_files_synced === 19,
      120_000,
    );
    assert.equal(second.total_files_synced, 19);
    assert.equal(proxy.peak(), 5, 'the PATCHed sync_concurrency applies to the next run');
  });
});
