// The production deployment (docker-compose.temporal.yml + Dockerfile) agrees with the code: the
// api and worker get exactly the variables config/env.ts reads, the addresses name services that
// exist, and the admin tools register every search attribute the sync workflow upserts. Docker does
// not run here, so these tests read the files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { envSchema, loadEnv, type Env } from '../../config/env';
import { SA_BUCKET_ID, SA_NAMESPACE_ID, SA_SYNC_STATUS } from '../../core/search-attributes';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../worker/process-settings';

const ROOT = path.resolve(__dirname, '../../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.temporal.yml');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const APP_SERVICES = ['api', 'worker'] as const;

type EnvValue = string | number | boolean | null;
interface LongPort {
  target: number | string;
  published?: number | string;
  host_ip?: string;
}
interface Service {
  image?: string;
  build?: unknown;
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  ports?: (string | number | LongPort)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
}
interface Compose {
  services: Record<string, Service>;
}

function loadCompose(): Compose {
  // Compose honours YAML merge keys (`<<: *anchor`); the yaml package needs them switched on.
  const doc = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
  assert.ok(doc && typeof doc.services === 'object', 'the compose file has a services map');
  return doc;
}

function service(compose: Compose, name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `service ${name} is defined`);
  return s;
}

/** A service's environment as written (before interpolation); `undefined` = passed through from the host. */
function rawEnvironment(s: Service): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (Array.isArray(s.environment)) {
    for (const entry of s.environment) {
      const eq = entry.indexOf('=');
      if (eq === -1) out[entry] = undefined;
      else out[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  } else {
    for (const [k, v] of Object.entries(s.environment ?? {})) out[k] = v === null ? undefined : String(v);
  }
  return out;
}

/** Compose variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`. */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const v = vars[name!];
      const missing = colon ? !v : v === undefined;
      if (op === '-') return missing ? arg! : v!;
      if (op === '?') {
        if (missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return v!;
      }
      return v ?? '';
    },
  );
}

/** What a service's process sees, given the operator's shell variables. */
function resolvedEnvironment(s: Service, vars: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawEnvironment(s))) {
    const value = v === undefined ? vars[k] : interpolate(v, vars);
    if (value !== undefined) out[k] = value;
  }
  return out;
}

interface Port {
  hostIp?: string;
  published?: number;
  target: number;
}

/** `ports:` in short (`[ip:]host:container[/proto]`, `container`) or long syntax. */
function ports(s: Service): Port[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') {
      return {
        hostIp: p.host_ip,
        published: p.published === undefined ? undefined : Number(p.published),
        target: Number(p.target),
      };
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = Number(parts.pop());
    const published = parts.length ? Number(parts.pop()) : undefined;
    return { hostIp: parts.length ? parts.join(':') : undefined, published, target };
  });
}

function words(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean);
}

function dependsOn(s: Service): Record<string, string> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']));
  return Object.fromEntries(
    Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v?.condition ?? 'service_started']),
  );
}

/** Variables that config/env.ts has no default for and that are not optional. */
const requiredVariables = Object.entries(envSchema.shape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([name]) => name);

/** The shell variables an operator sets: only the required ones without a value in the file. */
const operatorVars = { SECRETS_KEY: randomBytes(32).toString('hex') };

function appEnv(compose: Compose, name: (typeof APP_SERVICES)[number]): Env {
  return loadEnv(resolvedEnvironment(service(compose, name), operatorVars));
}

describe('docker-compose.temporal.yml', () => {
  let compose: Compose;
  before(() => {
    compose = loadCompose();
  });

  it('defines the production services, each image pinned to a version', () => {
    const expected = [
      'postgresql',
      'temporal',
      'temporal-admin-tools',
      'temporal-ui',
      'mongodb',
      'api',
      'worker',
    ];
    for (const name of expected) service(compose, name);
    for (const name of APP_SERVICES)
      assert.ok(service(compose, name).build, `${name} is built from the Dockerfile`);
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.image) continue;
      const tag = /:([^/]+)$/.exec(s.image)?.[1];
      assert.ok(tag && tag !== 'latest', `${name}: image ${s.image} is pinned to a tag`);
    }
  });

  it('sets on the api and worker only variables config/env.ts declares', () => {
    // Besides config/env.ts: the worker's process environment (worker/process-settings.ts).
    const known = new Set([...Object.keys(envSchema.shape), ...Object.keys(WORKER_PROCESS_ENV)]);
    for (const name of APP_SERVICES) {
      const unknown = Object.keys(rawEnvironment(service(compose, name))).filter((k) => !known.has(k));
      assert.deepEqual(unknown, [], `${name} sets variables config/env.ts does not read`);
    }
  });

  it('sets every variable config/env.ts requires on both the api and the worker', () => {
    assert.ok(requiredVariables.length > 0, 'config/env.ts requires some variables');
    for (const name of APP_SERVICES) {
      const env = rawEnvironment(service(compose, name));
      const missing = requiredVariables.filter((k) => env[k] === undefined || env[k] === '');
      assert.deepEqual(missing, [], `${name} leaves required variables unset`);
    }
  });

  it('takes SECRETS_KEY from the operator: no key in the file, and compose refuses to start without one', () => {
    for (const name of APP_SERVICES) {
      const raw = rawEnvironment(service(compose, name)).SECRETS_KEY;
      assert.match(
        raw ?? '',
        /^\$\{SECRETS_KEY:\?[^}]+\}$/,
        `${name}: SECRETS_KEY uses \${SECRETS_KEY:?message}`,
      );
      assert.throws(() => interpolate(raw!, {}), /required variable SECRETS_KEY/);
      assert.throws(() => interpolate(raw!, { SECRETS_KEY: '' }), /required variable SECRETS_KEY/);
    }
  });

  it('gives the api and worker an environment config/env.ts accepts, the same for both', () => {
    const api = appEnv(compose, 'api');
    const worker = appEnv(compose, 'worker');
    assert.equal(api.SECRETS_KEY, operatorVars.SECRETS_KEY);
    // The worker decrypts what the API encrypted and polls the queue the API starts workflows on.
    for (const key of [
      'MONGODB_URI',
      'MONGODB_DB',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TASK_QUEUE',
      'SECRETS_KEY',
    ] as const) {
      assert.equal(worker[key], api[key], `api and worker agree on ${key}`);
    }
  });

  it('points TEMPORAL_ADDRESS at the temporal service and the frontend port it publishes', () => {
    const temporal = service(compose, 'temporal');
    assert.match(temporal.image ?? '', /^temporalio\/(auto-setup|server):/);
    const temporalPorts = ports(temporal);
    assert.ok(
      temporalPorts.some((p) => p.target === 7233 && p.published === 7233),
      'temporal publishes the frontend port 7233',
    );
    const addresses: Record<string, string | undefined> = {
      api: appEnv(compose, 'api').TEMPORAL_ADDRESS,
      worker: appEnv(compose, 'worker').TEMPORAL_ADDRESS,
      'temporal-admin-tools': rawEnvironment(service(compose, 'temporal-admin-tools')).TEMPORAL_ADDRESS,
      'temporal-ui': rawEnvironment(service(compose, 'temporal-ui')).TEMPORAL_ADDRESS,
    };
    for (const [name, address] of Object.entries(addresses)) {
      assert.equal(address, 'temporal:7233', `${name}: TEMPORAL_ADDRESS`);
      const [host, port] = address.split(':');
      assert.ok(compose.services[host], `${name}: ${host} is a service`);
      assert.ok(
        temporalPorts.some((p) => p.target === Number(port)),
        `${name}: temporal listens on ${port}`,
      );
      assert.ok(dependsOn(service(compose, name))[host], `${name} depends on ${host}`);
    }
  });

  it('points MONGODB_URI at the mongodb service', () => {
    const mongodb = service(compose, 'mongodb');
    assert.match(mongodb.image ?? '', /^mongo:/);
    assert.ok(
      ports(mongodb).some((p) => p.target === 27017 && p.published === 27017),
      'mongodb publishes 27017',
    );
    for (const name of APP_SERVICES) {
      const uri = new URL(appEnv(compose, name).MONGODB_URI);
      assert.equal(uri.hostname, 'mongodb', `${name}: MONGODB_URI host`);
      assert.equal(uri.port || '27017', '27017', `${name}: MONGODB_URI port`);
      assert.ok(dependsOn(service(compose, name)).mongodb, `${name} depends on mongodb`);
    }
  });

  it('publishes the api on the port it listens on', () => {
    const port = appEnv(compose, 'api').PORT;
    const published = ports(service(compose, 'api')).filter((p) => p.target === port);
    assert.equal(published.length, 1, `the api's container port ${port} is published`);
    assert.equal(published[0].published, port);
  });

  it('publishes the Temporal UI on 8233', () => {
    const ui = service(compose, 'temporal-ui');
    assert.match(ui.image ?? '', /^temporalio\/ui:/);
    assert.ok(
      ports(ui).some((p) => p.published === 8233 && p.target === 8080),
      'temporal-ui publishes 8233 -> 8080',
    );
  });

  it('registers every search attribute the workflow upserts, before the api and worker start', () => {
    const admin = service(compose, 'temporal-admin-tools');
    const namespace = appEnv(compose, 'api').TEMPORAL_NAMESPACE;
    const script = [...words(admin.entrypoint), ...words(admin.command)].join('\n').replace(/\\\n/g, ' ');
    // name -> { type, namespace } of every `temporal operator search-attribute create` in the command.
    const created = new Map<string, { type?: string; namespace?: string }>();
    for (const m of script.matchAll(/temporal operator search-attribute create((?:[^\n;&|]|\|(?!\|))*)/g)) {
      const flags: Record<string, string[]> = {};
      for (const f of m[1].matchAll(/--([a-z-]+)[ =](?:"([^"]*)"|'([^']*)'|([^\s"']+))/g)) {
        (flags[f[1]] ??= []).push(f[2] ?? f[3] ?? f[4]);
      }
      (flags.name ?? []).forEach((n, i) =>
        created.set(n, { type: flags.type?.[i], namespace: flags.namespace?.[0] }),
      );
    }
    for (const key of [SA_SYNC_STATUS, SA_BUCKET_ID, SA_NAMESPACE_ID]) {
      const sa = created.get(key.name);
      assert.ok(sa, `the admin tools create search attribute ${key.name}`);
      assert.equal(sa.type?.toUpperCase(), key.type, `${key.name} is created as ${key.type}`);
      assert.equal(sa.namespace, namespace, `${key.name} is created in namespace ${namespace}`);
    }
    for (const name of APP_SERVICES) {
      assert.equal(
        dependsOn(service(compose, name))['temporal-admin-tools'],
        'service_completed_successfully',
        `${name} waits for the search attributes`,
      );
    }
  });

  it('runs, in the api and worker, the files the build produces from api/server.ts and worker/index.ts', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
    assert.equal(tsconfig.compilerOptions.outDir, 'dist');
    assert.equal(path.resolve(ROOT, tsconfig.compilerOptions.rootDir), ROOT);
    const expected = {
      api: ['api/server.ts', 'start:api'],
      worker: ['worker/index.ts', 'start:worker'],
    } as const;
    for (const name of APP_SERVICES) {
      const [source, script] = expected[name];
      const command = words(service(compose, name).command);
      // The worker runs with its process settings (worker/process-settings.ts), as `npm run start:worker`.
      const flags = name === 'worker' ? WORKER_NODE_FLAGS : [];
      const env = name === 'worker' ? WORKER_PROCESS_ENV : {};
      assert.deepEqual(
        command,
        ['node', ...flags, `dist/${source.replace(/\.ts$/, '.js')}`],
        `${name} command`,
      );
      for (const [k, v] of Object.entries(env))
        assert.equal(rawEnvironment(service(compose, name))[k], v, `${name} has ${k}=${v}`);
      const envPrefix = Object.entries(env)
        .map(([k, v]) => `${k}=${v} `)
        .join('');
      assert.equal(
        envPrefix + command.join(' '),
        pkg.scripts[script],
        `${name} runs what \`npm run ${script}\` runs`,
      );
      assert.ok(existsSync(path.join(ROOT, source)), `${source} exists`);
      assert.ok(tsconfig.include.includes(source.split('/')[0]), `tsconfig compiles ${source}`);
      assert.ok(existsSync(path.join(ROOT, command.at(-1)!)), `the build produced ${command.at(-1)}`);
    }
  });
});

describe('Dockerfile', () => {
  interface Stage {
    image: string;
    name?: string;
    lines: string[];
  }
  let stages: Stage[];
  before(() => {
    const text = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
    stages = [];
    for (const line of text.split('\n').map((l) => l.trim())) {
      if (!line || line.startsWith('#')) continue;
      const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
      if (from) stages.push({ image: from[1], name: from[2], lines: [] });
      else stages.at(-1)?.lines.push(line);
    }
    assert.ok(stages.length >= 2, 'the Dockerfile is multi-stage');
  });
  const runtime = () => stages[stages.length - 1];
  const instructions = (stage: Stage, keyword: string) =>
    stage.lines
      .filter((l) => l.toUpperCase().startsWith(`${keyword} `))
      .map((l) => l.slice(keyword.length + 1).trim());

  it('builds every stage on a Debian slim Node 20 image, never Alpine', () => {
    const names = new Set(stages.map((s) => s.name));
    for (const { image } of stages) {
      if (names.has(image)) continue; // FROM an earlier stage
      assert.doesNotMatch(image, /alpine/i, `${image}: Temporal's native module does not load on musl`);
      assert.match(
        image,
        /^node:20(\.\d+){0,2}(-(bookworm|bullseye|trixie))?-slim(@sha256:[0-9a-f]{64})?$/,
        image,
      );
    }
  });

  it('compiles in a build stage and ships production dependencies and dist/ only', () => {
    const build = stages.find((s) => s.lines.some((l) => /^RUN\b.*\bnpm run build\b/.test(l)));
    assert.ok(build?.name, 'a named stage runs npm run build');
    assert.ok(
      build.lines.some((l) => /^RUN\b.*\bnpm ci\b/.test(l)),
      'the build stage installs with npm ci',
    );
    const final = runtime();
    assert.notEqual(final, build, 'the runtime stage is not the build stage');
    assert.ok(
      final.lines.some((l) => /^RUN\b.*\bnpm ci\b.*--omit=dev\b/.test(l)),
      'the runtime installs production dependencies only',
    );
    assert.ok(
      instructions(final, 'COPY').some((c) => new RegExp(`^--from=${build.name}\\s+\\S*dist/?\\s`).test(c)),
      `the runtime copies dist/ from the ${build.name} stage`,
    );
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.data', '.git']) {
      assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
    }
  });

  it('runs the api as the non-root node user by default, exposing its port', () => {
    const final = runtime();
    assert.equal(instructions(final, 'USER').at(-1), 'node');
    const cmd = JSON.parse(instructions(final, 'CMD').at(-1) ?? 'null');
    assert.deepEqual(
      cmd,
      words(loadCompose().services.api?.command),
      'the default command is the api service command',
    );
    const port = String(appEnv(loadCompose(), 'api').PORT);
    assert.ok(
      instructions(final, 'EXPOSE').some((e) => e.split(/\s+/).includes(port)),
      `EXPOSE ${port}`,
    );
  });
});
