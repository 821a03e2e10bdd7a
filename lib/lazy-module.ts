// Provider SDKs load on first use, not when the worker or the API starts: a worker that syncs local
// folders never pays for googleapis (~100 MB resident once loaded) or snowflake-sdk (~60 MB).
// Types still come from static `import type`, which emits nothing.

/** `load` runs once, on the first call; later calls return what it returned. */
export function lazyModule<T>(load: () => T): () => T {
  let loaded: { m: T } | null = null;
  return () => (loaded ??= { m: load() }).m;
}
