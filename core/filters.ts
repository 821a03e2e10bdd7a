// File filters (FileFilters in the contract): every rule is ANDed. Pure; used by the page activity.
import { minimatch } from 'minimatch';
import mime from 'mime-types';
import type { SourceEntry } from './entry';
import type { FileFilters } from './request-schemas';

export type FilterDecision = { keep: true } | { keep: false; reason: string };

const GLOB_OPTS = { dot: true, nocase: false } as const;

/** A glob without a `/` matches the base name anywhere (like `*.mp4`); one with `/` matches the path. */
function globMatches(pattern: string, entry: SourceEntry): boolean {
  const p = pattern.startsWith('/') ? pattern.slice(1) : pattern;
  if (!p.includes('/')) return minimatch(entry.name, p, GLOB_OPTS);
  if (minimatch(entry.path, p, GLOB_OPTS)) return true;
  // `*/drafts/*` also matches `a/b/drafts/x` and `drafts/x`: try every suffix of the path.
  const parts = entry.path.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (minimatch(parts.slice(i).join('/'), p, GLOB_OPTS)) return true;
  }
  return p.startsWith('*/') && minimatch(entry.path, p.slice(2), GLOB_OPTS);
}

/** MIME type from the provider's content type, else from the extension. */
export function mimeTypeOf(entry: Pick<SourceEntry, 'name' | 'contentType'>): string {
  const given = entry.contentType?.split(';')[0]?.trim().toLowerCase();
  if (given && given !== 'application/octet-stream' && given !== 'binary/octet-stream') return given;
  return mime.lookup(entry.name) || given || 'application/octet-stream';
}

function mimeMatches(wanted: string, actual: string): boolean {
  const w = wanted.toLowerCase();
  if (w.endsWith('/*')) return actual.startsWith(w.slice(0, -1));
  return w === actual;
}

/** Reads `a.b[0].c` from an object. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const raw of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(raw);
    if (!m) return undefined;
    const [, key, indexes] = m;
    if (key) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[key];
    }
    for (const idx of indexes.match(/\d+/g) ?? []) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[Number(idx)];
    }
  }
  return cur;
}

function compare(a: unknown, b: unknown): number | null {
  const na = typeof a === 'number' ? a : typeof a === 'string' && a.trim() !== '' ? Number(a) : NaN;
  const nb = typeof b === 'number' ? b : typeof b === 'string' && b.trim() !== '' ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

function looseEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === undefined || b === null) return false;
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  // Scalars compare as text, so "5" equals 5 and "true" equals true.
  return JSON.stringify(a).replace(/^"|"$/g, '') === JSON.stringify(b).replace(/^"|"$/g, '');
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (Array.isArray(haystack)) return haystack.some((h) => looseEquals(h, needle));
  if (typeof haystack === 'string') {
    if (typeof needle !== 'string' && typeof needle !== 'number') return false;
    return haystack.includes(String(needle));
  }
  if (haystack && typeof haystack === 'object' && typeof needle === 'string') return needle in haystack;
  return false;
}

export function metadataFilterMatches(
  metadata: Record<string, unknown>,
  f: { field: string; operator: string; value?: unknown },
): boolean {
  const actual = getPath(metadata, f.field);
  switch (f.operator) {
    case 'exists': {
      const present = actual !== undefined && actual !== null;
      return f.value === false ? !present : present;
    }
    case 'equals':
      return looseEquals(actual, f.value);
    case 'not_equals':
      return !looseEquals(actual, f.value);
    case 'contains':
      return contains(actual, f.value);
    case 'not_contains':
      return !contains(actual, f.value);
    case 'gt':
    case 'lt':
    case 'gte':
    case 'lte': {
      const c = compare(actual, f.value);
      if (c === null) return false;
      return f.operator === 'gt'
        ? c > 0
        : f.operator === 'lt'
          ? c < 0
          : f.operator === 'gte'
            ? c >= 0
            : c <= 0;
    }
    default:
      return false;
  }
}

/**
 * Whether the filters read what only a whole entry carries (its content type, its metadata): then a
 * lazy listing's partial entries cannot be judged by them, and the listing is not lazy.
 */
export function filtersNeedDetails(filters: FileFilters | null | undefined): boolean {
  return (filters?.mime_types?.length ?? 0) > 0 || (filters?.metadata_filters?.length ?? 0) > 0;
}

/** Compiled once per page: regexes and lowered lists are built once, then applied to every entry. */
export function compileFilters(
  filters: FileFilters | null | undefined,
  /** The sync's sync_from: only files modified after it are kept (the backlog before it is skipped). */
  syncFrom?: string | null,
): (entry: SourceEntry) => FilterDecision {
  const f = filters ?? {};
  const from = syncFrom ? Date.parse(syncFrom) : undefined;
  const patterns = (f.patterns ?? []).map((p) => new RegExp(p));
  const extensions = (f.extensions ?? []).map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
  const after = f.modified_after ? Date.parse(f.modified_after) : undefined;
  const before = f.modified_before ? Date.parse(f.modified_before) : undefined;

  return (entry) => {
    if (f.include_patterns?.length && !f.include_patterns.some((p) => globMatches(p, entry)))
      return { keep: false, reason: 'include_patterns' };
    if (f.exclude_patterns?.some((p) => globMatches(p, entry)))
      return { keep: false, reason: 'exclude_patterns' };
    if (f.min_size_bytes !== undefined && entry.size < f.min_size_bytes)
      return { keep: false, reason: 'min_size_bytes' };
    if (f.max_size_bytes !== undefined && entry.size > f.max_size_bytes)
      return { keep: false, reason: 'max_size_bytes' };
    const mtime = Date.parse(entry.modifiedAt);
    if (from !== undefined && !(mtime > from)) return { keep: false, reason: 'sync_from' };
    if (after !== undefined && !(mtime >= after)) return { keep: false, reason: 'modified_after' };
    if (before !== undefined && !(mtime <= before)) return { keep: false, reason: 'modified_before' };
    if (f.mime_types?.length) {
      const actual = mimeTypeOf(entry);
      if (!f.mime_types.some((m) => mimeMatches(m, actual))) return { keep: false, reason: 'mime_types' };
    }
    if (extensions.length && !extensions.some((e) => entry.name.toLowerCase().endsWith(e)))
      return { keep: false, reason: 'extensions' };
    if (patterns.length && !patterns.some((r) => r.test(entry.name)))
      return { keep: false, reason: 'patterns' };
    for (const mf of f.metadata_filters ?? []) {
      if (!metadataFilterMatches(entry.metadata, mf))
        return { keep: false, reason: `metadata_filters.${mf.field}` };
    }
    return { keep: true };
  };
}
