// `local`: a folder the server may read. Walked in sorted order; the cursor is the last relative
// path returned, so a listing resumes after it.
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { open as openFile, readdir, stat, realpath } from 'node:fs/promises';
import { InlineIo } from '../lib/inline-io';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ProviderError } from './types';
import type { ListOptions, ListPage, LookupResult, SourceEntry, StorageProvider } from './types';
import { forEachLimit } from '../lib/pool';

export const localConfigSchema = z.strictObject({
  root: z
    .string()
    .min(1)
    .refine((p) => path.isAbsolute(p), 'must be an absolute path'),
});
export type LocalConfig = z.infer<typeof localConfigSchema>;

function fsError(err: unknown, what: string): ProviderError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new ProviderError(`${what}: not found`, 'not_found', false, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new ProviderError(`${what}: permission denied`, 'auth', false, { cause: err });
  if (code === 'EMFILE' || code === 'EAGAIN' || code === 'EBUSY')
    return new ProviderError(`${what}: ${code}`, 'unavailable', true, { cause: err });
  return new ProviderError(`${what}: ${(err as Error)?.message ?? String(err)}`, 'unavailable', true, {
    cause: err,
  });
}

/** Small reads run inline while local folders answer fast (lib/inline-io.ts); one state per process. */
const localIo = new InlineIo();

const BEYOND_BMP_LOW = /[\uD800-\uFFFF]/;

/** `stat`s in flight at once while listing on a slow filesystem (see statAll). */
const STAT_CONCURRENCY = 32;
/** Paths `stat`ed synchronously between two turns of the event loop. */
const STAT_CHUNK = 64;
/** A chunk slower than this per path (a network filesystem): the rest go asynchronously, in parallel. */
const SLOW_STAT_MS = 0.25;

const statOrNull = (p: string): Stats | null => {
  try {
    return statSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
};

/**
 * The stats of these paths, in order; null for one that is gone (or unreadable). On a local disk a
 * synchronous `stat` of a cached inode costs a few microseconds, a promise-based one 10–25 (the thread
 * pool round trip), so they go synchronously, a chunk at a time with the event loop let through
 * between chunks (heartbeats, other activities). A chunk that shows the filesystem is slow switches
 * the rest to parallel asynchronous `stat`s, which overlap the waits instead.
 */
async function statAll(paths: string[]): Promise<(Stats | null)[]> {
  const out: (Stats | null)[] = new Array<Stats | null>(paths.length).fill(null);
  let i = 0;
  while (i < paths.length) {
    const started = performance.now();
    const end = Math.min(paths.length, i + STAT_CHUNK);
    for (; i < end; i++) out[i] = statOrNull(paths[i]);
    if (i === paths.length) return out;
    if ((performance.now() - started) / STAT_CHUNK > SLOW_STAT_MS) break;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const rest = paths.slice(i);
  await forEachLimit(rest, STAT_CONCURRENCY, async (p, k) => {
    try {
      out[i + k] = await stat(p);
    } catch {
      out[i + k] = null;
    }
  });
  return out;
}

/** A folder's entry as the walk orders it: a folder `d` sorts by the key `d/`. */
interface FolderItem {
  key: string;
  name: string;
  dir: boolean;
}

/** A folder with at least this many entries keeps its sorted entries between pages (FOLDERS). */
const KEEP_FOLDER_ENTRIES = 2_000;
/** Entries kept over every folder (the least recently read folders go first). */
const KEPT_ENTRIES_MAX = 500_000;

/**
 * Large folders' sorted entries, kept while the folder's mtime stays the same (a file created,
 * removed or renamed in it changes it): a page of a 100,000-file folder reads and sorts it once
 * per pass, not once per page (measured: `readdir` of 100,000 entries 77 ms, their sort ~60 ms,
 * per page of 1,000). Only a listing read at least SETTLED_MS after the folder's last change is
 * kept: the kernel stamps mtimes from a coarse clock, so a change in the same tick as the one
 * before it leaves the mtime as it was; any change after a settled listing moves it.
 */
const FOLDERS = new Map<string, { mtimeMs: number; items: FolderItem[] }>();
let keptEntries = 0;
const SETTLED_MS = 1_000;

/** The folder's files and sub-folders (symlinks resolved; dangling links left out), in walk order. */
async function folderItems(folder: string): Promise<FolderItem[]> {
  const readAt = Date.now();
  const mtimeMs = statSync(folder).mtimeMs;
  const kept = FOLDERS.get(folder);
  if (kept && kept.mtimeMs === mtimeMs) {
    FOLDERS.delete(folder); // most recently used last
    FOLDERS.set(folder, kept);
    return kept.items;
  }
  const dirents = await readdir(folder, { withFileTypes: true });
  const items: FolderItem[] = [];
  for (const d of dirents) {
    let dir = d.isDirectory();
    if (d.isSymbolicLink()) {
      try {
        dir = (await stat(path.join(folder, d.name))).isDirectory();
      } catch {
        continue; // dangling link
      }
    } else if (!dir && !d.isFile()) continue;
    items.push({ key: dir ? `${d.name}/` : d.name, name: d.name, dir });
  }
  items.sort((a, b) => cmp(a.key, b.key));
  if (kept) {
    FOLDERS.delete(folder);
    keptEntries -= kept.items.length;
  }
  const settled = readAt - mtimeMs >= SETTLED_MS;
  if (settled && items.length >= KEEP_FOLDER_ENTRIES && items.length <= KEPT_ENTRIES_MAX) {
    for (const [f, v] of FOLDERS) {
      if (keptEntries + items.length <= KEPT_ENTRIES_MAX) break;
      FOLDERS.delete(f);
      keptEntries -= v.items.length;
    }
    FOLDERS.set(folder, { mtimeMs, items });
    keptEntries += items.length;
  }
  return items;
}

/**
 * Where a page resumes in a folder's sorted entries (`rel` its path, `after` the cursor): past every
 * entry whose path sorts at or before the cursor, except a folder the cursor is inside of. A binary
 * search, so a page deep into a large folder does not step over the entries before it.
 */
function firstAfter(items: FolderItem[], rel: string, after: string): number {
  if (!after) return 0;
  const full = (it: FolderItem) => (rel ? `${rel}/${it.key}` : it.key);
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(full(items[mid]), after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && items[lo - 1].dir && after.startsWith(full(items[lo - 1]))) return lo - 1;
  return lo;
}

/** Byte-wise (UTF-8) order of `/`-joined relative paths; the order the cursor relies on. JS `<` compares
 * UTF-16 code units, which puts astral characters (emoji) before U+E000–U+FFFF, unlike byte order. */
function cmp(a: string, b: string): number {
  // Below U+D800 both orders agree: compare the strings as they are (no Buffers for the usual paths).
  if (!BEYOND_BMP_LOW.test(a) && !BEYOND_BMP_LOW.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class LocalProvider implements StorageProvider {
  readonly capabilities = {
    serverSideModifiedFilter: false,
    deltaCursor: false,
    checksums: false,
    changeFeed: 'filesystem' as const,
  };

  constructor(
    private readonly config: LocalConfig,
    /** How small reads run (tests pass one that always uses the thread pool). */
    private readonly io: InlineIo = localIo,
  ) {}

  /** Resolves source_path under root, refusing anything that escapes it. */
  private async base(sourcePath: string): Promise<string> {
    const root = path.resolve(this.config.root);
    const joined = path.resolve(root, `.${path.sep}${sourcePath.replace(/^\/+/, '')}`);
    if (joined !== root && !joined.startsWith(root + path.sep))
      throw new ProviderError(`source_path ${sourcePath} is outside the connection root`, 'invalid', false);
    try {
      const real = await realpath(joined);
      const realRoot = await realpath(root);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep))
        throw new ProviderError(
          `source_path ${sourcePath} resolves outside the connection root`,
          'invalid',
          false,
        );
      return real;
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      throw fsError(err, `source_path ${sourcePath}`);
    }
  }

  async list(sourcePath: string, options: ListOptions): Promise<ListPage> {
    const base = await this.base(sourcePath);
    const fromRoot = path
      .relative(await realpath(this.config.root), base)
      .split(path.sep)
      .join('/');
    const after = options.cursor ?? '';
    const out: SourceEntry[] = [];
    // Depth-first walk. A folder `d` is ordered by the key `d/`, so the walk yields paths in plain
    // byte order of the full relative path, which is the order the cursor relies on.
    const walk = async (rel: string): Promise<boolean> => {
      let items: FolderItem[];
      try {
        items = await folderItems(path.join(base, rel));
      } catch (err) {
        if (rel === '') throw fsError(err, `source_path ${sourcePath}`);
        return true; // a folder removed mid-walk: nothing to list there
      }
      for (let i = firstAfter(items, rel, after); i < items.length;) {
        const item = items[i];
        const relPath = rel ? `${rel}/${item.name}` : item.name;
        if (item.dir) {
          i++;
          const prefix = `${relPath}/`;
          // Every path under the folder sorts before the cursor: skip the whole folder.
          if (cmp(prefix, after) < 0 && !after.startsWith(prefix)) continue;
          if (!(await walk(relPath))) return false;
          continue;
        }
        // The files that follow (up to the next folder), as many as the page still takes: stat'ed
        // together, kept in order.
        const files: string[] = [];
        for (; i < items.length && !items[i].dir && files.length < options.pageSize - out.length; i++) {
          const p = rel ? `${rel}/${items[i].name}` : items[i].name;
          if (cmp(p, after) > 0) files.push(p);
        }
        const stats = await statAll(files.map((f) => path.join(base, f)));
        for (const [k, st] of stats.entries()) {
          if (!st) continue; // deleted between readdir and stat
          out.push(fileEntry(fromRoot, files[k], st));
          if (out.length >= options.pageSize) return false;
        }
      }
      return true;
    };
    const exhausted = await walk('');
    return { entries: out, nextCursor: exhausted ? null : (out.at(-1)?.path ?? null) };
  }

  /** The folder a sync watches: source_path under root, symlinks resolved (what the watcher subscribes). */
  async watchedFolder(sourcePath: string): Promise<{ folder: string; idPrefix: string }> {
    const base = await this.base(sourcePath);
    const fromRoot = path
      .relative(await realpath(this.config.root), base)
      .split(path.sep)
      .join('/');
    return { folder: base, idPrefix: fromRoot ? `${fromRoot}/` : '' };
  }

  /**
   * Announced ids (paths relative to root, from the filesystem watcher): a file's entry, a folder's
   * files (a folder moved in), or removed when the path is gone.
   */
  async lookup(sourcePath: string, ids: string[], limit: number): Promise<LookupResult> {
    const { folder: base, idPrefix } = await this.watchedFolder(sourcePath);
    const found = new Map<string, SourceEntry>();
    const removed: string[] = [];
    let incomplete = false;
    const fromRoot = idPrefix.replace(/\/$/, '');
    const add = (relPath: string, st: Stats) => {
      const e = fileEntry(fromRoot, relPath, st);
      found.set(e.sourceObjectId, e);
    };
    const walk = async (rel: string): Promise<void> => {
      let dirents;
      try {
        dirents = await readdir(path.join(base, rel), { withFileTypes: true });
      } catch {
        return; // gone meanwhile
      }
      for (const d of dirents) {
        if (found.size >= limit) {
          incomplete = true;
          return;
        }
        const relPath = `${rel}/${d.name}`;
        let st;
        try {
          st = await stat(path.join(base, relPath));
        } catch {
          continue;
        }
        if (st.isDirectory()) await walk(relPath);
        else if (st.isFile()) add(relPath, st);
      }
    };
    for (const id of ids) {
      if (found.size >= limit) {
        incomplete = true;
        break;
      }
      if (!id.startsWith(idPrefix) || id.length === idPrefix.length) continue; // not under source_path
      const rel = id.slice(idPrefix.length);
      if (rel.split('/').some((p) => p === '' || p === '.' || p === '..')) continue;
      const file = path.join(base, ...rel.split('/'));
      let st;
      try {
        st = await stat(file);
        const real = await realpath(file);
        if (real !== base && !real.startsWith(base + path.sep)) continue; // a link out of the folder
      } catch (err) {
        const code = (err as NodeJS.ErrnoException)?.code;
        if (code === 'ENOENT' || code === 'ENOTDIR') removed.push(id);
        else throw fsError(err, `file ${rel}`);
        continue;
      }
      if (st.isFile()) add(rel, st);
      else if (st.isDirectory()) await walk(rel);
    }
    return { entries: [...found.values()], removed, incomplete };
  }

  async open(entry: SourceEntry): Promise<Readable> {
    // sourceObjectId is the path relative to the connection root.
    const file = path.join(this.config.root, ...entry.sourceObjectId.split('/'));
    try {
      await stat(file);
    } catch (err) {
      throw fsError(err, `file ${entry.path}`);
    }
    return createReadStream(file);
  }

  async read(entry: SourceEntry, maxBytes: number): Promise<Buffer | null> {
    const file = path.join(this.config.root, ...entry.sourceObjectId.split('/'));
    // At most one byte past the listed size (or maxBytes): a file longer than listed is streamed.
    const want = Math.min(Math.max(0, entry.size), maxBytes) + 1;
    try {
      return await this.io.run(
        () => {
          // Never blocks: a FIFO opens at once (and is left to open(), as any file that is not regular).
          const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
          try {
            if (!fstatSync(fd).isFile()) return null;
            const buf = Buffer.allocUnsafe(want);
            let n = 0;
            for (let r = 1; n < want && r > 0; n += r) r = readSync(fd, buf, n, want - n, n);
            return n < want ? buf.subarray(0, n) : null;
          } finally {
            closeSync(fd);
          }
        },
        async () => {
          const handle = await openFile(file, constants.O_RDONLY | constants.O_NONBLOCK);
          try {
            if (!(await handle.stat()).isFile()) return null;
            const buf = Buffer.allocUnsafe(want);
            let n = 0;
            for (let r = 1; n < want && r > 0; n += r) r = (await handle.read(buf, n, want - n, n)).bytesRead;
            return n < want ? buf.subarray(0, n) : null;
          } finally {
            await handle.close();
          }
        },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code === 'EISDIR') return null; // open() says what it is
      throw fsError(err, `file ${entry.path}`);
    }
  }

  async test(
    sourcePath = '',
  ): Promise<{ success: boolean; message: string; details: Record<string, unknown> }> {
    try {
      const base = await this.base(sourcePath);
      const st = await stat(base);
      if (!st.isDirectory()) return { success: false, message: `${base} is not a folder`, details: {} };
      return { success: true, message: `folder ${base} is readable`, details: { root: this.config.root } };
    } catch (err) {
      return { success: false, message: (err as Error).message, details: {} };
    }
  }
}

function fileEntry(fromRoot: string, relPath: string, st: Stats): SourceEntry {
  return {
    sourceObjectId: fromRoot ? `${fromRoot}/${relPath}` : relPath,
    path: relPath,
    name: relPath.split('/').at(-1)!,
    size: st.size,
    modifiedAt: st.mtime.toISOString(),
    version: `${Math.trunc(st.mtimeMs)}-${st.size}`,
    metadata: {},
  };
}
