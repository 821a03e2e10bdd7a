// The contract between the built-in pipeline steps and the batch activities that run them. Steps
// know nothing of Temporal or MongoDB: a map step gets one object (and a way to open its bytes) and
// returns its output; a deliver step gets a chunk of documents and makes ONE attempt to send them.
import type { Readable } from 'node:stream';

export interface MapStepInput {
  object: {
    object_id: string;
    bucket_id: string;
    key_prefix: string;
    metadata: Record<string, unknown>;
    blobs: {
      blob_id: string;
      property: string;
      type: string;
      properties: Record<string, unknown>;
      details: { filename: string; size_bytes: number; mime_type: string; hash: string | null };
    }[];
  };
  /** Opens the object's first blob that has bytes (properties.storage_key), or null when it has none. */
  openBlob(): Promise<Readable | null>;
  /** Outputs of the earlier steps of this pipeline for this object, by output key. */
  previous: Record<string, unknown>;
  /** Documents of upstream collections for this object (downstream collections only). */
  upstream: Record<string, unknown>[];
}

export type MapStepBlob = MapStepInput['object']['blobs'][number];

export interface Delivery {
  /** Stable across retries of the same delivery, so receivers can dedupe (at-least-once). */
  deliveryId: string;
  collectionId: string;
  batchId: string;
  documents: Record<string, unknown>[];
}

export interface DeliveryResult {
  statusCode: number;
  durationMs: number;
}

/**
 * A step's failure. retryable=false: this document (or delivery) cannot succeed as configured, do
 * not retry; retryable=true: a transient failure (5xx, 429, timeout, connection, storage read).
 */
export class StepError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

/** The blob openBlob() opens: the first one whose bytes are in the blob store. */
export function contentBlob(object: MapStepInput['object']): MapStepBlob | null {
  return object.blobs.find((b) => typeof b.properties.storage_key === 'string') ?? null;
}
