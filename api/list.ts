// The contract's list format: `POST <collection>/list` (and GET <collection>) with limit/offset/
// include_total -> {results, pagination, total}.
import type { Collection, Document, Filter, Sort } from 'mongodb';
import { z } from 'zod';
import { parse } from './errors';

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(10000).default(0),
  cursor: z.string().max(200).optional(),
  include_total: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  namespace: z.string().optional(),
});

export async function listPage<T extends Document>(
  coll: Collection<T>,
  filter: Filter<T> | Record<string, unknown>,
  rawQuery: unknown,
  serialize: (doc: T) => unknown,
  sort: Sort = { created_at: -1, _id: -1 },
) {
  const q = parse(listQuerySchema, rawQuery, 'query');
  const docs = (await coll
    .find(filter as Filter<T>)
    .sort(sort)
    .skip(q.offset)
    .limit(q.limit)
    .toArray()) as T[];
  const total = q.include_total ? await coll.countDocuments(filter as Filter<T>) : null;
  const page = Math.floor(q.offset / q.limit) + 1;
  const totalPages = total === null ? null : Math.ceil(total / q.limit);
  const hasNext = total === null ? docs.length === q.limit : q.offset + docs.length < total;
  return {
    results: docs.map(serialize),
    pagination: {
      total,
      page,
      page_size: q.limit,
      total_pages: totalPages,
      next_page: hasNext ? page + 1 : null,
      previous_page: page > 1 ? page - 1 : null,
      next_cursor: null,
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
