// The API's one error format: {"success": false, "status", "error": {"message", "type", "details"}}.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import { isTransientStoreError } from '../store/errors';

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = '5';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly details: Record<string, unknown> | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, `${what} ${id} not found`, 'NotFoundError');

export function errorBody(
  status: number,
  message: string,
  type: string,
  details: Record<string, unknown> | null,
) {
  return { success: false, status, error: { message, type, details } };
}

/** zod issues -> `details.issues: [{loc, msg, type}]`, loc starting with where the value came from. */
export function validationError(err: z.ZodError, where: 'body' | 'query' | 'path'): ApiError {
  const issues = err.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({
        loc: [where, ...i.path, k],
        msg: `unknown field "${k}"`,
        type: 'extra_forbidden',
      }));
    return [{ loc: [where, ...i.path], msg: i.message, type: i.code }];
  });
  const first = issues[0];
  const message = first ? `validation failed: ${first.loc.join('.')}: ${first.msg}` : 'validation failed';
  return new ApiError(422, message, 'ValidationError', { issues });
}

export function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query' | 'path',
): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, where);
  return r.data;
}

export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, `no route ${req.method} ${req.path}`, 'NotFoundError'));
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err?.type === 'entity.parse.failed')
      e = new ApiError(400, 'request body is not valid JSON', 'BadRequestError');
    else if (err?.type === 'entity.too.large')
      e = new ApiError(413, 'request body is too large', 'PayloadTooLargeError');
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500)
      e = new ApiError(
        err.status,
        String(err.message ?? 'bad request'),
        err.status === 415 ? 'UnsupportedMediaTypeError' : 'BadRequestError',
      );
    else if (isTransientStoreError(err)) {
      // The database is unreachable or busy for a moment: the client should retry, not report a bug.
      log.warn({ err, method: req.method, path: req.path }, 'store unavailable');
      e = new ApiError(
        503,
        `database unavailable: ${String((err as Error).message ?? err)}`,
        'ServiceUnavailableError',
        null,
        { 'Retry-After': RETRY_AFTER_SECONDS },
      );
    } else {
      log.error({ err, method: req.method, path: req.path }, 'unhandled error');
      e = new ApiError(500, 'internal error', 'InternalError');
    }
    for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    res.status(e.status).json(errorBody(e.status, e.message, e.type, e.details));
  };
}
