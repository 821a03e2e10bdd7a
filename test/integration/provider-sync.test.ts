// End to end on real servers, one parameterised suite for the bucket-storage providers (cf. rclone's
// fstests: one call per backend): a connection to the provider's server -> HTTP API -> Temporal
// workflow -> objects. Every kit runs the same cases; what only one provider has is a small extra
// block in its kit.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { forEachLimit } from '../../lib/pool';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startAzurite, type Azurite } from '../providers/fixtures/azure';
import { startFakeGcs, type FakeGcs } from '../providers/fixtures/gcs';
import { startMinio, type Minio } from '../providers/fixtures/s3';
import { startFaultProxy } from '../chaos/fault-proxy';

const ROOT = 'source';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

interface PutExtra {
  contentType?: string;
  metadata?: Record<string, string>;
}

/** What one provider brings: its server, how files get there, how a connection to it is written. */
interface SyncKit {
  provider: 's3' | 'tigris' | 'gcs' | 'azure_blob';
  server: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Puts `key` (under the bucket or container ROOT). */
  put(key: string, body: string, extra?: PutExtra): Promise<void>;
  remove(key: string): Promise<void>;
  /** Puts what the provider must not turn into objects (folder placeholders). */
  markers(): Promise<void>;
  /** provider_config, with the secret given (or the right one). */
  providerConfig(secret?: string): Record<string, unknown>;
  /** The secret in the connection (never echoed); null: the server needs none. */
  secret(): string | null;
  /** What the provider says about credentials it rejects. */
  rejected: RegExp | null;
  /** Cases only this provider has. */
  extra?: (ctx: () => Ctx) => void;
}

interface Ctx {
  s: Stack;
  bucketId: string;
}

function minioKits(): SyncKit[] {
  let minio: Minio;
  /** A connection to MinIO through `endpointUrl` (a proxy) and a sync of `ROOT/folder`: its id. */
  const syncThrough = async (s: Stack, bucketId: string, endpointUrl: string, folder: string) => {
    const { provider_config, credentials } = minio.connection();
    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: `s3-${folder}`,
      provider_type: 's3',
      provider_config: { ...provider_config, endpoint_url: endpointUrl, credentials },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: `${ROOT}/${folder}`,
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    return created.body.sync_config_id as string;
  };
  const base = {
    start: async () => {
      minio = await startMinio();
      await minio.client.send(new CreateBucketCommand({ Bucket: ROOT }));
    },
    stop: async () => {
      await minio?.stop();
    },
    put: async (key: string, body: string, extra: PutExtra = {}) => {
      await minio.client.send(
        new PutObjectCommand({
          Bucket: ROOT,
          Key: key,
          Body: body,
          ...(extra.contentType ? { ContentType: extra.contentType } : {}),
          ...(extra.metadata ? { Metadata: extra.metadata } : {}),
        }),
      );
    },
    remove: async (key: string) => {
      await minio.client.send(new DeleteObjectCommand({ Bucket: ROOT, Key: key }));
    },
    markers: async () => {
      await minio.client.send(
        new PutObjectCommand({ Bucket: ROOT, Key: 'data/empty-folder/', Body: '', ContentLength: 0 }),
      );
    },
    secret: () => minio.secretAccessKey,
    rejected: /SignatureDoesNotMatch|InvalidAccessKeyId/,
  };
  return [
    {
      ...base,
      provider: 's3',
      server: 'MinIO',
      providerConfig: (secret?: string) => {
        const { provider_config, credentials } = minio.connection(secret);
        return { ...provider_config, credentials };
      },
      extra: (ctx) => {
        it('a first pass asks S3 once per new file (one GET, no HEAD); a pass that finds nothing new only lists', async () => {
          const { s, bucketId } = ctx();
          const n = 30;
          await forEachLimit(
            Array.from({ length: n }, (_, i) => i),
            16,
            async (i) => {
              await minio.client.send(
                new PutObjectCommand({
                  Bucket: ROOT,
                  Key: `counted/f-${i}.txt`,
                  Body: `counted ${i}`,
                  Metadata: { n: String(i) },
                }),
              );
            },
          );
          // A plain proxy in front of MinIO that tallies the requests on object keys by method.
          const proxy = await startFaultProxy(minio.url, { rate: 0 });
          const onKeys: Record<string, number> = {};
          proxy.answer = (method, path) => {
            if (path.startsWith(`/${ROOT}/counted/`)) onKeys[method] = (onKeys[method] ?? 0) + 1;
            return null;
          };
          try {
            const syncId = await syncThrough(s, bucketId, proxy.url, 'counted');
            await waitForSync(
              s,
              bucketId,
              syncId,
              (x) => idleAfter(1)(x) && x.total_files_synced === n,
              120_000,
            );
            assert.deepEqual(onKeys, { GET: n }, 'one GET per file, no HEAD');
            const objects = await s.store.objects.find({ sync_config_id: syncId }).toArray();
            assert.equal(objects.length, n);
            for (const o of objects) {
              const i = o.source_object_id.match(/f-(\d+)\.txt$/)![1];
              assert.equal(o.metadata.n, i, 'user metadata from the GET');
              assert.equal(o.blobs[0].details.hash, sha256(`counted ${i}`));
            }
            const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
            assert.equal(trig.status, 200, JSON.stringify(trig.body));
            await waitForSync(s, bucketId, syncId, idleAfter(2), 120_000);
            assert.deepEqual(onKeys, { GET: n }, 'the second pass read no file');
          } finally {
            await proxy.close();
          }
        });

        it('a listed file that is gone by its GET (and its HEAD) is dropped: not synced, not failed, no DLQ entry; found again when it is back', async () => {
          const { s, bucketId } = ctx();
          const keys = ['vanish/a.txt', 'vanish/b.txt', 'vanish/c.txt'];
          for (const k of keys)
            await minio.client.send(new PutObjectCommand({ Bucket: ROOT, Key: k, Body: `body of ${k}` }));
          // The listing (a request on the bucket) still names b.txt; reading it says it is not there,
          // as when a file is deleted between the listing and its read.
          const proxy = await startFaultProxy(minio.url, { rate: 0 });
          const onGone: Record<string, number> = {};
          let vanished = true;
          proxy.answer = (method, path) => {
            if (!vanished || path !== `/${ROOT}/vanish/b.txt`) return null;
            onGone[method] = (onGone[method] ?? 0) + 1;
            return { status: 404, code: 'NoSuchKey' };
          };
          try {
            const syncId = await syncThrough(s, bucketId, proxy.url, 'vanish');
            const first = await waitForSync(s, bucketId, syncId, idleAfter(1), 120_000);
            assert.equal(first.total_files_synced, 2);
            assert.equal(first.total_files_failed, 0);
            assert.deepEqual(
              onGone,
              { GET: 1, HEAD: 1 },
              'one GET, then one HEAD to tell gone from unreadable',
            );
            const names = async () =>
              (await s.store.objects.find({ sync_config_id: syncId }).toArray())
                .map((o) => o.source_object_id.split('/').at(-1))
                .sort();
            assert.deepEqual(await names(), ['a.txt', 'c.txt']);
            const dlq = await http(s, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/dlq`);
            assert.equal(dlq.status, 200, JSON.stringify(dlq.body));
            assert.deepEqual(dlq.body.results, [], 'a file gone is no failure');

            // Readable again: the next pass registers it (a dropped file is not remembered as seen).
            vanished = false;
            const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
            assert.equal(trig.status, 200, JSON.stringify(trig.body));
            const second = await waitForSync(s, bucketId, syncId, idleAfter(2), 120_000);
            assert.equal(second.total_files_synced, 3);
            assert.deepEqual(await names(), ['a.txt', 'b.txt', 'c.txt']);
          } finally {
            await proxy.close();
          }
        });
      },
    },
    {
      ...base,
      provider: 'tigris',
      server: 'MinIO as the endpoint',
      // As a Tigris connection is written: the endpoint and access keys; region left to its default (auto).
      providerConfig: (secret?: string) => ({
        endpoint_url: minio.url,
        credentials: {
          type: 'access_key',
          access_key_id: minio.accessKeyId,
          secret_access_key: secret ?? minio.secretAccessKey,
        },
      }),
    },
  ];
}

function gcsKit(): SyncKit {
  let gcs: FakeGcs;
  const file = (name: string) => gcs.client.bucket(ROOT).file(name);
  return {
    provider: 'gcs',
    server: 'fake-gcs-server',
    start: async () => {
      gcs = await startFakeGcs();
      await gcs.client.createBucket(ROOT);
    },
    stop: async () => {
      await gcs?.stop();
    },
    put: async (key, body, extra = {}) => {
      await file(key).save(body, {
        resumable: false,
        ...(extra.contentType ? { contentType: extra.contentType } : {}),
        ...(extra.metadata ? { metadata: { metadata: extra.metadata } } : {}),
      });
    },
    remove: async (key) => {
      await file(key).delete();
    },
    // fake-gcs-server's filesystem backend cannot store a name ending in `/`: no placeholder to put.
    markers: async () => undefined,
    // An emulator endpoint takes no credentials.
    providerConfig: () => ({ endpoint_url: gcs.url }),
    secret: () => null,
    rejected: null,
    extra: (ctx) => {
      it('refuses a connection to Google itself without service_account credentials (only emulators may go without)', async () => {
        const { s } = ctx();
        const r = await http(s, 'POST', '/v1/organizations/connections', {
          name: 'gcs-no-credentials',
          provider_type: 'gcs',
          provider_config: { project_id: 'some-project' },
        });
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.match(JSON.stringify(r.body), /gcs needs service_account credentials/);
        const list = await http(s, 'GET', '/v1/organizations/connections');
        assert.equal(list.status, 200);
        assert.ok(!JSON.stringify(list.body).includes('gcs-no-credentials'), 'nothing was saved');
      });
    },
  };
}

function azureKit(): SyncKit {
  const ACCOUNT = 'syncse2e';
  let azurite: Azurite;
  const blob = (name: string) => azurite.client.getContainerClient(ROOT).getBlockBlobClient(name);
  const put = async (key: string, body: string, extra: PutExtra = {}) => {
    await blob(key).uploadData(Buffer.from(body), {
      ...(extra.contentType ? { blobHTTPHeaders: { blobContentType: extra.contentType } } : {}),
      ...(extra.metadata ? { metadata: extra.metadata } : {}),
    });
  };
  return {
    provider: 'azure_blob',
    server: 'Azurite',
    start: async () => {
      azurite = await startAzurite(ACCOUNT);
      await azurite.client.getContainerClient(ROOT).create();
    },
    stop: async () => {
      await azurite?.stop();
    },
    put,
    remove: async (key) => {
      await blob(key).delete();
    },
    // A `folder/` placeholder and a hierarchical-namespace directory blob: no objects.
    markers: async () => {
      await put('data/empty-folder/', '');
      await put('data/directory', '', { metadata: { hdi_isfolder: 'true' } });
    },
    providerConfig: (secret?: string) => ({
      account_name: ACCOUNT,
      endpoint_url: azurite.url,
      credentials: { type: 'account_key', account_key: secret ?? azurite.key },
    }),
    secret: () => azurite.key,
    // Azure answers AuthenticationFailed, Azurite AuthorizationFailure: both are an auth refusal.
    rejected: /AuthenticationFailed|AuthorizationFailure/,
  };
}

const kits: SyncKit[] = [...minioKits(), gcsKit(), azureKit()];

for (const kit of kits) {
  describe(`${kit.provider} sync from ${kit.server}, end to end`, function () {
    this.timeout(180_000);
    let s: Stack;
    let bucketId: string;

    before(async function () {
      this.timeout(600_000);
      s = await stack();
      await kit.start();
      const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: `${kit.provider}-e2e` });
      assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
      bucketId = bucket.body.bucket_id;
    });
    after(() => kit.stop());

    if (kit.rejected) {
      const rejected = kit.rejected;
      it('refuses to save a connection whose credentials the server rejects, without echoing the secret', async () => {
        const wrong = randomBytes(64).toString('base64');
        const r = await http(s, 'POST', '/v1/organizations/connections', {
          name: `${kit.provider}-rejected`,
          provider_type: kit.provider,
          provider_config: kit.providerConfig(wrong),
        });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.match(JSON.stringify(r.body), rejected);
        assert.ok(!JSON.stringify(r.body).includes(wrong), 'the secret is never returned');
      });
    }

    it('syncs every file under the prefix, a later one after a trigger, drops a deleted one on a full sync, and redacts the secret', async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 40; i++)
        files[`d${i % 4}/sub ${i % 3}/file-${i}.txt`] = `${kit.provider} content ${i}`;
      await forEachLimit(Object.entries(files), 16, async ([rel, body]) => {
        await kit.put(`data/${rel}`, body);
      });
      // Content type and user metadata come from the server; the name has no extension to guess from.
      await kit.put('data/report', '{"ok":true}', {
        contentType: 'application/json',
        metadata: { owner: 'data-team' },
      });
      files.report = '{"ok":true}';
      await kit.markers();
      await kit.put('elsewhere/outside.txt', 'not under the prefix');

      const conn = await http(s, 'POST', '/v1/organizations/connections', {
        name: `${kit.provider}-good`,
        provider_type: kit.provider,
        provider_config: kit.providerConfig(),
      });
      assert.equal(conn.status, 200, JSON.stringify(conn.body));
      const connectionId: string = conn.body.connection_id;
      const secret = kit.secret();
      if (secret) {
        assert.equal(conn.body.provider_config.credentials, '[redacted]');
        const got = await http(s, 'GET', `/v1/organizations/connections/${connectionId}`);
        assert.equal(got.status, 200);
        assert.equal(got.body.provider_config.credentials, '[redacted]');
        for (const body of [conn.body, got.body])
          assert.ok(!JSON.stringify(body).includes(secret), 'the secret is never returned');
      } else assert.equal('credentials' in conn.body.provider_config, false);

      const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
        connection_id: connectionId,
        source_path: `${ROOT}/data`,
        polling_interval_seconds: 900,
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const syncId: string = created.body.sync_config_id;

      const total = Object.keys(files).length;
      const first = await waitForSync(
        s,
        bucketId,
        syncId,
        (x) => idleAfter(1)(x) && x.total_files_synced === total,
        120_000,
      );
      assert.equal(first.status, 'ACTIVE');
      assert.equal(first.total_files_discovered, total);
      assert.equal(first.total_files_failed, 0);

      const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
      const idOf = (rel: string) => `${ROOT}/data/${rel}`;
      let objects = await objectsOf();
      assert.equal(objects.length, total);
      assert.deepEqual(
        new Set(objects.map((o) => o.source_object_id)),
        new Set(Object.keys(files).map(idOf)),
      );
      for (const o of objects) {
        const rel = o.source_object_id.slice(idOf('').length);
        assert.equal(o.source_provider, kit.provider);
        assert.equal(o.blobs[0].details.hash, sha256(files[rel]), `bytes of ${rel}`);
        assert.equal(o.blobs[0].details.filename, rel.split('/').at(-1));
        assert.equal(o.source_checksum, `md5:${md5(files[rel])}`, `checksum of ${rel}`);
      }
      const report = objects.find((o) => o.source_object_id === idOf('report'))!;
      assert.equal(report.blobs[0].details.mime_type, 'application/json');
      assert.equal(report.metadata.owner, 'data-team');
      assert.equal(report.key_prefix, '/');
      assert.equal(
        objects.find((o) => o.source_object_id === idOf('d1/sub 1/file-1.txt'))!.key_prefix,
        '/d1/sub 1',
      );

      // A file added later appears after a trigger (the poll interval is 15 minutes away).
      await kit.put('data/late/arrival.txt', 'late');
      const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
      assert.equal(trig.status, 200, JSON.stringify(trig.body));
      const second = await waitForSync(
        s,
        bucketId,
        syncId,
        (x) => idleAfter(2)(x) && x.total_files_synced === total + 1,
        120_000,
      );
      assert.equal(second.status, 'ACTIVE');
      objects = await objectsOf();
      assert.equal(objects.length, total + 1);
      const late = objects.find((o) => o.source_object_id === idOf('late/arrival.txt'));
      assert.ok(late, 'the late file is an object');
      assert.equal(late.blobs[0].details.hash, sha256('late'));
      assert.equal(late.key_prefix, '/late');

      // A file deleted at the source: a full sync removes its object, and only it.
      await kit.remove('data/d0/sub 0/file-0.txt');
      const full = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger?full_sync=true`);
      assert.equal(full.status, 200, JSON.stringify(full.body));
      const third = await waitForSync(s, bucketId, syncId, idleAfter(3), 120_000);
      assert.equal(third.status, 'ACTIVE');
      assert.equal(third.total_files_synced, total + 1, 'nothing new was synced');
      objects = await objectsOf();
      assert.equal(objects.length, total);
      assert.ok(
        !objects.some((o) => o.source_object_id === idOf('d0/sub 0/file-0.txt')),
        'the deleted one is gone',
      );
      assert.ok(objects.some((o) => o.source_object_id === idOf('late/arrival.txt')));
      const [newest] = await s.store.runs
        .find({ sync_config_id: syncId })
        .sort({ started_at: -1 })
        .limit(1)
        .toArray();
      assert.deepEqual(
        [newest.provider_type, newest.full, newest.files_synced, newest.objects_deleted, newest.status],
        [kit.provider, true, 0, 1, 'COMPLETED'],
        JSON.stringify(newest),
      );
    });

    kit.extra?.(() => ({ s, bucketId }));
  });
}
