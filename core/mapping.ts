// Schema mapping (SchemaMapping in the contract): provider data -> object fields and blobs. Pure.
import type { SourceEntry } from './entry';
import { getPath } from './filters';
import type { SchemaMapping } from './request-schemas';

export class MappingError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'MappingError';
  }
}

export interface BlobSpec {
  property: string;
  type: string;
  mimeTypeOverride?: string;
  /** `file`: the file's bytes; otherwise the mapped value is the blob's inline content. */
  fromFile: boolean;
  value?: unknown;
}

export interface MappedObject {
  fields: Record<string, unknown>;
  blobs: BlobSpec[];
}

type Source = NonNullable<NonNullable<SchemaMapping['mappings']>[string]>['source'];

const DEFAULT_BLOB: BlobSpec = { property: 'content', type: 'auto', fromFile: true };

function folders(entry: SourceEntry): string[] {
  const parts = entry.path.split('/').filter(Boolean);
  return parts.slice(0, -1);
}

export function resolveSource(source: Source, entry: SourceEntry): unknown {
  const md = entry.metadata ?? {};
  switch (source.type) {
    case 'tag': {
      const tags = md.tags;
      if (Array.isArray(tags)) {
        const hit = tags.find(
          (t) => t && typeof t === 'object' && (t as { key?: unknown }).key === source.key,
        );
        return hit ? (hit as { value?: unknown }).value : undefined;
      }
      return tags && typeof tags === 'object' ? (tags as Record<string, unknown>)[source.key] : undefined;
    }
    case 'metadata':
      return getPath(md, source.key);
    case 'column':
      return md[source.name] ?? getPath(md, source.name);
    case 'drive_property': {
      const props = (md.properties ?? {}) as Record<string, unknown>;
      const appProps = (md.appProperties ?? {}) as Record<string, unknown>;
      return props[source.key] ?? appProps[source.key];
    }
    case 'filename_regex': {
      const m = new RegExp(source.pattern).exec(entry.name);
      return m ? (m[1] ?? m[0]) : source.default;
    }
    case 'folder_path': {
      const f = folders(entry);
      if (source.full_path) return f.join('/');
      if (source.segment === undefined) return f.at(-1);
      return source.segment < 0 ? f[f.length + source.segment] : f[source.segment];
    }
    case 'constant':
      return source.value;
    case 'file':
      return undefined;
  }
}

function transform(value: unknown, how: string | undefined, field: string): unknown {
  if (value === undefined || value === null || !how) return value;
  if (how === 'json_parse') {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      throw new MappingError(`field ${field}: value is not valid JSON`, field);
    }
  }
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  if (how === 'lowercase') return s.toLowerCase();
  if (how === 'uppercase') return s.toUpperCase();
  if (how === 'trim') return s.trim();
  return value;
}

/** Applies the mapping to one listed file; throws MappingError when a required field is missing. */
export function applyMapping(mapping: SchemaMapping | null | undefined, entry: SourceEntry): MappedObject {
  if (!mapping || (!mapping.mappings && !mapping.field_mappings)) {
    return { fields: { ...entry.metadata }, blobs: [DEFAULT_BLOB] };
  }
  const fields: Record<string, unknown> = {};
  const blobs: BlobSpec[] = [];
  for (const [target, m] of Object.entries(mapping.mappings ?? {})) {
    if (m.target_type === 'blob') {
      const fromFile = m.source.type === 'file';
      blobs.push({
        property: m.blob_property ?? target,
        type: m.blob_type,
        mimeTypeOverride: m.mime_type_override,
        fromFile,
        value: fromFile ? undefined : resolveSource(m.source, entry),
      });
      continue;
    }
    if (m.source.type === 'file')
      throw new MappingError(`field ${target}: source "file" is for blob targets only`, target);
    const value = transform(resolveSource(m.source, entry), m.transform, target);
    if (value === undefined || value === null || value === '') {
      if (m.required)
        throw new MappingError(`required field ${target} is missing (source ${m.source.type})`, target);
      continue;
    }
    fields[target] = value;
  }
  // Mixpeek's `field_mappings: {name: {source: "metadata.title"}}` alias.
  const view = { ...entry, metadata: entry.metadata ?? {} };
  for (const [target, m] of Object.entries(mapping.field_mappings ?? {})) {
    const value = getPath(view, m.source);
    if (value !== undefined && value !== null) fields[target] = value;
  }
  return { fields, blobs: blobs.length > 0 ? blobs : [DEFAULT_BLOB] };
}

/** Mixpeek's BucketSchemaFieldType: the blob types its clients accept. */
export const MIXPEEK_BLOB_TYPES = [
  'string',
  'number',
  'integer',
  'float',
  'boolean',
  'object',
  'array',
  'date',
  'datetime',
  'text',
  'image',
  'audio',
  'video',
  'pdf',
  'excel',
] as const;
export type MixpeekBlobType = (typeof MIXPEEK_BLOB_TYPES)[number];

const SPREADSHEET_MIME =
  /^(application\/vnd\.ms-excel|application\/vnd\.openxmlformats-officedocument\.spreadsheetml\.|application\/vnd\.oasis\.opendocument\.spreadsheet|text\/csv|text\/tab-separated-values)/;

/**
 * A blob's type as Mixpeek's clients read it. `auto` (a synced file's default) follows the MIME
 * type: image/video/audio/pdf/excel, else `text` for text-like content (text/*, JSON, XML) and
 * `string` for other bytes (Mixpeek has no binary type). Our own `json` is `object`, `document` is
 * `text`; Mixpeek's types pass through.
 */
export function mixpeekBlobType(type: string, mimeType: string): MixpeekBlobType {
  if ((MIXPEEK_BLOB_TYPES as readonly string[]).includes(type)) return type as MixpeekBlobType;
  if (type === 'json') return 'object';
  if (type === 'document') return 'text';
  const m = mimeType.toLowerCase();
  if (m.startsWith('image/')) return 'image';
  if (m.startsWith('video/')) return 'video';
  if (m.startsWith('audio/')) return 'audio';
  if (m === 'application/pdf') return 'pdf';
  if (SPREADSHEET_MIME.test(m)) return 'excel';
  if (m.startsWith('text/') || /[/+](json|xml|yaml|x-yaml|javascript)$/.test(m)) return 'text';
  return 'string';
}
