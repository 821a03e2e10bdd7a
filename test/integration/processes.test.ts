// The project's own entry points as a user runs them: the provisioning script's resolution order
// and the processes' handling of bad configuration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
