// End to end: a `google_drive` connection (OAuth credentials, a shared drive) to the in-process Drive
// fake -> HTTP API -> Temporal workflow -> objects. The real googleapis client talks to the fake.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { http, idleAfter, waitForSync } from '../helpers';
import { FakeDrive } from '../providers/fakes/google-drive';
import { stack, type Stack } from '../setup/stack';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('google_drive sync from the Drive fake, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let fake: FakeDrive;
  let bucketId: string;
  let driveId: string;
  let oauth: { client_id: string; client_secret: string; refresh_token: string };
  const providerConfig = (credentials: Record<string, unknown>) => ({
    shared_drive_id: driveId,
    endpoint_url: fake.url,
    token_url: fake.tokenUrl,
    credentials: { type: 'oauth', ...credentials },
  });

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    fake = new FakeDrive();
    await fake.start();
    driveId = fake.createSharedDrive('Team Drive');
    oauth = fake.addOAuthClient('syncer@example.com');
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'google-drive-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await fake?.stop();
  });

  it('refuses to save a connection whose credentials Google rejects, without echoing the secret', async () => {
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'drive-rejected',
      provider_type: 'google_drive',
      provider_config: providerConfig({ ...oauth, client_secret: 'GOCSPX-not-the-secret' }),
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /invalid_client/);
    assert.doesNotMatch(JSON.stringify(r.body), /GOCSPX-not-the-secret|GOCSPX/);
    assert.doesNotMatch(JSON.stringify(r.body), new RegExp(oauth.refresh_token.slice(4, 20)));
  });

  it('syncs every file under a folder path into objects, exports Google Docs, and a later file after a trigger', async () => {
    const files: Record<string, string> = {};
    const ids: Record<string, string> = {};
    const data = fake.mkdirp(driveId, 'Team Data');
    for (let i = 0; i < 60; i++) {
      const rel = `d${i % 3}/sub ${i % 4}/file-${i}.txt`;
      files[rel] = `content ${i}`;
      const dir = rel.split('/').slice(0, -1).join('/');
      ids[rel] = await fake.putFile(fake.mkdirp(data, dir), rel.split('/').at(-1)!, Buffer.from(files[rel]), {
        mimeType: 'text/plain',
      });
    }
    ids.report = await fake.putFile(data, 'report', Buffer.from('{"ok":true}'), {
      mimeType: 'application/json',
      properties: { owner: 'data-team' },
      description: 'weekly report',
    });
    files.report = '{"ok":true}';
    const docBytes = Buffer.from('PK\u0003\u0004 a docx, as Drive would export it');
    ids['Minutes.docx'] = fake.putNative(data, 'Minutes', 'application/vnd.google-apps.document', {
      [DOCX]: docBytes,
    });
    // Not synced: a form (no bytes), a trashed file, a file outside the folder.
    fake.putNative(data, 'Feedback', 'application/vnd.google-apps.form');
    const trashed = await fake.putFile(data, 'trashed.txt', Buffer.from('gone'));
    fake.update(trashed, { trashed: true });
    const outside = await fake.putFile(
      fake.mkdirp(driveId, 'Elsewhere'),
      'outside.txt',
      Buffer.from('not under the folder'),
    );

    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'team-drive',
      provider_type: 'google_drive',
      provider_config: providerConfig(oauth),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.shared_drive_id, driveId);
    assert.doesNotMatch(JSON.stringify(conn.body), new RegExp(oauth.client_secret));
    const tested = await http(s, 'POST', `/v1/organizations/connections/${conn.body.connection_id}/test`, {
      source_path: 'Team Data',
    });
    assert.equal(tested.status, 200, JSON.stringify(tested.body));
    assert.equal(tested.body.success, true, JSON.stringify(tested.body));

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: 'Team Data',
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;

    const total = Object.keys(files).length + 1; // + the exported document
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
    // Objects are keyed by Drive file ids, not paths.
    assert.deepEqual(new Set(objects.map((o) => o.source_object_id)), new Set(Object.values(ids)));
    const byId = new Map(objects.map((o) => [o.source_object_id, o]));
    for (const [rel, body] of Object.entries(files)) {
      const o = byId.get(ids[rel])!;
      assert.equal(o.blobs[0].details.hash, sha256(body), `bytes of ${rel}`);
      assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
      assert.equal(o.source_checksum, `md5:${createHash('md5').update(body).digest('hex')}`);
    }
    const report = byId.get(ids.report)!;
    assert.equal(report.blobs[0].details.mime_type, 'application/json');
    assert.equal(report.metadata.owner, 'data-team');
    assert.equal(report.metadata.description, 'weekly report');
    assert.equal(report.key_prefix, '/');
    const minutes = byId.get(ids['Minutes.docx'])!;
    assert.equal(minutes.blobs[0].details.filename, 'Minutes.docx');
    assert.equal(minutes.blobs[0].details.mime_type, DOCX);
    assert.equal(minutes.blobs[0].details.hash, sha256(docBytes));
    assert.equal(byId.get(ids['d1/sub 1/file-1.txt'])!.key_prefix, '/d1/sub 1');

    // A file added later appears after a trigger (the poll interval is 15 minutes away); the
    // incremental pass lists only the changes since the first pass (the changes API, from the start
    // page token the full listing took).
    const late = await fake.putFile(fake.mkdirp(data, 'late/arrivals'), 'arrival.txt', Buffer.from('late'));
    let before = fake.requests.length;
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
    assert.equal(objects.length, total + 1, 'nothing was deleted by the incremental pass');
    const arrived = objects.find((o) => o.source_object_id === late);
    assert.ok(arrived, 'the late file is an object');
    assert.equal(arrived.blobs[0].details.hash, sha256('late'));
    assert.equal(arrived.key_prefix, '/late/arrivals');
    let incremental = fake.requests.slice(before);
    assert.ok(
      incremental.some((r) => r.path === '/drive/v3/changes' && r.params.driveId === driveId),
      'the shared drive changes feed was read',
    );
    assert.ok(
      !incremental.some(
        (r) => r.path === '/drive/v3/files' && / in parents and trashed = false/.test(r.params.q ?? ''),
      ),
      'no folder was walked',
    );

    // A file moved INTO the folder without being modified (its modifiedTime is older than the last
    // pass) arrives on the next incremental pass; a deleted file's object goes; counts are exact.
    // The file is written outside the folder, then a pass runs, then it is moved in: its
    // modifiedTime is older than that pass's start, so a modifiedTime filter would never list it.
    const mover = await fake.putFile(fake.mkdirp(driveId, 'Elsewhere'), 'moved-in.txt', Buffer.from('moved'));
    const trig3 = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig3.status, 200, JSON.stringify(trig3.body));
    await waitForSync(s, bucketId, syncId, idleAfter(3), 120_000);
    assert.equal((await objectsOf()).length, total + 1, 'a file outside the folder is not synced');
    fake.move(mover, fake.mkdirp(data, 'd2'));
    fake.remove(ids['d0/sub 0/file-0.txt']);
    before = fake.requests.length;
    const trig4 = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig4.status, 200, JSON.stringify(trig4.body));
    const fourth = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(4)(x) && x.total_files_synced === total + 2,
      120_000,
    );
    assert.equal(fourth.total_files_failed, 0);
    objects = await objectsOf();
    assert.equal(objects.length, total + 1, 'one object more (moved in), one less (deleted)');
    const moved = objects.find((o) => o.source_object_id === mover);
    assert.ok(moved, 'the file moved into the folder is an object');
    assert.equal(moved.blobs[0].details.hash, sha256('moved'));
    assert.equal(moved.key_prefix, '/d2');
    assert.ok(
      !objects.some((o) => o.source_object_id === ids['d0/sub 0/file-0.txt']),
      'the deleted file is gone',
    );
    assert.ok(!objects.some((o) => o.source_object_id === outside));
    incremental = fake.requests.slice(before);
    assert.ok(incremental.some((r) => r.path === '/drive/v3/changes'));
    assert.ok(
      !incremental.some(
        (r) => r.path === '/drive/v3/files' && / in parents and trashed = false/.test(r.params.q ?? ''),
      ),
    );
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
    // The token is kept in the MongoDB checkpoint too (a workflow restarted from it keeps it).
    const cfg = await s.store.syncs.findOne({ sync_config_id: syncId });
    assert.match(cfg!.sync_checkpoints.default.next_delta_token ?? '', /^\d+$/);
    assert.notEqual(cfg!.sync_checkpoints.default.delta_token, null);
  });

  it('retries a DLQ file that incremental passes do not list again (server-side modified filter)', async () => {
    const folder = fake.mkdirp(driveId, 'Mapped');
    await fake.putFile(folder, 'ok-1.txt', Buffer.from('fine'), { mimeType: 'text/plain' });
    const badId = await fake.putFile(folder, 'bad.txt', Buffer.from('no id in my name'), {
      mimeType: 'text/plain',
    });
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'team-drive-mapped',
      provider_type: 'google_drive',
      provider_config: providerConfig(oauth),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: 'Mapped',
      polling_interval_seconds: 900,
      schema_mapping: {
        mappings: {
          doc_id: {
            target_type: 'field',
            source: { type: 'filename_regex', pattern: '^ok-(\\d+)' },
            required: true,
          },
        },
      },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;
    const dlqOf = async () =>
      (await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`)).body.results;
    await waitForSync(s, bucketId, syncId, idleAfter(1), 120_000);
    assert.deepEqual(
      (await dlqOf()).map((d: any) => [d.source_object_id, d.attempts, d.status]),
      [[badId, 1, 'PENDING']],
    );
    for (const run of [2, 3]) {
      const before = fake.requests.length;
      assert.equal((await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`)).status, 200);
      const st = await waitForSync(s, bucketId, syncId, idleAfter(run), 120_000);
      assert.ok(
        fake.requests.slice(before).some((r) => r.path === '/drive/v3/changes'),
        'an incremental pass: only the changes feed is read, which does not name the unchanged file',
      );
      const [d] = await dlqOf();
      assert.equal(d.attempts, run, `run ${run} retried the file from its DLQ entry`);
      assert.equal(d.status, run === 3 ? 'FAILED' : 'PENDING');
      assert.equal(st.total_files_failed, run === 3 ? 1 : 0);
      assert.equal(st.total_files_synced, 1);
    }
  });
});
