// `npm run dev`: the whole service on an embedded default, state in ./.data/.
// Starts the Temporal dev server (Web UI on :8233) and FerretDB unless TEMPORAL_ADDRESS /
// MONGODB_URI point elsewhere, then the worker and the API, and prints where everything is.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createOrgNamespaceKey } from '../api/auth';
import { loadEnv, ConfigError } from '../config/env';
import { SEARCH_ATTRIBUTE_ARGS } from '../core/search-attributes';
import { provisionTools, startFerretDB, startTemporalDev, waitForPort, type Started } from '../lib/servers';
import { Store } from '../store';

const ROOT = path.resolve(__dirname, '../..');
const DATA = path.join(ROOT, '.data');

function say(msg: string) {
  process.stdout.write(`dev: ${msg}\n`);
}

async function main() {
  mkdirSync(DATA, { recursive: true });
  const tools = provisionTools(ROOT, ['temporal', 'ferretdb']);
  const stops: (() => Promise<void>)[] = [];
  const children: ChildProcess[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping...');
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())),
    );
    for (const s of stops.reverse()) await s().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  // The secrets key: generated once, kept in .data (production sets SECRETS_KEY).
  const keyFile = path.join(DATA, 'secrets.key');
  if (!process.env.SECRETS_KEY && !existsSync(keyFile))
    writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const secretsKey = process.env.SECRETS_KEY ?? readFileSync(keyFile, 'utf8').trim();

  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    const port = Number(process.env.DEV_MONGODB_PORT ?? 27017);
    say(`starting FerretDB (SQLite in .data/ferretdb) on 127.0.0.1:${port}`);
    const f: Started = await startFerretDB(
      tools.FERRETDB_PATH!,
      path.join(DATA, 'ferretdb'),
      port,
      'inherit',
    );
    stops.push(f.stop);
    mongoUri = `mongodb://127.0.0.1:${port}/`;
  }
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const port = Number(process.env.DEV_TEMPORAL_PORT ?? 7233);
    const uiPort = Number(process.env.DEV_TEMPORAL_UI_PORT ?? 8233);
    say(
      `starting the Temporal dev server (state in .data/temporal.db) on 127.0.0.1:${port}, Web UI :${uiPort}`,
    );
    const t = await startTemporalDev(tools.TEMPORAL_CLI_PATH!, {
      dbFile: path.join(DATA, 'temporal.db'),
      port,
      uiPort,
      searchAttributeArgs: SEARCH_ATTRIBUTE_ARGS,
      log: 'inherit',
    });
    stops.push(t.stop);
    temporalAddress = `127.0.0.1:${port}`;
  }

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: mongoUri,
    TEMPORAL_ADDRESS: temporalAddress,
    SECRETS_KEY: secretsKey,
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

  for (const [name, script] of [
    ['worker', 'dist/worker/index.js'],
    ['api', 'dist/api/server.js'],
  ]) {
    const c = spawn(process.execPath, [path.join(ROOT, script)], { env: childEnv, stdio: 'inherit' });
    c.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal ?? code}); stopping everything`);
        void shutdown(1);
      }
    });
    children.push(c);
  }
  await waitForPort(env.PORT, 30_000, children[1]);

  const uiPort = process.env.DEV_TEMPORAL_UI_PORT ?? 8233;
  process.stdout.write(
    [
      '',
      '  bucket-syncs is running',
      `  API          http://localhost:${env.PORT}`,
      process.env.TEMPORAL_ADDRESS
        ? `  Temporal     ${temporalAddress}`
        : `  Temporal UI  http://localhost:${uiPort}`,
      `  API key      ${creds.api_key}`,
      `  Namespace    ${creds.namespace_id} (name "default")`,
      '',
      `  try: curl -s -X POST http://localhost:${env.PORT}/v1/buckets -H "Authorization: Bearer ${creds.api_key}" \\`,
      `         -H "X-Namespace: default" -H "Content-Type: application/json" -d '{"bucket_name":"demo"}'`,
      '  Ctrl-C stops everything; data stays in ./.data for the next start.',
      '',
    ].join('\n') + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`dev failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
