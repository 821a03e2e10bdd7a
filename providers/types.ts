// The one small contract every storage provider implements (cf. rclone's backend interface).
// Providers list and open files; they know nothing of filters, buckets or Temporal.
import type { Readable } from 'node:stream';
import type { ChangeFeedKind } from '../core/change-feed';
import type { SourceEntry } from '../core/entry';

export type { SourceEntry };

export interface ListOptions {
  /** Opaque cursor returned by the previous page; absent for the first page. */
  cursor?: string | null;
  /** Only entries modified at or after this time (ISO 8601), where the provider can filter server-side. */
  modifiedSince?: string | null;
  /** `provider_filters` of the sync, passed through unread by the engine. */
  providerFilters?: Record<string, unknown>;
  /**
   * With `capabilities.deltaCursor`: list only what changed since this token (a `deltaToken` an earlier
   * listing returned), in pages; takes precedence over modifiedSince. Ignored by other providers. Later
   * pages of the same listing are addressed by `cursor` (which the provider makes carry what it needs).
   */
  deltaToken?: string | null;
  pageSize: number;
  /**
   * `lazy`: entries may come `partial` (what the listing carries, without a request per file), and
   * the engine completes only those it must ingest (`complete`): a pass over unchanged files then
   * costs the listing alone. Only providers with `complete` honour it; default `all`.
   */
  details?: 'all' | 'lazy';
}

export interface ListPage {
  entries: SourceEntry[];
  /** null when the listing is exhausted. */
  nextCursor: string | null;
  /**
   * Only from providers with `capabilities.deltaCursor`, only on the last page (nextCursor null): an
   * opaque, short token meaning "changes since this listing started"; pass it as `deltaToken` later.
   */
  deltaToken?: string | null;
  /**
   * Delta listings only: sourceObjectIds of files deleted, trashed or moved out of the source path since
   * the token. Ids the caller never saw may appear (the provider cannot always tell); ignore them.
   */
  removed?: string[];
}

export interface TestResult {
  success: boolean;
  message: string;
  details?: Record<string, unknown> | null;
}

export interface Capabilities {
  /** list() honours modifiedSince server-side. */
  serverSideModifiedFilter: boolean;
  /**
   * A listing's last page carries a `deltaToken`, and list() with `deltaToken` lists only the changes
   * since (entries changed, plus `removed` ids).
   */
  deltaCursor: boolean;
  /** Entries carry a content checksum. */
  checksums: boolean;
  /**
   * How the provider announces changes for event-driven syncs (core/change-feed.ts); absent: polling
   * only. The feeds themselves run outside the provider (worker/change-feeds.ts, api/notifications.ts).
   */
  changeFeed?: ChangeFeedKind;
}

/** What `lookup` found for announced ids. */
export interface LookupResult {
  /** Entries of the ids that are files under the source path (a folder's files, for a folder id). */
  entries: SourceEntry[];
  /** Ids that no longer exist (deleted, renamed away). Ids the caller never saw may appear. */
  removed: string[];
  /** Some id could not be resolved exactly (a folder with too many files...): list instead. */
  incomplete: boolean;
}

export interface StorageProvider {
  readonly capabilities: Capabilities;
  list(sourcePath: string, options: ListOptions): Promise<ListPage>;
  /** A stream of the file's bytes; never the whole file in memory. */
  open(entry: SourceEntry): Promise<Readable>;
  /**
   * Optional: a small file whole, in one read, or null when it is larger than `maxBytes` (then the
   * engine streams it with `open`). Errors as `open`'s. Without it, small files are read through `open`.
   */
  read?(entry: SourceEntry, maxBytes: number): Promise<Buffer | null>;
  test(sourcePath?: string): Promise<TestResult>;
  /**
   * Event-driven syncs whose feed names what changed: the current entries of these source object ids
   * (ids outside the source path are ignored), at most `limit` entries.
   */
  lookup?(sourcePath: string, sourceObjectIds: string[], limit: number): Promise<LookupResult>;
  /**
   * With a lazy listing: these entries whole (same order; null for a file gone since it was listed).
   * Providers whose listing carries every detail do not implement it.
   */
  complete?(sourcePath: string, entries: SourceEntry[]): Promise<(SourceEntry | null)[]>;
  /**
   * Optional, with `complete`: a partial entry whole and its file's bytes from one request (what
   * `complete` and then `read` / `open` would take two for): the bytes when the file is at most
   * `maxBytes`, else a stream of them (never more held); null when the file is gone since the
   * listing. The engine fetches the new files of a pass that needs nothing of them before the copy.
   */
  fetch?(entry: SourceEntry, maxBytes: number): Promise<FetchedFile | null>;
}

/** What `fetch` gives: the whole entry, as `complete` would, and the file's bytes. */
export type FetchedFile = { entry: SourceEntry } & ({ bytes: Buffer } | { stream: Readable });

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
