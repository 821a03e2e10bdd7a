// Secrets: credentials never appear in a response or a log line. Every response of the api-*
// suites is recorded (api-helpers.ts) and checked here against every secret the suites used; an
// API instance with the real logger (its output captured, at trace level) is driven through every
// path a credential takes, and its log is checked too. (Runs last: "zz"; a root hook re-checks the
// recorded responses after the whole run whatever the file order.) A webhook step's `secret` is
// one of them: sealed at rest, "[redacted]" in every collection response, and kept out of the
// failed deliveries' errors.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from '../../api/app';
import { SyncControl } from '../../api/sync-control';
import { decodeKey } from '../../config/env';
import { createLogger } from '../../lib/logger';
import { SecretBox } from '../../store/secrets';
import { eventually } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import {
  api,
  assertError,
  leaks,
  localConnection,
  recordedCount,
  secret,
  trackSecret,
  unique,
} from './api-helpers';

const base = '/v1/organizations/connections';

describe('API: secrets never leave', function () {
  this.timeout(180_000);
  let s: Stack;
  let server: Server;
  let url: string;
  let control: SyncControl;
  const lines: string[] = [];

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    trackSecret(s.apiKey);
    const log = createLogger('trace', 'api');
    (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = {
      write: (line: string) => {
        lines.push(line);
      },
    };
    control = await SyncControl.connect(s.env.TEMPORAL_ADDRESS, s.env.TEMPORAL_NAMESPACE, s.env.TASK_QUEUE);
    const app = createApp({
      env: s.env,
      store: s.store,
      secrets: new SecretBox(decodeKey(s.env.SECRETS_KEY)!),
      control,
      log,
    });
    server = await new Promise<Server>((resolve) => {
      const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
    });
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await control?.close();
  });

  it('drives every path a credential takes through a logging API instance', async () => {
    const o = { base: url };
    const s3Secret = secret('s3-secret-access-key');
    const token = secret('s3-session-token');
    const s3 = {
      name: unique('s3-secret'),
      provider_type: 's3',
      provider_config: {
        region: 'us-east-1',
        endpoint_url: 'http://127.0.0.1:1',
        credentials: {
          type: 'access_key',
          access_key_id: 'AKIDSECRETTEST',
          secret_access_key: s3Secret,
          session_token: token,
        },
      },
    };
    // Tested before saving: the test fails (nothing listens), the error must not echo the secret.
    assertError(await api(s, 'POST', base, s3, o), 400, 'ConnectionTestError');
    const created = await api(s, 'POST', base, { ...s3, test_before_save: false }, o);
    assert.equal(created.status, 200, created.text);
    const id = created.body.connection_id;
    assert.equal(created.body.provider_config.credentials, '[redacted]');
    assert.equal((await api(s, 'GET', `${base}/${id}`, undefined, o)).status, 200);
    assert.equal((await api(s, 'GET', `${base}?limit=1000`, undefined, o)).status, 200);
    assert.equal((await api(s, 'POST', `${base}/list?limit=1000`, {}, o)).status, 200);
    const tested = await api(s, 'POST', `${base}/${id}/test`, undefined, o);
    assert.equal(tested.status, 200, tested.text);
    assert.equal(tested.body.success, false);
    // Duplicate name, bad credential shapes, unknown fields next to credentials.
    assertError(await api(s, 'POST', base, { ...s3, test_before_save: false }, o), 409);
    assertError(
      await api(
        s,
        'POST',
        base,
        {
          ...s3,
          name: unique('s3-bad'),
          provider_config: {
            ...s3.provider_config,
            credentials: { type: 'access_key', secret_access_key: s3Secret },
          },
          test_before_save: false,
        },
        o,
      ),
      422,
    );
    assertError(
      await api(
        s,
        'POST',
        base,
        {
          ...s3,
          name: unique('s3-extra'),
          provider_config: { ...s3.provider_config, extra: s3Secret },
          test_before_save: false,
        },
        o,
      ),
      422,
    );
    // PATCH: new credentials (tested first, failing; then saved untested), then the test again.
    const next = secret('s3-rotated-secret');
    const rotated = { ...s3.provider_config.credentials, secret_access_key: next };
    assertError(
      await api(s, 'PATCH', `${base}/${id}`, { provider_config: { credentials: rotated } }, o),
      400,
    );
    const patched = await api(
      s,
      'PATCH',
      `${base}/${id}`,
      { provider_config: { credentials: rotated }, test_before_save: false },
      o,
    );
    assert.equal(patched.status, 200, patched.text);
    assert.equal(
      (await api(s, 'POST', `${base}/${id}/test`, { source_path: 'bucket/prefix' }, o)).body.success,
      false,
    );

    // Azure: an account key, a connection string, a SAS token — valid and malformed.
    const accountKey = trackSecret(Buffer.from(secret('azure-account-key')).toString('base64'));
    const azure = await api(
      s,
      'POST',
      base,
      {
        name: unique('azure-secret'),
        provider_type: 'azure_blob',
        provider_config: {
          account_name: 'acct',
          endpoint_url: 'http://127.0.0.1:1/acct',
          credentials: { type: 'account_key', account_key: accountKey },
        },
        test_before_save: false,
      },
      o,
    );
    assert.equal(azure.status, 200, azure.text);
    assert.equal(
      (await api(s, 'POST', `${base}/${azure.body.connection_id}/test`, undefined, o)).body.success,
      false,
    );
    const connString = secret('AccountKey=notbase64;Garbage');
    const badAzure = await api(
      s,
      'POST',
      base,
      {
        name: unique('azure-cs'),
        provider_type: 'azure_blob',
        provider_config: {
          account_name: 'acct',
          credentials: { type: 'connection_string', connection_string: connString },
        },
      },
      o,
    );
    assert.ok(badAzure.status >= 400 && badAzure.status < 500, badAzure.text);
    const sas = secret('sv=2020&sig');
    const sasConn = await api(
      s,
      'POST',
      base,
      {
        name: unique('azure-sas'),
        provider_type: 'azure_blob',
        provider_config: {
          account_name: 'acct',
          endpoint_url: 'http://127.0.0.1:1/acct',
          credentials: { type: 'sas', sas_token: sas },
        },
      },
      o,
    );
    // (A SAS token is accepted as given when there is no container to try it on.)
    assert.ok(sasConn.status < 500, sasConn.text);
    // GCS: a service account whose private key is not a key (the message must not quote it).
    const pem = secret('-----BEGIN PRIVATE KEY-----not-a-key');
    const gcs = await api(
      s,
      'POST',
      base,
      {
        name: unique('gcs-secret'),
        provider_type: 'gcs',
        provider_config: {
          credentials: {
            type: 'service_account',
            client_email: 'a@b.iam.gserviceaccount.com',
            private_key: pem,
            project_id: 'p',
          },
        },
      },
      o,
    );
    assert.ok(gcs.status >= 400 && gcs.status < 500, gcs.text);
    // Credentials on a provider that takes none, and a local connection for good measure.
    const localSecret = secret('local-creds');
    const { folder } = await localConnection(s);
    const local = await api(
      s,
      'POST',
      base,
      {
        name: unique('local-creds'),
        provider_type: 'local',
        provider_config: { root: folder, credentials: { password: localSecret } },
      },
      o,
    );
    assert.equal(local.status, 200, local.text);
    assert.equal(local.body.provider_config.credentials, '[redacted]');
    // Errors carrying whatever a client sent.
    assertError(
      await api(s, 'POST', base, undefined, { ...o, raw: `{"password": "${secret('broken-json')}"` }),
      400,
    );
    assertError(
      await api(s, 'GET', '/v1/buckets', undefined, {
        ...o,
        headers: { authorization: `Bearer ${secret('unknown-key')}` },
      }),
      401,
    );

    // A collection whose webhook has a secret: created, read, listed, run (the delivery fails, so
    // its error is shown), refused with the secret in a bad body.
    const hookSecret = secret('whsec');
    const bkt = await api(s, 'POST', '/v1/buckets', { bucket_name: unique('secret-bkt') }, o);
    assert.equal(bkt.status, 200, bkt.text);
    const bucketId = bkt.body.bucket_id;
    const hook = (config: Record<string, unknown>) => ({
      collection_name: unique('secret-col'),
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [
        { step: 'file_metadata' },
        {
          step: 'webhook',
          config: { url: 'http://127.0.0.1:1/hook', retries: 0, timeout_seconds: 2, ...config },
        },
      ],
    });
    const col = await api(s, 'POST', '/v1/collections', hook({ secret: hookSecret }), o);
    assert.equal(col.status, 200, col.text);
    const colId = col.body.collection_id;
    assert.equal(col.body.pipeline[1].config.secret, '[redacted]');
    const stored = await s.store.collections.findOne({ collection_id: colId });
    assert.ok(stored && !JSON.stringify(stored).includes(hookSecret), 'sealed at rest');
    const got = await api(s, 'GET', `/v1/collections/${colId}`, undefined, o);
    assert.equal(got.body.pipeline[1].config.secret, '[redacted]');
    for (const [m, p] of [
      ['GET', '/v1/collections?limit=1000'],
      ['POST', '/v1/collections/list?limit=1000'],
    ]) {
      const l = await api(s, m, p, m === 'POST' ? { bucket_id: bucketId } : undefined, o);
      assert.equal(l.status, 200, l.text);
      const mine = l.body.results.find((c: any) => c.collection_id === colId);
      assert.equal(mine.pipeline[1].config.secret, '[redacted]');
    }
    for (const bad of [
      hook({ secret: hookSecret, url: 'ftp://127.0.0.1/hook' }),
      hook({ secret: hookSecret, token: hookSecret }),
      hook({ secret: `${hookSecret}${'x'.repeat(300)}` }),
      hook({ secret: hookSecret, headers: { 'X-Key': `${hookSecret}\r\n` } }),
      { ...hook({ secret: hookSecret }), source: { type: 'bucket', bucket_ids: ['bkt_missing'] } },
    ])
      assert.ok([404, 422].includes((await api(s, 'POST', '/v1/collections', bad, o)).status));
    const obj = await api(s, 'POST', `/v1/buckets/${bucketId}/objects`, {}, o);
    const batch = await api(
      s,
      'POST',
      `/v1/buckets/${bucketId}/batches`,
      { object_ids: [obj.body.object_id] },
      o,
    );
    assert.equal(batch.status, 200, batch.text);
    const batchPath = `/v1/buckets/${bucketId}/batches/${batch.body.batch_id}`;
    const task = await api(s, 'POST', `${batchPath}/submit`, undefined, o);
    assert.equal(task.status, 200, task.text);
    let last: any = null;
    const finished = await eventually(async () => {
      last = (await api(s, 'GET', `/v1/tasks/${task.body.task_id}`, undefined, o)).body;
      return ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED'].includes(last.status);
    }, 90_000);
    assert.ok(finished, JSON.stringify(last));
    assert.equal(last.status, 'FAILED', 'nothing listens on port 1');
    const failed = await api(s, 'GET', `${batchPath}/failed-documents`, undefined, o);
    assert.equal(failed.body.results.length, 1, failed.text);
    assert.match(failed.body.results[0].error, /webhook/);
    assert.equal((await api(s, 'GET', batchPath, undefined, o)).status, 200);
    assert.equal((await api(s, 'GET', `/v1/collections/${colId}/documents`, undefined, o)).status, 200);

    const logText = lines.join('');
    assert.ok(lines.length > 10, `the captured log has ${lines.length} lines`);
    assert.match(logText, /"msg":"request"/, 'request lines are logged');
    const found = leaks();
    assert.deepEqual(found, [], 'a secret in a response');
    // The log: none of the secrets, nor the API key.
    for (const sct of [
      s3Secret,
      token,
      next,
      accountKey,
      connString,
      sas,
      pem,
      localSecret,
      hookSecret,
      s.apiKey,
    ])
      assert.ok(!logText.includes(sct), `log line with a secret: ${sct.slice(0, 12)}…`);
    assert.ok(!/AKIDSECRETTEST/.test(logText), 'not even the access key id is logged');
  });

  it('no recorded response of the api-* suites contains a secret', () => {
    assert.ok(recordedCount() > 30, `only ${recordedCount()} responses recorded`);
    assert.deepEqual(leaks(), []);
  });
});
