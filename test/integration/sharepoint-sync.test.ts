// End to end: a `sharepoint` connection to the Graph fake (HTTPS, its certificate in ca_cert) -> HTTP API
// -> Temporal workflow -> objects. The first pass walks the folder; the pass after a trigger is
// incremental and reads the drive's delta feed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { eventually, http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { FakeSharePoint } from '../providers/fakes/sharepoint';
import { sharepointConnection } from '../providers/fixtures/sharepoint';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('sharepoint sync from the Graph fake, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let fake: FakeSharePoint;
  let bucketId: string;
  const drive = () => fake.defaultDrive(fake.siteByName('Marketing')!);
  const put = (rel: string, body: string, opts: { fields?: Record<string, unknown> } = {}) =>
    fake.put(drive(), `Campaigns/${rel}`, Buffer.from(body), opts);

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    fake = await FakeSharePoint.start();
    fake.addSite('Marketing');
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'sharepoint-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(() => fake?.stop());

  it('refuses to save a connection whose client secret is rejected, without echoing it', async () => {
    const { config, credentials } = sharepointConnection(fake, 'wrong-secret-value');
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'sharepoint-rejected',
      provider_type: 'sharepoint',
      provider_config: { ...config, credentials },
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /invalid_client/);
    assert.doesNotMatch(JSON.stringify(r.body), /wrong-secret-value/);
  });

  it('syncs every file of the folder into objects, changes after a trigger, and redacts the secret', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`wave ${i % 3}/assets ${i % 2}/file-${i}.txt`] = `content ${i}`;
    for (const [rel, body] of Object.entries(files)) await put(rel, body);
    await put('brief.docx', 'the brief', { fields: { Owner: 'data-team' } });
    files['brief.docx'] = 'the brief';
    fake.mkdir(drive(), 'Campaigns/empty folder');
    await fake.put(drive(), 'Elsewhere/outside.txt', Buffer.from('not in the folder'));

    const { config, credentials } = sharepointConnection(fake);
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'sharepoint-fake',
      provider_type: 'sharepoint',
      provider_config: { ...config, credentials },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const connectionId: string = conn.body.connection_id;
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.graph_endpoint, fake.graphUrl);
    const got = await http(s, 'GET', `/v1/organizations/connections/${connectionId}`);
    assert.equal(got.status, 200);
    for (const body of [conn.body, got.body])
      assert.doesNotMatch(
        JSON.stringify(body),
        new RegExp(fake.clientSecret),
        'the secret is never returned',
      );

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: '/sites/Marketing/Shared Documents/Campaigns',
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
    assert.equal(first.status, 'ACTIVE', JSON.stringify(first));
    assert.equal(first.total_files_discovered, total);

    const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
    let objects = await objectsOf();
    assert.equal(objects.length, total);
    const idOf = (rel: string) => `${drive().id}/${fake.byPath(drive(), `Campaigns/${rel}`)!.id}`;
    assert.deepEqual(new Set(objects.map((o) => o.source_object_id)), new Set(Object.keys(files).map(idOf)));
    for (const [rel, body] of Object.entries(files)) {
      const o = objects.find((x) => x.source_object_id === idOf(rel))!;
      assert.equal(o.blobs[0].details.hash, sha256(body), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.match(o.source_checksum ?? '', /^quickxor:[0-9a-f]{40}$/);
    }
    const brief = objects.find((o) => o.source_object_id === idOf('brief.docx'))!;
    assert.equal(
      brief.blobs[0].details.mime_type,
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    );
    assert.equal(brief.metadata.Owner, 'data-team');
    assert.equal(brief.key_prefix, '/');
    assert.equal(fake.downloadsWithBearer, 0, 'download URLs never get the bearer token');
    assert.equal(fake.deltaRequests, 1, 'the first pass walks the folder (delta only for its latest token)');

    // A file added and one changed later arrive after a trigger (the poll interval is 15 minutes away);
    // this pass is incremental: the delta feed since the last pass.
    await put('late/arrival.txt', 'late');
    await put('wave 1/assets 0/file-4.txt', 'content 4, edited');
    const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    const second = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(2)(x) && x.total_files_synced >= total + 1,
      120_000,
    );
    assert.equal(second.status, 'ACTIVE');
    assert.ok(fake.deltaRequests > 0, 'the second pass read the delta feed');
    objects = await objectsOf();
    assert.equal(objects.length, total + 1);
    const late = objects.find((o) => o.source_object_id === idOf('late/arrival.txt'));
    assert.ok(late, 'the late file is an object');
    assert.equal(late.blobs[0].details.hash, sha256('late'));
    assert.equal(late.key_prefix, '/late');
    const edited = await eventually(async () => {
      const o = (await objectsOf()).find((x) => x.source_object_id === idOf('wave 1/assets 0/file-4.txt'));
      return o?.blobs[0].details.hash === sha256('content 4, edited') ? o : null;
    }, 30_000);
    assert.ok(edited, 'the edited file was replaced in its object');

    // A file moved INTO the folder without being modified arrives on the next incremental pass, and a
    // deleted file's object goes without a full sync; counts are exact.
    const outsideId = `${drive().id}/${fake.byPath(drive(), 'Elsewhere/outside.txt')!.id}`;
    const deletedId = idOf('wave 0/assets 0/file-0.txt');
    fake.move(drive(), 'Elsewhere/outside.txt', 'Campaigns/moved in');
    fake.remove(drive(), 'Campaigns/wave 0/assets 0/file-0.txt');
    const deltasBefore = fake.deltaRequests;
    const trig3 = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig3.status, 200, JSON.stringify(trig3.body));
    const third = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(3)(x) && x.total_files_synced === total + 2,
      120_000,
    );
    assert.equal(third.total_files_failed, 0);
    assert.ok(fake.deltaRequests > deltasBefore, 'the third pass read the delta feed');
    objects = await objectsOf();
    assert.equal(objects.length, total + 1, 'one object more (moved in), one less (deleted)');
    const moved = objects.find((o) => o.source_object_id === outsideId);
    assert.ok(moved, 'the file moved into the folder is an object');
    assert.equal(moved.blobs[0].details.hash, sha256('not in the folder'));
    assert.equal(moved.key_prefix, '/moved in');
    assert.ok(!objects.some((o) => o.source_object_id === deletedId), 'the deleted file is gone');
    const [newest] = await s.store.runs
      .find({ sync_config_id: syncId })
      .sort({ started_at: -1 })
      .limit(1)
      .toArray();
    assert.deepEqual(
      [newest.full, newest.files_synced, newest.objects_deleted, newest.status],
      [false, 1, 1, 'COMPLETED'],
      JSON.stringify(newest),
    );
    const cfg = await s.store.syncs.findOne({ sync_config_id: syncId });
    assert.ok(cfg!.sync_checkpoints.default.next_delta_token, 'the token is in the MongoDB checkpoint');
  });
});
