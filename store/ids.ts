import { randomBytes } from 'node:crypto';

export type IdPrefix =
  'org' | 'ns' | 'key' | 'conn' | 'bkt' | 'sync' | 'obj' | 'btch' | 'task' | 'col' | 'run';

/** `<prefix>_<16 random hex chars>`, e.g. `sync_3f9a…`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}
