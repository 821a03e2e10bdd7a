// Turns a stream of change events into few `changesAnnounced` signals: per sync, the events of one
// window (ANNOUNCE_WINDOW_MS) are coalesced (a counter and a bounded set of ids) and sent as one
// signal, so 10,000 events in a second are at most ~4 signals per sync. Used by the API (webhook
// notifications) and the worker (filesystem watchers, queues).
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import {
  ANNOUNCE_WINDOW_MS,
  coalesceChanges,
  type ChangesAnnounced,
  type PendingChanges,
} from '../core/change-feed';
import { changesAnnouncedSignal, workflowIdForSync } from '../workflows/messages';

export type AnnounceSender = (syncConfigId: string, msg: ChangesAnnounced) => Promise<void>;

/** Sends the signal to the sync's workflow; a sync without a running workflow is skipped. */
export function temporalSender(client: Client): AnnounceSender {
  return async (syncConfigId, msg) => {
    try {
      await client.workflow.getHandle(workflowIdForSync(syncConfigId)).signal(changesAnnouncedSignal, msg);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return; // deleted, or a completed initial_only sync
      throw err;
    }
  };
}

export class Announcer {
  private readonly pending = new Map<
    string,
    { changes: PendingChanges; timer: NodeJS.Timeout; waiters: ((sent: boolean) => void)[] }
  >();
  private readonly inFlight = new Set<Promise<void>>();
  /** Signals sent (for tests and the bench). */
  sent = 0;

  constructor(
    private readonly send: AnnounceSender,
    private readonly log: Logger,
    private readonly windowMs = ANNOUNCE_WINDOW_MS,
  ) {}

  /** One or more events of a sync; `keys` null: the event does not say what changed. */
  announce(syncConfigId: string, keys: string[] | null, count = 1): void {
    const slot = this.pending.get(syncConfigId);
    const add: ChangesAnnounced = keys ? { count, keys } : { count };
    if (slot) {
      slot.changes = coalesceChanges(slot.changes, add);
      return;
    }
    const timer = setTimeout(() => this.flush(syncConfigId), this.windowMs);
    timer.unref();
    this.pending.set(syncConfigId, { changes: coalesceChanges(null, add), timer, waiters: [] });
  }

  /**
   * announce(), then resolves once the signal carrying these events was delivered (true: sent, or
   * the sync has no workflow any more) or lost (false). Never rejects. For feeds that acknowledge
   * events only once they are announced (an SQS message is deleted after).
   */
  announceAndWait(syncConfigId: string, keys: string[] | null, count = 1): Promise<boolean> {
    this.announce(syncConfigId, keys, count);
    return new Promise((resolve) => this.pending.get(syncConfigId)!.waiters.push(resolve));
  }

  private flush(syncConfigId: string): void {
    const slot = this.pending.get(syncConfigId);
    if (!slot) return;
    this.pending.delete(syncConfigId);
    clearTimeout(slot.timer);
    const { count, keys, overflow } = slot.changes;
    const msg: ChangesAnnounced = overflow ? { count } : { count, keys };
    const p = this.send(syncConfigId, msg)
      .then(() => {
        this.sent++;
        for (const w of slot.waiters) w(true);
      })
      .catch((err: unknown) => {
        // Lost: the next poll catches these changes.
        this.log.warn(
          { err, syncConfigId, count },
          'could not signal announced changes; the next poll catches them',
        );
        for (const w of slot.waiters) w(false);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Sends what is pending now and waits for the signals in flight. */
  async close(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.flush(id);
    await Promise.all([...this.inFlight]);
  }
}
