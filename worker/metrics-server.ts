// The worker's /metrics endpoint (Prometheus text format): the sync metrics of activities/metrics.ts
// and, appended, the Temporal SDK's own worker metrics, which its Rust core serves on an internal
// address (Runtime.install telemetryOptions.metrics.prometheus, see worker/index.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  url: string;
  port: number;
  close: () => Promise<void>;
}

export async function startMetricsServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  /** The Temporal core's Prometheus endpoint (`http://127.0.0.1:<port>/metrics`), if installed. */
  temporalMetricsUrl?: string;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    void (async () => {
      try {
        let text = await opts.registry.metrics();
        if (opts.temporalMetricsUrl) {
          // The core's metrics are best effort: a failed fetch leaves ours whole.
          const core = await fetch(opts.temporalMetricsUrl, { signal: AbortSignal.timeout(2000) })
            .then((r) => (r.ok ? r.text() : ''))
            .catch(() => '');
          if (core) text = `${text.trimEnd()}\n${core}`;
        }
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text);
      } catch (err) {
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics failed: ${(err as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
