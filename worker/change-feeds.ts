// The worker's change feeds (event-driven syncs, issue 14): filesystem watchers for `local` syncs.
// Every few seconds the wanted set is read from MongoDB (one query per interval, never per event) and
// watchers are started and stopped to match: syncs created, switched on or off, deleted, or whose
// folder changed. Events never touch objects: they become `changesAnnounced` signals through the
// Announcer (coalesced per sync per window).
import path from 'node:path';
import watcher, { type AsyncSubscription } from '@parcel/watcher';
import type { Logger } from 'pino';
import type { Announcer } from '../lib/announcer';
import { localConfigSchema, LocalProvider } from '../providers/local';
import type { Store } from '../store';

export const RECONCILE_EVERY_MS = 3_000;

interface Watch {
  folder: string;
  idPrefix: string;
  sub: AsyncSubscription;
}

export class ChangeFeeds {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly announcer: Announcer,
    private readonly log: Logger,
    private readonly everyMs = RECONCILE_EVERY_MS,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.reconcile()
        .catch((err: unknown) => this.log.warn({ err }, 'change feeds: reconcile failed; retrying'))
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

  /** Syncs whose folder is watched now (tests, the bench). */
  watched(): string[] {
    return [...this.watches.keys()];
  }

  /** One round: what should be watched (from MongoDB) against what is. */
  async reconcile(): Promise<void> {
    const syncs = await this.store.syncs
      .find(
        { event_driven: true, source_type: 'local', deleted: { $ne: true } },
        { projection: { sync_config_id: 1, connection_id: 1, internal_id: 1, source_path: 1 } },
      )
      .toArray();
    const conns = syncs.length
      ? await this.store.connections
          .find({ connection_id: { $in: [...new Set(syncs.map((s) => s.connection_id))] } })
          .toArray()
      : [];
    const want = new Map<string, { folder: string; idPrefix: string }>();
    for (const s of syncs) {
      const conn = conns.find((c) => c.connection_id === s.connection_id && c.internal_id === s.internal_id);
      if (!conn || conn.status === 'ARCHIVED') continue;
      const cfg = localConfigSchema.safeParse(conn.provider_config);
      if (!cfg.success) continue;
      try {
        want.set(s.sync_config_id, await new LocalProvider(cfg.data).watchedFolder(s.source_path));
      } catch (err) {
        // The folder is missing or outside the root: polling reports it; try again next round.
        this.log.debug({ err, syncConfigId: s.sync_config_id }, 'change feeds: folder not watchable');
      }
    }
    for (const [id, w] of this.watches) {
      const wanted = want.get(id);
      if (wanted && wanted.folder === w.folder && wanted.idPrefix === w.idPrefix) continue;
      this.watches.delete(id);
      await w.sub.unsubscribe().catch(() => undefined);
    }
    for (const [id, { folder, idPrefix }] of want) {
      if (this.watches.has(id) || this.closed) continue;
      const sub = await watcher.subscribe(folder, (err, events) => {
        if (err) {
          // The watch broke (the folder removed...): drop it, the next round starts it again.
          this.log.warn({ err, syncConfigId: id }, 'change feeds: watcher error');
          const w = this.watches.get(id);
          if (w?.sub === sub) {
            this.watches.delete(id);
            void sub.unsubscribe().catch(() => undefined);
          }
          return;
        }
        const keys = events.map((e) => idPrefix + path.relative(folder, e.path).split(path.sep).join('/'));
        this.announcer.announce(id, keys, events.length);
      });
      this.watches.set(id, { folder, idPrefix, sub });
      // What changed before the watch began (since the last pass, or while no worker watched) is not
      // announced by it: one incremental listing pass catches up.
      this.announcer.announce(id, null, 0);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const w of this.watches.values()) await w.sub.unsubscribe().catch(() => undefined);
    this.watches.clear();
  }
}
