// The one small contract every storage provider implements (cf. rclone's backend interface).
// Providers list and open files; they know nothing of filters, buckets or Temporal.
import type { Readable } from 'node:stream';
import type { SourceEntry } from '../core/entry';

export type { SourceEntry };

export interface ListOptions {
  /** Opaque cursor returned by the previous page; absent for the first page. */
  cursor?: string | null;
  /** Only entries modified at or after this time (ISO 8601), where the provider can filter server-side. */
  modifiedSince?: string | null;
  /** `provider_filters` of the sync, passed through unread by the engine. */
  providerFilters?: Record<string, unknown>;
  pageSize: number;
}

export interface ListPage {
  entries: SourceEntry[];
  /** null when the listing is exhausted. */
  nextCursor: string | null;
}

export interface TestResult {
  success: boolean;
  message: string;
  details?: Record<string, unknown> | null;
}

export interface Capabilities {
  /** list() honours modifiedSince server-side. */
  serverSideModifiedFilter: boolean;
  /** The cursor is a delta token (changes since), not a position in a full listing. */
  deltaCursor: boolean;
  /** Entries carry a content checksum. */
  checksums: boolean;
}

export interface StorageProvider {
  readonly capabilities: Capabilities;
  list(sourcePath: string, options: ListOptions): Promise<ListPage>;
  /** A stream of the file's bytes; never the whole file in memory. */
  open(entry: SourceEntry): Promise<Readable>;
  test(sourcePath?: string): Promise<TestResult>;
}

/**
 * Errors come out of providers classified, so the engine retries the right ones.
 * retryable: throttling, 5xx, connection resets. Not retryable: auth, missing bucket/path/file.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly kind: 'auth' | 'not_found' | 'invalid' | 'throttled' | 'unavailable',
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}
