// Push channels of event-driven google_drive and sharepoint syncs (issue 14): Drive `changes.watch`
// channels and Graph change-notification subscriptions, opened by the worker (it holds the
// credentials) so the provider posts to the API's notification endpoints (PUBLIC_API_URL +
// api/push-notifications.ts). Every few seconds one worker (the holder of a lease in MongoDB) compares
// what should exist (event-driven syncs of those providers) with the channels stored in
// `sync_event_channels` and makes them match:
// - a sync without a live channel gets one, then one incremental pass catches up what happened while
//   none was open (a worker down past the expiry, a sync just switched on);
// - a channel a quarter of its lifetime from expiring is renewed: Graph subscriptions in place (PATCH),
//   Drive channels by a new channel, after which the old one is stopped (channels.stop);
// - channels of syncs switched off, deleted or switched off and on again are stopped and dropped.
// Each channel has its own secret (Drive's channel token, Graph's clientState): only its SHA-256 is
// stored (the doc's `_id`), and the doc exists before the provider is asked, so the notifications that
// come while it answers (Drive's `sync` message) are recognised. Nothing here touches objects.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CHANGE_FEEDS, PUSH_FEEDS, renewAt, type ChangeFeedKind } from '../core/change-feed';
import type { Announcer } from '../lib/announcer';
import { hashChannelToken, newChannelToken } from '../api/notifications';
import { createProvider, ProviderError, type StorageProvider } from '../providers';
import type { GoogleDriveProvider } from '../providers/google-drive';
import type { SharePointProvider } from '../providers/sharepoint';
import type { EventChannelDoc, PushChannelState, Store, SyncConfigDoc } from '../store';
import type { SecretBox } from '../store/secrets';

export const PUSH_RECONCILE_EVERY_MS = 3_000;
/** Where each feed's notifications go, under PUBLIC_API_URL. */
export const PUSH_NOTIFICATION_PATHS: Record<string, string> = {
  drive_channels: '/v1/notifications/drive',
  graph_subscriptions: '/v1/notifications/graph',
};
/** A channel stored without an expiry this long ago was cut off while being opened. */
const OPENING_MAX_MS = 2 * 60_000;
const LEASE_ID = 'push-channels';
const MAX_BACKOFF_MS = 5 * 60_000;

type Sync = Pick<SyncConfigDoc, 'sync_config_id' | 'connection_id' | 'internal_id' | 'source_path'> & {
  event_feed?: SyncConfigDoc['event_feed'];
};
type Channel = EventChannelDoc & { push: PushChannelState };

interface Opened {
  remoteId: string;
  resourceId: string | null;
  expiresAt: Date;
}

/** How each feed opens, renews and closes its channel at the provider. */
interface Feed {
  /** Drive channel ids are ours (known before the call); Graph subscription ids are Graph's. */
  ownId: boolean;
  open(
    p: StorageProvider,
    sync: Sync,
    ch: { id: string; token: string; address: string; expiresAt: Date },
  ): Promise<Opened>;
  /** In place; absent: renewal is a new channel. */
  renew?(p: StorageProvider, ch: PushChannelState, expiresAt: Date): Promise<Date>;
  close(p: StorageProvider, ch: PushChannelState): Promise<void>;
}

const FEEDS: Partial<Record<ChangeFeedKind, Feed>> = {
  drive_channels: {
    ownId: true,
    async open(p, _sync, ch) {
      const r = await (p as GoogleDriveProvider).watchChanges(ch);
      return { remoteId: ch.id, resourceId: r.resourceId, expiresAt: r.expiresAt };
    },
    async close(p, ch) {
      if (ch.remote_id && ch.resource_id)
        await (p as GoogleDriveProvider).stopChannel(ch.remote_id, ch.resource_id);
    },
  },
  graph_subscriptions: {
    ownId: false,
    async open(p, sync, ch) {
      const r = await (p as SharePointProvider).subscribe(sync.source_path, {
        notificationUrl: ch.address,
        clientState: ch.token,
        expiresAt: ch.expiresAt,
      });
      return { remoteId: r.id, resourceId: null, expiresAt: r.expiresAt };
    },
    renew: (p, ch, expiresAt) => (p as SharePointProvider).renewSubscription(ch.remote_id!, expiresAt),
    async close(p, ch) {
      if (ch.remote_id) await (p as SharePointProvider).unsubscribe(ch.remote_id);
    },
  },
};

export interface PushChannelOptions {
  /** PUBLIC_API_URL (no trailing slash). */
  publicUrl: string;
  ttlMs: number;
  workerId: string;
  everyMs?: number;
}

export class PushChannels {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private readonly leases;
  private readonly everyMs: number;

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly announcer: Announcer,
    private readonly log: Logger,
    private readonly opts: PushChannelOptions,
  ) {
    this.everyMs = opts.everyMs ?? PUSH_RECONCILE_EVERY_MS;
    this.leases = store.db.collection<{ _id: string; worker_id: string; until: Date }>('sync_event_leases');
  }

  start(): void {
    const tick = () => {
      this.running = this.round()
        .catch((err: unknown) => this.log.warn({ err }, 'push channels: reconcile failed; retrying'))
        .finally(() => {
          this.running = null;
          if (!this.closed) {
            this.timer = setTimeout(tick, this.everyMs);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  /** The lease: one worker manages the channels; another takes over when it stops renewing it. */
  private async lead(): Promise<boolean> {
    const now = new Date();
    const until = new Date(now.getTime() + 3 * this.everyMs + 10_000);
    const me = this.opts.workerId;
    const r = await this.leases.updateOne(
      { _id: LEASE_ID, $or: [{ worker_id: me }, { until: { $lt: now } }] },
      { $set: { worker_id: me, until } },
    );
    if (r.matchedCount === 1) return true;
    try {
      await this.leases.insertOne({ _id: LEASE_ID, worker_id: me, until });
      return true;
    } catch {
      return false; // another worker holds it
    }
  }

  private async round(): Promise<void> {
    if (await this.lead()) await this.reconcile();
  }

  private async providerFor(sync: Sync): Promise<StorageProvider> {
    const conn = await this.store.connections.findOne({
      connection_id: sync.connection_id,
      internal_id: sync.internal_id,
    });
    if (!conn || conn.status === 'ARCHIVED')
      throw new ProviderError(`connection ${sync.connection_id} no longer exists`, 'not_found', false);
    const credentials = conn.credentials_sealed
      ? this.secrets.open<Record<string, unknown>>(conn.credentials_sealed)
      : null;
    return createProvider(conn.provider_type, conn.provider_config, credentials);
  }

  /** One round: what should be open (from MongoDB) against what is. */
  async reconcile(): Promise<void> {
    const now = Date.now();
    const syncs = (await this.store.syncs
      .find(
        {
          event_driven: true,
          source_type: { $in: ['google_drive', 'sharepoint'] },
          deleted: { $ne: true },
        },
        {
          projection: {
            sync_config_id: 1,
            connection_id: 1,
            internal_id: 1,
            source_path: 1,
            source_type: 1,
            event_feed: 1,
          },
        },
      )
      .toArray()) as (Sync & { source_type: SyncConfigDoc['source_type'] })[];
    const wanted = new Map<string, Sync>();
    for (const s of syncs) {
      const kind = s.event_feed?.kind;
      if (kind && PUSH_FEEDS.includes(kind) && CHANGE_FEEDS[s.source_type] === kind)
        wanted.set(s.sync_config_id, s);
    }
    const channels = (await this.store.eventChannels
      .find({ kind: { $in: [...PUSH_FEEDS] } })
      .toArray()) as Channel[];

    const bySync = new Map<string, Channel[]>();
    for (const c of channels) {
      if (!c.push) continue;
      const sync = wanted.get(c.sync_config_id);
      const current =
        sync?.event_feed &&
        c.kind === sync.event_feed.kind &&
        c.push.feed_enabled_at.getTime() === new Date(sync.event_feed.enabled_at).getTime();
      const expiresAt = c.push.expires_at?.getTime() ?? null;
      if (expiresAt !== null && expiresAt <= now) {
        // Expired: the provider has dropped it already.
        await this.store.eventChannels.deleteOne({ _id: c._id });
        continue;
      }
      if (!current || (expiresAt === null && c.created_at.getTime() < now - OPENING_MAX_MS)) {
        await this.drop(c, sync ?? null);
        continue;
      }
      bySync.set(c.sync_config_id, [...(bySync.get(c.sync_config_id) ?? []), c]);
    }

    for (const [id, sync] of wanted) {
      if (this.closed) return;
      const b = this.backoff.get(id);
      if (b && b.until > now) continue;
      try {
        await this.reconcileSync(sync, bySync.get(id) ?? [], now);
        this.backoff.delete(id);
      } catch (err) {
        const delay = Math.min(MAX_BACKOFF_MS, (b?.delay ?? 2_500) * 2);
        this.backoff.set(id, { until: now + delay, delay });
        this.log.warn(
          { err: err instanceof ProviderError ? err.message : err, syncConfigId: id, retryInMs: delay },
          'push channels: could not open or renew the channel; polling covers the sync meanwhile',
        );
      }
    }
    for (const id of this.backoff.keys()) if (!wanted.has(id)) this.backoff.delete(id);
  }

  private async reconcileSync(sync: Sync, mine: Channel[], now: number): Promise<void> {
    const kind = sync.event_feed!.kind;
    const feed = FEEDS[kind]!;
    if (mine.some((c) => c.push.expires_at === null)) return; // one is being opened
    const sorted = [...mine].sort((a, b) => b.push.expires_at!.getTime() - a.push.expires_at!.getTime());
    const [newest, ...older] = sorted;
    let provider: StorageProvider | null = null;
    const p = async () => (provider ??= await this.providerFor(sync));
    for (const c of older) await this.drop(c, sync, await p());
    if (newest && now < renewAt(newest.push.expires_at!.getTime(), this.opts.ttlMs)) return;

    const expiresAt = new Date(now + this.opts.ttlMs);
    if (newest && feed.renew) {
      try {
        const until = await feed.renew(await p(), newest.push, expiresAt);
        await this.store.eventChannels.updateOne({ _id: newest._id }, { $set: { 'push.expires_at': until } });
        this.log.info({ syncConfigId: sync.sync_config_id, kind, expiresAt: until }, 'push channel renewed');
        return;
      } catch (err) {
        if (!(err instanceof ProviderError && err.kind === 'not_found')) throw err;
        // Gone at the provider: a new one below, and a pass for what it missed.
        await this.store.eventChannels.deleteOne({ _id: newest._id });
        await this.open(sync, kind, feed, await p(), expiresAt, true);
        return;
      }
    }
    // No live channel (catch up afterwards), or a Drive channel due: a new one, then the old one stops.
    await this.open(sync, kind, feed, await p(), expiresAt, !newest);
    if (newest) await this.drop(newest, sync, await p());
  }

  private async open(
    sync: Sync,
    kind: ChangeFeedKind,
    feed: Feed,
    provider: StorageProvider,
    expiresAt: Date,
    catchUp: boolean,
  ): Promise<void> {
    const token = newChannelToken();
    const _id = hashChannelToken(token);
    const ownId = feed.ownId ? randomUUID() : null;
    await this.store.eventChannels.insertOne({
      _id,
      sync_config_id: sync.sync_config_id,
      kind,
      created_at: new Date(),
      push: {
        remote_id: ownId,
        resource_id: null,
        expires_at: null,
        feed_enabled_at: new Date(sync.event_feed!.enabled_at),
      },
    });
    let opened: Opened;
    try {
      opened = await feed.open(provider, sync, {
        id: ownId ?? '',
        token,
        address: `${this.opts.publicUrl}${PUSH_NOTIFICATION_PATHS[kind]}`,
        expiresAt,
      });
    } catch (err) {
      await this.store.eventChannels.deleteOne({ _id });
      throw err;
    }
    await this.store.eventChannels.updateOne(
      { _id },
      {
        $set: {
          'push.remote_id': opened.remoteId,
          'push.resource_id': opened.resourceId,
          'push.expires_at': opened.expiresAt,
        },
      },
    );
    this.log.info(
      { syncConfigId: sync.sync_config_id, kind, expiresAt: opened.expiresAt },
      'push channel opened',
    );
    // What changed while no channel was open is caught up by one incremental pass.
    if (catchUp) this.announcer.announce(sync.sync_config_id, null, 0);
  }

  /** Stops a channel at the provider (best effort: it expires anyway) and forgets it. */
  private async drop(c: Channel, sync: Sync | null, provider?: StorageProvider): Promise<void> {
    try {
      const s =
        sync ??
        (await this.store.syncs.findOne(
          { sync_config_id: c.sync_config_id },
          { projection: { sync_config_id: 1, connection_id: 1, internal_id: 1, source_path: 1 } },
        ));
      if (s) await FEEDS[c.kind]?.close(provider ?? (await this.providerFor(s)), c.push);
    } catch (err) {
      if (!(err instanceof ProviderError && err.kind === 'not_found'))
        this.log.warn(
          { err: err instanceof ProviderError ? err.message : err, syncConfigId: c.sync_config_id },
          'push channels: could not stop a channel (it expires on its own)',
        );
    }
    await this.store.eventChannels.deleteOne({ _id: c._id });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    // Channels stay open (the API keeps receiving); the lease goes, so another worker renews them.
    await this.leases
      .updateOne({ _id: LEASE_ID, worker_id: this.opts.workerId }, { $set: { until: new Date(0) } })
      .catch(() => undefined);
  }
}
