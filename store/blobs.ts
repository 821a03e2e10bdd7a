// Where objects' bytes live. A copy streams the source into the store while computing SHA-256,
// and is published only when complete (temp file + rename), so a copy that fails half-way leaves
// nothing behind. Embedded default: a folder (./.data/blobs under `npm run dev`).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';

export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
}

export interface BlobStore {
  put(key: string, source: Readable): Promise<StoredBlob>;
  open(key: string): Promise<Readable>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

function safeKey(key: string): string {
  if (!/^[A-Za-z0-9_\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '' || p === '.'))
    throw new Error(`invalid blob key ${key}`);
  return key;
}

export class FolderBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  private file(key: string): string {
    return path.join(this.root, ...safeKey(key).split('/'));
  }

  async put(key: string, source: Readable): Promise<StoredBlob> {
    const final = this.file(key);
    await mkdir(path.dirname(final), { recursive: true });
    const tmp = `${final}.partial-${randomBytes(4).toString('hex')}`;
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(source, tap, createWriteStream(tmp));
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { key, size, sha256: hash.digest('hex') };
  }

  async open(key: string): Promise<Readable> {
    const file = this.file(key);
    await stat(file);
    return createReadStream(file);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.file(key));
      return true;
    } catch {
      return false;
    }
  }
}
