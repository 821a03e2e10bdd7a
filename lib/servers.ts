// Starting the real servers this project runs on: used by `npm run dev` and by the test suite.
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export type Tools = Partial<Record<string, string>>;

/** Runs scripts/provision.sh (builds what is missing, once) and returns the tool paths it printed. */
export function provisionTools(projectRoot: string, only: string[] = []): Tools {
  const out = execFileSync('bash', [path.join(projectRoot, 'scripts/provision.sh'), ...only], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseTools(out);
}

/**
 * Runs scripts/provision.sh without blocking: its `provision: …` progress lines go to `onProgress`,
 * everything else it prints on stderr (a Go build's output) to `logFile`; returns the tool paths.
 */
export function provisionToolsAsync(
  projectRoot: string,
  only: string[],
  opts: { onProgress: (line: string) => void; logFile: string },
): Promise<Tools> {
  return new Promise((resolve, reject) => {
    const log = openLog(opts.logFile);
    const child = spawn('bash', [path.join(projectRoot, 'scripts/provision.sh'), ...only], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errTail = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('provision: ')) opts.onProgress(line.slice('provision: '.length));
        else {
          errTail = (errTail + line + '\n').slice(-2000);
          writeSync(log, line + '\n');
        }
      }
    });
    child.once('error', reject);
    child.once('close', (code) => {
      closeSync(log);
      if (code !== 0)
        return reject(
          new Error(`scripts/provision.sh exited with ${code}; see ${opts.logFile}\n${errTail.trim()}`),
        );
      resolve(parseTools(out));
    });
  });
}

function parseTools(out: string): Tools {
  const tools: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) tools[m[1]] = m[2];
  }
  return tools;
}

/** Where a server's output goes: the terminal, nowhere, or appended to a file. */
export type LogTarget = 'inherit' | 'ignore' | { file: string };

function openLog(file: string): number {
  mkdirSync(path.dirname(file), { recursive: true });
  return openSync(file, 'a');
}

/** stdio for a child: the file is opened for the spawn and closed in the parent right after. */
function stdioFor(log: LogTarget, ipc = false): { stdio: StdioOptions; done: () => void } {
  const extra: 'ipc'[] = ipc ? ['ipc'] : [];
  if (typeof log === 'string') return { stdio: ['ignore', log, log, ...extra], done: () => undefined };
  const fd = openLog(log.file);
  return { stdio: ['ignore', fd, fd, ...extra], done: () => closeSync(fd) };
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
  log: LogTarget = 'ignore',
): Promise<Started> {
  mkdirSync(dataDir, { recursive: true });
  const io = stdioFor(log);
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
    { stdio: io.stdio },
  );
  io.done();
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
    log?: LogTarget;
  },
): Promise<Started> {
  mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const io = stdioFor(opts.log ?? 'ignore');
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
    { stdio: io.stdio },
  );
  io.done();
  await waitForPort(opts.port, 60_000, child);
  return { child, port: opts.port, stop: stopper(child) };
}

/** A node script of this project as a child process, output to `log`, with an IPC channel. */
export async function startNodeScript(
  script: string,
  opts: { env: NodeJS.ProcessEnv; log: LogTarget; port?: number; nodeFlags?: readonly string[] },
): Promise<Started> {
  const io = stdioFor(opts.log, true);
  // The IPC channel: the child exits when it closes (this process died, even by SIGKILL).
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), script], {
    env: opts.env,
    stdio: io.stdio,
  });
  io.done();
  if (opts.port !== undefined) await waitForPort(opts.port, 120_000, child);
  return { child, port: opts.port ?? 0, stop: stopper(child) };
}

export type SupervisorEvent =
  | { kind: 'exited'; name: string; code: number | null; signal: string | null; restartInMs: number }
  | { kind: 'restarted'; name: string; pid: number | undefined; attempt: number }
  | { kind: 'restart-failed'; name: string; error: string };

/**
 * Keeps one server running: when its process exits (and `stop` was not called) it is started again
 * after a backoff (1 s doubling to 30 s; back to 1 s once it ran a minute). `start` is the same
 * function that started it the first time.
 */
export class Supervised {
  current: Started | null = null;
  private stopping = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<unknown> | null = null;

  constructor(
    readonly name: string,
    private readonly start: () => Promise<Started>,
    private readonly onEvent: (e: SupervisorEvent) => void,
  ) {}

  /** Starts it the first time (errors propagate). */
  async run(): Promise<Started> {
    const s = await this.start();
    this.watch(s);
    return s;
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  private watch(s: Started) {
    this.current = s;
    const startedAt = Date.now();
    s.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (Date.now() - startedAt > 60_000) this.attempt = 0;
      const delay = Math.min(30_000, 1000 * 2 ** this.attempt);
      this.attempt += 1;
      this.onEvent({ kind: 'exited', name: this.name, code, signal, restartInMs: delay });
      this.schedule(delay);
    });
  }

  private schedule(delay: number) {
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopping) return;
      this.pending = this.start().then(
        (s) => {
          if (this.stopping) return s.stop();
          this.watch(s);
          this.onEvent({ kind: 'restarted', name: this.name, pid: s.child.pid, attempt: this.attempt });
          return undefined;
        },
        (err: unknown) => {
          this.onEvent({
            kind: 'restart-failed',
            name: this.name,
            error: err instanceof Error ? err.message : String(err),
          });
          const next = Math.min(30_000, 1000 * 2 ** this.attempt);
          this.attempt += 1;
          this.schedule(next);
        },
      );
    }, delay);
  }

  /** No more restarts (a Ctrl-C reaches every process of the terminal's group at once). */
  hold(): void {
    this.stopping = true;
  }

  /** Stops it for good: no restart; SIGTERM, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.current) await this.current.stop();
    // A restart in flight: its process is stopped as soon as it is up (see schedule).
    if (this.pending) await this.pending.catch(() => undefined);
  }
}
