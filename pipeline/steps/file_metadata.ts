// Map step `file_metadata`: what an object's bytes are. Streams the blob once: SHA-256 and size over
// every byte, while only the first `sniff_bytes` are kept to sniff the type with file-type (falling
// back to the declared type when the content does not tell, e.g. text). For images, image-size reads
// width/height from the same head, kept longer (up to IMAGE_HEAD_MAX) only when the header needs it
// (a JPEG's SOF can come after a large EXIF segment).
import { createHash } from 'node:crypto';
import type * as ImageSize from 'image-size';
import { fileMetadataConfigSchema, type StepConfigInput } from '../../core/pipeline';
import { lazyModule } from '../../lib/lazy-module';
import { baseMime, chunks, sniffMime, throwIfAborted } from './sniff';
import { contentBlob, type MapStepInput } from './types';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (lib/lazy-module.ts)
const imageSizeModule = lazyModule(() => require('image-size') as typeof ImageSize);

/** Most bytes ever kept in memory to find an image's dimensions. */
export const IMAGE_HEAD_MAX = 1024 * 1024;

export interface FileMetadataOutput {
  [key: string]: unknown;
  mime_type: string | null;
  mime_source: 'content' | 'declared' | null;
  declared_mime_type: string | null;
  size_bytes: number;
  sha256: string | null;
  image: { width: number; height: number; format: string } | null;
}

function dimensions(head: Buffer): FileMetadataOutput['image'] {
  try {
    const r = imageSizeModule().imageSize(head);
    if (!r.width || !r.height) return null;
    return { width: r.width, height: r.height, format: r.type ?? 'unknown' };
  } catch {
    return null; // not an image, or its header is not within the bytes kept
  }
}

export async function run(
  config: StepConfigInput<'file_metadata'>,
  input: MapStepInput,
  signal?: AbortSignal,
): Promise<FileMetadataOutput> {
  const { sniff_bytes } = fileMetadataConfigSchema.parse(config);
  throwIfAborted(signal);
  const blob = contentBlob(input.object);
  const declared = blob ? baseMime(blob.details.mime_type) || null : null;
  const stream = await input.openBlob();
  if (!stream)
    return {
      mime_type: null,
      mime_source: null,
      declared_mime_type: declared,
      size_bytes: 0,
      sha256: null,
      image: null,
    };

  const hash = createHash('sha256');
  let size = 0;
  const head: Buffer[] = [];
  let headLength = 0;
  let keep = sniff_bytes; // leading bytes to keep; raised to IMAGE_HEAD_MAX for an image that needs it
  let sniffed: string | null | undefined; // undefined: not sniffed yet
  let image: FileMetadataOutput['image'] = null;
  let isImage = false;

  const sniff = async () => {
    const bytes = Buffer.concat(head);
    sniffed = await sniffMime(bytes.subarray(0, sniff_bytes));
    isImage = (sniffed ?? declared ?? '').startsWith('image/');
    if (isImage) image = dimensions(bytes);
    if (isImage && !image) keep = IMAGE_HEAD_MAX;
  };
  for await (const chunk of chunks(stream, signal)) {
    hash.update(chunk);
    size += chunk.length;
    let taken = 0;
    const take = () => {
      if (headLength >= keep || taken >= chunk.length) return;
      const part = chunk.subarray(taken, taken + keep - headLength);
      // A copy: the kept bytes must not pin the (possibly much larger) chunk they came from.
      head.push(Buffer.from(part));
      headLength += part.length;
      taken += part.length;
    };
    take();
    if (sniffed === undefined && headLength >= sniff_bytes) {
      await sniff();
      take(); // the rest of this chunk, when an image's header needs more than sniff_bytes
    }
  }
  if (sniffed === undefined) await sniff();
  else if (isImage && !image) image = dimensions(Buffer.concat(head));

  return {
    mime_type: sniffed ?? declared,
    mime_source: sniffed ? 'content' : declared ? 'declared' : null,
    declared_mime_type: declared,
    size_bytes: size,
    sha256: hash.digest('hex'),
    image,
  };
}
