// The benchmark's load generator (bench/load.ts) against a local HTTP server whose slow answers are
// known: its percentiles must count each response once, so a few slow responses do not become the
// p99 the way autocannon's own report (corrected with a 1 ms interval) makes them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { measureLoad } from '../../bench/load';

const SLOW_MS = 200;
/** One request in SLOW_EVERY is answered after SLOW_MS, the others at once. */
const SLOW_EVERY = 400;

describe('bench load generator (bench/load.ts)', function () {
  this.timeout(30_000);
  let server: http.Server;
  let url: string;
  let served = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const slow = served++ % SLOW_EVERY === 0;
      const answer = () => res.end(req.url === '/missing' ? 'no' : 'ok');
      if (req.url === '/missing') res.statusCode = 404;
      if (slow) setTimeout(answer, SLOW_MS);
      else answer();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('reports the percentiles of the responses, each counted once, beside autocannon’s', async () => {
    served = 0;
    const r = await measureLoad({
      url,
      paths: ['/a', '/b'],
      headers: {},
      connections: 10,
      rate: 800,
      seconds: 2,
    });
    assert.ok(r.ok_2xx >= 1200, `2xx responses: ${r.ok_2xx}`);
    // ~0.25% of the responses took SLOW_MS: the slowest is one of them, the p99 is not.
    assert.ok(r.latency_ms.max >= SLOW_MS, `max ${r.latency_ms.max}`);
    assert.ok(r.latency_ms.p99 < SLOW_MS / 2, `p99 ${r.latency_ms.p99}`);
    assert.ok(r.latency_ms.p50 <= r.latency_ms.p90 && r.latency_ms.p90 <= r.latency_ms.p99);
    // A slow response is 16 intervals of its connection (80 requests a second: 12.5 ms): the
    // corrected figures add the requests that waited behind it, so they are never lower.
    assert.ok(r.corrected_latency_ms.p99 >= r.latency_ms.p99);
    assert.ok(r.corrected_latency_ms.max >= r.latency_ms.max - 1);
    // autocannon's own p99 weighs each response by its latency: the slow ones dominate it.
    assert.ok(r.autocannon_latency_ms.p99 > r.latency_ms.p99, JSON.stringify(r));
  });

  it('leaves non-2xx answers out of the latency and counts them', async () => {
    served = 1; // no slow answer in the first SLOW_EVERY - 1 requests
    const r = await measureLoad({
      url,
      paths: ['/missing'],
      headers: {},
      connections: 2,
      rate: 100,
      seconds: 1,
    });
    assert.ok(r.non_2xx > 0, JSON.stringify(r));
    assert.equal(r.ok_2xx, 0);
    assert.equal(r.latency_ms.max, 0);
  });
});
