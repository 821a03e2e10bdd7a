// The sync's manifest: what its passes saw, one document per page (store/seen-files.ts). Two uses:
// - the fast path: the last completed pass that listed everything (`passId`) says which files the
//   sync holds at which version, so a page looks up only the entries that differ from it;
// - the sweep: while `complete`, the kept documents together hold every object of the sync, so the
//   sweep deletes what they hold and this pass did not see, by `_id`, instead of scanning the
//   objects collection.
// What happens to it at the end of a run is decided here (pure); the activity applies it.

export interface ManifestState {
  /** The last completed pass that listed everything (its documents are the fast path); null: none. */
  passId: string | null;
  /** The kept documents cover every object of the sync (the sweep may use them). */
  complete: boolean;
}

/** A sync that never completed a pass has no objects yet: its documents are trivially complete. */
export function initialManifest(hasCompletedPass: boolean): ManifestState {
  return { passId: null, complete: !hasCompletedPass };
}

export interface RunEndFacts {
  passId: string;
  /** The pass's listing reached its end in this run (not failed, not cut). */
  passComplete: boolean;
  failed: boolean;
  /** The run may sweep deletes (complete, listed everything, never cut). */
  sweep: boolean;
  /** reconcile.on_delete. */
  onDelete: boolean;
  /** A pass over announced ids (event-driven): it saw only those. */
  targeted: boolean;
  /** Every page listed everything (no server-side modified filter, no delta token). */
  listedAll: boolean;
  /** A full pass asked for (full_sync; not a sync's first pass): its sweep verifies by scanning. */
  full: boolean;
}

export interface ManifestStep {
  /** How the run sweeps: by the manifest's documents, by scanning the sync's objects, or not. */
  sweep: 'manifest' | 'scan' | 'none';
  /** Drop the documents of other passes (after the sweep). */
  dropEarlier: boolean;
  next: ManifestState;
}

export function manifestStep(prior: ManifestState, f: RunEndFacts): ManifestStep {
  // A failed or cut run: the pass goes on; nothing changes.
  if (f.failed || !f.passComplete) return { sweep: 'none', dropEarlier: false, next: prior };
  if (f.sweep && f.onDelete)
    return {
      sweep: prior.complete && !f.full ? 'manifest' : 'scan',
      dropEarlier: true,
      // What survived the sweep is exactly what this pass saw.
      next: { passId: f.passId, complete: true },
    };
  // Deletes are off: the objects of files gone stay, and only earlier documents name them. Keeping
  // every pass's documents would grow without end, so they go and the next sweep scans.
  if (f.sweep) return { sweep: 'none', dropEarlier: true, next: { passId: f.passId, complete: false } };
  // Announced ids only: these documents add to the others until the next sweep.
  if (f.targeted) return { sweep: 'none', dropEarlier: false, next: prior };
  // Listed everything but was cut along the way (no sweep): the next pass's fast path.
  if (f.listedAll) return { sweep: 'none', dropEarlier: false, next: { ...prior, passId: f.passId } };
  // An incremental listing (changes since): deletes come from the listing; earlier documents go.
  return { sweep: 'none', dropEarlier: true, next: { passId: null, complete: false } };
}
