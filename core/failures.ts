// What a failure says, for workflows that record why something failed (sync runs, batches).

/**
 * The message of a failure: Temporal wraps what went wrong in an ActivityFailure (or a
 * ChildWorkflowFailure) whose own message says only that; the cause says what happened.
 */
export function errorMessage(err: unknown): string {
  let e: unknown = err;
  while (
    e instanceof Error &&
    (e.name === 'ActivityFailure' || e.name === 'ChildWorkflowFailure') &&
    e.cause instanceof Error
  )
    e = e.cause;
  return e instanceof Error ? e.message : String(err);
}
