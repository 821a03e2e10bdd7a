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
