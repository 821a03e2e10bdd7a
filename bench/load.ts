// One autocannon run against the API, in a child process of the benchmark (so the load generator
// does not share the event loop of the API it measures). Input: one JSON argument (LoadSpec), or
// the same JSON on stdin; output: one JSON line (LoadResult) on stdout.
//
//   node dist/bench/load.js '{"url":"http://127.0.0.1:8080","paths":["/v1/buckets/bkt_x"],...}'
//
// Latency is recorded here, each 2xx response once (`latency_ms`). autocannon's own figures
// (`autocannon_latency_ms`) are kept beside it but are not the requests' percentiles: with a rate
// set, autocannon 9.0.0 corrects for coordinated omission with an expected interval of
// `Math.ceil(1 / rate)` = 1 ms (rate per second, latency in ms), so a response of L ms is recorded
// as L values (L, L-1, …, 1) and a few slow responses move its p99 a long way (0.5% of requests at
// 30 ms: autocannon p99 28 ms, the requests' p99 8 ms). `corrected_latency_ms` applies the same
// correction with the interval its rate limiter really gives a connection (1000 / its requests per
// second): only a response slower than that has requests missing behind it.

import { build, type Histogram } from 'hdr-histogram-js';

export interface LoadSpec {
  url: string;
  /** Request paths, used in turn (one request each). */
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  /** Requests per second offered in total (autocannon's overallRate). */
  rate: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  ok_2xx: number;
  non_2xx: number;
  errors: number;
  timeouts: number;
  req_per_s: number;
  /** Each 2xx response counted once. */
  latency_ms: Percentiles;
  /** The same responses corrected for coordinated omission at the connection's request interval. */
  corrected_latency_ms: Percentiles;
  /** autocannon's report (see the head of this file for why it is not the requests' percentiles). */
  autocannon_latency_ms: Percentiles;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

interface AutocannonResult {
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  requests: { average: number; total: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type ResponseListener = (client: unknown, status: number, bytes: number, ms: number) => void;
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult> & {
  on(event: 'response', listener: ResponseListener): void;
};

/** Microseconds, so that sub-millisecond answers keep their resolution. */
function histogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function percentiles(h: Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Runs the load of `spec` in this process. */
export async function measureLoad(spec: LoadSpec): Promise<LoadResult> {
  // autocannon ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as Autocannon;
  const perRequest = histogram();
  const corrected = histogram();
  // autocannon gives each connection floor or ceil of rate / connections requests a second.
  const intervalUs = Math.round(1e6 / Math.max(1, Math.floor(spec.rate / spec.connections)));
  let i = 0;
  const run = autocannon({
    url: spec.url,
    connections: spec.connections,
    overallRate: spec.rate,
    duration: spec.seconds,
    headers: spec.headers,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: Record<string, unknown>) => ({
          ...req,
          path: spec.paths[i++ % spec.paths.length],
        }),
      },
    ],
  });
  run.on('response', (_client, status, _bytes, ms) => {
    if (status < 200 || status > 299) return;
    const us = Math.max(1, Math.round(ms * 1000));
    perRequest.recordValue(us);
    corrected.recordValueWithExpectedInterval(us, intervalUs);
  });
  const r = await run;
  const out: LoadResult = {
    requests: r.requests.total,
    ok_2xx: r['2xx'],
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    req_per_s: r.requests.average,
    latency_ms: percentiles(perRequest),
    corrected_latency_ms: percentiles(corrected),
    autocannon_latency_ms: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: r.latency.average,
    },
  };
  perRequest.destroy();
  corrected.destroy();
  return out;
}

async function main(): Promise<void> {
  // The spec as the argument, or on stdin (thousands of paths are past the limit of one argument).
  let text = process.argv[2];
  if (text === undefined) {
    text = '';
    for await (const chunk of process.stdin) text += String(chunk);
  }
  const spec = JSON.parse(text) as LoadSpec;
  process.stdout.write(`${JSON.stringify(await measureLoad(spec))}\n`);
}

if (require.main === module)
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `load failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
