// What the providers share (cf. rclone's fs/fserrors): the common config schemas, credential
// parsing, the classification of socket and TLS errors, and download streams whose errors come out
// classified. Each provider file keeps only its service's specifics.
import { createPrivateKey } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { z } from 'zod';
import { ProviderError, type TestResult } from './types';

// --- config ---------------------------------------------------------------------------------------

/** An http(s) URL without query or fragment; `what` names the field in the message. */
export const httpUrlSchema = (what?: string) =>
  z
    .url({ protocol: /^https?$/ })
    .refine((u) => !/[?#]/.test(u), `${what ? `${what} ` : ''}must not carry a query or fragment`);

/** `endpoint_url`: where the client connects instead of the service's own host (emulators, proxies). */
export const endpointUrlSchema = httpUrlSchema();

/** The URL without trailing slashes. */
export const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');

// --- credentials ----------------------------------------------------------------------------------

/**
 * Validates `provider_config.credentials` against the provider's schema; missing or of a bad shape is
 * an `invalid` ProviderError naming the fields (never their values: they are secrets). `types` lists
 * the credential types the provider takes (`"access_key or iam_role"`).
 */
export function parseCredentials<T>(
  schema: z.ZodType<T>,
  credentials: Record<string, unknown> | null,
  providerType: string,
  types: string,
): T {
  if (!credentials)
    throw new ProviderError(
      `${providerType} connections need provider_config.credentials (type ${types})`,
      'invalid',
      false,
    );
  const r = schema.safeParse(credentials);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${['credentials', ...i.path].join('.')}: ${i.message}`);
  throw new ProviderError(`invalid ${providerType} credentials: ${issues.join('; ')}`, 'invalid', false);
}

/** A PEM private key the process can load (a service account's key), else an `invalid` ProviderError. */
export function checkPrivateKey(pem: string, providerType: string): void {
  try {
    createPrivateKey(pem);
  } catch (err) {
    throw new ProviderError(
      `${providerType} credentials: private_key is not a PEM private key`,
      'invalid',
      false,
      {
        cause: err,
      },
    );
  }
}

/**
 * A Google service account key file (gcs, google_drive): the fields the clients need; the rest of
 * the file is accepted as is.
 */
export const googleServiceAccountSchema = z.looseObject({
  type: z.literal('service_account'),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  project_id: z.string().optional(),
  client_id: z.string().optional(),
  universe_domain: z.string().optional(),
  token_uri: httpUrlSchema('token_uri').optional(),
});

// --- errors ---------------------------------------------------------------------------------------

/** Socket-level failures (no HTTP answer): worth another attempt. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNABORTED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'ESOCKETTIMEDOUT',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The server's certificate was refused: a setting to change (trust, the endpoint), not a retry. */
const TLS_CODES: ReadonlySet<string> = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** What a Node error code says about the connection: a network failure, a refused certificate, a key that cannot sign. */
export function codeClass(code: string | undefined | null): 'network' | 'tls' | 'key' | null {
  if (!code) return null;
  if (NETWORK_CODES.has(code)) return 'network';
  if (TLS_CODES.has(code)) return 'tls';
  if (code.startsWith('ERR_OSSL')) return 'key'; // a private key that cannot sign
  return null;
}

// --- streams --------------------------------------------------------------------------------------

/**
 * Forwards a download body, turning its errors into ProviderErrors (`classify`); destroying the
 * result ends the download.
 */
export function classifiedStream(
  src: NodeJS.ReadableStream,
  classify: (err: unknown) => ProviderError,
): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  src.once('error', (err) => out.destroy(classify(err)));
  out.once('close', () => {
    const s = src as Readable;
    if (typeof s.destroy === 'function' && !s.destroyed) s.destroy();
  });
  src.pipe(out);
  return out;
}

// --- test() ---------------------------------------------------------------------------------------

/** What test() answers for a failure: the classified error's message, kind and retryability. */
export function failedTest(e: ProviderError, details: Record<string, unknown> = {}): TestResult {
  return {
    success: false,
    message: e.message,
    details: { ...details, kind: e.kind, retryable: e.retryable },
  };
}
