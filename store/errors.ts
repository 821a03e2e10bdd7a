// Store errors that say "try again shortly" rather than "this request is wrong": the API answers
// them 503 + Retry-After instead of 500.
import {
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoErrorLabel,
} from 'mongodb';

/** FerretDB's SQLite backend surfaces lock contention as a server error carrying SQLite's text. */
const SQLITE_BUSY = /SQLITE_BUSY|SQLITE_LOCKED|database (table )?is locked/i;

/**
 * MongoDB / FerretDB trouble that is transient: the network or server selection failed, the server
 * labelled the error retryable (RetryableWriteError, TransientTransactionError), or FerretDB's
 * SQLite was busy. Follows `cause` a few levels (the driver and our code wrap errors).
 */
export function isTransientStoreError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (e instanceof MongoNetworkError || e instanceof MongoServerSelectionError) return true;
    if (e instanceof MongoError) {
      if (
        e.hasErrorLabel(MongoErrorLabel.RetryableWriteError) ||
        e.hasErrorLabel(MongoErrorLabel.TransientTransactionError)
      )
        return true;
      // The driver's connection-pool wait timed out: the store is overloaded.
      if (e.name === 'MongoWaitQueueTimeoutError') return true;
      if (e instanceof MongoServerError && SQLITE_BUSY.test(e.message)) return true;
    }
    e = e.cause;
  }
  return false;
}
