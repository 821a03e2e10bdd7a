// Notifications of the push channels the worker opens (worker/push-channels.ts) for event-driven
// google_drive and sharepoint syncs. One address per provider: the channel's own secret says which
// sync a call is for (Drive's X-Goog-Channel-Token, Graph's clientState), looked up by its SHA-256
// (the channel doc's `_id`, one point read, cached briefly). Neither service names the files that
// changed, so an accepted notification announces "something changed" (keys null): the sync runs an
// incremental pass from its delta cursor. Forged, unknown, stopped, expired and replayed calls, and
// channels of syncs deleted or no longer event-driven, all get the same 401 with no detail.
import express, { Router, type Request, type Response } from 'express';
import { FAILURES_PER_MINUTE, hashChannelToken, NOTIFICATIONS_PER_SECOND, Windows } from './notifications';
import type { NotificationDeps } from './notifications';
import type { ChangeFeedKind } from '../core/change-feed';
import { errorBody } from './errors';

export const DRIVE_NOTIFICATION_PATH = '/v1/notifications/drive';
export const GRAPH_NOTIFICATION_PATH = '/v1/notifications/graph';
const TOKEN = /^bsn_[A-Za-z0-9_-]{43}$/;
const CACHE_MS = 5_000;
const MAX_TRACKED = 20_000;
/** Graph's validation handshake echoes this much at most (its tokens are a few hundred characters). */
const MAX_VALIDATION_TOKEN = 4096;

interface Live {
  syncConfigId: string;
  remoteId: string | null;
  resourceId: string | null;
  expiresAt: number | null;
}

export function pushNotificationRoutes({ store, log, announcer }: NotificationDeps): Router {
  const r = Router();
  const failures = new Windows(60_000);
  const accepted = new Windows(1_000);
  const cache = new Map<string, { channel: Live | null; until: number }>();
  /** Drive: the highest X-Goog-Message-Number accepted per channel; lower or equal ones are replays. */
  const lastMessage = new Map<string, number>();

  const deny = (res: Response, status = 401) => {
    if (status === 429) {
      res.setHeader('Retry-After', '60');
      res.status(429).json(errorBody(429, 'too many requests', 'RateLimitError', null));
    } else res.status(401).json(errorBody(401, 'unauthorized', 'AuthenticationError', null));
  };
  const clientOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  /** The open channel of a live event-driven sync behind a secret's hash, or null. */
  async function channelOf(hash: string, kind: ChangeFeedKind): Promise<Live | null> {
    const now = Date.now();
    let hit = cache.get(hash);
    if (!hit || hit.until <= now) {
      let channel: Live | null = null;
      const doc = await store.eventChannels.findOne({ _id: hash });
      if (doc?.push && doc.kind === kind) {
        const sync = await store.syncs.findOne(
          { sync_config_id: doc.sync_config_id },
          { projection: { deleted: 1, event_driven: 1, event_feed: 1 } },
        );
        const feed = sync?.event_feed;
        if (
          sync &&
          !sync.deleted &&
          sync.event_driven &&
          feed?.kind === kind &&
          new Date(feed.enabled_at).getTime() === doc.push.feed_enabled_at.getTime()
        )
          channel = {
            syncConfigId: doc.sync_config_id,
            remoteId: doc.push.remote_id,
            resourceId: doc.push.resource_id,
            expiresAt: doc.push.expires_at?.getTime() ?? null,
          };
      }
      if (cache.size >= MAX_TRACKED) cache.clear();
      // A channel still being opened (no ids answered yet) is read again next time, not trusted as is.
      hit = { channel, until: channel && channel.expiresAt === null ? now : now + CACHE_MS };
      cache.set(hash, hit);
    }
    const c = hit.channel;
    return c && (c.expiresAt === null || c.expiresAt > now) ? c : null;
  }

  /** A client that keeps failing is cut off before anything is looked up, unless its secret is known good. */
  const precheck =
    (secretOf: (req: Request) => string) => (req: Request, res: Response, next: () => void) => {
      const known = cache.get(hashChannelToken(secretOf(req)))?.channel;
      if (!known && failures.peek(clientOf(req)) >= FAILURES_PER_MINUTE) return deny(res, 429);
      next();
    };

  // Drive: headers only (X-Goog-Channel-ID / -Token, X-Goog-Resource-ID / -State, X-Goog-Message-Number).
  r.post(
    DRIVE_NOTIFICATION_PATH,
    precheck((req) => req.get('x-goog-channel-token') ?? ''),
    async (req, res, next) => {
      req.resume(); // Drive sends no body for changes
      try {
        const fail = () => {
          failures.hit(clientOf(req));
          deny(res);
        };
        const token = req.get('x-goog-channel-token') ?? '';
        const channelId = req.get('x-goog-channel-id') ?? '';
        const state = req.get('x-goog-resource-state') ?? '';
        const number = Number(req.get('x-goog-message-number'));
        if (!TOKEN.test(token) || !channelId || !state || !Number.isSafeInteger(number) || number < 1)
          return fail();
        const hash = hashChannelToken(token);
        const ch = await channelOf(hash, 'drive_channels');
        if (!ch || ch.remoteId !== channelId) return fail();
        // (The `sync` message can come before the watch call has answered the resource id.)
        if (ch.resourceId && req.get('x-goog-resource-id') !== ch.resourceId) return fail();
        if (number <= (lastMessage.get(hash) ?? 0)) return fail();
        if (lastMessage.size >= MAX_TRACKED) lastMessage.clear();
        lastMessage.set(hash, number);
        if (accepted.hit(hash) > NOTIFICATIONS_PER_SECOND) return deny(res, 429);
        // `sync` says the channel works; anything else (`change`) means the drive's changes moved on.
        if (state !== 'sync') announcer.announce(ch.syncConfigId, null, 1);
        res.status(200).end();
      } catch (err) {
        log.warn({ err }, 'drive notification failed');
        next(err);
      }
    },
  );

  // Graph: the validation handshake (`?validationToken=`), then `{value: [{subscriptionId, clientState, …}]}`.
  r.post(
    GRAPH_NOTIFICATION_PATH,
    (req, res, next) => {
      const vt = req.query.validationToken;
      if (vt === undefined) return next();
      req.resume();
      if (typeof vt !== 'string' || vt.length === 0 || vt.length > MAX_VALIDATION_TOKEN) {
        res.status(400).json(errorBody(400, 'bad validationToken', 'BadRequestError', null));
        return;
      }
      // Graph wants the token back as it is, text/plain, within 10 s. The same for any caller: it says
      // nothing about syncs (subscriptions are authenticated by clientState on every notification).
      res.status(200).set('x-content-type-options', 'nosniff').type('text/plain').send(vt);
    },
    (req, res, next) => {
      if (failures.peek(clientOf(req)) >= FAILURES_PER_MINUTE) {
        // Known-good secrets are in the body: read it first.
        return express.json({ limit: '1mb' })(req, res, () => {
          const items = (req.body as { value?: { clientState?: unknown }[] })?.value;
          const first = Array.isArray(items) ? items[0]?.clientState : undefined;
          if (typeof first === 'string' && cache.get(hashChannelToken(first))?.channel) return next();
          deny(res, 429);
        });
      }
      express.json({ limit: '1mb' })(req, res, next);
    },
    async (req, res, next) => {
      try {
        const items = (req.body as { value?: unknown })?.value;
        if (!Array.isArray(items) || items.length === 0 || items.length > 1000) {
          res.status(400).json(errorBody(400, 'not a change notification', 'BadRequestError', null));
          return;
        }
        const now = Date.now();
        const counts = new Map<string, { hash: string; n: number }>();
        for (const it of items as Record<string, unknown>[]) {
          const state = it?.clientState;
          if (typeof state !== 'string' || !TOKEN.test(state)) continue;
          const hash = hashChannelToken(state);
          const ch = await channelOf(hash, 'graph_subscriptions');
          if (!ch) continue;
          if (ch.remoteId !== null && it.subscriptionId !== ch.remoteId) continue;
          // A notification of a subscription that has expired by its own account is an old one replayed.
          const expiry = it.subscriptionExpirationDateTime;
          const exp = typeof expiry === 'string' ? Date.parse(expiry) : NaN;
          if (!Number.isNaN(exp) && exp < now) continue;
          const c = counts.get(ch.syncConfigId) ?? { hash, n: 0 };
          c.n++;
          counts.set(ch.syncConfigId, c);
        }
        if (counts.size === 0) {
          failures.hit(clientOf(req));
          return deny(res);
        }
        for (const [syncConfigId, { hash, n }] of counts) {
          if (accepted.hit(hash) > NOTIFICATIONS_PER_SECOND) return deny(res, 429);
          announcer.announce(syncConfigId, null, n);
        }
        res.status(202).end();
      } catch (err) {
        log.warn({ err }, 'graph notification failed');
        next(err);
      }
    },
  );
  return r;
}
