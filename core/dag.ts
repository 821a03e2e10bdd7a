// Which collections a batch of a bucket's objects runs through, tier by tier (pure).
//
// Tier 0: collections that read from the bucket. Tier n+1: collections that read from a collection
// of tier <= n (a collection runs once every collection it reads from has run, so its tier is the
// longest path from the bucket). Collections that do not reach back to the bucket are not run.

export interface CollectionSource {
  collection_id: string;
  source: { type: 'bucket'; bucket_ids: string[] } | { type: 'collection'; collection_ids: string[] };
}

export function planTiers(
  collections: CollectionSource[],
  bucketId: string,
  /**
   * A sync's batch_collection_ids: only these of the collections reading the bucket run (tier 0);
   * collections downstream of them still follow. null / absent: every one.
   */
  only?: readonly string[] | null,
): string[][] {
  const tierOf = new Map<string, number>();
  for (const c of collections)
    if (
      c.source.type === 'bucket' &&
      c.source.bucket_ids.includes(bucketId) &&
      (!only || only.includes(c.collection_id))
    )
      tierOf.set(c.collection_id, 0);
  // Relax until stable; bounded by the number of collections, so a cycle cannot loop forever.
  for (let round = 0; round < collections.length; round++) {
    let changed = false;
    for (const c of collections) {
      if (c.source.type !== 'collection') continue;
      const ups = c.source.collection_ids.map((id) => tierOf.get(id)).filter((t) => t !== undefined);
      if (ups.length === 0) continue;
      const tier = Math.max(...ups) + 1;
      if (tier >= collections.length) continue; // only a cycle can go this deep
      if ((tierOf.get(c.collection_id) ?? -1) < tier) {
        tierOf.set(c.collection_id, tier);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const tiers: string[][] = [];
  for (const [id, t] of [...tierOf.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    (tiers[t] ??= []).push(id);
  }
  return tiers.filter((t) => t !== undefined);
}

/** Splits ids into chunks of at most `size`. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + Math.max(1, size)));
  return out;
}
