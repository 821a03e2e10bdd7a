// Content sniffing shared by the steps: file-type (an ES module, loaded once on first use) over the
// first bytes of a blob, and reading a stream's head without holding the rest.
import type { Readable } from 'node:stream';
import { StepError } from './types';

type FileTypeModule = typeof import('file-type', { with: { 'resolution-mode': 'import' } });
let fileType: Promise<FileTypeModule> | undefined;

/** The MIME type file-type reads from these first bytes, or null when it cannot tell (text, unknown). */
export async function sniffMime(head: Uint8Array): Promise<string | null> {
  fileType ??= import('file-type');
  const found = await (await fileType).fileTypeFromBuffer(head);
  return found?.mime ?? null;
}

/** `type/subtype` in lower case, without parameters (`text/plain; charset=utf-8` -> `text/plain`). */
export function baseMime(mime: string | null | undefined): string {
  return (mime ?? '').split(';')[0].trim().toLowerCase();
}

/** Throws the signal's reason when it has been aborted (activity cancelled or timed out). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/**
 * Iterates a stream's chunks as Buffers and destroys the stream when the consumer stops early. A
 * read error becomes a retryable StepError (storage trouble is transient); an abort throws the
 * signal's reason.
 */
export async function* chunks(stream: Readable, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      throwIfAborted(signal);
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err) {
        throwIfAborted(signal);
        throw new StepError(`reading the blob failed: ${(err as Error).message}`, true);
      }
      if (next.done) return;
      const chunk = next.value;
      yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
}
