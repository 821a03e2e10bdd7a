// Event-driven sharepoint syncs (issue 14): the worker subscribes to the drive's changes (Graph
// `POST /subscriptions`, notificationUrl = PUBLIC_API_URL + /v1/notifications/graph, clientState the
// subscription's secret); the Graph fake runs the validation handshake against our endpoint, then posts
// a notification on every change; the API checks clientState and signals the workflow, which runs an
// incremental (delta) pass. Polling is 900 s, so what arrives within seconds came through Graph. A short
// lifetime (PUSH_CHANNEL_TTL_SECONDS) makes the renewal (PATCH) happen in the test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, http, waitForSync } from '../helpers';
import { FakeSharePoint, type FakeSubscription } from '../providers/fakes/sharepoint';
import { sharepointConnection } from '../providers/fixtures/sharepoint';
import { lane, stack, type Lane, type Stack } from '../setup/stack';
import { freePort } from '../../lib/servers';

const TTL_SECONDS = 12;

describe('event-driven sharepoint syncs (Graph change-notification subscriptions)', function () {
  this.timeout(180_000);
  let s: Stack;
  let l: Lane;
  let fake: FakeSharePoint;
  let bucketId: string;
  let connectionId: string;
  let syncId: string;
  let publicUrl: string;
  const drive = () => fake.defaultDrive(fake.siteByName('Events')!);
  const put = (rel: string, body: string) => fake.put(drive(), `Inbox/${rel}`, Buffer.from(body));
  const objectCount = async () => l.store.objects.countDocuments({ sync_config_id: syncId });
  const active = () => fake.subscriptions.filter((x) => x.deletedAt === null && x.expiration > Date.now());
  const notification = (sub: FakeSubscription, clientState = sub.clientState) => ({
    value: [
      {
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: new Date(sub.expiration).toISOString(),
        changeType: 'updated',
        resource: sub.resource,
        clientState,
        tenantId: fake.tenantId,
      },
    ],
  });
  const post = (body: unknown, query = '') =>
    fetch(`${l.apiUrl}/v1/notifications/graph${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
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
    fake = await FakeSharePoint.start();
    fake.addSite('Events');
    await put('first.txt', 'first');
    const { config, credentials } = sharepointConnection(fake);
    const bucket = await http(l, 'POST', '/v1/buckets', { bucket_name: 'sharepoint-events' });
    bucketId = bucket.body.bucket_id;
    const conn = await http(l, 'POST', '/v1/organizations/connections', {
      name: 'sharepoint-events',
      provider_type: 'sharepoint',
      provider_config: { ...config, credentials },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    connectionId = conn.body.connection_id;
  });
  after(() => fake?.stop());

  it('answers the validation handshake with the token, as text/plain', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 1 & 2';
    const r = await post('', `?validationToken=${encodeURIComponent(token)}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await r.text(), token);
    assert.equal((await post('', `?validationToken=${'x'.repeat(5000)}`)).status, 400);
  });

  it('subscribes at the public address (handshake passed) and registers a new file at once', async () => {
    const created = await http(l, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: connectionId,
      source_path: '/sites/Events/Shared Documents/Inbox',
      polling_interval_seconds: 900,
      event_driven: true,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    syncId = created.body.sync_config_id;
    assert.equal(created.body.event_feed.kind, 'graph_subscriptions');
    assert.equal(created.body.event_feed.receives_notifications, true);

    const sub = await eventually(async () => active()[0] ?? null, 20_000);
    assert.ok(sub, 'a subscription was made');
    assert.equal(sub.notificationUrl, `${publicUrl}/v1/notifications/graph`);
    assert.equal(sub.resource, `/drives/${drive().id}/root`);
    assert.match(sub.clientState ?? '', /^bsn_/);
    assert.ok(
      fake.validations.length >= 1 && fake.validations.every((v) => v.ok),
      JSON.stringify(fake.validations),
    );
    const docs = await l.store.eventChannels.find({ sync_config_id: syncId }).toArray();
    assert.equal(docs.length, 1);
    assert.doesNotMatch(JSON.stringify(docs), new RegExp(sub.clientState!));
    assert.ok(
      await eventually(
        async () =>
          (await l.store.eventChannels.findOne({ sync_config_id: syncId }))?.push?.remote_id === sub.id
            ? true
            : null,
        10_000,
      ),
    );

    await waitForSync(l, bucketId, syncId, (x) => x.sync_run_counter >= 1 && !x.locked && !!x.next_sync_at);
    assert.equal(await objectCount(), 1);
    await put('second.txt', 'second');
    assert.ok(await eventually(async () => (await objectCount()) === 2, 20_000));
    assert.ok(
      fake.deliveries.some((d) => d.subscriptionId === sub.id && d.status === 202),
      JSON.stringify(fake.deliveries),
    );
    const sync = await waitForSync(l, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('refuses a wrong clientState, another subscription and an expired one alike, with no detail', async () => {
    const sub = active()[0];
    const forged = await post(notification(sub, `bsn_${randomBytes(32).toString('base64url')}`));
    const none = await post(notification(sub, null));
    const otherSub = await post({ value: [{ ...notification(sub).value[0], subscriptionId: 'not-it' }] });
    const expired = await post({
      value: [
        {
          ...notification(sub).value[0],
          subscriptionExpirationDateTime: new Date(Date.now() - 60_000).toISOString(),
        },
      ],
    });
    const refusals = [forged, none, otherSub, expired];
    const bodies: any[] = await Promise.all(refusals.map((r) => r.json()));
    for (const [i, r] of refusals.entries()) {
      assert.equal(r.status, 401, `refusal ${i}`);
      assert.deepEqual(bodies[i], bodies[0]);
    }
    assert.equal(bodies[0].error.details, null);
    assert.equal((await post(notification(sub))).status, 202);
    assert.equal((await post({ hello: 'world' })).status, 400);
    assert.equal((await post('{nope')).status, 400);
  });

  it('renews the subscription in place (PATCH) before it expires', async () => {
    const sub = active()[0];
    const firstExpiry = sub.expiration;
    assert.ok(
      await eventually(async () => (sub.renewals.length > 0 ? true : null), TTL_SECONDS * 1000 + 10_000),
    );
    assert.ok(sub.renewals[0] < firstExpiry, 'renewed before it expired');
    assert.ok(sub.expiration > firstExpiry);
    assert.equal(active().length, 1);
    // Still the one subscription, and notifications keep working past the first expiry.
    await new Promise((r) => setTimeout(r, Math.max(0, firstExpiry - Date.now() + 500)));
    await put('third.txt', 'third');
    assert.ok(await eventually(async () => (await objectCount()) === 3, 20_000));
    assert.equal(fake.subscriptions.length, 1);
    const stored = await l.store.eventChannels.find({ sync_config_id: syncId }).toArray();
    assert.equal(stored.length, 1);
    assert.ok(stored[0].push!.expires_at!.getTime() > firstExpiry);
  });

  it('a subscription Graph dropped is made again at renewal, and a pass catches up', async () => {
    const sub = active()[0];
    // Graph removes subscriptions on its own (expired, too many failed deliveries): the PATCH gets a 404.
    sub.deletedAt = Date.now();
    await put('while-gone.txt', 'missed');
    await l.store.eventChannels.updateMany(
      { sync_config_id: syncId },
      { $set: { 'push.expires_at': new Date(Date.now() + 1_000) } },
    );
    const next = await eventually(async () => active().find((x) => x.id !== sub.id) ?? null, 15_000);
    assert.ok(next, 'a new subscription');
    assert.notEqual(next.clientState, sub.clientState);
    assert.ok(await eventually(async () => (await objectCount()) === 4, 20_000));
    const sync = await waitForSync(l, bucketId, syncId, (x) => !x.locked && x.next_sync_at !== null);
    assert.ok(Date.parse(sync.next_sync_at) - Date.now() > 800_000, 'the poll did not run');
  });

  it('switched off, the subscription is deleted and its notifications refused', async () => {
    const sub = active()[0];
    const off = await http(l, 'PATCH', `/v1/buckets/${bucketId}/syncs/${syncId}`, { event_driven: false });
    assert.equal(off.status, 200);
    assert.ok(
      await eventually(async () => (sub.deletedAt !== null ? true : null), 15_000),
      'DELETE /subscriptions',
    );
    assert.ok(
      await eventually(
        async () => (await l.store.eventChannels.countDocuments({ sync_config_id: syncId })) === 0,
        10_000,
      ),
    );
    // (An API trusts a channel it looked up for 5 s.)
    assert.ok(
      await eventually(async () => ((await post(notification(sub))).status === 401 ? true : null), 10_000),
    );
  });
});
