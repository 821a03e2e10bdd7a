// Storage connections over HTTP: CRUD, credentials re-sealed on PATCH, soft delete with its 409,
// and POST /test against a real S3 server (MinIO) with the stored, decrypted credentials.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { decodeKey } from '../../config/env';
import { connectionModel, connectionTestModel, deleteModel, listModel } from '../../api/responses';
import { SecretBox } from '../../store/secrets';
import { startMinio, type Minio } from '../providers/fixtures/s3';
import { stack, type Stack } from '../setup/stack';
import {
  api,
  assertError,
  assertModel,
  bucket,
  localConnection,
  secret,
  sync,
  tenant,
  trackSecret,
  unique,
  until,
  type Who,
} from './api-helpers';

const base = '/v1/organizations/connections';

describe('API: storage connections', function () {
  this.timeout(120_000);
  let s: Stack;
  let box: SecretBox;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    box = new SecretBox(decodeKey(s.env.SECRETS_KEY)!);
  });

  it('creates, gets (by id and by name) and refuses bad bodies', async () => {
    const { connectionId, name, folder } = await localConnection(s);
    const g = await api(s, 'GET', `${base}/${connectionId}`);
    assert.equal(g.status, 200, g.text);
    assertModel(connectionModel, g.body);
    assert.equal(g.body.status, 'ACTIVE');
    assert.equal(g.body.is_active, true);
    assert.equal(g.body.provider_config.root, folder);
    assert.equal(g.body.credentials_sealed, undefined);
    const byName = await api(s, 'GET', `${base}/${encodeURIComponent(name)}`);
    assert.equal(byName.body.connection_id, connectionId);

    assertError(
      await api(s, 'POST', base, { name, provider_type: 'local', provider_config: { root: folder } }),
      409,
      'ConflictError',
    );
    assertError(
      await api(s, 'POST', base, { name: 'x', provider_type: 'ftp', provider_config: {} }),
      422,
      undefined,
      ['body', 'provider_type'],
    );
    assertError(
      await api(s, 'POST', base, {
        name: 'x',
        provider_type: 'local',
        provider_config: { root: 'relative' },
      }),
      422,
      undefined,
      ['body', 'provider_config', 'root'],
    );
    assertError(
      await api(s, 'POST', base, {
        name: 'x',
        provider_type: 'local',
        provider_config: { root: '/tmp', x: 1 },
      }),
      422,
      undefined,
      ['body', 'provider_config', 'x'],
    );
    assertError(
      await api(s, 'POST', base, {
        name: 'x'.repeat(101),
        provider_type: 'local',
        provider_config: { root: '/' },
      }),
      422,
      undefined,
      ['body', 'name'],
    );
    // A provider that needs credentials, given none: 422 naming them (nothing is tried).
    assertError(
      await api(s, 'POST', base, { name: unique('gd'), provider_type: 'google_drive', provider_config: {} }),
      422,
      'ValidationError',
      ['body', 'provider_config', 'credentials'],
    );
    const failing = await api(s, 'POST', base, {
      name: unique('missing'),
      provider_type: 'local',
      provider_config: { root: path.join(folder, 'does-not-exist') },
    });
    assertError(failing, 400, 'ConnectionTestError');
    assert.equal(failing.body.error.details.test.success, false);
    assertError(await api(s, 'GET', `${base}/conn_missing`), 404, 'NotFoundError');
  });

  it('lists with filters (provider_type, status, is_active)', async () => {
    const who = await tenant(s, unique('conn-list-org'), 'ns');
    const a = await localConnection(s, {}, { who });
    const b = await localConnection(s, {}, { who });
    const s3 = await api(
      s,
      'POST',
      base,
      {
        name: unique('s3'),
        provider_type: 's3',
        provider_config: {
          region: 'us-east-1',
          endpoint_url: 'http://127.0.0.1:1',
          credentials: {
            type: 'access_key',
            access_key_id: 'AKIDLIST',
            secret_access_key: secret('list-secret'),
          },
        },
        test_before_save: false,
      },
      { who },
    );
    assert.equal(s3.status, 200, s3.text);
    assert.equal(
      (await api(s, 'PATCH', `${base}/${b.connectionId}`, { is_active: false }, { who })).status,
      200,
    );

    const all = await api(s, 'GET', `${base}?include_total=true`, undefined, { who });
    assertModel(listModel(connectionModel, 'C'), all.body);
    assert.equal(all.body.total, 3);
    const locals = await api(s, 'POST', `${base}/list`, { provider_type: 'local' }, { who });
    assert.deepEqual(
      locals.body.results.map((c: any) => c.connection_id).sort(),
      [a.connectionId, b.connectionId].sort(),
    );
    const inactive = await api(s, 'POST', `${base}/list`, { is_active: false }, { who });
    assert.deepEqual(
      inactive.body.results.map((c: any) => c.connection_id),
      [b.connectionId],
    );
    const active = await api(s, 'POST', `${base}/list`, { status: 'active', provider_type: 's3' }, { who });
    assert.deepEqual(
      active.body.results.map((c: any) => c.connection_id),
      [s3.body.connection_id],
    );
    assert.equal(active.body.results[0].provider_config.credentials, '[redacted]');
    assertError(await api(s, 'POST', `${base}/list`, { provider_type: 'ftp' }, { who }), 422, undefined, [
      'body',
      'provider_type',
    ]);
  });

  it('PATCH changes name, description, metadata, is_active and provider_config (tested first)', async () => {
    const { connectionId, folder } = await localConnection(s);
    const other = await localConnection(s);
    const newName = unique('renamed');
    const p = await api(s, 'PATCH', `${base}/${connectionId}`, {
      name: newName,
      description: 'd',
      metadata: { owner: 'ops' },
    });
    assert.equal(p.status, 200, p.text);
    assertModel(connectionModel, p.body);
    assert.equal(p.body.name, newName);
    assert.equal(p.body.description, 'd');
    assert.deepEqual(p.body.metadata, { owner: 'ops' });
    assertError(await api(s, 'PATCH', `${base}/${connectionId}`, { name: other.name }), 409, 'ConflictError');

    const sub = path.join(folder, 'sub');
    mkdirSync(sub);
    const moved = await api(s, 'PATCH', `${base}/${newName}`, { provider_config: { root: sub } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.body.provider_config.root, sub);
    assertError(
      await api(s, 'PATCH', `${base}/${connectionId}`, {
        provider_config: { root: path.join(folder, 'nope') },
      }),
      400,
      'ConnectionTestError',
    );
    assert.equal(
      (await api(s, 'GET', `${base}/${connectionId}`)).body.provider_config.root,
      sub,
      'unchanged',
    );
    const untested = await api(s, 'PATCH', `${base}/${connectionId}`, {
      provider_config: { root: path.join(folder, 'later') },
      test_before_save: false,
    });
    assert.equal(untested.status, 200, untested.text);
    assertError(
      await api(s, 'PATCH', `${base}/${connectionId}`, { provider_config: { root: 'rel' } }),
      422,
      undefined,
      ['body', 'provider_config', 'root'],
    );
    assertError(await api(s, 'PATCH', `${base}/${connectionId}`, { provider_type: 's3' }), 422, undefined, [
      'body',
      'provider_type',
    ]);
    assertError(await api(s, 'PATCH', `${base}/${connectionId}`, {}), 422, 'ValidationError', ['body']);
    assertError(await api(s, 'PATCH', `${base}/${connectionId}`, { test_before_save: true }), 422);
    assertError(await api(s, 'PATCH', `${base}/${connectionId}`, { is_active: 'no' }), 422, undefined, [
      'body',
      'is_active',
    ]);
    assertError(await api(s, 'PATCH', `${base}/conn_missing`, { description: 'x' }), 404);

    const off = await api(s, 'PATCH', `${base}/${connectionId}`, { is_active: false });
    assert.equal(off.body.is_active, false);
    const b = await bucket(s);
    assertError(
      await api(s, 'POST', `/v1/buckets/${b}/syncs`, { connection_id: connectionId, source_path: '/' }),
      409,
      'ConflictError',
    );
  });

  it('PATCH re-seals new credentials; "[redacted]" keeps them, null removes them', async () => {
    const first = secret('first-secret');
    const created = await api(s, 'POST', base, {
      name: unique('s3-creds'),
      provider_type: 's3',
      provider_config: {
        region: 'us-east-1',
        endpoint_url: 'http://127.0.0.1:1',
        credentials: { type: 'access_key', access_key_id: 'AKIDFIRST', secret_access_key: first },
      },
      test_before_save: false,
    });
    assert.equal(created.status, 200, created.text);
    const id = created.body.connection_id;
    const sealed1 = (await s.store.connections.findOne({ connection_id: id }))!.credentials_sealed!;
    assert.equal(box.open<any>(sealed1).secret_access_key, first);
    assert.ok(!JSON.stringify(sealed1).includes(first), 'sealed at rest');

    const second = secret('second-secret');
    const p = await api(s, 'PATCH', `${base}/${id}`, {
      provider_config: {
        region: 'eu-west-1',
        credentials: { type: 'access_key', access_key_id: 'AKIDSECOND', secret_access_key: second },
      },
      test_before_save: false,
    });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.provider_config.credentials, '[redacted]');
    assert.equal(p.body.provider_config.region, 'eu-west-1');
    assert.equal(p.body.provider_config.endpoint_url, 'http://127.0.0.1:1', 'merged key by key');
    const sealed2 = (await s.store.connections.findOne({ connection_id: id }))!.credentials_sealed!;
    assert.notDeepEqual(sealed2, sealed1);
    assert.deepEqual(box.open(sealed2), {
      type: 'access_key',
      access_key_id: 'AKIDSECOND',
      secret_access_key: second,
    });

    const kept = await api(s, 'PATCH', `${base}/${id}`, {
      provider_config: { region: 'us-west-2', credentials: '[redacted]' },
      test_before_save: false,
    });
    assert.equal(kept.status, 200, kept.text);
    const sealed3 = (await s.store.connections.findOne({ connection_id: id }))!.credentials_sealed!;
    assert.deepEqual(sealed3, sealed2);

    assertError(
      await api(s, 'PATCH', `${base}/${id}`, {
        provider_config: { credentials: { type: 'access_key', access_key_id: 'x' } },
        test_before_save: false,
      }),
      422,
      undefined,
      ['body', 'provider_config', 'credentials'],
    );
    assertError(
      await api(s, 'PATCH', `${base}/${id}`, {
        provider_config: { credentials: null },
        test_before_save: false,
      }),
      422,
      undefined,
      ['body', 'provider_config', 'credentials'],
      // s3 needs credentials: removing them is refused
    );
    assert.deepEqual((await s.store.connections.findOne({ connection_id: id }))!.credentials_sealed, sealed2);
  });

  describe('POST /{id}/test against MinIO', () => {
    let minio: Minio;
    before(async function () {
      this.timeout(300_000);
      minio = await startMinio();
      trackSecret(minio.secretAccessKey);
    });
    after(async () => {
      await minio?.stop();
    });

    it('uses the stored, decrypted credentials: right ones pass, wrong ones fail without echoing them', async () => {
      const { provider_config, credentials } = minio.connection();
      const c = await api(s, 'POST', base, {
        name: unique('minio'),
        provider_type: 's3',
        provider_config: { ...provider_config, credentials },
      });
      assert.equal(c.status, 200, c.text);
      const id = c.body.connection_id;
      const ok = await api(s, 'POST', `${base}/${id}/test`);
      assert.equal(ok.status, 200, ok.text);
      assertModel(connectionTestModel, ok.body);
      assert.equal(ok.body.success, true, ok.text);

      const wrong = secret('wrong-minio-secret');
      const p = await api(s, 'PATCH', `${base}/${id}`, {
        provider_config: { credentials: { ...credentials, secret_access_key: wrong } },
        test_before_save: false,
      });
      assert.equal(p.status, 200, p.text);
      const bad = await api(s, 'POST', `${base}/${id}/test`, {});
      assert.equal(bad.status, 200, bad.text);
      assert.equal(bad.body.success, false, bad.text);
      assert.match(bad.body.message, /SignatureDoesNotMatch|InvalidAccessKeyId|signature|credentials/i);
      assert.ok(!bad.text.includes(wrong));

      // With the test before saving (the default when provider_config changes), wrong ones are refused.
      const refused = await api(s, 'PATCH', `${base}/${id}`, {
        provider_config: { credentials: { ...credentials, secret_access_key: secret('also-wrong') } },
      });
      assertError(refused, 400, 'ConnectionTestError');
      const fixed = await api(s, 'PATCH', `${base}/${id}`, { provider_config: { credentials } });
      assert.equal(fixed.status, 200, fixed.text);
      assert.equal((await api(s, 'POST', `${base}/${id}/test`)).body.success, true);
    });
  });

  it('POST /{id}/test on a local folder, with an optional source_path', async () => {
    const { connectionId } = await localConnection(s, { 'in/a.txt': 'a' });
    const ok = await api(s, 'POST', `${base}/${connectionId}/test`);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.success, true);
    assert.equal(
      (await api(s, 'POST', `${base}/${connectionId}/test`, { source_path: 'in' })).body.success,
      true,
    );
    const missing = await api(s, 'POST', `${base}/${connectionId}/test`, { source_path: 'nope' });
    assert.equal(missing.status, 200);
    assert.equal(missing.body.success, false);
    assertError(await api(s, 'POST', `${base}/${connectionId}/test`, { source_path: 5 }), 422, undefined, [
      'body',
      'source_path',
    ]);
    assertError(await api(s, 'POST', `${base}/conn_missing/test`), 404);
  });

  it('DELETE archives; refused (409) while an active sync uses the connection', async () => {
    const who: Who = await tenant(s, unique('conn-del-org'), 'ns');
    const { connectionId } = await localConnection(s, { 'f.txt': 'f' }, { who });
    const b = await bucket(s, who);
    const syncId = await sync(s, b, { connection_id: connectionId, source_path: '/' }, who);
    await until(s, b, syncId, (x) => x.sync_run_counter >= 1 && !x.locked, { who });

    const refused = await api(s, 'DELETE', `${base}/${connectionId}`, undefined, { who });
    assertError(refused, 409, 'ConflictError');
    assert.deepEqual(refused.body.error.details.sync_config_ids, [syncId]);

    const paused = await api(s, 'POST', `/v1/buckets/${b}/syncs/${syncId}/pause`, undefined, { who });
    assert.equal(paused.status, 200, paused.text);
    const del = await api(s, 'DELETE', `${base}/${connectionId}`, undefined, { who });
    assert.equal(del.status, 200, del.text);
    assertModel(deleteModel, del.body);
    const g = await api(s, 'GET', `${base}/${connectionId}`, undefined, { who });
    assert.equal(g.status, 200, 'soft: still readable');
    assert.equal(g.body.status, 'ARCHIVED');
    assert.equal(g.body.is_active, false);
    assert.equal(
      (await api(s, 'DELETE', `${base}/${connectionId}`, undefined, { who })).status,
      200,
      'idempotent',
    );
    assertError(
      await api(s, 'PATCH', `${base}/${connectionId}`, { description: 'x' }, { who }),
      409,
      'ConflictError',
    );
    assertError(
      await api(
        s,
        'POST',
        `/v1/buckets/${b}/syncs`,
        { connection_id: connectionId, source_path: '/' },
        { who },
      ),
      404,
      'NotFoundError',
    );
    const archived = await api(s, 'POST', `${base}/list`, { status: 'ARCHIVED' }, { who });
    assert.deepEqual(
      archived.body.results.map((c: any) => c.connection_id),
      [connectionId],
    );

    // A deleted sync does not hold a connection either.
    const c2 = await localConnection(s, {}, { who });
    const s2 = await sync(s, b, { connection_id: c2.connectionId, source_path: '/' }, who);
    assertError(await api(s, 'DELETE', `${base}/${c2.connectionId}`, undefined, { who }), 409);
    assert.equal((await api(s, 'DELETE', `/v1/buckets/${b}/syncs/${s2}`, undefined, { who })).status, 200);
    const del2 = await api(s, 'DELETE', `${base}/${c2.connectionId}`, undefined, { who });
    assert.equal(del2.status, 200, `${del2.text} paused=${syncId} deleted=${s2}`);
    await api(s, 'DELETE', `/v1/buckets/${b}/syncs/${syncId}`, undefined, { who });
    assertError(await api(s, 'DELETE', `${base}/conn_missing`, undefined, { who }), 404);
  });
});
