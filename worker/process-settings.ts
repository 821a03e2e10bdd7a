// How a worker process is started: the Node flags and environment it runs with, in one place for
// `npm run dev` (scripts/dev.ts), the worker processes of tests and benchmarks, and `npm run
// start:worker` (package.json spells them out; test/unit/worker-process-settings.test.ts keeps it in step).
//
// They bound the worker's memory (README, Limits): measured on a 20,020-file sync, RSS after start
// 212 -> ~170 MB and the peak 334–384 -> 192–197 MB (README, Benchmarks).
// - V8's young generation: semi-spaces of 2 MB instead of 16 in each isolate (the main thread and the
//   workflow thread). A page's garbage is short-lived either way; it is collected more often.
// - V8's old generation grows by 25% past what the last full collection kept, instead of the factor
//   of up to 4 it picks for a fast collector with a large limit: a pass's garbage (pages' entries,
//   documents, prepared objects) no longer piles up to 175 MB of heap before it is collected.
// - glibc's malloc arenas: 2 instead of 8 per core. The Temporal core's and libuv's threads otherwise
//   each grow an arena of their own, and RSS creeps up with fragments nobody uses.

/** Node flags of a worker process. */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=25'];

/** Environment a worker process starts with (read by the C library before any code runs). */
export const WORKER_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
