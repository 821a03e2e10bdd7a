// /metrics on the API and on the worker (Prometheus text format): scraped around a small sync on a
// lane of its own (its own worker, so every count is this test's), the counters move by exactly what
// the sync did.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bucketWithFolder, createSync, http, idleAfter, waitForSync } from '../helpers';
import { lane, stack, type Lane } from '../setup/stack';

/** `name{labels} value` lines of a scrape, by series (name plus labels as printed). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+(?:\{.*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await r.text());
}

const delta = (a: Map<string, number>, b: Map<string, number>, series: string) =>
  (b.get(series) ?? 0) - (a.get(series) ?? 0);

describe('Prometheus metrics: API and worker', function () {
  this.timeout(180_000);
  let l: Lane;

  before(async function () {
    this.timeout(300_000);
    l = await lane(await stack(), {});
  });

  it('counts files by outcome, bytes, passes and page durations; API requests by route pattern', async () => {
    const files = { 'a.txt': 'aaaa', 'b.txt': 'bb', 'sub/c.txt': 'cccccc' };
    const { folder, bucketId, connectionId } = await bucketWithFolder(l, files);
    const before = await scrape(l.workerMetricsUrl);
    const syncId = await createSync(l, bucketId, { connection_id: connectionId, source_path: '/' });
    await waitForSync(l, bucketId, syncId, idleAfter(1));
    const first = await scrape(l.workerMetricsUrl);
    assert.equal(delta(before, first, 'bucket_syncs_files_total{outcome="created"}'), 3);
    assert.equal(delta(before, first, 'bucket_syncs_files_total{outcome="updated"}'), 0);
    assert.equal(delta(before, first, 'bucket_syncs_files_listed_total'), 3);
    assert.equal(delta(before, first, 'bucket_syncs_bytes_synced_total'), 12);
    assert.equal(delta(before, first, 'bucket_syncs_passes_total{outcome="completed"}'), 1);
    assert.equal(delta(before, first, 'bucket_syncs_pass_duration_seconds_count{outcome="completed"}'), 1);
    assert.ok(delta(before, first, 'bucket_syncs_page_duration_seconds_count{outcome="ok"}') >= 1);
    assert.equal(first.get('bucket_syncs_syncs{status="ACTIVE"}'), 1);
    assert.ok((first.get('bucket_syncs_sync_lag_seconds') ?? -1) >= 0);
    assert.equal(first.get('bucket_syncs_dlq_size'), 0);
    // The Temporal SDK's own worker metrics, through the same endpoint.
    assert.ok(
      [...first.keys()].some((k) => k.startsWith('temporal_')),
      'no temporal_* series in the worker scrape',
    );

    // A full sync after one file changed: 1 updated, 2 unchanged, the new bytes only.
    writeFileSync(path.join(folder, 'a.txt'), 'a changed file');
    const t = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    await waitForSync(l, bucketId, syncId, idleAfter(2));
    const second = await scrape(l.workerMetricsUrl);
    assert.equal(delta(first, second, 'bucket_syncs_files_total{outcome="created"}'), 0);
    assert.equal(delta(first, second, 'bucket_syncs_files_total{outcome="updated"}'), 1);
    assert.equal(delta(first, second, 'bucket_syncs_files_total{outcome="unchanged"}'), 2);
    assert.equal(delta(first, second, 'bucket_syncs_bytes_synced_total'), 'a changed file'.length);
    assert.equal(delta(first, second, 'bucket_syncs_passes_total{outcome="completed"}'), 1);

    // The API: by route pattern and status, never the raw path; no key needed.
    const metrics = await fetch(`${l.apiUrl}/metrics`);
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    const api = parse(text);
    const series = (route: string, method: string, status: number) =>
      `bucket_syncs_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`;
    assert.ok((api.get(series('/v1/buckets/:bucket_id/syncs/:sync_config_id', 'GET', 200)) ?? 0) >= 2, text);
    assert.equal(api.get(series('/v1/buckets/:bucket_id/syncs', 'POST', 201)), 1);
    assert.equal(api.get(series('/v1/buckets/:bucket_id/syncs/:sync_config_id/trigger', 'POST', 200)), 1);
    assert.ok(!text.includes(syncId) && !text.includes(bucketId), 'an id in a label');
    const unknown = await http(l, 'GET', `/v1/buckets/${bucketId}/syncs/sync_nope`);
    assert.equal(unknown.status, 404);
    const after = parse(await (await fetch(`${l.apiUrl}/metrics`)).text());
    assert.equal(
      (after.get(series('/v1/buckets/:bucket_id/syncs/:sync_config_id', 'GET', 404)) ?? 0) -
        (api.get(series('/v1/buckets/:bucket_id/syncs/:sync_config_id', 'GET', 404)) ?? 0),
      1,
    );
  });
});
