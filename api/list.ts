// The contract's list format: `POST <collection>/list` (and GET <collection>) with limit/offset/
// include_total -> {results, pagination, total}.
import type { Collection, Document, Filter, Sort } from 'mongodb';
import { z } from 'zod';
import { queryInt } from '../core/request-schemas';
import { parse } from './errors';

/** An opaque cursor: the offset of the next page (base64url JSON), as `next_cursor` hands it out. */
const encodeCursor = (offset: number) => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
function decodeCursor(cursor: string): number | null {
  try {
    const o = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown })?.o;
    return typeof o === 'number' && Number.isSafeInteger(o) && o >= 0 ? o : null;
  } catch {
    return null;
  }
}

export const listQuerySchema = z.object({
  limit: queryInt(1, 1000, 100, 'page size'),
  offset: queryInt(0, 10000, 0, 'results to skip'),
  cursor: z
    .string()
    .max(200)
    .refine((c) => decodeCursor(c) !== null, 'not a cursor this API handed out')
    .optional()
    .meta({ description: 'next_cursor of the previous page (wins over offset)' }),
  include_total: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false)
    .meta({ default: 'false', description: 'fill total, total_pages (costs a count)' }),
});

export async function listPage<T extends Document>(
  coll: Collection<T>,
  filter: Filter<T> | Record<string, unknown>,
  rawQuery: unknown,
  serialize: (doc: T) => unknown,
  sort: Sort = { created_at: -1, _id: -1 },
) {
  const q = parse(listQuerySchema, rawQuery, 'query');
  const offset = q.cursor ? decodeCursor(q.cursor)! : q.offset;
  const docs = (await coll
    .find(filter as Filter<T>)
    .sort(sort)
    .skip(offset)
    .limit(q.limit)
    .toArray()) as T[];
  const total = q.include_total ? await coll.countDocuments(filter as Filter<T>) : null;
  const page = Math.floor(offset / q.limit) + 1;
  const totalPages = total === null ? null : Math.ceil(total / q.limit);
  const hasNext = total === null ? docs.length === q.limit : offset + docs.length < total;
  return {
    results: docs.map(serialize),
    pagination: {
      total,
      page,
      page_size: q.limit,
      total_pages: totalPages,
      next_page: hasNext ? page + 1 : null,
      previous_page: page > 1 ? page - 1 : null,
      next_cursor: hasNext ? encodeCursor(offset + docs.length) : null,
    },
    total,
  };
}

/** Drops storage-only fields from a document before it is returned. */
export function publicFields<T extends Document>(doc: T, hidden: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (k !== '_id' && !hidden.includes(k)) out[k] = v;
  return out;
}
