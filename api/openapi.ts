// GET /openapi.json (OpenAPI 3.1, generated from the zod schemas the routes validate with) and
// GET /docs (a self-contained HTML page rendered from that document: no scripts, no CDN).
import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import type { Express } from 'express';
import { z } from 'zod';
import { errorModel } from './responses';
import { registeredRoutes, routeTable, pathParams, type Method } from './route';

extendZodWithOpenApi(z);

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed JSON, or a missing namespace',
  401: 'Missing or unknown API key',
  404: 'Unknown id (or another tenant’s), unknown namespace, or unknown route',
  405: 'The path exists with other methods (see the Allow header)',
  409: 'Conflicts with the current state',
  413: 'Body over 1 MB',
  415: 'Body is not JSON',
  429: 'Too many requests (notification endpoints); retry later',
  422: 'Validation failed: details.issues [{loc, msg, type}] name the fields',
  503: 'Workflow service (Temporal) or database unreachable; retry after Retry-After seconds',
};

const toOpenApiPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

let cached: { doc: Record<string, unknown>; routes: number } | null = null;

/** The document for this app; routes registered without `route()` appear with a minimal entry. */
export function openApiDocument(app: Express): Record<string, unknown> {
  const registered = registeredRoutes(app).filter((r) => r.path.startsWith('/v1/'));
  if (cached && cached.routes === registered.length + routeTable.size) return cached.doc;

  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key: `Authorization: Bearer sk_…`',
  });
  const nsHeader = registry.registerParameter(
    'XNamespace',
    z.string().openapi({
      param: {
        name: 'X-Namespace',
        in: 'header',
        required: false,
        description:
          'Namespace id (ns_…) or name; or send ?namespace=. Required on every /v1 route but the ' +
          'organization-level /v1/organizations/… ones (storage connections), where it is ignored.',
      },
    }),
  );
  const nsQuery = registry.registerParameter(
    'NamespaceQuery',
    z.string().openapi({
      param: { name: 'namespace', in: 'query', required: false, description: 'Instead of X-Namespace' },
    }),
  );
  const errorResponse = (status: number) => ({
    description: ERROR_TEXT[status] ?? 'Error',
    content: { 'application/json': { schema: errorModel } },
    ...(status === 503 || status === 405
      ? {
          headers: {
            [status === 503 ? 'Retry-After' : 'Allow']: {
              schema: { type: 'string' as const },
              description: status === 503 ? 'seconds' : 'allowed methods',
            },
          },
        }
      : {}),
  });

  const documented = new Set<string>();
  for (const r of routeTable.values()) {
    documented.add(`${r.method.toUpperCase()} ${r.path}`);
    const params = z.object(Object.fromEntries(r.params.map((p) => [p, z.string()])));
    const config: RouteConfig = {
      method: r.method,
      path: toOpenApiPath(r.path),
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      security: [{ bearerAuth: [] }],
      request: {
        ...(r.params.length ? { params } : {}),
        query: (r.query instanceof z.ZodObject ? r.query : z.object({})).extend({ namespace: nsQuery }),
        headers: [nsHeader],
        ...(r.body
          ? { body: { required: r.bodyRequired, content: { 'application/json': { schema: r.body } } } }
          : {}),
      },
      responses: {
        [r.status]: {
          description: 'Success',
          ...(r.response ? { content: { 'application/json': { schema: r.response } } } : {}),
        },
        ...Object.fromEntries(r.errors.map((s) => [s, errorResponse(s)])),
      },
    };
    registry.registerPath(config);
  }
  // Routes mounted without route(): listed, so the document never hides an endpoint.
  for (const r of registered) {
    if (documented.has(`${r.method} ${r.path}`) || r.method === 'HEAD') continue;
    documented.add(`${r.method} ${r.path}`);
    const params = pathParams(r.path);
    if (r.path.startsWith('/v1/notifications/')) {
      // Change notifications from storage services (api/notifications.ts, api/push-notifications.ts):
      // authenticated by the channel's secret, not an API key; every refusal is the same 401.
      registry.registerPath({
        method: r.method.toLowerCase() as Method,
        path: toOpenApiPath(r.path),
        summary: `Change notifications (${r.path.split('/')[3]}) for event-driven syncs`,
        tags: ['notifications'],
        security: [],
        ...(params.length
          ? { request: { params: z.object(Object.fromEntries(params.map((p) => [p, z.string()]))) } }
          : {}),
        responses: {
          200: { description: 'Accepted (or a validation handshake answered)' },
          202: { description: 'Accepted, handled later' },
          204: { description: 'Nothing to announce' },
          ...Object.fromEntries([400, 401, 413, 415, 429].map((st) => [st, errorResponse(st)])),
        },
      });
      continue;
    }
    registry.registerPath({
      method: r.method.toLowerCase() as Method,
      path: toOpenApiPath(r.path),
      summary: `${r.method} ${r.path}`,
      tags: ['other'],
      security: [{ bearerAuth: [] }],
      'x-undocumented': true,
      request: {
        ...(params.length
          ? { params: z.object(Object.fromEntries(params.map((p) => [p, z.string()]))) }
          : {}),
        query: z.object({ namespace: nsQuery }),
        headers: [nsHeader],
      },
      responses: { 200: { description: 'Success' }, 401: errorResponse(401) },
    });
  }

  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'bucket-syncs API',
      version: '1.0.0',
      description:
        'Mixpeek-compatible Bucket Syncs API: buckets, storage connections, syncs, objects and analytics. ' +
        'Every /v1 request needs `Authorization: Bearer <api key>` and, except /v1/organizations/…, a ' +
        'namespace (X-Namespace or ?namespace=). Creates answer 200, as Mixpeek does. Errors: {success: ' +
        'false, status, error: {message, type, details}}. Lists: limit / page_size (1–1000, 100), offset ' +
        '(0–10000) or page, cursor -> {results, pagination, total} (total always counted).',
    },
    servers: [{ url: '/' }],
  }) as unknown as Record<string, unknown>;
  cached = { doc, routes: registered.length + routeTable.size };
  return doc;
}

// --- /docs --------------------------------------------------------------------------------------

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** JSON with `$ref`s turned into links to the schema's section. */
function schemaHtml(schema: unknown): string {
  const text = esc(JSON.stringify(schema, null, 2));
  return `<pre>${text.replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g,
    (_m, name: string) => `&quot;<a href="#schema-${name}">#/components/schemas/${name}</a>&quot;`,
  )}</pre>`;
}

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: {
    name?: string;
    in?: string;
    required?: boolean;
    description?: string;
    schema?: unknown;
    $ref?: string;
  }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

/** A readable, self-contained page: every path, method, parameter, request and response schema. */
export function docsHtml(doc: Record<string, unknown>): string {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Operation>>;
  const components = (doc.components ?? {}) as {
    schemas?: Record<string, unknown>;
    parameters?: Record<string, Operation['parameters'] extends (infer P)[] | undefined ? P : never>;
  };
  const info = doc.info as { title: string; version: string; description?: string };
  const ops: string[] = [];
  const toc: string[] = [];
  let n = 0;
  for (const [p, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const id = `op-${n++}`;
      toc.push(
        `<li><a href="#${id}"><code class="m m-${esc(method)}">${esc(method.toUpperCase())}</code> <code>${esc(p)}</code></a> ${esc(op.summary ?? '')}</li>`,
      );
      const params = (op.parameters ?? []).map((prm) => {
        const ref = prm.$ref?.split('/').pop();
        const q = ref ? (components.parameters?.[ref] ?? prm) : prm;
        return `<tr><td><code>${esc(q.name)}</code></td><td>${esc(q.in)}</td><td>${q.required ? 'yes' : 'no'}</td><td>${esc(q.description ?? '')}</td><td>${schemaHtml(q.schema ?? {})}</td></tr>`;
      });
      const body = op.requestBody?.content?.['application/json']?.schema;
      const responses = Object.entries(op.responses ?? {}).map(
        ([status, r]) =>
          `<tr><td>${esc(status)}</td><td>${esc(r.description ?? '')}</td><td>${
            r.content?.['application/json']?.schema ? schemaHtml(r.content['application/json'].schema) : ''
          }</td></tr>`,
      );
      ops.push(`<section class="op" id="${id}">
<h3><code class="m m-${esc(method)}">${esc(method.toUpperCase())}</code> <code>${esc(p)}</code></h3>
<p>${esc(op.summary ?? '')}${op.description ? `<br>${esc(op.description)}` : ''}</p>
${params.length ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>description</th><th>schema</th></tr>${params.join('')}</table>` : ''}
${body ? `<h4>Request body${op.requestBody?.required ? '' : ' (optional)'}</h4>${schemaHtml(body)}` : ''}
<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>${responses.join('')}</table>
</section>`);
    }
  }
  const schemas = Object.entries(components.schemas ?? {}).map(
    ([name, s]) => `<section id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaHtml(s)}</section>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#222}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace}pre{background:#f6f8fa;padding:.5rem;overflow:auto;max-height:28rem;margin:0}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3rem;vertical-align:top;text-align:left}
.op{border-top:2px solid #eee;padding-top:.5rem;margin-top:1rem}.m{font-weight:bold;padding:0 .3rem;border-radius:3px;color:#fff}
.m-get{background:#2b7bb9}.m-post{background:#2e9a4a}.m-patch{background:#c78a00}.m-delete{background:#c0392b}.m-put{background:#7d3c98}
ul{padding-left:1.2rem}li{margin:.1rem 0}
</style></head><body>
<h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description ?? '')}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2>Endpoints</h2><ul>${toc.join('\n')}</ul>
${ops.join('\n')}
<h2>Schemas</h2>
${schemas.join('\n')}
</body></html>`;
}
