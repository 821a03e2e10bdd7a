// The contract's list format: `POST <collection>/list` (and GET <collection>) with limit/offset/
// include_total -> {results, pagination, total}.
import type { Collection, Document, Filter, Sort } from 'mongodb';
import { z } from 'zod';
import { queryInt } from '../core/request-schemas';
import { parse } from './errors';

/**
 * An opaque cursor (base64url JSON), as `next_cursor` hands it out: the offset of the next page and,
 * for a list read in key order (a bucket's objects: store/object-order.ts), the key it ends at.
 */
interface Cursor {
  offset: number;
  afterKey?: string;
}
const encodeCursor = (c: Cursor) =>
  Buffer.from(JSON.stringify(c.afterKey ? { o: c.offset, k: c.afterKey } : { o: c.offset })).toString(
    'base64url',
  );
function decodeCursor(cursor: string): Cursor | null {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; k?: unknown };
    if (typeof c?.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0) return null;
    if (c.k === undefined) return { offset: c.o };
    return typeof c.k === 'string' && /^[A-Za-z0-9_|-]{1,120}$/.test(c.k)
      ? { offset: c.o, afterKey: c.k }
      : null;
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
    .meta({ description: 'next_cursor of the previous page (wins over offset and page)' }),
  include_total: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false)
    .meta({ default: 'false', description: 'accepted for Mixpeek’s clients: total is always counted' }),
  // Mixpeek's SDK sends these names too.
  page_size: z.coerce.number().int().min(1).max(1000).optional().meta({ description: 'alias of limit' }),
  page: z.coerce.number().int().min(1).max(10001).optional().meta({
    type: 'integer',
    minimum: 1,
    description: '1-based page of `limit` results (instead of offset)',
  }),
  next_cursor: z
    .string()
    .max(200)
    .refine((c) => decodeCursor(c) !== null, 'not a cursor this API handed out')
    .optional()
    .meta({ description: 'alias of cursor' }),
  after: z
    .string()
    .max(200)
    .refine((c) => decodeCursor(c) !== null, 'not a cursor this API handed out')
    .optional()
    .meta({ description: 'alias of cursor' }),
});

/** Paging given in a list request's body (Mixpeek's list requests carry it there too). */
export interface BodyPaging {
  limit?: number | null;
  page_size?: number | null;
  offset?: number | null;
  page?: number | null;
}

export async function listPage<T extends Document>(
  coll: Collection<T>,
  filter: Filter<T> | Record<string, unknown>,
  rawQuery: unknown,
  serialize: (doc: T) => unknown,
  sort: Sort = { created_at: -1, _id: -1 },
  body: BodyPaging = {},
) {
  const { limit, offset } = pagingOf(rawQuery, body);
  const docs = (await coll
    .find(filter as Filter<T>)
    .sort(sort)
    .skip(offset)
    .limit(limit)
    .toArray()) as T[];
  // Always counted: Mixpeek's clients require an integer total.
  const total = await coll.countDocuments(filter as Filter<T>);
  return pageOf(docs.map(serialize), total, limit, offset);
}

/**
 * limit and offset of a list request: query first, then its body; a cursor wins over offset/page
 * (and carries the key a list in key order goes on after).
 */
export function pagingOf(
  rawQuery: unknown,
  body: BodyPaging = {},
): { limit: number; offset: number; afterKey?: string } {
  const q = parse(listQuerySchema, rawQuery, 'query');
  const given = rawQuery as Record<string, unknown>;
  const limit =
    given.limit !== undefined ? q.limit : (q.page_size ?? body.limit ?? body.page_size ?? q.limit);
  const cursor = q.cursor ?? q.next_cursor ?? q.after;
  const page = q.page ?? body.page ?? null;
  const decoded = cursor ? decodeCursor(cursor)! : null;
  const offset = decoded
    ? decoded.offset
    : given.offset !== undefined
      ? q.offset
      : page !== null
        ? (page - 1) * limit
        : (body.offset ?? q.offset);
  return decoded?.afterKey ? { limit, offset, afterKey: decoded.afterKey } : { limit, offset };
}

/**
 * The list envelope for one page of already-serialized results. `known`: a list that read one past
 * its page says whether more follow (and the key its next page starts after); its total, from a
 * snapshot (store/bucket-stats.ts), is then kept consistent with what was read.
 */
export function pageOf(
  results: unknown[],
  counted: number,
  limit: number,
  offset: number,
  known?: { hasNext: boolean; afterKey: string | null },
) {
  const page = Math.floor(offset / limit) + 1;
  const seen = offset + results.length;
  const hasNext = known ? known.hasNext : seen < counted;
  // A snapshot may lag the list: never fewer than what was read, exact on the last page.
  const total = !known
    ? counted
    : hasNext
      ? Math.max(counted, seen + 1)
      : results.length > 0 || offset === 0
        ? seen
        : counted;
  const next: Cursor = { offset: seen, ...(known?.afterKey ? { afterKey: known.afterKey } : {}) };
  return {
    results,
    pagination: {
      total,
      page,
      page_size: limit,
      total_pages: Math.ceil(total / limit),
      // Page numbers as text: Mixpeek's PaginationResponse types them as strings.
      next_page: hasNext ? String(page + 1) : null,
      previous_page: page > 1 ? String(page - 1) : null,
      next_cursor: hasNext ? encodeCursor(next) : null,
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
