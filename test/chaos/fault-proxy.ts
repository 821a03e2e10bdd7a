// A fault-injecting HTTP proxy for the chaos suite, between the worker and an HTTP server (MinIO).
// It forwards each request as it is (the Host header too, so S3 signatures still verify) and, for
// a `rate` share of them, injects one fault instead:
//   5xx          500 InternalError (S3's XML error body)
//   throttle     503 SlowDown or 429 with `Retry-After: 1`
//   reset        the client's connection destroyed before any response byte
//   slow         the response delayed by `slowMs` and then forwarded
// TCP-level proxies (toxiproxy) cannot answer with a status code; this one can.
// It also watches concurrency: a GET of one object key that starts while another GET of the same
// key is still in flight is counted in `overlaps` (one pass, one page at a time never does that).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault = '5xx' | 'throttle' | 'reset' | 'slow';
const FAULTS: Fault[] = ['5xx', 'throttle', 'reset', 'slow'];

export interface FaultProxy {
  url: string;
  /** Share of requests that get a fault (0 = a plain proxy). */
  rate: number;
  /** When true, every request is refused with a reset connection (the provider is "down"). */
  down: boolean;
  /**
   * While true, object GETs are held (not forwarded) until it is set back to false: a provider that
   * stalls. The page in flight cannot finish meanwhile (its heartbeats go on).
   */
  hold: boolean;
  /** Per-request answer instead of forwarding (an S3 error), e.g. 403 for one unreadable key. */
  answer: ((method: string, path: string, url: string) => { status: number; code: string } | null) | null;
  readonly requests: number;
  readonly faults: Record<Fault, number>;
  /** GETs of one key that overlapped in time. */
  readonly overlaps: number;
  close(): Promise<void>;
}

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
  '<RequestId>chaos</RequestId></Error>';

export async function startFaultProxy(
  target: string,
  opts: { rate?: number; slowMs?: number; seed?: number } = {},
): Promise<FaultProxy> {
  const t = new URL(target);
  const slowMs = opts.slowMs ?? 1500;
  // A small deterministic PRNG (mulberry32) so a failing run can be replayed with its seed.
  let seed = opts.seed ?? Date.now() >>> 0;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let x = seed;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const faults: Record<Fault, number> = { '5xx': 0, throttle: 0, reset: 0, slow: 0 };
  const inFlight = new Map<string, number>();
  const sockets = new Set<Socket>();
  let requests = 0;
  let overlaps = 0;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, delayMs: number) => {
    const key = req.method === 'GET' ? (req.url ?? '').split('?')[0] : null;
    // Listing requests (GET /bucket?list-type=2) are on the bucket path, not an object key.
    const objectGet = key !== null && !(req.url ?? '').includes('list-type=') && key.split('/').length > 2;
    if (objectGet) {
      const n = inFlight.get(key) ?? 0;
      if (n > 0) overlaps++;
      inFlight.set(key, n + 1);
    }
    const done = () => {
      if (!objectGet) return;
      const n = (inFlight.get(key) ?? 1) - 1;
      if (n <= 0) inFlight.delete(key);
      else inFlight.set(key, n);
    };
    const up = http.request(
      {
        host: t.hostname,
        port: t.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        const send = () => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.once('end', done);
        };
        if (delayMs > 0) setTimeout(send, delayMs);
        else send();
      },
    );
    up.once('error', () => {
      done();
      res.destroy();
    });
    res.once('close', () => {
      done();
      up.destroy();
    });
    req.pipe(up);
  };

  let holding = false;
  let held: (() => void)[] = [];
  const proxy: FaultProxy = {
    url: '',
    rate: opts.rate ?? 0,
    down: false,
    get hold() {
      return holding;
    },
    set hold(on: boolean) {
      holding = on;
      if (on) return;
      const queued = held;
      held = [];
      for (const go of queued) go();
    },
    answer: null,
    get requests() {
      return requests;
    },
    faults,
    get overlaps() {
      return overlaps;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    requests++;
    if (proxy.down) {
      req.socket.destroy();
      return;
    }
    const fixed = proxy.answer?.(
      req.method ?? 'GET',
      decodeURIComponent((req.url ?? '').split('?')[0]),
      req.url ?? '',
    );
    if (fixed) {
      req.resume();
      res
        .writeHead(fixed.status, { 'content-type': 'application/xml' })
        .end(req.method === 'HEAD' ? undefined : s3Error(fixed.code, fixed.code));
      return;
    }
    if (holding && req.method === 'GET' && !(req.url ?? '').includes('list-type=')) {
      held.push(() => (random() >= proxy.rate ? forward(req, res, 0) : injectFault(req, res)));
      return;
    }
    if (random() >= proxy.rate) return forward(req, res, 0);
    injectFault(req, res);
  });
  const injectFault = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const fault = FAULTS[Math.floor(random() * FAULTS.length)];
    faults[fault]++;
    switch (fault) {
      case '5xx':
        req.resume();
        res
          .writeHead(500, { 'content-type': 'application/xml' })
          .end(s3Error('InternalError', 'We encountered an internal error. Please try again.'));
        return;
      case 'throttle': {
        req.resume();
        const tooMany = random() < 0.5;
        res
          .writeHead(tooMany ? 429 : 503, { 'content-type': 'application/xml', 'retry-after': '1' })
          .end(
            tooMany
              ? s3Error('TooManyRequests', 'Please reduce your request rate.')
              : s3Error('SlowDown', 'Please reduce your request rate.'),
          );
        return;
      }
      case 'reset':
        req.socket.destroy();
        return;
      case 'slow':
        return forward(req, res, slowMs);
    }
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
