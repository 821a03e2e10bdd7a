// What a provider brings to the conformance suite: a real server (or the local filesystem), a way
// to put files there, and providers configured against it. See conformance.test.ts.
import type { Readable } from 'node:stream';
import type { ProviderError, StorageProvider } from '../../providers';

export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface ProviderFixture {
  /** provider_type, e.g. `s3`. */
  name: string;
  /** Starts or reaches the server; called once before the provider's cases. */
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A provider with valid credentials. */
  provider(): StorageProvider;
  /** A new, empty source path for one case (a prefix, a folder, a table). */
  freshPath(): Promise<string>;
  /** Puts one file at `rel` (a `/`-separated path) under `sourcePath`. */
  put(sourcePath: string, rel: string, body: Buffer | Readable, opts?: PutOptions): Promise<void>;
  /** Puts many small files; fixtures may batch or parallelise. */
  putMany(sourcePath: string, files: { rel: string; body: Buffer }[]): Promise<void>;
  remove(sourcePath: string, rel: string): Promise<void>;
  /** A provider with rejected credentials (or the provider's analogue), and the error it must raise. */
  rejected(): { provider: StorageProvider; kind: ProviderError['kind'] };
  /**
   * A provider whose server answers with throttling / 5xx, or null where no server exists that could
   * (the local filesystem). Must surface as a retryable ProviderError.
   */
  throttled: (() => Promise<StorageProvider>) | null;
  /** What this provider can carry; cases that need it assert it, the others assert its absence. */
  carries: { userMetadata: boolean; contentType: boolean };
  /**
   * Only for a source whose objects cannot reach the suite's 200 MB case (a table cell has a size
   * limit): the largest object it can hold and why. The streaming case then streams one of that size
   * (still in many chunks, byte for byte). Absent: objects of any size.
   */
  maxObjectSize?: { bytes: number; reason: string };
}
