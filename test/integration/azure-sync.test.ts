// End to end on real servers: an `azure_blob` connection to Azurite -> HTTP API -> Temporal workflow
// -> objects.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { forEachLimit } from '../../lib/pool';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startAzurite, type Azurite } from '../providers/fixtures/azure';

const ACCOUNT = 'syncse2e';
const CONTAINER = 'source';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('azure_blob sync from Azurite, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let azurite: Azurite;
  let bucketId: string;
  const blob = (name: string) => azurite.client.getContainerClient(CONTAINER).getBlockBlobClient(name);
  const put = (
    name: string,
    body: string,
    extra: { contentType?: string; metadata?: Record<string, string> } = {},
  ) =>
    blob(name).uploadData(Buffer.from(body), {
      ...(extra.contentType ? { blobHTTPHeaders: { blobContentType: extra.contentType } } : {}),
      ...(extra.metadata ? { metadata: extra.metadata } : {}),
    });
  const connection = (accountKey: string) => ({
    account_name: ACCOUNT,
    endpoint_url: azurite.url,
    credentials: { type: 'account_key', account_key: accountKey },
  });

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    azurite = await startAzurite(ACCOUNT);
    await azurite.client.getContainerClient(CONTAINER).create();
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'azure-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await azurite?.stop();
  });

  it('refuses to save a connection whose account key Azure rejects, without echoing the key', async () => {
    const wrong = randomBytes(64).toString('base64');
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'azurite-rejected',
      provider_type: 'azure_blob',
      provider_config: connection(wrong),
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error.type, 'ConnectionTestError');
    // Azure answers AuthenticationFailed, Azurite AuthorizationFailure: both are an auth refusal.
    assert.match(r.body.error.message, /AuthenticationFailed|AuthorizationFailure/);
    assert.deepEqual(r.body.error.details.test.details, { kind: 'auth', retryable: false });
    assert.ok(!JSON.stringify(r.body).includes(wrong), 'the key is never returned');
  });

  it('syncs every blob under container/prefix, a later one after a trigger, drops a deleted one on a full sync, and redacts the key', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d${i % 4}/sub ${i % 3}/file-${i}.txt`] = `azure content ${i}`;
    await forEachLimit(Object.entries(files), 16, async ([rel, body]) => {
      await put(`data/${rel}`, body);
    });
    // Content type and user metadata come with the listing; the name has no extension to guess from.
    await put('data/report', '{"ok":true}', {
      contentType: 'application/json',
      metadata: { owner: 'data-team' },
    });
    files.report = '{"ok":true}';
    // A `folder/` placeholder and a hierarchical-namespace directory blob: no objects.
    await put('data/empty-folder/', '');
    await put('data/directory', '', { metadata: { hdi_isfolder: 'true' } });
    await put('elsewhere/outside.txt', 'not under the prefix');

    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'azurite',
      provider_type: 'azure_blob',
      provider_config: connection(azurite.key),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const connectionId: string = conn.body.connection_id;
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.account_name, ACCOUNT);
    assert.equal(conn.body.provider_config.endpoint_url, azurite.url);
    const got = await http(s, 'GET', `/v1/organizations/connections/${connectionId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.provider_config.credentials, '[redacted]');
    for (const body of [conn.body, got.body])
      assert.ok(!JSON.stringify(body).includes(azurite.key), 'the key is never returned');

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: `${CONTAINER}/data`,
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
      new Set(Object.keys(files).map((rel) => `${CONTAINER}/data/${rel}`)),
    );
    for (const o of objects) {
      const rel = o.source_object_id.slice(`${CONTAINER}/data/`.length);
      assert.equal(o.source_provider, 'azure_blob');
      assert.equal(o.blobs[0].details.hash, sha256(files[rel]), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.equal(o.source_checksum, `md5:${md5(files[rel])}`, `checksum of ${rel}`);
    }
    const report = objects.find((o) => o.source_object_id === `${CONTAINER}/data/report`)!;
    assert.equal(report.blobs[0].details.mime_type, 'application/json');
    assert.equal(report.metadata.owner, 'data-team');
    assert.equal(report.key_prefix, '/');
    const nested = objects.find((o) => o.source_object_id === `${CONTAINER}/data/d1/sub 1/file-1.txt`)!;
    assert.equal(nested.key_prefix, '/d1/sub 1');

    // A blob added later appears after a trigger (the poll interval is 15 minutes away).
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
    const late = objects.find((o) => o.source_object_id === `${CONTAINER}/data/late/arrival.txt`);
    assert.ok(late, 'the late blob is an object');
    assert.equal(late.blobs[0].details.hash, sha256('late'));
    assert.equal(late.key_prefix, '/late');

    // A blob deleted at the source: a full sync removes its object, and only it.
    const gone = `${CONTAINER}/data/d0/sub 0/file-0.txt`;
    await blob('data/d0/sub 0/file-0.txt').delete();
    const full = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
    assert.equal(full.status, 200, JSON.stringify(full.body));
    const third = await waitForSync(s, bucketId, syncId, idleAfter(3), 120_000);
    assert.equal(third.status, 'ACTIVE');
    assert.equal(third.total_files_synced, total + 1, 'nothing new was synced');
    objects = await objectsOf();
    assert.equal(objects.length, total);
    assert.ok(!objects.some((o) => o.source_object_id === gone), 'the deleted blob is gone');
    assert.ok(objects.some((o) => o.source_object_id === `${CONTAINER}/data/late/arrival.txt`));
    const [newest] = await s.store.runs
      .find({ sync_config_id: syncId })
      .sort({ started_at: -1 })
      .limit(1)
      .toArray();
    assert.deepEqual(
      [newest.provider_type, newest.full, newest.files_synced, newest.objects_deleted, newest.status],
      ['azure_blob', true, 0, 1, 'COMPLETED'],
      JSON.stringify(newest),
    );
  });
});
