// The worker's SQS change feeds (event-driven s3 syncs on AWS, issue 14): S3 sends the bucket's
// event notifications to an SQS queue the sync names (`event_feed.sqs_queue_url`); the worker
// long-polls it with the connection's credentials, reads the ids the messages name, announces them
// (Announcer: coalesced, one signal per sync per window) and deletes each message once its
// announcement was delivered: at least once (a message whose signal failed comes back after its
// visibility timeout; what is lost for good is caught by the poll). A message that is not an S3
// event is logged and deleted, never retried. Which queues to read is reconciled from MongoDB every
// few seconds (one query per interval, as the filesystem feeds do): one reader per queue and
// connection, serving every sync of that connection that names the queue.
import https from 'node:https';
import type * as SqsSdk from '@aws-sdk/client-sqs';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import {
  parseS3Event,
  regionOfQueueUrl,
  s3IdsUnder,
  sqsMessageEvent,
  sqsQueueUrlProblem,
} from '../core/s3-events';
import type { Announcer } from '../lib/announcer';
import { lazyModule } from '../lib/lazy-module';
import { s3ClientAccess, s3ConfigSchema, sdkCredentials } from '../providers/s3';
import type { ConnectionDoc, Store } from '../store';
import type { SecretBox } from '../store/secrets';

// Loaded on first use (lib/lazy-module.ts): only once a sync reads an SQS queue.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sqsSdk = lazyModule(() => require('@aws-sdk/client-sqs') as typeof SqsSdk);

export const QUEUE_RECONCILE_EVERY_MS = 3_000;
/** Long poll: a ReceiveMessage waits this long for messages (SQS's maximum). */
export const RECEIVE_WAIT_SECONDS = 20;
/** Received messages stay invisible to other readers this long while they are announced. */
export const VISIBILITY_TIMEOUT_SECONDS = 60;
/** Batches received but not yet acknowledged, per reader, before it stops receiving more. */
const MAX_UNACKED_BATCHES = 50;
const MAX_BACKOFF_MS = 60_000;

export interface QueueFeedOptions {
  everyMs?: number;
  /** ReceiveMessage's WaitTimeSeconds. */
  waitSeconds?: number;
  /** How long a received message stays hidden before it is delivered again (tests shorten it). */
  visibilityTimeoutSeconds?: number;
}

interface Reader {
  queueUrl: string;
  connectionId: string;
  /** provider_config + sealed credentials: a change restarts the reader with the new ones. */
  fingerprint: string;
  /** Sync id -> its source path (updated by every reconcile). */
  syncs: Map<string, string>;
  client: SQSClient;
  abort: AbortController;
  unacked: Set<Promise<void>>;
  done: Promise<void>;
}

/** What the readers did (tests, the bench, logs). */
export interface QueueFeedStats {
  received: number;
  deleted: number;
  malformed: number;
  /** Messages left on the queue because an announcement was not delivered. */
  kept: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class QueueFeeds {
  private readonly readers = new Map<string, Reader>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly refused = new Set<string>();
  readonly stats: QueueFeedStats = { received: 0, deleted: 0, malformed: 0, kept: 0 };
  private readonly everyMs: number;
  private readonly waitSeconds: number;
  private readonly visibilityTimeoutSeconds: number;

  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly announcer: Announcer,
    private readonly log: Logger,
    opts: QueueFeedOptions = {},
  ) {
    this.everyMs = opts.everyMs ?? QUEUE_RECONCILE_EVERY_MS;
    this.waitSeconds = opts.waitSeconds ?? RECEIVE_WAIT_SECONDS;
    this.visibilityTimeoutSeconds = opts.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_SECONDS;
  }

  start(): void {
    const tick = () => {
      this.running = this.reconcile()
        .catch((err: unknown) => this.log.warn({ err }, 'queue feeds: reconcile failed; retrying'))
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

  /** The queues read now, and the syncs each serves (tests, the bench). */
  polled(): { queueUrl: string; syncIds: string[] }[] {
    return [...this.readers.values()].map((r) => ({ queueUrl: r.queueUrl, syncIds: [...r.syncs.keys()] }));
  }

  /** One round: which queues should be read (from MongoDB) against which are. */
  async reconcile(): Promise<void> {
    const syncs = await this.store.syncs
      .find(
        {
          event_driven: true,
          source_type: 's3',
          deleted: { $ne: true },
          'event_feed.sqs_queue_url': { $type: 'string' },
        },
        {
          projection: {
            sync_config_id: 1,
            connection_id: 1,
            internal_id: 1,
            source_path: 1,
            event_feed: 1,
          },
        },
      )
      .toArray();
    const conns = syncs.length
      ? await this.store.connections
          .find({ connection_id: { $in: [...new Set(syncs.map((s) => s.connection_id))] } })
          .toArray()
      : [];
    const want = new Map<
      string,
      {
        queueUrl: string;
        connectionId: string;
        fingerprint: string;
        conn: ConnectionDoc;
        syncs: Map<string, string>;
      }
    >();
    for (const s of syncs) {
      const queueUrl = s.event_feed?.sqs_queue_url;
      if (!queueUrl) continue;
      const conn = conns.find((c) => c.connection_id === s.connection_id && c.internal_id === s.internal_id);
      if (!conn || conn.status === 'ARCHIVED' || conn.provider_type !== 's3') continue;
      // The connection may have moved since the queue was named: credentials go to its host only.
      const endpoint = conn.provider_config.endpoint_url;
      const problem = sqsQueueUrlProblem(queueUrl, typeof endpoint === 'string' ? endpoint : null);
      if (problem) {
        const note = `${s.sync_config_id}|${queueUrl}|${problem}`;
        if (!this.refused.has(note)) {
          this.refused.add(note);
          this.log.warn({ syncConfigId: s.sync_config_id, queueUrl, problem }, 'queue feeds: not read');
        }
        continue;
      }
      const key = `${conn.connection_id}|${queueUrl}`;
      let w = want.get(key);
      if (!w) {
        w = {
          queueUrl,
          connectionId: conn.connection_id,
          fingerprint: JSON.stringify([conn.provider_config, conn.credentials_sealed]),
          conn,
          syncs: new Map(),
        };
        want.set(key, w);
      }
      w.syncs.set(s.sync_config_id, s.source_path);
    }
    for (const [key, r] of this.readers) {
      const w = want.get(key);
      if (w && w.fingerprint === r.fingerprint) {
        r.syncs = w.syncs; // syncs added or removed: the reader serves the new set from now on
        continue;
      }
      this.readers.delete(key);
      await this.stop(r);
    }
    for (const [key, w] of want) {
      if (this.readers.has(key) || this.closed) continue;
      let client: SQSClient;
      try {
        client = this.clientFor(w.queueUrl, w.conn);
      } catch (err) {
        this.log.warn({ err, queueUrl: w.queueUrl }, 'queue feeds: cannot read with this connection');
        continue;
      }
      const r: Reader = {
        queueUrl: w.queueUrl,
        connectionId: w.connectionId,
        fingerprint: w.fingerprint,
        syncs: w.syncs,
        client,
        abort: new AbortController(),
        unacked: new Set(),
        done: Promise.resolve(),
      };
      r.done = this.run(r);
      this.readers.set(key, r);
      this.log.info({ queueUrl: w.queueUrl, syncs: [...w.syncs.keys()] }, 'queue feeds: reading');
    }
  }

  /** An SQS client for the queue with the connection's credentials (as its s3 provider has them). */
  private clientFor(queueUrl: string, conn: ConnectionDoc): SQSClient {
    const config = s3ConfigSchema.parse(conn.provider_config);
    const credentials = conn.credentials_sealed
      ? this.secrets.open<Record<string, unknown>>(conn.credentials_sealed)
      : null;
    const { settings, credentials: creds } = s3ClientAccess(config, credentials);
    const region = regionOfQueueUrl(queueUrl) ?? settings.region;
    return new (sqsSdk().SQSClient)({
      region,
      // The queue URL's own server (AWS's regional endpoint, or the connection's host).
      endpoint: new URL(queueUrl).origin,
      credentials: sdkCredentials(creds, region),
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: 10_000,
        requestTimeout: (this.waitSeconds + 15) * 1000,
        throwOnRequestTimeout: true,
        ...(settings.verifySsl
          ? {}
          : { httpsAgent: new https.Agent({ keepAlive: true, rejectUnauthorized: false }) }),
      },
    });
  }

  private async run(r: Reader): Promise<void> {
    let backoff = 1_000;
    let failing = false;
    while (!r.abort.signal.aborted) {
      if (r.unacked.size >= MAX_UNACKED_BATCHES) {
        await Promise.race(r.unacked);
        continue;
      }
      let messages: Message[];
      try {
        const out = await r.client.send(
          new (sqsSdk().ReceiveMessageCommand)({
            QueueUrl: r.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: this.waitSeconds,
            VisibilityTimeout: this.visibilityTimeoutSeconds,
          }),
          { abortSignal: r.abort.signal },
        );
        messages = out.Messages ?? [];
        if (failing) this.log.info({ queueUrl: r.queueUrl }, 'queue feeds: reading again');
        failing = false;
        backoff = 1_000;
      } catch (err) {
        if (r.abort.signal.aborted) break;
        // A missing queue, refused credentials, a server down: logged once per outage, retried with
        // backoff (the poll covers the gap).
        if (!failing) this.log.warn({ err, queueUrl: r.queueUrl }, 'queue feeds: cannot receive; retrying');
        failing = true;
        await sleep(backoff, r.abort.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (messages.length === 0) continue;
      this.stats.received += messages.length;
      const p = this.handle(r, messages)
        .catch((err: unknown) => this.log.warn({ err, queueUrl: r.queueUrl }, 'queue feeds: batch failed'))
        .finally(() => r.unacked.delete(p));
      r.unacked.add(p);
    }
  }

  /** Announces what the messages name to the reader's syncs; deletes those fully announced. */
  private async handle(r: Reader, messages: Message[]): Promise<void> {
    const ack: Message[] = [];
    const syncs = [...r.syncs];
    await Promise.all(
      messages.map(async (m) => {
        const event = parseS3Event(sqsMessageEvent(m.Body));
        if (!event) {
          this.stats.malformed++;
          this.log.warn(
            { queueUrl: r.queueUrl, messageId: m.MessageId, body: (m.Body ?? '').slice(0, 200) },
            'queue feeds: not an S3 event notification; deleted',
          );
          ack.push(m);
          return;
        }
        const sends = syncs.flatMap(([syncId, sourcePath]) => {
          const ids = s3IdsUnder(sourcePath, event.ids);
          return ids.length ? [this.announcer.announceAndWait(syncId, ids, ids.length)] : [];
        });
        // A test event, other events, or keys outside every sync's path: nothing to announce.
        if ((await Promise.all(sends)).every(Boolean)) ack.push(m);
        else this.stats.kept++;
      }),
    );
    if (ack.length === 0) return;
    try {
      const out = await r.client.send(
        new (sqsSdk().DeleteMessageBatchCommand)({
          QueueUrl: r.queueUrl,
          Entries: ack.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      this.stats.deleted += out.Successful?.length ?? 0;
      if (out.Failed?.length)
        this.log.warn(
          { queueUrl: r.queueUrl, failed: out.Failed.length },
          'queue feeds: some messages were not deleted (they come back and are announced again)',
        );
    } catch (err) {
      this.log.warn({ err, queueUrl: r.queueUrl }, 'queue feeds: delete failed (the messages come back)');
    }
  }

  private async stop(r: Reader): Promise<void> {
    r.abort.abort();
    await r.done;
    await Promise.all([...r.unacked]);
    r.client.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.all([...this.readers.values()].map((r) => this.stop(r)));
    this.readers.clear();
  }
}
