// One declaration per endpoint: the express route, its zod validation (path, query, body) and its
// OpenAPI entry come from the same object, so the document cannot drift from what is enforced.
import type { Express, Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import { storableJsonSchema } from '../core/request-schemas';
import { tenantOf, type AuthContext } from './auth';
import { ApiError, parse } from './errors';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<Q, B> {
  req: Request;
  res: Response;
  t: AuthContext;
  params: Record<string, string>;
  query: Q;
  body: B;
}

export interface RouteSpec<Q extends z.ZodType | undefined, B extends z.ZodType | undefined> {
  method: Method;
  /** Express syntax: `/v1/buckets/:bucket_id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  query?: Q;
  body?: B;
  /** The body may be left out (then it is validated as `{}`). */
  bodyOptional?: boolean;
  /** Success status (200 by default). */
  status?: number;
  /** Documented success body; null for none. */
  response: z.ZodType | null;
  /** Error statuses this route answers besides the ones every route can (401, 404, 422...). */
  errors?: number[];
  handler: (ctx: RouteContext<Out<Q>, Out<B>>) => Promise<unknown>;
}

/** What the OpenAPI document needs to know about a route (handlers stay out of it). */
export interface RouteDoc {
  method: Method;
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params: string[];
  query?: z.ZodType;
  body?: z.ZodType;
  bodyRequired: boolean;
  status: number;
  response: z.ZodType | null;
  errors: number[];
}

/** Every route declared through `route()`, by `METHOD path` (the same for every app instance). */
export const routeTable = new Map<string, RouteDoc>();

export const pathParams = (path: string) => [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);

/**
 * Declares a /v1 route: registers it on the router and in the route table. The handler gets the
 * caller's tenant and the validated query and body, and returns the JSON to answer.
 */
export function route<
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(router: Router, spec: RouteSpec<Q, B>): void {
  const params = pathParams(spec.path);
  const errors = new Set([401, ...(params.length ? [404] : []), ...(spec.errors ?? [])]);
  if (spec.query || spec.body) errors.add(422);
  if (spec.body) [400, 413, 415].forEach((s) => errors.add(s));
  routeTable.set(`${spec.method.toUpperCase()} ${spec.path}`, {
    method: spec.method,
    path: spec.path,
    tag: spec.tag,
    summary: spec.summary,
    description: spec.description,
    params,
    query: spec.query,
    body: spec.body,
    bodyRequired: !!spec.body && !spec.bodyOptional,
    status: spec.status ?? 200,
    response: spec.response,
    errors: [...errors].sort(),
  });
  const handler: RequestHandler = async (req, res) => {
    const t = tenantOf(req);
    const query = spec.query ? parse(spec.query, req.query, 'query') : undefined;
    let body: unknown;
    if (spec.body) {
      let raw: unknown = req.body;
      if (raw === undefined) {
        const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || !!req.headers['transfer-encoding'];
        if (hasBody)
          throw new ApiError(
            415,
            'request body must be JSON (Content-Type: application/json)',
            'UnsupportedMediaTypeError',
          );
        if (spec.bodyOptional) raw = {};
      }
      parse(storableJsonSchema, raw, 'body');
      body = parse(spec.body, raw, 'body');
    }
    const values: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.params)) values[k] = String(v);
    const result = await spec.handler({
      req,
      res,
      t,
      params: values,
      query: query as Out<Q>,
      body: body as Out<B>,
    });
    res.status(spec.status ?? 200).json(result);
  };
  router[spec.method](spec.path, handler);
}

// --- walking express's router: every route actually registered, and which methods a path has ----

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
  rawPath?: unknown;
  matchers?: ((p: string) => { path: string } | false)[];
}

function stackOf(app: Express): Layer[] {
  return (app as unknown as { router: { stack: Layer[] } }).router?.stack ?? [];
}

/** Every (method, path) registered on the app, mounted routers included. */
export function registeredRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths)
          for (const m of Object.keys(layer.route.methods))
            if (m !== '_all') out.push({ method: m.toUpperCase(), path: prefix + p });
      } else if (layer.handle?.stack) {
        const mount = layer.slash || typeof layer.rawPath !== 'string' ? '' : layer.rawPath;
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk(stackOf(app), '');
  return out;
}

/** Methods the app has for this path (empty when no route matches it). */
export function allowedMethods(app: Express, path: string): string[] {
  const found = new Set<string>();
  const walk = (stack: Layer[], p: string) => {
    for (const layer of stack) {
      const matchers = layer.matchers ?? [];
      if (layer.route) {
        if (matchers.some((m) => m(p)))
          for (const m of Object.keys(layer.route.methods)) if (m !== '_all') found.add(m.toUpperCase());
      } else if (layer.handle?.stack) {
        if (layer.slash) walk(layer.handle.stack, p);
        else {
          const hit = matchers.map((m) => m(p)).find((h) => h !== false);
          if (hit) walk(layer.handle.stack, p.slice(hit.path.length) || '/');
        }
      }
    }
  };
  walk(stackOf(app), path);
  if (found.has('GET')) found.add('HEAD');
  return [...found].sort();
}

/** Last handler: a known path with another method is a 405 with Allow, anything else a 404. */
export function unmatched(app: Express): RequestHandler {
  return (req, _res, next) => {
    const allow = allowedMethods(app, req.path);
    if (allow.length > 0)
      next(
        new ApiError(
          405,
          `method ${req.method} is not allowed on ${req.path} (allowed: ${allow.join(', ')})`,
          'MethodNotAllowedError',
          { allowed: allow },
          { Allow: allow.join(', ') },
        ),
      );
    else next(new ApiError(404, `no route ${req.method} ${req.path}`, 'NotFoundError'));
  };
}
