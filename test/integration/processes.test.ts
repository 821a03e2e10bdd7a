// The project's own entry points as a user runs them: the provisioning script's resolution order
// and the processes' handling of bad configuration.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/servers';
import { PROJECT_ROOT } from '../setup/stack';

const provision = path.join(PROJECT_ROOT, 'scripts/provision.sh');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/provision.sh resolution order', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'provision-test-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const baseEnv = () => ({ PATH: '/usr/bin:/bin', HOME: tmp, BUCKET_SYNCS_CACHE: path.join(tmp, 'cache') });

  it('an explicit setting wins: TEMPORAL_CLI_PATH and FERRETDB_PATH are used as given', () => {
    const fake = path.join(tmp, 'fake-tool');
    writeFileSync(fake, '#!/bin/sh\nexit 0\n');
    chmodSync(fake, 0o755);
    const r = run('bash', [provision, 'temporal', 'ferretdb'], {
      ...baseEnv(),
      TEMPORAL_CLI_PATH: fake,
      FERRETDB_PATH: fake,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes(`TEMPORAL_CLI_PATH=${fake}`), r.stdout);
    assert.ok(lines.includes(`FERRETDB_PATH=${fake}`), r.stdout);
  });

  it('TEMPORAL_ADDRESS and MONGODB_URI mean no local server is needed', () => {
    const r = run('bash', [provision, 'temporal', 'ferretdb'], {
      ...baseEnv(),
      TEMPORAL_ADDRESS: 'temporal:7233',
      MONGODB_URI: 'mongodb://db:27017',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '');
    assert.match(r.stderr, /TEMPORAL_ADDRESS=temporal:7233 is set/);
    assert.match(r.stderr, /MONGODB_URI is set/);
  });

  it('a binary on PATH comes before the cache', () => {
    const bin = mkdtempSync(path.join(tmp, 'bin-'));
    for (const name of ['temporal', 'ferretdb']) {
      writeFileSync(path.join(bin, name), '#!/bin/sh\nexit 0\n');
      chmodSync(path.join(bin, name), 0o755);
    }
    const r = run('bash', [provision, 'temporal', 'ferretdb'], {
      ...baseEnv(),
      PATH: `${bin}:/usr/bin:/bin`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`TEMPORAL_CLI_PATH=${bin}/temporal`));
    assert.match(r.stdout, new RegExp(`FERRETDB_PATH=${bin}/ferretdb`));
  });

  it('with no binary and no Go: a clear message saying how to get one', () => {
    const r = run('bash', [provision, 'temporal', 'ferretdb'], baseEnv());
    assert.equal(r.code, 3);
    assert.match(r.stderr, /Go is not installed/);
    assert.match(r.stderr, /TEMPORAL_CLI_PATH/);
  });

  it('an explicit path that is not executable is refused by name', () => {
    const r = run('bash', [provision, 'temporal', 'ferretdb'], {
      ...baseEnv(),
      TEMPORAL_CLI_PATH: path.join(tmp, 'missing'),
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /TEMPORAL_CLI_PATH=.*missing is not an executable file/);
  });
});

describe('bad configuration stops a process with a message naming the variable', () => {
  for (const entry of ['dist/api/server.js', 'dist/worker/index.js']) {
    it(`${entry}: PORT=abc, SECRETS_KEY too short`, () => {
      const r = run(process.execPath, [path.join(PROJECT_ROOT, entry)], {
        PATH: process.env.PATH,
        MONGODB_URI: 'mongodb://127.0.0.1:1/',
        SECRETS_KEY: 'short',
        PORT: 'abc',
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /invalid configuration/);
      assert.match(r.stderr, /SECRETS_KEY: must be 32 bytes/);
      assert.match(r.stderr, /PORT: .*\(got "abc"\)/);
    });

    it(`${entry}: BLOB_STORE=s3 without BLOB_S3_BUCKET, a secret without its key id (not echoed)`, () => {
      const secret = 'blob-secret-not-to-be-echoed';
      const r = run(process.execPath, [path.join(PROJECT_ROOT, entry)], {
        PATH: process.env.PATH,
        MONGODB_URI: 'mongodb://127.0.0.1:1/',
        SECRETS_KEY: 'ab'.repeat(32),
        BLOB_STORE: 's3',
        BLOB_S3_SECRET_ACCESS_KEY: secret,
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /invalid configuration/);
      assert.match(r.stderr, /BLOB_S3_BUCKET: required when BLOB_STORE=s3 \(not set\)/);
      assert.match(r.stderr, /BLOB_S3_ACCESS_KEY_ID: required with BLOB_S3_SECRET_ACCESS_KEY/);
      assert.doesNotMatch(r.stderr + r.stdout, new RegExp(secret));
    });
  }
});

describe('npm run dev: quiet and supervised', function () {
  this.timeout(240_000);
  let tmp: string;
  let dev: ChildProcess | null = null;
  let out = '';

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'dev-test-'));
  });
  after(() => {
    // A failed test must not leave the servers behind: the whole group dev runs in.
    if (dev?.pid && dev.exitCode === null) {
      try {
        process.kill(-dev.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  const waitFor = async (what: () => boolean | Promise<boolean>, ms: number, label: string) => {
    const deadline = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; dev printed:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('prints URLs and the key, restarts a killed FerretDB and worker, and SIGINT stops every child', async () => {
    const [mongo, temporal, ui, api] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DEV_DATA_DIR: path.join(tmp, 'data'),
      DEV_MONGODB_PORT: String(mongo),
      DEV_TEMPORAL_PORT: String(temporal),
      DEV_TEMPORAL_UI_PORT: String(ui),
      PORT: String(api),
      WORKER_METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    };
    delete env.MONGODB_URI;
    delete env.TEMPORAL_ADDRESS;
    delete env.SECRETS_KEY;
    dev = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist/scripts/dev.js')], {
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    dev.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => out.includes('bucket-syncs is running'), 180_000, 'the banner');
    await waitFor(() => /Ctrl-C stops everything/.test(out), 5_000, 'the end of the banner');

    const creds = JSON.parse(readFileSync(path.join(tmp, 'data/dev-credentials.json'), 'utf8')) as {
      api_key: string;
    };
    assert.ok(out.includes(`API          http://localhost:${api}`), out);
    assert.ok(out.includes(`Temporal UI  http://localhost:${ui}`), out);
    assert.ok(out.includes(creds.api_key), out);
    // Only dev's own lines and the banner: the servers' output went to their log files.
    for (const line of out.split('\n'))
      assert.match(line, /^(dev: | {2}|$)/, `a server's line on the terminal: ${line}`);
    for (const name of ['ferretdb', 'temporal', 'worker', 'api'])
      assert.ok(existsSync(path.join(tmp, `data/logs/${name}.log`)), name);
    const workerLog = path.join(tmp, 'data/logs/worker.log');
    await waitFor(() => /worker started/.test(readFileSync(workerLog, 'utf8')), 120_000, 'the worker');

    const pids = () =>
      JSON.parse(readFileSync(path.join(tmp, 'data/logs/pids.json'), 'utf8')) as Record<string, number>;
    const first = pids();
    for (const pid of Object.values(first)) assert.ok(alive(pid));
    const buckets = async () => {
      const r = await fetch(`http://127.0.0.1:${api}/v1/buckets`, {
        headers: { authorization: `Bearer ${creds.api_key}`, 'x-namespace': 'default' },
      }).catch(() => null);
      return r?.status ?? 0;
    };
    assert.equal(await buckets(), 200);

    // FerretDB killed: restarted on its port, the API answers again by itself.
    process.kill(first.ferretdb, 'SIGKILL');
    await waitFor(() => /ferretdb exited \(SIGKILL\); restarting/.test(out), 10_000, 'the exit notice');
    await waitFor(() => /ferretdb restarted \(pid \d+\)/.test(out), 30_000, 'the restart');
    await waitFor(async () => (await buckets()) === 200, 60_000, 'the API to be healthy again');
    const second = pids();
    assert.notEqual(second.ferretdb, first.ferretdb);
    assert.ok(alive(second.ferretdb));

    // The worker killed: restarted too.
    process.kill(first.worker, 'SIGKILL');
    await waitFor(() => /worker restarted \(pid \d+\)/.test(out), 30_000, 'the worker restart');
    const third = pids();
    assert.ok(alive(third.worker));

    // SIGINT to dev alone (not its process group): it still stops every child, then exits 0.
    const exited = new Promise<number | null>((resolve) => dev!.once('exit', (code) => resolve(code)));
    process.kill(dev.pid!, 'SIGINT');
    assert.equal(await exited, 0, out);
    for (const [name, pid] of Object.entries(third))
      assert.ok(!alive(pid), `${name} (pid ${pid}) still runs`);
    assert.match(out, /dev: stopped/);
    assert.doesNotMatch(out.slice(out.indexOf('dev: stopping')), /restarting/);
  });
});
