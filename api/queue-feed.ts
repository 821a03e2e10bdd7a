// `event_feed.sqs_queue_url` on a sync create / PATCH (event-driven s3 syncs reading an SQS queue,
// issue 14): which requests may name a queue, and what is stored. The worker reads the queue
// (worker/queue-feeds.ts).
import type { ProviderType } from '../core/request-schemas';
import { sqsQueueUrlProblem } from '../core/s3-events';
import type { EventFeedState } from '../store';
import { ApiError } from './errors';

const issue = (loc: string[], msg: string) =>
  new ApiError(422, `validation failed: ${loc.join('.')}: ${msg}`, 'ValidationError', {
    issues: [{ loc, msg, type: 'value_error' }],
  });

/**
 * The queue a request sets: a URL, null (remove it), or undefined (not given). 422 naming
 * `body.event_feed` for a sync that cannot read a queue, `body.event_feed.sqs_queue_url` for a URL
 * this connection may not read.
 */
export function queueOfRequest(
  req: { sqs_queue_url: string | null } | null | undefined,
  sync: { provider: ProviderType; eventDriven: boolean; providerConfig: Record<string, unknown> },
): string | null | undefined {
  if (req === undefined) return undefined;
  const url = req?.sqs_queue_url ?? null;
  if (url === null) return null;
  if (sync.provider !== 's3')
    throw issue(['body', 'event_feed'], `provider ${sync.provider} reads no SQS queue (s3 only)`);
  if (!sync.eventDriven)
    throw issue(['body', 'event_feed'], 'a queue is read by event-driven syncs only: set event_driven true');
  const endpoint = sync.providerConfig.endpoint_url;
  const problem = sqsQueueUrlProblem(url, typeof endpoint === 'string' ? endpoint : null);
  if (problem) throw issue(['body', 'event_feed', 'sqs_queue_url'], problem);
  return url;
}

/** The feed's state with the queue set (undefined: as it was). */
export function withQueue(feed: EventFeedState, queueUrl: string | null | undefined): EventFeedState {
  if (queueUrl === undefined) return feed;
  return { ...feed, sqs_queue_url: queueUrl };
}
