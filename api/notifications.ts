// Change notifications from storage services (event-driven syncs, issue 14). Mounted outside the
// API-key middleware: MinIO / S3 webhooks call these, not tenants. Each sync's channel has its own
// secret (the token in the URL; only its SHA-256 is stored, as the channel's `_id`), so a
// notification costs one `_id` lookup. Every failure (unknown or revoked token, a sync deleted or no
// longer event-driven, a stale or replayed delivery) answers the same 401 with no detail: nothing tells
// whether a sync exists. Notifications never write objects: they signal the sync's workflow
// (coalesced by the Announcer), which runs a pass through the usual page activity.
import { createHash, randomBytes } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { ChangeFeedKind } from '../core/change-feed';
import { parseS3Event } from '../core/s3-events';
import type { Store } from '../store';
import type { Announcer } from '../lib/announcer';
import { errorBody } from './errors';

/** The path a storage service posts to, for a channel secret. */
export const s3NotificationPath = (token: string) => `/v1/notifications/s3/${token}`;

export const hashChannelToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new channel secret: 256 random bits, URL-safe. */
export const newChannelToken = () => `bsn_${randomBytes(32).toString('base64url')}`;

/** Deliveries older than this (by their own eventTime), or seen before within it, are replays. */
export const REPLAY_WINDOW_MS = 15 * 60_000;
/** Failed calls per client address per minute before it gets 429s. */
export const FAILURES_PER_MINUTE = 30;
/** Accepted notifications per channel per second before 429s (the poll catches what is dropped). */
export const NOTIFICATIONS_PER_SECOND = 2_000;
const CACHE_MS = 5_000;
const MAX_TRACKED = 20_000;

interface Channel {
  syncConfigId: string;
  kind: ChangeFeedKind;
}

/** Fixed one-second / one-minute windows per key, bounded in size. */
export class Windows {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();
  constructor(private readonly windowMs: number) {}
  /** Counts one hit; returns the hits in the current window (including this one). */
  hit(key: string, now = Date.now()): number {
    let w = this.counts.get(key);
    if (!w || w.resetAt <= now) {
      if (this.counts.size >= MAX_TRACKED) this.counts.clear();
      w = { n: 0, resetAt: now + this.windowMs };
      this.counts.set(key, w);
    }
    return ++w.n;
  }
  peek(key: string, now = Date.now()): number {
    const w = this.counts.get(key);
    return w && w.resetAt > now ? w.n : 0;
  }
}

export interface NotificationDeps {
  store: Store;
  log: Logger;
  announcer: Announcer;
}

export function notificationRoutes({ store, log, announcer }: NotificationDeps): Router {
  const r = Router();
  const failures = new Windows(60_000);
  const accepted = new Windows(1_000);
  const cache = new Map<string, { channel: Channel | null; until: number }>();
  const seen = new Map<string, number>(); // body digest -> when first seen

  const deny = (res: Response, status = 401) => {
    const body =
      status === 429
        ? errorBody(429, 'too many requests', 'RateLimitError', null)
        : errorBody(401, 'unauthorized', 'AuthenticationError', null);
    if (status === 429) res.setHeader('Retry-After', '60');
    res.status(status).json(body);
  };

  /** The live channel behind a token hash (cached briefly, negative answers too), or null. */
  async function channelOf(hash: string): Promise<Channel | null> {
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) return hit.channel;
    let channel: Channel | null = null;
    const doc = await store.eventChannels.findOne({ _id: hash });
    if (doc) {
      const sync = await store.syncs.findOne(
        { sync_config_id: doc.sync_config_id },
        { projection: { deleted: 1, event_driven: 1, event_feed: 1 } },
      );
      if (sync && !sync.deleted && sync.event_driven && sync.event_feed?.channel_id === hash)
        channel = { syncConfigId: doc.sync_config_id, kind: doc.kind };
    }
    if (cache.size >= MAX_TRACKED) cache.clear();
    cache.set(hash, { channel, until: now + CACHE_MS });
    return channel;
  }

  const clientOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  r.post(
    '/v1/notifications/s3/:token',
    (req, res, next) => {
      // A client that keeps failing is cut off before its bodies are even read, except for a channel
      // known to be good (so forged calls from a shared address cannot silence a real sender).
      const known = cache.get(hashChannelToken(String(req.params.token ?? '')))?.channel;
      if (!known && failures.peek(clientOf(req)) >= FAILURES_PER_MINUTE) return deny(res, 429);
      next();
    },
    express.json({ limit: '256kb', strict: true }),
    async (req, res, next) => {
      try {
        const client = clientOf(req);
        const fail = () => {
          failures.hit(client);
          deny(res);
        };
        const token = String(req.params.token ?? '');
        if (!/^bsn_[A-Za-z0-9_-]{43}$/.test(token)) return fail();
        const hash = hashChannelToken(token);
        const channel = await channelOf(hash);
        if (!channel || channel.kind !== 'bucket_notifications') return fail();
        const parsed = parseS3Event(req.body);
        if (!parsed) {
          res.status(400).json(errorBody(400, 'not an S3 event notification', 'BadRequestError', null));
          return;
        }
        // Replays: a delivery whose events are old, or the very same body again.
        const now = Date.now();
        if (
          parsed.times.some(
            (t) => Number.isNaN(t) || t < now - REPLAY_WINDOW_MS || t > now + REPLAY_WINDOW_MS,
          )
        )
          return fail();
        const digest = createHash('sha256').update(hash).update(JSON.stringify(req.body)).digest('hex');
        const first = seen.get(digest);
        if (first !== undefined && first > now - REPLAY_WINDOW_MS) return fail();
        if (seen.size >= MAX_TRACKED) {
          for (const [k, t] of seen) if (t <= now - REPLAY_WINDOW_MS) seen.delete(k);
          if (seen.size >= MAX_TRACKED) seen.clear();
        }
        seen.set(digest, now);
        if (accepted.hit(hash) > NOTIFICATIONS_PER_SECOND) return deny(res, 429);
        // A test event, or only events that change nothing (ObjectAccessed...): nothing to announce.
        if (parsed.ids.length > 0) announcer.announce(channel.syncConfigId, parsed.ids, parsed.ids.length);
        res.status(204).end();
      } catch (err) {
        log.warn({ err }, 'notification failed');
        next(err);
      }
    },
  );
  return r;
}
