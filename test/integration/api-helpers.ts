// Shared by the api-*.test.ts files: HTTP calls that record every response (so the secrets test can
// prove no credential ever comes back), error-format assertions, extra tenants, local connections.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { createOrgNamespaceKey } from '../../api/auth';
import { writeFiles } from '../helpers';
import type { Stack } from '../setup/stack';

export interface Res<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** Who calls: an API key and a namespace (id or name); the stack's default tenant when absent. */
export interface Who {
  key: string;
  ns: string;
}

export interface CallOptions {
  who?: Who;
  /** Extra headers; a null value drops a default header (authorization, x-namespace). */
  headers?: Record<string, string | null>;
  /** A raw body, sent as is (with content-type application/json unless headers say otherwise). */
  raw?: string | Buffer;
  /** Another API instance. */
  base?: string;
}

const recorded: { what: string; text: string; headers: string }[] = [];
const secrets = new Set<string>();

/** A unique secret value; every recorded response is checked never to contain it. */
export function secret(label: string): string {
  const v = `${label}-${randomBytes(12).toString('hex')}`;
  secrets.add(v);
  return v;
}

export function trackSecret(v: string): string {
  secrets.add(v);
  return v;
}

export const recordedCount = () => recorded.length;

/** Responses (body or headers) that contain a registered secret. */
export function leaks(): string[] {
  const out: string[] = [];
  for (const r of recorded)
    for (const sct of secrets)
      if (r.text.includes(sct) || r.headers.includes(sct)) out.push(`${r.what}: ${sct}`);
  return out;
}

export async function api<T = any>(
  s: Stack,
  method: string,
  p: string,
  body?: unknown,
  opts: CallOptions = {},
): Promise<Res<T>> {
  const hasBody = body !== undefined || opts.raw !== undefined;
  const headers: Record<string, string> = {
    authorization: `Bearer ${opts.who?.key ?? s.apiKey}`,
    'x-namespace': opts.who?.ns ?? s.namespaceId,
    ...(hasBody ? { 'content-type': 'application/json' } : {}),
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const res = await fetch(`${opts.base ?? s.apiUrl}${p}`, {
    method,
    headers,
    body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  recorded.push({ what: `${method} ${p} -> ${res.status}`, text, headers: JSON.stringify([...res.headers]) });
  return { status: res.status, body: parsed as T, text, headers: res.headers };
}

/** The one error format, with this status (and type, and an issue at `loc` when given). */
export function assertError(r: Res, status: number, type?: string, loc?: (string | number)[]): void {
  const ctx = `${status} expected, got ${r.status}: ${r.text.slice(0, 600)}`;
  assert.equal(r.status, status, ctx);
  assert.equal(typeof r.body, 'object', ctx);
  assert.equal(r.body.success, false, ctx);
  assert.equal(r.body.status, status, ctx);
  assert.equal(typeof r.body.error?.message, 'string', ctx);
  assert.equal(typeof r.body.error?.type, 'string', ctx);
  assert.ok(r.body.error.details === null || typeof r.body.error.details === 'object', ctx);
  if (type) assert.equal(r.body.error.type, type, ctx);
  if (loc) {
    const issues: { loc: unknown[]; msg: string; type: string }[] = r.body.error.details?.issues ?? [];
    assert.ok(issues.length > 0, ctx);
    for (const i of issues) {
      assert.ok(Array.isArray(i.loc) && typeof i.msg === 'string' && typeof i.type === 'string', ctx);
    }
    assert.ok(
      issues.some((i) => JSON.stringify(i.loc) === JSON.stringify(loc)),
      `no issue at ${JSON.stringify(loc)}: ${JSON.stringify(issues)}`,
    );
  }
}

/** Any answer but a 5xx; errors in the error format. */
export function assertHandled(r: Res, what: string): void {
  assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 400)}`);
  if (r.status >= 400) assertError(r, r.status);
}

/** The response matches the documented (zod) response model. */
export function assertModel(model: z.ZodType, body: unknown, what = 'response'): void {
  const r = model.safeParse(body);
  assert.ok(
    r.success,
    `${what} does not match its model: ${r.success ? '' : JSON.stringify(r.error.issues)}`,
  );
}

/** A new organization + namespace (or a new namespace of an existing organization) and an API key. */
export async function tenant(
  s: Stack,
  org: string,
  ns: string,
): Promise<Who & { internal_id: string; ns_id: string }> {
  const t = await createOrgNamespaceKey(s.store, {
    orgName: org,
    namespaceName: ns,
    keyName: `${org}-${ns}`,
  });
  return { key: t.api_key, ns: t.namespace_id, internal_id: t.internal_id, ns_id: t.namespace_id };
}

export const unique = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

/** A folder with files and a `local` connection over it. */
export async function localConnection(
  s: Stack,
  files: Record<string, string> = {},
  opts: { who?: Who; name?: string } = {},
): Promise<{ folder: string; connectionId: string; name: string }> {
  const folder = mkdtempSync(path.join(s.tmp, 'api-src-'));
  writeFiles(folder, files);
  const name = opts.name ?? unique('local');
  const r = await api(
    s,
    'POST',
    '/v1/organizations/connections',
    { name, provider_type: 'local', provider_config: { root: folder } },
    { who: opts.who },
  );
  assert.equal(r.status, 200, r.text);
  return { folder, connectionId: r.body.connection_id, name };
}

export async function bucket(s: Stack, who?: Who, name = unique('bkt')): Promise<string> {
  const r = await api(s, 'POST', '/v1/buckets', { bucket_name: name }, { who });
  assert.equal(r.status, 200, r.text);
  return r.body.bucket_id;
}

export async function sync(
  s: Stack,
  bucketId: string,
  body: Record<string, unknown>,
  who?: Who,
): Promise<string> {
  const r = await api(
    s,
    'POST',
    `/v1/buckets/${bucketId}/syncs`,
    { polling_interval_seconds: 900, ...body },
    { who },
  );
  assert.equal(r.status, 200, r.text);
  return r.body.sync_config_id;
}

/** Polls a sync until `pred` holds; fails with the last state. */
export async function until(
  s: Stack,
  bucketId: string,
  syncId: string,
  pred: (x: any) => boolean,
  opts: { who?: Who; timeoutMs?: number } = {},
): Promise<any> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: any;
  for (;;) {
    const r = await api(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`, undefined, { who: opts.who });
    last = r.body;
    if (r.status === 200 && pred(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`sync ${syncId} never got there; last: ${JSON.stringify(last)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

// Checked once more after the whole run (a root hook), whatever order the files ran in.
after(function () {
  const found = leaks();
  if (found.length > 0) throw new Error(`secrets in responses:\n${found.join('\n')}`);
});
