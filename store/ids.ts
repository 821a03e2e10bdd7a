import { createHash, randomBytes } from 'node:crypto';

export type IdPrefix =
  'org' | 'ns' | 'key' | 'conn' | 'bkt' | 'sync' | 'obj' | 'btch' | 'task' | 'col' | 'run';

/** `<prefix>_<16 random hex chars>`, e.g. `sync_3f9a…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** A document's id (= its `_id`): one document per (collection, object), so reprocessing replaces it. */
export function documentKey(collectionId: string, objectId: string): string {
  return `doc_${createHash('sha256').update(`${collectionId}\u0000${objectId}`).digest('hex').slice(0, 24)}`;
}

/**
 * The public id of a synced object, derived from its storage key (`_id`, `o_<64 hex>` from the
 * idempotency key, see store/objects.ts): `obj_<the same 64 hex>`. So `GET …/objects/{object_id}`
 * is an `_id` lookup, and a retried page mints the same id. (Objects synced before this rule have
 * random `obj_<16 hex>` ids; the API still finds them, by a query that scans on FerretDB.)
 */
export function syncedObjectId(key: string): string {
  if (!/^o_[0-9a-f]{64}$/.test(key)) throw new Error(`not a synced object key: ${key}`);
  return `obj_${key.slice(2)}`;
}

/** The `_id` an object with this public id has, when the id says it: synced `o_<hex>`, else API `o_api_<id>`. */
export function objectKeyOf(objectId: string): string {
  return /^obj_[0-9a-f]{64}$/.test(objectId) ? `o_${objectId.slice(4)}` : `o_api_${objectId}`;
}

/** Whether objectKeyOf is the only place an object with this id can be (no legacy random id). */
export const isDerivedObjectId = (objectId: string): boolean => /^obj_[0-9a-f]{64}$/.test(objectId);
