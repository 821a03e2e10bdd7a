// One server span per API request, named by method and express route pattern
// (`POST /v1/buckets/:bucket_id/syncs`, `unmatched` when no route answered), made the active
// context for everything the request does, so the Temporal client's start and signal spans (and the
// workflow after them) are its children. Only method, route, path and status are recorded: never
// a header, the query or the body.
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

export function requestSpans(tracer: Tracer): RequestHandler {
  return (req, res, next) => {
    const span = tracer.startSpan(`${req.method}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.path },
    });
    const ctx = trace.setSpan(context.active(), span);
    // Body parsing resumes the chain from the socket's events: bind them to the request's context.
    context.bind(ctx, req);
    context.bind(ctx, res);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : 'unmatched';
      span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(ctx, next);
  };
}
