// One autocannon run against the API, in a child process of the benchmark (so the load generator
// does not share the event loop of the API it measures). Input: one JSON argument (LoadSpec);
// output: one JSON line (LoadResult) on stdout.
//
//   node dist/bench/load.js '{"url":"http://127.0.0.1:8080","paths":["/v1/buckets/bkt_x"],...}'

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
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
}

interface AutocannonResult {
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  requests: { average: number; total: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  // autocannon ships no type declarations.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as Autocannon;
  let i = 0;
  const r = await autocannon({
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
  const out: LoadResult = {
    requests: r.requests.total,
    ok_2xx: r['2xx'],
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    req_per_s: r.requests.average,
    latency_ms: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: r.latency.average,
    },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
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
