// Push feeds of event-driven google_drive / sharepoint syncs: which providers have them, when a
// channel is renewed, and that the providers say so.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { CHANGE_FEEDS, PUSH_FEEDS, changeFeedOf, renewAt } from '../../core/change-feed';
import { createProvider } from '../../providers';

describe('change feeds: push channels (Drive, Graph)', () => {
  it('google_drive has Drive channels and sharepoint Graph subscriptions; both are push feeds', () => {
    assert.equal(changeFeedOf('google_drive'), 'drive_channels');
    assert.equal(changeFeedOf('sharepoint'), 'graph_subscriptions');
    assert.ok(PUSH_FEEDS.includes(CHANGE_FEEDS.google_drive!));
    assert.ok(PUSH_FEEDS.includes(CHANGE_FEEDS.sharepoint!));
    assert.ok(!PUSH_FEEDS.includes('filesystem') && !PUSH_FEEDS.includes('bucket_notifications'));
    for (const none of ['gcs', 'azure_blob', 'tigris', 'snowflake'] as const)
      assert.equal(changeFeedOf(none), null, none);
  });

  it('the providers announce the same feed', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const drive = createProvider(
      'google_drive',
      {},
      {
        type: 'service_account',
        client_email: 'sa@example.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
    );
    assert.equal(drive.capabilities.changeFeed, CHANGE_FEEDS.google_drive);
    const sp = createProvider(
      'sharepoint',
      { drive_id: 'b!x' },
      {
        type: 'client_credentials',
        tenant_id: 'contoso.onmicrosoft.com',
        client_id: 'c',
        client_secret: 's',
      },
    );
    assert.equal(sp.capabilities.changeFeed, CHANGE_FEEDS.sharepoint);
  });

  it('renews when a quarter of the lifetime is left', () => {
    const day = 86_400_000;
    assert.equal(renewAt(10 * day, day), 10 * day - day / 4);
    assert.equal(renewAt(100_000, 12_000), 97_000);
  });
});
