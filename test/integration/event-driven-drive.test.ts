// Event-driven google_drive syncs (issue 14): the worker opens a Drive `changes.watch` channel whose
// address is PUBLIC_API_URL + /v1/notifications/drive; the Drive fake posts `sync`, then `change`
// messages there; the API authenticates them by the channel token and signals the workflow, which runs
// an incremental (changes feed) pass. Polling is 900 s, so what arrives within seconds came through the
// channel. A short channel lifetime (PUSH_CHANNEL_TTL_SECONDS) makes the renewal happen in the test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, http, waitForSync } from '../helpers';
import { FakeDrive, type FakeChannel } from '../providers/fakes/google-drive';
import { lane, stack, type Lane, type Stack } from '../setup/stack';
import { freePort } from '../../lib/servers';

const TTL_SECONDS = 12;

describe('event-driven google_drive syncs (Drive changes.watch channels)', function () {
  this.timeout(180_000);
  let s: Stack;
  let l: Lane;
  let fake: FakeDrive;
  let driveId: string;
  let folderId: string;
  let bucketId: string;
  let connectionId: string;
  let syncId: string;
  let publicUrl: string;

  const keysOf = async () =>
    (await l.store.objects.find({ sync_config_id: syncId }).toArray()).map(
      (o) => o.blobs?.[0]?.details?.filename ?? o.source_object_id,
    );
  const objectCount = async () => l.store.objects.countDocuments({ sync_config_id: syncId });
  const live = () => fake.channels.filter((c) => c.stoppedAt === null && c.expiration > Date.now());
  const post = (headers: Record<string, string>) =>
    fetch(`${l.apiUrl}/v1/notifications/drive`, { method: 'POST', headers });
  const headersOf = (c: FakeChannel, state: string, n: number) => ({
    'x-goog-channel-id': c.id,
    'x-goog-channel-token': c.token ?? '',
    'x-goog-resource-id': c.resourceId,
    'x-goog-resource-state': state,
    'x-goog-message-number': String(n),
  });

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    l = await lane(s, {
      PORT: String(port),
      PUBLIC_API_URL: publicUrl,
      PUSH_CHANNEL_TTL_SECONDS: String(TTL_SECONDS),
    });
    fake = new FakeDrive();
    await fake.start();
    driveId = fake.createSharedDrive('Events Drive');
    folderId = fake.mkdirp(driveId, 'Inbox');
    await fake.putFile(folderId, 'first.txt', Buffer.from('first'), { mimeType: 'text/plain' });
    const oauth = fake.addOAuthClient('events@example.com');
    const bucket = await http(l, 'POST', '/v1/buckets', { bucket_name: 'drive-events' });
    bucketId = bucket.body.bucket_id;
    const conn = await http(l, 'POST', '/v1/organizations/connections', {
      name: 'drive-events',
      provider_type: 'google_drive',
      provider_config: {
        shared_drive_id: driveId,
        endpoint_url: fake.url,
        token_url: fake.tokenUrl,
        credentials: { type: 'oauth', ...oauth },
      },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    connectionId = conn.body.connection_id;
  });
  after(async () => {
    await fake?.stop();
  });

  it('without PUBLIC_API_URL, event_driven is a 422 naming the field', async () => {
    // The main stack's API has no PUBLIC_API_URL; the connection is copied there.
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'drive-no-url' });
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `drive-no-url-${randomBytes(3).toString('hex')}`,
      provider_type: 'google_drive',
      provider_config: {
        shared_drive_id: driveId,
        endpoint_url: fake.url,
        token_url: fake.tokenUrl,
        credentials: { type: 'oauth', ...fake.addOAuthClient() },
      },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const r = await http(s, 'POST', `/v1/buckets/${bucket.body.bucket_id}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: folderId,
      event_driven: true,
    });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.deepEqual(r.body.error.details.issues[0].loc, ['body', 'event_driven']);
    assert.match(r.body.error.details.issues[0].msg, /PUBLIC_API_URL/);
  });

  it('opens a channel at the public address, answers its sync message, and registers a new file at once', async () => {
    const created = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: folderId,
      polling_interval_seconds: 900,
      event_driven: true,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    syncId = created.body.sync_config_id;
    assert.equal(created.body.event_feed.kind, 'drive_channels');
    assert.equal(created.body.event_feed.receives_notifications, true);
    assert.equal(created.body.event_feed.notification_path, undefined);

    const channel = await eventually(async () => live()[0] ?? null, 20_000);
    assert.ok(channel, 'a channel was opened');
    assert.equal(channel.address, `${publicUrl}/v1/notifications/drive`);
    assert.equal(channel.driveId, driveId);
    assert.match(channel.token ?? '', /^bsn_/);
    assert.ok(
      await eventually(
        async () => fake.deliveries.some((d) => d.state === 'sync' && d.status === 200),
        10_000,
      ),
      JSON.stringify(fake.deliveries),
    );
    // Only the token's hash is stored.
    const docs = await l.store.eventChannels.find({ sync_config_id: syncId }).toArray();
    assert.equal(docs.length, 1);
    assert.doesNotMatch(JSON.stringify(docs), new RegExp(channel.token!));
    assert.equal(docs[0].push?.remote_id, channel.id);
    assert.equal(docs[0].push?.resource_id, channel.resourceId);

    await waitForSync(l, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && !!x.next_sync_at);
    assert.deepEqual(await keysOf(), ['first.txt']);

    await fake.putFile(folderId, 'second.txt', Buffer.from('second'), { mimeType: 'text/plain' });
    assert.ok(
      await eventually(async () => (await objectCount()) === 2, 20_000),
      JSON.stringify(await keysOf()),
    );
    assert.ok(fake.deliveries.some((d) => d.state === 'change' && d.status === 200));
    const sync = await waitForSync(l, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('refuses forged, mismatched and replayed notifications alike, with no detail', async () => {
    // A channel well before its renewal, whose messages so far have all been answered.
    const c = await eventually(
      async () => {
        const fresh = live().find((x) => x.createdAt > Date.now() - 4_000);
        const answered =
          fresh && fake.deliveries.filter((d) => d.channelId === fresh.id).every((d) => d.status > 0);
        return fresh && answered && fake.deliveries.some((d) => d.channelId === fresh.id) ? fresh : null;
      },
      TTL_SECONDS * 1000 + 10_000,
    );
    assert.ok(c);
    const n = c.messageNumber;
    const forged = await post({
      ...headersOf(c, 'change', n + 10),
      'x-goog-channel-token': `bsn_${randomBytes(32).toString('base64url')}`,
    });
    const noToken = await post({ ...headersOf(c, 'change', n + 11), 'x-goog-channel-token': '' });
    const otherChannel = await post({
      ...headersOf(c, 'change', n + 12),
      'x-goog-channel-id': 'not-the-channel',
    });
    const otherResource = await post({ ...headersOf(c, 'change', n + 13), 'x-goog-resource-id': 'nope' });
    const replayed = await post(headersOf(c, 'change', n));
    const refusals = [forged, noToken, otherChannel, otherResource, replayed];
    const bodies: any[] = await Promise.all(refusals.map((r) => r.json()));
    for (const [i, r] of refusals.entries()) {
      assert.equal(r.status, 401, `refusal ${i}`);
      assert.deepEqual(bodies[i], bodies[0]);
    }
    assert.equal(bodies[0].error.details, null);
    // The real channel with a newer message number is accepted (once).
    assert.equal((await post(headersOf(c, 'change', n + 20))).status, 200);
    assert.equal((await post(headersOf(c, 'change', n + 20))).status, 401);
  });

  it('renews the channel before it expires: a new channel, then channels.stop for the old one', async () => {
    const first = fake.channels.find((c) => c.stoppedAt === null)!;
    const renewed = await eventually(
      async () => (first.stoppedAt !== null && live().length === 1 ? live()[0] : null),
      TTL_SECONDS * 1000 + 10_000,
    );
    assert.ok(renewed, JSON.stringify(fake.channels));
    assert.notEqual(renewed.id, first.id);
    assert.notEqual(renewed.token, first.token);
    assert.ok(first.stoppedAt! < first.expiration, 'the old channel was stopped before it expired');
    assert.ok(renewed.createdAt <= first.stoppedAt!, 'the new channel was open before the old one stopped');
    // (The old channel's doc goes right after channels.stop.)
    const ids = async () =>
      (await l.store.eventChannels.find({ sync_config_id: syncId }).toArray()).map((d) => d.push?.remote_id);
    assert.ok(
      await eventually(
        async () => (JSON.stringify(await ids()) === JSON.stringify([renewed.id]) ? true : null),
        5_000,
      ),
      JSON.stringify(await ids()),
    );
    // The stopped channel's token no longer works; the new channel carries changes.
    const old = await eventually(
      async () =>
        (await post(headersOf(first, 'change', first.messageNumber + 100))).status === 401 ? true : null,
      10_000,
    );
    assert.ok(old);
    await fake.putFile(folderId, 'third.txt', Buffer.from('third'), { mimeType: 'text/plain' });
    assert.ok(await eventually(async () => (await objectCount()) === 3, 20_000));
    assert.ok(
      fake.deliveries.some((d) => d.channelId === renewed.id && d.state === 'change' && d.status === 200),
    );
    const sync = await waitForSync(l, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('a channel that expired unrenewed (every worker down) is replaced, and a pass catches up', async () => {
    const c = live()[0];
    // As if no worker had run past the expiry: Drive stopped posting, the stored channel has expired.
    c.expiration = Date.now();
    await fake.putFile(folderId, 'while-expired.txt', Buffer.from('missed'), { mimeType: 'text/plain' });
    await l.store.eventChannels.updateMany(
      { sync_config_id: syncId },
      { $set: { 'push.expires_at': new Date(Date.now() - 1000) } },
    );
    const next = await eventually(async () => live().find((x) => x.id !== c.id) ?? null, 15_000);
    assert.ok(next, 'a new channel');
    assert.ok(
      await eventually(async () => (await objectCount()) === 4, 20_000),
      JSON.stringify(await keysOf()),
    );
    assert.ok(!fake.deliveries.some((d) => d.channelId === c.id && d.messageNumber > c.messageNumber));
    const sync = await waitForSync(l, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('switched off, the channel is stopped and its notifications refused', async () => {
    const c = live()[0];
    const off = await http(l, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, { event_driven: false });
    assert.equal(off.status, 200);
    assert.ok(await eventually(async () => (c.stoppedAt !== null ? true : null), 15_000), 'channels.stop');
    assert.ok(
      await eventually(
        async () => (await l.store.eventChannels.countDocuments({ sync_config_id: syncId })) === 0,
        10_000,
      ),
    );
    // (An API trusts a channel it looked up for 5 s.)
    let n = c.messageNumber + 100;
    assert.ok(
      await eventually(
        async () => ((await post(headersOf(c, 'change', n++))).status === 401 ? true : null),
        10_000,
      ),
    );
  });
});
