// Where objects' bytes live. A copy streams the source into the store while computing SHA-256 and the
// size (or, for a small blob already in memory, `putBytes` writes it in one go), and is published only
// when complete, so a copy that fails half-way leaves nothing behind:
// - FolderBlobStore (the embedded default, ./.data/blobs under `npm run dev`): temp file + rename.
// - S3BlobStore (any S3-compatible bucket): @aws-sdk/lib-storage `Upload`, a single PutObject for a
//   small body, else a multipart upload that is aborted on any failure (an object appears only when
//   the upload completes).
// createBlobStore(env) picks one from the configuration (BLOB_STORE, BLOB_DIR, BLOB_S3_*).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open as openFile, opendir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import type { Env } from '../config/env';
import { InlineIo } from '../lib/inline-io';
import { lazyModule } from '../lib/lazy-module';

// The S3 store's SDK loads when one is created (lib/lazy-module.ts): the folder store never loads it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const s3Sdk = lazyModule(() => require('@aws-sdk/client-s3') as typeof S3Sdk);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const libStorage = lazyModule(() => require('@aws-sdk/lib-storage') as typeof LibStorage);

export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
}

export interface BlobStore {
  /** Streams `source` into the blob `key` (replacing it); rejects, leaving nothing, if the copy fails. */
  put(key: string, source: Readable): Promise<StoredBlob>;
  /**
   * A small blob already in memory, in one write (what `put` does for a stream, without its
   * per-chunk machinery); rejects, leaving nothing, if the write fails.
   */
  putBytes(key: string, bytes: Buffer): Promise<StoredBlob>;
  /** The blob's bytes; rejects with code ENOENT when there is no such blob. */
  open(key: string): Promise<Readable>;
  /** Removes the blob; a missing blob is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /**
   * Removes what killed copies left behind and not modified for `olderThanMs`; returns how many.
   * Only the folder store has such leftovers (`*.partial-*` files).
   */
  sweepPartials(olderThanMs: number): Promise<number>;
}

/** Validates a blob key: `/`-separated segments of [A-Za-z0-9_-.], none empty, `.` or `..`. */
export function safeKey(key: string): string {
  if (!/^[A-Za-z0-9_\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '' || p === '.'))
    throw new Error(`invalid blob key ${JSON.stringify(key)}`);
  return key;
}

/** A pass-through that hashes and counts the bytes flowing into the store. */
function digestTap() {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, result: (key: string): StoredBlob => ({ key, size, sha256: hash.digest('hex') }) };
}

function digestOf(key: string, bytes: Buffer): StoredBlob {
  return { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function notFound(key: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`blob ${key} not found`), { code: 'ENOENT' });
}

const PARTIAL = /\.partial-[0-9a-f]{8}$/;

/** Partial files' suffixes: a counter from a random start (no random bytes drawn per copy). */
let partialSeq = randomBytes(4).readUInt32BE(0);
function partialName(final: string): string {
  partialSeq = (partialSeq + 1) >>> 0;
  return `${final}.partial-${partialSeq.toString(16).padStart(8, '0')}`;
}

/** Folders a FolderBlobStore made (or found) recently, so a copy into one costs no `mkdir`. */
const KNOWN_FOLDERS_MAX = 4096;

export class FolderBlobStore implements BlobStore {
  private readonly folders = new Set<string>();

  constructor(
    private readonly root: string,
    /** How small writes run: inline while the folder answers fast (lib/inline-io.ts). */
    private readonly io: InlineIo = new InlineIo(),
  ) {}

  private file(key: string): string {
    return path.join(this.root, ...safeKey(key).split('/'));
  }

  async put(key: string, source: Readable): Promise<StoredBlob> {
    const final = this.file(key);
    let created: { tmp: string; file: FileHandle };
    try {
      created = await this.createPartial(final);
    } catch (err) {
      source.destroy(); // a put consumes or releases its source, whatever happens
      throw err;
    }
    const { tmp, file } = created;
    const tap = digestTap();
    try {
      await pipeline(source, tap.stream, file.createWriteStream());
      await rename(tmp, final);
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
    return tap.result(key);
  }

  async putBytes(key: string, bytes: Buffer): Promise<StoredBlob> {
    const final = this.file(key);
    const stored = digestOf(key, bytes);
    await this.io.run(
      () => this.writeInline(final, bytes),
      async () => {
        const { tmp, file } = await this.createPartial(final);
        try {
          await file.writeFile(bytes);
          await file.close();
          await rename(tmp, final);
        } catch (err) {
          await file.close().catch(() => undefined);
          await rm(tmp, { force: true });
          throw err;
        }
      },
    );
    return stored;
  }

  /** putBytes inline (lib/inline-io.ts): the same steps, synchronously. */
  private writeInline(final: string, bytes: Buffer): void {
    const dir = path.dirname(final);
    if (!this.folders.has(dir)) this.makeFolder(dir);
    for (let attempt = 0; ; attempt++) {
      const tmp = partialName(final);
      try {
        writeFileSync(tmp, bytes, { flag: 'wx' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && attempt < 3) continue; // another copy's partial file: not ours to remove
        rmSync(tmp, { force: true });
        // A known folder removed since (by hand): made again, once.
        if (code === 'ENOENT' && attempt === 0 && this.folders.delete(dir)) {
          this.makeFolder(dir);
          continue;
        }
        throw err;
      }
      try {
        renameSync(tmp, final);
        return;
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    }
  }

  private makeFolder(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.remember(dir);
  }

  private remember(dir: string): void {
    if (this.folders.size >= KNOWN_FOLDERS_MAX) this.folders.clear();
    this.folders.add(dir);
  }

  /**
   * Creates the partial file of `final` (exclusively: a name in use is skipped), making its folder
   * first unless this store made it recently; a known folder removed since (by hand) is made again.
   */
  private async createPartial(final: string): Promise<{ tmp: string; file: FileHandle }> {
    const dir = path.dirname(final);
    if (!this.folders.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.remember(dir);
    }
    for (let attempt = 0; ; attempt++) {
      const tmp = partialName(final);
      try {
        return { tmp, file: await openFile(tmp, 'wx') };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && attempt < 3) continue;
        if (code === 'ENOENT' && attempt === 0 && this.folders.delete(dir)) {
          await mkdir(dir, { recursive: true });
          this.remember(dir);
          continue;
        }
        throw err;
      }
    }
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
    const file = this.file(key);
    try {
      return (await stat(file)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * A worker killed mid-copy leaves `<key>.partial-<hex>`; it is never an object (objects are inserted
   * only after their bytes are complete). A copy in progress keeps its file's mtime fresh, so a
   * threshold well above the time between two writes never removes a live copy.
   */
  async sweepPartials(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let handle;
      try {
        handle = await opendir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for await (const entry of handle) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile() && PARTIAL.test(entry.name)) {
          const st = await stat(full).catch(() => null);
          if (st && st.mtimeMs < cutoff) {
            await rm(full, { force: true });
            removed++;
          }
        }
      }
    };
    await walk(this.root);
    return removed;
  }
}

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix (a folder, without slashes at the ends); '' for none. */
  prefix?: string;
  /** S3 client settings (region, endpoint, forcePathStyle, credentials...). */
  client: S3ClientConfig;
  /** Multipart part size; at most `queueSize + 1` parts of one copy are in memory at once. */
  partSize?: number;
  /** Parts uploaded at once per copy. */
  queueSize?: number;
}

const isPrematureClose = (err: unknown) =>
  (err as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
const statusOf = (err: unknown) =>
  (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const nameOf = (err: unknown) => (err as { name?: string })?.name;

/**
 * Blobs in an S3-compatible bucket. An object exists only once its upload completed (PutObject, or
 * CompleteMultipartUpload), so a failed copy leaves no object; its multipart upload is aborted. An
 * upload whose process died before it could abort stays pending (invisible, but its parts are billed):
 * give the bucket a lifecycle rule `AbortIncompleteMultipartUpload` (e.g. after 1 day) in production.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    // 8 MiB parts: up to ~78 GiB per blob within S3's 10,000 parts, ~40 MiB in memory per copy.
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    this.queueSize = opts.queueSize ?? 4;
    this.client = new (s3Sdk().S3Client)({
      // Upload checksums only when the operation requires them: S3 look-alikes vary in support;
      // the copy's SHA-256 is computed here anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      ...opts.client,
    });
  }

  /** The object key of a blob key. */
  objectKey(key: string): string {
    safeKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, source: Readable): Promise<StoredBlob> {
    const Key = this.objectKey(key);
    const tap = digestTap();
    const upload = new (libStorage().Upload)({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: tap.stream },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    // Both sides settle before put does: a source error destroys the tap, which fails the upload
    // (and lib-storage aborts the multipart upload); a failed upload destroys the tap and the source.
    const done = upload.done().catch((err: unknown) => {
      tap.stream.destroy(err as Error); // never leave the pipeline waiting on a reader that is gone
      throw err;
    });
    const [piped, uploaded] = await Promise.allSettled([pipeline(source, tap.stream), done]);
    if (piped.status === 'fulfilled' && uploaded.status === 'fulfilled') return tap.result(key);
    // lib-storage aborts on failure; again here in case its abort failed (NoSuchUpload is fine).
    if (upload.uploadId)
      await this.client
        .send(
          new (s3Sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key, UploadId: upload.uploadId }),
        )
        .catch(() => undefined);
    if (uploaded.status === 'fulfilled') await this.delete(key).catch(() => undefined);
    // The source's own error first; else S3's (lib-storage ends a failed upload by closing the tap,
    // which the pipeline reports as a premature close).
    const premature = piped.status === 'rejected' && isPrematureClose(piped.reason);
    if (piped.status === 'rejected' && !(premature && uploaded.status === 'rejected')) throw piped.reason;
    throw (uploaded as PromiseRejectedResult).reason;
  }

  async putBytes(key: string, bytes: Buffer): Promise<StoredBlob> {
    const Key = this.objectKey(key);
    const stored = digestOf(key, bytes);
    // One PutObject: the object appears whole or not at all.
    await this.client.send(
      new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key, Body: bytes, ContentLength: bytes.length }),
    );
    return stored;
  }

  async open(key: string): Promise<Readable> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key }));
      if (!(res.Body instanceof Readable)) throw new Error(`GetObject ${Key}: the body is not a stream`);
      return res.Body;
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey' || statusOf(err) === 404) throw notFound(key);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (nameOf(err) === 'NoSuchKey' || statusOf(err) === 404) return;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (nameOf(err) === 'NotFound' || nameOf(err) === 'NoSuchKey' || statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Nothing to sweep: failed uploads are aborted, and the bucket's lifecycle rule covers crashes. */
  async sweepPartials(_olderThanMs: number): Promise<number> {
    return 0;
  }
}

/** The blob store the configuration asks for (BLOB_STORE=folder: BLOB_DIR; s3: BLOB_S3_*). */
export function createBlobStore(env: Env): BlobStore {
  if (env.BLOB_STORE === 'folder') return new FolderBlobStore(path.resolve(env.BLOB_DIR));
  if (!env.BLOB_S3_BUCKET) throw new Error('BLOB_S3_BUCKET is required when BLOB_STORE=s3');
  const client: S3ClientConfig = {
    region: env.BLOB_S3_REGION,
    forcePathStyle: env.BLOB_S3_FORCE_PATH_STYLE ?? env.BLOB_S3_ENDPOINT !== undefined,
  };
  if (env.BLOB_S3_ENDPOINT) client.endpoint = env.BLOB_S3_ENDPOINT;
  // Without a key pair: the AWS default credential chain (env, profile, web identity, instance role).
  if (env.BLOB_S3_ACCESS_KEY_ID && env.BLOB_S3_SECRET_ACCESS_KEY)
    client.credentials = {
      accessKeyId: env.BLOB_S3_ACCESS_KEY_ID,
      secretAccessKey: env.BLOB_S3_SECRET_ACCESS_KEY,
    };
  return new S3BlobStore({ bucket: env.BLOB_S3_BUCKET, prefix: env.BLOB_S3_PREFIX, client });
}
