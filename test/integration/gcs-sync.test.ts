// End to end on real servers: a `gcs` connection to fake-gcs-server -> HTTP API -> Temporal workflow
// -> objects.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { forEachLimit } from '../../lib/pool';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startFakeGcs, type FakeGcs } from '../providers/fixtures/gcs';

const SOURCE_BUCKET = 'source';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('gcs sync from fake-gcs-server, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let gcs: FakeGcs;
  let bucketId: string;
  const file = (name: string) => gcs.client.bucket(SOURCE_BUCKET).file(name);
  const put = (name: string, body: string, extra: { contentType?: string; metadata?: object } = {}) =>
    file(name).save(body, { resumable: false, ...extra });

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    gcs = await startFakeGcs();
    await gcs.client.createBucket(SOURCE_BUCKET);
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'gcs-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await gcs?.stop();
  });

  it('refuses a connection to Google itself without service_account credentials (only emulators may go without)', async () => {
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'gcs-no-credentials',
      provider_type: 'gcs',
      provider_config: { project_id: 'some-project' },
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /gcs needs service_account credentials/);
    const list = await http(s, 'GET', '/v1/organizations/connections');
    assert.equal(list.status, 200);
    assert.ok(!JSON.stringify(list.body).includes('gcs-no-credentials'), 'nothing was saved');
  });

  it('syncs every object under bucket/prefix, a later one after a trigger, and drops a deleted one on a full sync', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d${i % 4}/sub ${i % 3}/file-${i}.txt`] = `gcs content ${i}`;
    await forEachLimit(Object.entries(files), 16, async ([rel, body]) => {
      await put(`data/${rel}`, body);
    });
    // Content type and custom metadata come with the listing; the name has no extension to guess from.
    await put('data/report', '{"ok":true}', {
      contentType: 'application/json',
      metadata: { metadata: { owner: 'data-team' } },
    });
    files.report = '{"ok":true}';
    // (No `folder/` placeholder here: fake-gcs-server's filesystem backend cannot store a name ending in `/`.)
    await put('elsewhere/outside.txt', 'not under the prefix');

    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'fake-gcs',
      provider_type: 'gcs',
      provider_config: { endpoint_url: gcs.url },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const connectionId: string = conn.body.connection_id;
    assert.equal(conn.body.provider_type, 'gcs');
    assert.equal(conn.body.provider_config.endpoint_url, gcs.url);
    assert.equal('credentials' in conn.body.provider_config, false, 'no credentials: none answered');

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: `${SOURCE_BUCKET}/data`,
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;

    const total = Object.keys(files).length;
    const first = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(1)(x) && x.total_files_synced === total,
      120_000,
    );
    assert.equal(first.status, 'ACTIVE');
    assert.equal(first.total_files_discovered, total);
    assert.equal(first.total_files_failed, 0);

    const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
    let objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.deepEqual(
      new Set(objects.map((o) => o.source_object_id)),
      new Set(Object.keys(files).map((rel) => `${SOURCE_BUCKET}/data/${rel}`)),
    );
    for (const o of objects) {
      const rel = o.source_object_id.slice(`${SOURCE_BUCKET}/data/`.length);
      assert.equal(o.source_provider, 'gcs');
      assert.equal(o.blobs[0].details.hash, sha256(files[rel]), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.equal(o.source_checksum, `md5:${md5(files[rel])}`, `checksum of ${rel}`);
    }
    const report = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/report`)!;
    assert.equal(report.blobs[0].details.mime_type, 'application/json');
    assert.equal(report.metadata.owner, 'data-team');
    assert.equal(report.key_prefix, '/');
    const nested = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/d1/sub 1/file-1.txt`)!;
    assert.equal(nested.key_prefix, '/d1/sub 1');

    // An object added later appears after a trigger (the poll interval is 15 minutes away).
    await put('data/late/arrival.txt', 'late');
    const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    const second = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(2)(x) && x.total_files_synced === total + 1,
      120_000,
    );
    assert.equal(second.status, 'ACTIVE');
    objects = await objectsOf();
    assert.equal(objects.length, total + 1);
    const late = objects.find((o) => o.source_object_id === `${SOURCE_BUCKET}/data/late/arrival.txt`);
    assert.ok(late, 'the late object is an object');
    assert.equal(late.blobs[0].details.hash, sha256('late'));
    assert.equal(late.key_prefix, '/late');

    // An object deleted at the source: a full sync removes its object, and only it.
    const gone = `${SOURCE_BUCKET}/data/d0/sub 0/file-0.txt`;
    await file('data/d0/sub 0/file-0.txt').delete();
    const full = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
    assert.equal(full.status, 200, JSON.stringify(full.body));
    const third = await waitForSync(s, bucketId, syncId, idleAfter(3), 120_000);
    assert.equal(third.status, 'ACTIVE');
    assert.equal(third.total_files_synced, total + 1, 'nothing new was synced');
    objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.ok(!objects.some((o) => o.source_object_id === gone), 'the deleted object is gone');
    assert.ok(objects.some((o) => o.source_object_id === `${SOURCE_BUCKET}/data/late/arrival.txt`));
    const [newest] = await s.store.runs
      .find({ sync_config_id: syncId })
      .sort({ started_at: -1 })
      .limit(1)
      .toArray();
    assert.deepEqual(
      [newest.provider_type, newest.full, newest.files_synced, newest.objects_deleted, newest.status],
      ['gcs', true, 0, 1, 'COMPLETED'],
      JSON.stringify(newest),
    );
  });
});
