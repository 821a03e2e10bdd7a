// S3 event notifications (event-driven s3 syncs, issue 14): the bodies S3, MinIO and SNS deliver,
// read into the source object ids they name (`bucket/key`, as the s3 provider's sourceObjectId), and
// the rules for an SQS queue a sync may name. Pure: the webhook endpoint (api/notifications.ts) and
// the worker's queue reader (worker/queue-feeds.ts) both use these.

/** What one notification names. */
export interface S3EventBatch {
  /** Distinct `bucket/key` ids of object-created and object-removed events. */
  ids: string[];
  /** Event times (ms since the epoch; NaN for an unreadable one), one per record that has one. */
  times: number[];
  /** Records of other events (ObjectAccessed, ObjectTagging, …): nothing to sync. */
  ignored: number;
  /** `s3:TestEvent`: what S3 sends once when a bucket's notifications are configured. */
  test: boolean;
}

/** Records one notification may carry (S3 sends one; MinIO one; more is suspect). */
export const MAX_RECORDS = 1000;

/** Event names that change what a sync sees: objects created or removed (expiry is a removal). */
const SYNCED_EVENT = /^(s3:)?(ObjectCreated|ObjectRemoved|LifecycleExpiration):/;

/**
 * An S3 / MinIO event notification body -> the ids it names; null when it is not one (a record
 * without a bucket name or key, a key that does not decode, too many records). Keys come
 * form-encoded (`+` a space, `%2B` a plus) in both S3's and MinIO's records. A record without an
 * eventName is taken as a change (MinIO's top-level `Key` form too).
 */
export function parseS3Event(body: unknown): S3EventBatch | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  const b = body as { Records?: unknown; Key?: unknown; Event?: unknown };
  if (b.Event === 's3:TestEvent' && b.Records === undefined)
    return { ids: [], times: [], ignored: 0, test: true };
  const ids = new Set<string>();
  const times: number[] = [];
  let ignored = 0;
  if (Array.isArray(b.Records)) {
    if (b.Records.length > MAX_RECORDS) return null;
    for (const r of b.Records as unknown[]) {
      const rec = r as {
        s3?: { bucket?: { name?: unknown }; object?: { key?: unknown } };
        eventTime?: unknown;
        eventName?: unknown;
      } | null;
      const bucket = rec?.s3?.bucket?.name;
      const key = rec?.s3?.object?.key;
      if (typeof bucket !== 'string' || typeof key !== 'string' || !bucket || !key) return null;
      let decoded: string;
      try {
        decoded = decodeURIComponent(key.replace(/\+/g, ' '));
      } catch {
        return null;
      }
      if (typeof rec.eventTime === 'string') times.push(Date.parse(rec.eventTime));
      if (typeof rec.eventName === 'string' && !SYNCED_EVENT.test(rec.eventName)) {
        ignored++;
        continue;
      }
      ids.add(`${bucket}/${decoded}`);
    }
  } else if (typeof b.Key === 'string' && b.Key) ids.add(b.Key);
  else return null;
  return { ids: [...ids], times, ignored, test: false };
}

/**
 * An SQS message body -> the S3 event inside it: the JSON itself (S3 -> SQS), or the `Message` of
 * an SNS notification (S3 -> SNS -> SQS without raw delivery). null: not JSON.
 */
export function sqsMessageEvent(body: string | undefined): unknown {
  if (typeof body !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const sns = parsed as { Type?: unknown; Message?: unknown } | null;
  if (sns && typeof sns === 'object' && sns.Type === 'Notification' && typeof sns.Message === 'string') {
    try {
      return JSON.parse(sns.Message);
    } catch {
      return null;
    }
  }
  return parsed;
}

/** The AWS SQS endpoints: `sqs.<region>.amazonaws.com[.cn]` and the legacy `<region>.queue.amazonaws.com`. */
const AWS_SQS_HOST = /^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$/;

export const MAX_QUEUE_URL_CHARS = 2048;

/**
 * Why `queueUrl` cannot be a sync's queue, or null. The worker reads it with the connection's
 * credentials, so it must be AWS's SQS over https (a connection without endpoint_url is AWS), or be
 * served by the host of the connection's `endpoint_url` (an S3-compatible server that has queues:
 * LocalStack, moto): credentials are never sent anywhere else. The path is `/<account>/<queue>`.
 */
export function sqsQueueUrlProblem(queueUrl: string, endpointUrl: string | null | undefined): string | null {
  if (queueUrl.length > MAX_QUEUE_URL_CHARS) return `longer than ${MAX_QUEUE_URL_CHARS} characters`;
  let u: URL;
  try {
    u = new URL(queueUrl);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.username || u.password || u.search || u.hash)
    return 'must not carry credentials, a query or a fragment';
  if (!/^\/[^/]+\/[^/]+$/.test(u.pathname))
    return 'must be a queue URL: <endpoint>/<account id>/<queue name>';
  if (endpointUrl) {
    let e: URL;
    try {
      e = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpointUrl) ? endpointUrl : `https://${endpointUrl}`);
    } catch {
      return 'the connection’s endpoint_url is not a URL';
    }
    if (e.hostname.toLowerCase() !== u.hostname.toLowerCase())
      return `must be on the connection’s endpoint host (${e.hostname}): the queue is read with its credentials`;
    return null;
  }
  if (u.protocol !== 'https:' || !AWS_SQS_HOST.test(u.hostname.toLowerCase()))
    return 'must be an AWS SQS queue URL (https://sqs.<region>.amazonaws.com/<account id>/<queue name>) for a connection to AWS';
  return null;
}

/** The region an AWS queue URL names, or null (another server: the connection's region applies). */
export function regionOfQueueUrl(queueUrl: string): string | null {
  try {
    const m = AWS_SQS_HOST.exec(new URL(queueUrl).hostname.toLowerCase());
    return m ? (m[1] ?? m[2] ?? null) : null;
  } catch {
    return null;
  }
}

/**
 * The ids (`bucket/key`) under an s3 sync's source path (`bucket/prefix`), as the s3 provider reads
 * it: a queue may carry a whole bucket's events, a sync announces only its own (others would make
 * useless passes).
 */
export function s3IdsUnder(sourcePath: string, ids: string[]): string[] {
  const trimmed = sourcePath.replace(/^\/+/, '');
  const slash = trimmed.indexOf('/');
  const bucket = slash < 0 ? trimmed : trimmed.slice(0, slash);
  let prefix = slash < 0 ? '' : trimmed.slice(slash + 1).replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  const start = `${bucket}/${prefix}`;
  return ids.filter((id) => id.startsWith(start) && id.length > start.length && !id.endsWith('/'));
}
