// Real bytes for the pipeline step tests: PNG, JPEG, GIF and WebP files built here from their
// specifications (no binary fixtures), and a MapStepInput over bytes or any stream.
import { Readable } from 'node:stream';
import { crc32, deflateSync } from 'node:zlib';
import type { MapStepInput } from '../../pipeline/steps';

const u16be = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u16le = (n: number) => Buffer.from([n & 0xff, (n >> 8) & 0xff]);
const u32be = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A truecolour 8-bit PNG: signature, IHDR, one zlib IDAT of filtered scanlines, IEND. */
export function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    return Buffer.concat([u32be(data.length), td, u32be(crc32(td))]);
  };
  const ihdr = Buffer.concat([u32be(width), u32be(height), Buffer.from([8, 2, 0, 0, 0])]);
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      rows.fill((x * 7 + y * 13) & 0xff, y * (1 + width * 3) + 1 + x * 3, y * (1 + width * 3) + 4 + x * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A baseline greyscale JPEG of mid-grey 8x8 blocks: JFIF APP0, an optional APP1 (Exif) of
 * `exifBytes` padding before the frame header (as cameras write it), DQT, SOF0, one-code DC and AC
 * Huffman tables, and scan data of "DC diff 0, EOB" per block.
 */
export function jpeg(width: number, height: number, exifBytes = 0): Buffer {
  const seg = (marker: number, data: Buffer) =>
    Buffer.concat([Buffer.from([0xff, marker]), u16be(data.length + 2), data]);
  const parts = [Buffer.from([0xff, 0xd8])];
  parts.push(seg(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])));
  for (let left = exifBytes; left > 0; left -= 60000)
    parts.push(
      seg(
        0xe1,
        Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), Buffer.alloc(Math.min(left, 60000), 0x20)]),
      ),
    );
  parts.push(seg(0xdb, Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)])));
  parts.push(
    seg(0xc0, Buffer.concat([Buffer.from([8]), u16be(height), u16be(width), Buffer.from([1, 1, 0x11, 0])])),
  );
  const oneCode = (cls: number) => Buffer.concat([Buffer.from([cls, 1]), Buffer.alloc(15), Buffer.from([0])]);
  parts.push(seg(0xc4, Buffer.concat([oneCode(0x00), oneCode(0x10)])));
  parts.push(seg(0xda, Buffer.from([1, 1, 0, 0, 63, 0])));
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const bits = blocks * 2; // "0" (DC category 0) + "0" (EOB) per block, padded with 1s
  const scan = Buffer.alloc(Math.ceil(bits / 8), 0);
  if (bits % 8) scan[scan.length - 1] = 0xff >> (bits % 8);
  parts.push(scan, Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

/** A GIF89a with a 2-colour palette, every pixel colour 0, LZW-coded as (clear, 0) pairs. */
export function gif(width: number, height: number): Buffer {
  const codes: number[] = [];
  for (let i = 0; i < width * height; i++) codes.push(4, 0);
  codes.push(5);
  const data: number[] = [];
  let acc = 0;
  let n = 0;
  for (const c of codes) {
    acc |= c << n;
    n += 3;
    while (n >= 8) {
      data.push(acc & 0xff);
      acc >>= 8;
      n -= 8;
    }
  }
  if (n > 0) data.push(acc & 0xff);
  const blocks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const part = data.slice(i, i + 255);
    blocks.push(Buffer.from([part.length, ...part]));
  }
  return Buffer.concat([
    Buffer.from('GIF89a', 'latin1'),
    u16le(width),
    u16le(height),
    Buffer.from([0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]),
    Buffer.from([0x2c]),
    u16le(0),
    u16le(0),
    u16le(width),
    u16le(height),
    Buffer.from([0, 2]),
    ...blocks,
    Buffer.from([0, 0x3b]),
  ]);
}

/** A lossless WebP (RIFF/WEBP/VP8L) header with the given dimensions. */
export function webp(width: number, height: number): Buffer {
  const bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14);
  const vp8l = Buffer.concat([
    Buffer.from([0x2f]),
    Buffer.from([bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, (bits >>> 24) & 0xff]),
    Buffer.alloc(16),
  ]);
  const chunk = Buffer.concat([
    Buffer.from('VP8L', 'latin1'),
    Buffer.from(u32be(vp8l.length).reverse()),
    vp8l,
  ]);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), chunk]);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.from(u32be(body.length).reverse()), body]);
}

export interface InputOptions {
  filename?: string;
  mime?: string;
  /** The blob's bytes; or a stream factory; or null for an object without a content blob. */
  content: Buffer | string | (() => Readable) | null;
  /** Bytes per chunk when content is a Buffer/string (default: one chunk). */
  chunkSize?: number;
}

/** A MapStepInput for one object whose first blob holds `content`. */
export function mapInput(o: InputOptions): MapStepInput & { opened: Readable[] } {
  const opened: Readable[] = [];
  const bytes = typeof o.content === 'string' ? Buffer.from(o.content) : o.content;
  return {
    object: {
      object_id: 'obj_1',
      bucket_id: 'bkt_1',
      key_prefix: '/',
      metadata: {},
      blobs:
        o.content === null
          ? []
          : [
              {
                blob_id: 'blob_1',
                property: 'content',
                type: 'file',
                properties: { storage_key: 'bkt_1/obj_1/content' },
                details: {
                  filename: o.filename ?? 'file.bin',
                  size_bytes: Buffer.isBuffer(bytes) ? bytes.length : 0,
                  mime_type: o.mime ?? 'application/octet-stream',
                  hash: null,
                },
              },
            ],
    },
    async openBlob() {
      if (bytes === null) return null;
      let s: Readable;
      if (typeof bytes === 'function') s = bytes();
      else {
        const size = o.chunkSize ?? Math.max(1, bytes.length);
        const parts: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
        s = Readable.from(parts);
      }
      opened.push(s);
      return s;
    },
    previous: {},
    upstream: [],
    opened,
  };
}
