// `npm run dev`: the whole service on an embedded default, state in ./.data/ (or DEV_DATA_DIR).
// Starts the Temporal dev server (Web UI on :8233) and FerretDB unless TEMPORAL_ADDRESS /
// MONGODB_URI point elsewhere, then the worker and the API. Their own output goes to
// .data/logs/<name>.log; the terminal shows only what a user needs. A process that dies is
// started again (and says so); Ctrl-C (or SIGTERM) stops every one of them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createOrgNamespaceKey } from '../api/auth';
import { loadEnv, ConfigError } from '../config/env';
import { SEARCH_ATTRIBUTE_ARGS } from '../core/search-attributes';
import {
  provisionToolsAsync,
  startFerretDB,
  startNodeScript,
  startTemporalDev,
  Supervised,
  type SupervisorEvent,
} from '../lib/servers';
import { Store } from '../store';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../worker/process-settings';

const ROOT = path.resolve(__dirname, '../..');
const DATA = path.resolve(process.env.DEV_DATA_DIR ?? path.join(ROOT, '.data'));
const LOGS = path.join(DATA, 'logs');

function say(msg: string) {
  process.stdout.write(`dev: ${msg}\n`);
}

const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

function onSupervisorEvent(e: SupervisorEvent) {
  const log = path.join(LOGS, `${e.name}.log`);
  if (e.kind === 'exited')
    say(
      `${e.name} exited (${e.signal ?? `code ${e.code}`}); restarting in ${secs(e.restartInMs)} (its log: ${log})`,
    );
  else if (e.kind === 'restarted') say(`${e.name} restarted (pid ${e.pid})`);
  else say(`${e.name} failed to restart: ${e.error}; trying again`);
  writePids();
}

const supervised: Supervised[] = [];

/** The running processes' pids, for tools and tests: <data>/logs/pids.json. */
function writePids() {
  const pids = Object.fromEntries(supervised.map((s) => [s.name, s.pid ?? null]));
  // Written whole, then renamed: a reader never sees half a file.
  writeFileSync(path.join(LOGS, 'pids.json.tmp'), JSON.stringify(pids, null, 2));
  renameSync(path.join(LOGS, 'pids.json.tmp'), path.join(LOGS, 'pids.json'));
}

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping...');
    for (const s of supervised) s.hold();
    // The API and the worker first, then the servers they use. Each: SIGTERM, SIGKILL after 10 s.
    for (const s of [...supervised].reverse()) await s.stop().catch(() => undefined);
    say('stopped');
  }
  process.exit(code);
}

async function main() {
  mkdirSync(LOGS, { recursive: true });
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));

  // Tools: a first run builds them with Go; say what and for how long.
  const building = new Map<string, number>();
  const ticker = setInterval(() => {
    for (const [what, since] of building) say(`still building ${what} (${secs(Date.now() - since)} so far)`);
  }, 30_000);
  const provisionStart = Date.now();
  const tools = await provisionToolsAsync(ROOT, ['temporal', 'ferretdb'], {
    logFile: path.join(LOGS, 'provision.log'),
    onProgress: (line) => {
      const b = /^building (\S+) into/.exec(line);
      if (b) {
        building.set(b[1], Date.now());
        say(`building ${b[1]} with Go (first run only, a few minutes; output in .data/logs/provision.log)`);
        return;
      }
      const done = /^built (\S+)/.exec(line);
      if (done) {
        const entry = [...building.entries()][0];
        if (entry) building.delete(entry[0]);
        say(`built ${done[1]} in ${secs(Date.now() - (entry?.[1] ?? provisionStart))}`);
        return;
      }
      say(line);
    },
  }).finally(() => clearInterval(ticker));

  // The secrets key: generated once, kept in .data (production sets SECRETS_KEY).
  const keyFile = path.join(DATA, 'secrets.key');
  if (!process.env.SECRETS_KEY && !existsSync(keyFile))
    writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const secretsKey = process.env.SECRETS_KEY ?? readFileSync(keyFile, 'utf8').trim();

  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    const port = Number(process.env.DEV_MONGODB_PORT ?? 27017);
    const ferret = new Supervised(
      'ferretdb',
      () =>
        startFerretDB(tools.FERRETDB_PATH!, path.join(DATA, 'ferretdb'), port, {
          file: path.join(LOGS, 'ferretdb.log'),
        }),
      onSupervisorEvent,
    );
    supervised.push(ferret);
    const t0 = Date.now();
    await ferret.run();
    say(`FerretDB up on 127.0.0.1:${port} in ${secs(Date.now() - t0)}`);
    mongoUri = `mongodb://127.0.0.1:${port}/`;
  }
  const uiPort = Number(process.env.DEV_TEMPORAL_UI_PORT ?? 8233);
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const port = Number(process.env.DEV_TEMPORAL_PORT ?? 7233);
    const temporal = new Supervised(
      'temporal',
      () =>
        startTemporalDev(tools.TEMPORAL_CLI_PATH!, {
          dbFile: path.join(DATA, 'temporal.db'),
          port,
          uiPort,
          searchAttributeArgs: SEARCH_ATTRIBUTE_ARGS,
          log: { file: path.join(LOGS, 'temporal.log') },
        }),
      onSupervisorEvent,
    );
    supervised.push(temporal);
    const t0 = Date.now();
    await temporal.run();
    say(`Temporal dev server up on 127.0.0.1:${port} in ${secs(Date.now() - t0)}`);
    temporalAddress = `127.0.0.1:${port}`;
  }

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: mongoUri,
    TEMPORAL_ADDRESS: temporalAddress,
    SECRETS_KEY: secretsKey,
    BLOB_DIR: process.env.BLOB_DIR ?? path.join(DATA, 'blobs'),
  };
  let env;
  try {
    env = loadEnv(childEnv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return shutdown(2);
    }
    throw err;
  }

  // The development API key and namespace: created once, the same on every start.
  const credsFile = path.join(DATA, 'dev-credentials.json');
  const saved = existsSync(credsFile)
    ? (JSON.parse(readFileSync(credsFile, 'utf8')) as { api_key: string })
    : null;
  const store = await Store.connect(env.MONGODB_URI, env.MONGODB_DB);
  const creds = await createOrgNamespaceKey(store, {
    orgName: 'dev',
    namespaceName: 'default',
    keyName: 'dev',
    key: saved?.api_key,
  });
  await store.close();
  writeFileSync(
    credsFile,
    JSON.stringify({ api_key: creds.api_key, namespace_id: creds.namespace_id }, null, 2),
    { mode: 0o600 },
  );

  say('starting the worker (bundles the workflow code: ~20 s) and the API');
  const t0 = Date.now();
  const worker = new Supervised(
    'worker',
    () =>
      startNodeScript(path.join(ROOT, 'dist/worker/index.js'), {
        env: { ...childEnv, ...WORKER_PROCESS_ENV },
        nodeFlags: WORKER_NODE_FLAGS,
        log: { file: path.join(LOGS, 'worker.log') },
      }),
    onSupervisorEvent,
  );
  const api = new Supervised(
    'api',
    () =>
      startNodeScript(path.join(ROOT, 'dist/api/server.js'), {
        env: childEnv,
        log: { file: path.join(LOGS, 'api.log') },
        port: env.PORT,
      }),
    onSupervisorEvent,
  );
  supervised.push(worker, api);
  await Promise.all([worker.run(), api.run()]);
  writePids();

  const relative = path.relative(process.cwd(), DATA);
  const rel = relative === '' ? '.' : relative.startsWith('..') ? DATA : relative;
  process.stdout.write(
    [
      '',
      `  bucket-syncs is running (API up in ${secs(Date.now() - t0)})`,
      `  API          http://localhost:${env.PORT}`,
      `  Dashboard    http://localhost:${env.PORT}/ui`,
      process.env.TEMPORAL_ADDRESS
        ? `  Temporal     ${temporalAddress}`
        : `  Temporal UI  http://localhost:${uiPort}`,
      `  API key      ${creds.api_key}`,
      `  Namespace    ${creds.namespace_id} (name "default")`,
      `  Logs         ${path.join(rel, 'logs')}/{api,worker,temporal,ferretdb}.log`,
      '',
      `  try: curl -s -X POST http://localhost:${env.PORT}/v1/buckets -H "Authorization: Bearer ${creds.api_key}" \\`,
      `         -H "X-Namespace: default" -H "Content-Type: application/json" -d '{"bucket_name":"demo"}'`,
      `  Ctrl-C stops everything; data stays in ${rel} for the next start.`,
      '',
    ].join('\n') + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`dev failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  void shutdown(1);
});
