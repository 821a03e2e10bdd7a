// HTTP helpers for the integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, type Lane, type Stack } from './setup/stack';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../worker/process-settings';

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = any>(
  s: Stack,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const res = await fetch(`${s.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${s.apiKey}`,
      'x-namespace': s.namespaceId,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** Polls `fn` until it returns a truthy value or the timeout passes; returns the last value. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!last && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    last = await fn();
  }
  return last;
}

export function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}

/** A bucket and a `local` connection over a new temporary folder. */
export async function bucketWithFolder(s: Stack, files: Record<string, string | Buffer> = {}) {
  const folder = mkdtempSync(path.join(s.tmp, 'src-'));
  writeFiles(folder, files);
  const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: `b-${path.basename(folder)}` });
  if (bucket.status !== 200) throw new Error(`bucket: ${JSON.stringify(bucket.body)}`);
  const conn = await http(s, 'POST', '/v1/organizations/connections', {
    name: `local-${path.basename(folder)}`,
    provider_type: 'local',
    provider_config: { root: folder },
  });
  if (conn.status !== 200) throw new Error(`connection: ${JSON.stringify(conn.body)}`);
  return {
    folder,
    bucketId: bucket.body.bucket_id as string,
    connectionId: conn.body.connection_id as string,
  };
}

export async function createSync(s: Stack, bucketId: string, body: Record<string, unknown>): Promise<string> {
  const r = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
    polling_interval_seconds: 900,
    ...body,
  });
  if (r.status !== 200) throw new Error(`create sync: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.sync_config_id as string;
}

export async function getSync(s: Stack, bucketId: string, syncId: string): Promise<any> {
  const r = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}`);
  if (r.status !== 200) throw new Error(`get sync: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Waits until the sync satisfies `pred`; fails with the last state seen. */
export async function waitForSync(
  s: Stack,
  bucketId: string,
  syncId: string,
  pred: (sync: any) => boolean,
  timeoutMs = 60_000,
): Promise<any> {
  let last: any = null;
  const ok = await eventually(async () => {
    last = await getSync(s, bucketId, syncId);
    return pred(last);
  }, timeoutMs);
  if (!ok) throw new Error(`sync ${syncId} did not reach the expected state; last: ${JSON.stringify(last)}`);
  return last;
}

/** Idle after a run: not locked, and has run at least `runs` times. */
export const idleAfter = (runs: number) => (x: any) =>
  x.sync_run_counter >= runs && !x.locked && x.next_sync_at !== null;

/** A worker process for a lane (`lane(s, …, { worker: false })`): one the test can SIGKILL. */
export function startWorker(l: Lane, id: string): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    WORKER_ID: id,
    ...WORKER_PROCESS_ENV,
  };
  for (const [k, v] of Object.entries(l.env)) {
    if (v !== undefined) env[k] = Array.isArray(v) ? v.join(':') : String(v);
  }
  return spawn(process.execPath, [...WORKER_NODE_FLAGS, path.join(PROJECT_ROOT, 'dist/worker/index.js')], {
    env,
    stdio: 'ignore',
  });
}

export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
