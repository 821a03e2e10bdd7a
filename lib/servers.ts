// Starting the real servers this project runs on: used by `npm run dev` and by the test suite.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export type Tools = Partial<Record<string, string>>;

/** Runs scripts/provision.sh (builds what is missing, once) and returns the tool paths it printed. */
export function provisionTools(projectRoot: string, only: string[] = []): Tools {
  const out = execFileSync('bash', [path.join(projectRoot, 'scripts/provision.sh'), ...only], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tools: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) tools[m[1]] = m[2];
  }
  return tools;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`process exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Started {
  child: ChildProcess;
  port: number;
  stop: () => Promise<void>;
}

/** Stops a child: SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
export function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** FerretDB with its SQLite backend, state in `dataDir`. */
export async function startFerretDB(
  bin: string,
  dataDir: string,
  port: number,
  log: 'inherit' | 'ignore' = 'ignore',
): Promise<Started> {
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir.endsWith('/') ? dataDir : `${dataDir}/`}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      `--state-dir=${dataDir}`,
      '--log-level=warn',
    ],
    { stdio: ['ignore', log, log] },
  );
  await waitForPort(port, 30_000, child);
  return { child, port, stop: stopper(child) };
}

/** `temporal server start-dev` with SQLite state in `dbFile`, our search attributes, and the Web UI. */
export async function startTemporalDev(
  bin: string,
  opts: {
    dbFile: string;
    port: number;
    uiPort: number;
    searchAttributeArgs: string[];
    log?: 'inherit' | 'ignore';
  },
): Promise<Started> {
  mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const child = spawn(
    bin,
    [
      'server',
      'start-dev',
      '--db-filename',
      opts.dbFile,
      '--ip',
      '127.0.0.1',
      '--port',
      String(opts.port),
      '--ui-port',
      String(opts.uiPort),
      '--log-level',
      'warn',
      ...opts.searchAttributeArgs,
    ],
    { stdio: ['ignore', opts.log ?? 'ignore', opts.log ?? 'ignore'] },
  );
  await waitForPort(opts.port, 60_000, child);
  return { child, port: opts.port, stop: stopper(child) };
}
