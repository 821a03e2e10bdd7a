// Deliver step `webhook`: ONE attempt to POST a chunk's documents to the configured URL (Temporal
// retries, see webhookRetryPolicy). Delivery is at-least-once: X-BucketSyncs-Delivery is stable
// across retries so receivers can dedupe. With a secret, X-BucketSyncs-Signature is
// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` over X-BucketSyncs-Timestamp (unix
// seconds) and the raw body; receivers check it with verifySignature. The secret and the configured
// headers never appear in errors.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { webhookConfigSchema, type StepConfigInput } from '../../core/pipeline';
import { throwIfAborted } from './sniff';
import { StepError, type Delivery, type DeliveryResult } from './types';

/** Characters of a failed response's body quoted in the error. */
const BODY_EXCERPT = 200;

export function signPayload(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * Whether `header` (X-BucketSyncs-Signature) signs this timestamp and raw body with this secret, and
 * the timestamp is within toleranceSeconds of now (replay protection). Timing-safe.
 */
export function verifySignature(
  secret: string,
  timestamp: number | string,
  body: string | Uint8Array,
  header: string | null | undefined,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(String(timestamp)) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const m = /^sha256=([0-9a-f]{64})$/.exec(header?.trim() ?? '');
  if (!m) return false;
  const expected = Buffer.from(signPayload(secret, ts, body), 'hex');
  return timingSafeEqual(expected, Buffer.from(m[1], 'hex'));
}

/** 408, 425, 429 and 5xx are worth another attempt; other statuses will answer the same. */
function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** The start of a response's body, whitespace collapsed, with any of `secrets` blanked out. */
async function excerpt(res: Response, secrets: string[]): Promise<string> {
  try {
    const reader = res.body?.getReader();
    if (!reader) return '';
    const { value } = await reader.read();
    await reader.cancel();
    let text = new TextDecoder().decode(value ?? new Uint8Array());
    for (const s of secrets) if (s.length >= 4) text = text.split(s).join('[redacted]');
    text = text.replace(/\s+/g, ' ').trim();
    return text.length > BODY_EXCERPT ? `${text.slice(0, BODY_EXCERPT)}…` : text;
  } catch {
    return '';
  }
}

/** The innermost cause's code or message of a fetch failure (`ECONNREFUSED`, `ENOTFOUND`, ...). */
function networkReason(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

export async function deliver(
  config: StepConfigInput<'webhook'>,
  delivery: Delivery,
  signal?: AbortSignal,
): Promise<DeliveryResult> {
  const { url, secret, timeout_seconds, headers } = webhookConfigSchema.parse(config);
  throwIfAborted(signal);
  let body: string;
  try {
    body = JSON.stringify({
      delivery_id: delivery.deliveryId,
      batch_id: delivery.batchId,
      collection_id: delivery.collectionId,
      documents: delivery.documents,
    });
  } catch (err) {
    throw new StepError(`documents are not JSON-serialisable: ${(err as Error).message}`, false);
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const sent: Record<string, string> = {
    ...headers,
    'Content-Type': 'application/json',
    'User-Agent': 'bucket-syncs',
    'X-BucketSyncs-Delivery': delivery.deliveryId,
    'X-BucketSyncs-Timestamp': String(timestamp),
  };
  if (secret) sent['X-BucketSyncs-Signature'] = `sha256=${signPayload(secret, timestamp, body)}`;

  const timeout = AbortSignal.timeout(timeout_seconds * 1000);
  const started = performance.now();
  const target = new URL(url).origin; // errors name the origin only: a URL's path or query may hold a token
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: sent,
      body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    throwIfAborted(signal);
    if (timeout.aborted) throw new StepError(`webhook ${target} timed out after ${timeout_seconds}s`, true);
    throw new StepError(`webhook ${target} unreachable: ${networkReason(err)}`, true);
  }
  const durationMs = Math.round(performance.now() - started);
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel().catch(() => undefined);
    return { statusCode: res.status, durationMs };
  }
  const text = await excerpt(res, [secret ?? '', ...Object.values(headers ?? {})]);
  const detail = `webhook ${target} answered ${res.status}${text ? `: ${text}` : ''}`;
  if (res.status >= 300 && res.status < 400)
    throw new StepError(`${detail} (redirects are not followed)`, false);
  throw new StepError(detail, retryableStatus(res.status));
}
