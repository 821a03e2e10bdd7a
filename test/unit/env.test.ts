// Unit tests for config/env.ts: defaults, and a ConfigError naming each bad variable.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, decodeKey, loadEnv } from '../../config/env';
import { createBlobStore, FolderBlobStore, S3BlobStore } from '../../store/blobs';

const HEX_KEY = 'ab'.repeat(32);
const B64_KEY = Buffer.alloc(32, 7).toString('base64');

function minimal(over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { MONGODB_URI: 'mongodb://localhost:27017', SECRETS_KEY: HEX_KEY, ...over };
}

/** Expects loadEnv to throw a ConfigError whose message names `variable`; returns the message. */
function expectConfigError(source: NodeJS.ProcessEnv, variable: string): string {
  let caught: unknown;
  try {
    loadEnv(source);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.ok(caught instanceof Error);
  assert.match(
    caught.message,
    new RegExp(`\\b${variable}\\b`),
    `message should name ${variable}: ${caught.message}`,
  );
  return caught.message;
}

describe('env: defaults', () => {
  it('applies every default when only the required variables are set', () => {
    const env = loadEnv(minimal());
    assert.equal(env.MONGODB_URI, 'mongodb://localhost:27017');
    assert.equal(env.MONGODB_DB, 'bucket_syncs');
    assert.equal(env.TEMPORAL_ADDRESS, 'localhost:7233');
    assert.equal(env.TEMPORAL_NAMESPACE, 'default');
    assert.equal(env.TASK_QUEUE, 'bucket-syncs');
    assert.equal(env.PORT, 8080);
    assert.equal(env.SECRETS_KEY, HEX_KEY);
    assert.equal(env.LOG_LEVEL, 'info');
    assert.equal(env.WORKER_ID, undefined);
    assert.deepEqual(env.LOCAL_ROOTS, []);
    assert.equal(env.SYNC_PAGE_SIZE, 1000);
  });

  it('reads given values and coerces numbers', () => {
    const env = loadEnv(
      minimal({
        MONGODB_URI: 'mongodb+srv://u:p@cluster.example.net/db',
        MONGODB_DB: 'other',
        TEMPORAL_ADDRESS: 'temporal.internal:7234',
        TEMPORAL_NAMESPACE: 'ns',
        TASK_QUEUE: 'q',
        PORT: '3000',
        LOG_LEVEL: 'debug',
        WORKER_ID: 'w-1',
        SYNC_PAGE_SIZE: '250',
      }),
    );
    assert.equal(env.MONGODB_URI, 'mongodb+srv://u:p@cluster.example.net/db');
    assert.equal(env.MONGODB_DB, 'other');
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal.internal:7234');
    assert.equal(env.TEMPORAL_NAMESPACE, 'ns');
    assert.equal(env.TASK_QUEUE, 'q');
    assert.equal(env.PORT, 3000);
    assert.equal(env.LOG_LEVEL, 'debug');
    assert.equal(env.WORKER_ID, 'w-1');
    assert.equal(env.SYNC_PAGE_SIZE, 250);
  });

  it('ignores unrelated variables', () => {
    const env = loadEnv(minimal({ HOME: '/root', PATH: '/usr/bin' })) as Record<string, unknown>;
    assert.equal(env.HOME, undefined);
    assert.equal(env.PATH, undefined);
  });
});

describe('env: bad values throw ConfigError naming the variable', () => {
  it('missing MONGODB_URI', () => {
    const msg = expectConfigError(minimal({ MONGODB_URI: undefined }), 'MONGODB_URI');
    assert.match(msg, /not set/);
  });

  it('MONGODB_URI without the mongodb scheme', () => {
    const msg = expectConfigError(minimal({ MONGODB_URI: 'postgres://localhost/db' }), 'MONGODB_URI');
    assert.match(msg, /postgres:\/\/localhost\/db/, 'the message quotes the given value');
  });

  for (const port of ['abc', '70000', '-1', '80.5']) {
    it(`PORT=${port}`, () => {
      expectConfigError(minimal({ PORT: port }), 'PORT');
    });
  }

  it('PORT at the edges is accepted', () => {
    assert.equal(loadEnv(minimal({ PORT: '0' })).PORT, 0);
    assert.equal(loadEnv(minimal({ PORT: '65535' })).PORT, 65535);
  });

  for (const addr of [
    'localhost',
    'localhost:',
    ':7233',
    'localhost:port',
    'http://localhost:7233',
    'a b:7233',
  ]) {
    it(`TEMPORAL_ADDRESS=${JSON.stringify(addr)}`, () => {
      expectConfigError(minimal({ TEMPORAL_ADDRESS: addr }), 'TEMPORAL_ADDRESS');
    });
  }

  it('missing SECRETS_KEY', () => {
    expectConfigError(minimal({ SECRETS_KEY: undefined }), 'SECRETS_KEY');
  });

  for (const [label, key] of [
    ['short hex (62 chars)', 'ab'.repeat(31)],
    ['long hex (66 chars)', 'ab'.repeat(33)],
    ['base64 of 16 bytes', Buffer.alloc(16, 1).toString('base64')],
    ['base64 of 31 bytes', Buffer.alloc(31, 1).toString('base64')],
    ['base64 of 33 bytes', Buffer.alloc(33, 1).toString('base64')],
    ['a short password', 'hunter2'],
    ['empty', ''],
  ] as const) {
    it(`SECRETS_KEY as ${label}`, () => {
      expectConfigError(minimal({ SECRETS_KEY: key }), 'SECRETS_KEY');
    });
  }

  it('bad LOG_LEVEL and SYNC_PAGE_SIZE', () => {
    expectConfigError(minimal({ LOG_LEVEL: 'verbose' }), 'LOG_LEVEL');
    expectConfigError(minimal({ SYNC_PAGE_SIZE: '0' }), 'SYNC_PAGE_SIZE');
    expectConfigError(minimal({ SYNC_PAGE_SIZE: '5001' }), 'SYNC_PAGE_SIZE');
  });

  it('names every bad variable at once', () => {
    const msg = expectConfigError(
      minimal({ MONGODB_URI: undefined, PORT: 'x', TEMPORAL_ADDRESS: 'nope' }),
      'MONGODB_URI',
    );
    assert.match(msg, /\bPORT\b/);
    assert.match(msg, /\bTEMPORAL_ADDRESS\b/);
    assert.doesNotMatch(msg, /\bSECRETS_KEY\b/, 'a good variable is not named');
  });
});

describe('env: SECRETS_KEY encodings', () => {
  it('accepts 64 hex characters in either case', () => {
    assert.equal(loadEnv(minimal({ SECRETS_KEY: HEX_KEY })).SECRETS_KEY, HEX_KEY);
    assert.equal(loadEnv(minimal({ SECRETS_KEY: HEX_KEY.toUpperCase() })).SECRETS_KEY, HEX_KEY.toUpperCase());
  });

  it('accepts base64 of 32 bytes', () => {
    assert.equal(loadEnv(minimal({ SECRETS_KEY: B64_KEY })).SECRETS_KEY, B64_KEY);
    const random = randomBytes(32).toString('base64');
    assert.equal(loadEnv(minimal({ SECRETS_KEY: random })).SECRETS_KEY, random);
  });

  it('decodeKey returns the 32 key bytes for both encodings', () => {
    const bytes = randomBytes(32);
    assert.deepEqual(decodeKey(bytes.toString('hex')), bytes);
    assert.deepEqual(decodeKey(bytes.toString('base64')), bytes);
    assert.deepEqual(decodeKey(HEX_KEY), Buffer.alloc(32, 0xab));
  });

  it('decodeKey refuses keys that are not 32 bytes', () => {
    assert.equal(decodeKey('ab'.repeat(31)), null);
    assert.equal(decodeKey(Buffer.alloc(24).toString('base64')), null);
    assert.equal(decodeKey(''), null);
  });
});

describe('env: LOCAL_ROOTS', () => {
  it('splits on ":" and drops empty entries', () => {
    assert.deepEqual(loadEnv(minimal({ LOCAL_ROOTS: '/data' })).LOCAL_ROOTS, ['/data']);
    assert.deepEqual(loadEnv(minimal({ LOCAL_ROOTS: '/data:/srv/media' })).LOCAL_ROOTS, [
      '/data',
      '/srv/media',
    ]);
    assert.deepEqual(loadEnv(minimal({ LOCAL_ROOTS: ':/data::/srv:' })).LOCAL_ROOTS, ['/data', '/srv']);
    assert.deepEqual(loadEnv(minimal({ LOCAL_ROOTS: '' })).LOCAL_ROOTS, []);
  });

  for (const roots of ['data', '/data:relative', './data', '~/data']) {
    it(`rejects a relative entry in ${JSON.stringify(roots)}`, () => {
      expectConfigError(minimal({ LOCAL_ROOTS: roots }), 'LOCAL_ROOTS');
    });
  }
});

describe('env: blob store', () => {
  const s3 = (over: Record<string, string | undefined> = {}) =>
    minimal({ BLOB_STORE: 's3', BLOB_S3_BUCKET: 'blobs', ...over });

  it('defaults to the folder store, and no S3 setting is required for it', () => {
    const env = loadEnv(minimal());
    assert.equal(env.BLOB_STORE, 'folder');
    assert.equal(env.BLOB_DIR, '.data/blobs');
    assert.equal(env.BLOB_S3_BUCKET, undefined);
    assert.equal(env.BLOB_S3_PREFIX, '');
    assert.equal(env.BLOB_S3_ENDPOINT, undefined);
    assert.equal(env.BLOB_S3_REGION, 'us-east-1');
    assert.equal(env.BLOB_S3_FORCE_PATH_STYLE, undefined);
    assert.equal(env.BLOB_S3_ACCESS_KEY_ID, undefined);
    assert.equal(env.BLOB_S3_SECRET_ACCESS_KEY, undefined);
    assert.ok(createBlobStore(env) instanceof FolderBlobStore);
  });

  it('reads the S3 settings; the prefix loses its slashes at the ends', () => {
    const env = loadEnv(
      s3({
        BLOB_S3_PREFIX: '/prod/blobs/',
        BLOB_S3_ENDPOINT: 'http://127.0.0.1:9000',
        BLOB_S3_REGION: 'auto',
        BLOB_S3_FORCE_PATH_STYLE: 'false',
        BLOB_S3_ACCESS_KEY_ID: 'AKIA',
        BLOB_S3_SECRET_ACCESS_KEY: 'shh',
      }),
    );
    assert.equal(env.BLOB_STORE, 's3');
    assert.equal(env.BLOB_S3_BUCKET, 'blobs');
    assert.equal(env.BLOB_S3_PREFIX, 'prod/blobs');
    assert.equal(env.BLOB_S3_ENDPOINT, 'http://127.0.0.1:9000');
    assert.equal(env.BLOB_S3_REGION, 'auto');
    assert.equal(env.BLOB_S3_FORCE_PATH_STYLE, false);
    assert.equal(loadEnv(s3({ BLOB_S3_FORCE_PATH_STYLE: '1' })).BLOB_S3_FORCE_PATH_STYLE, true);
    const store = createBlobStore(env);
    assert.ok(store instanceof S3BlobStore);
    assert.equal(store.bucket, 'blobs');
    assert.equal(store.objectKey('bkt_1/obj_2/blob_3'), 'prod/blobs/bkt_1/obj_2/blob_3');
    store.client.destroy();
  });

  it('BLOB_STORE=s3 without BLOB_S3_BUCKET is refused by name, with every other bad variable', () => {
    const msg = expectConfigError(s3({ BLOB_S3_BUCKET: undefined, PORT: 'x' }), 'BLOB_S3_BUCKET');
    assert.match(msg, /BLOB_S3_BUCKET: required when BLOB_STORE=s3 \(not set\)/);
    assert.match(msg, /\bPORT\b/);
    expectConfigError(s3({ BLOB_S3_BUCKET: '' }), 'BLOB_S3_BUCKET');
  });

  it('bad values are refused by name', () => {
    expectConfigError(minimal({ BLOB_STORE: 'gcs' }), 'BLOB_STORE');
    expectConfigError(s3({ BLOB_S3_BUCKET: 'a/b' }), 'BLOB_S3_BUCKET');
    expectConfigError(s3({ BLOB_S3_PREFIX: 'a/../b' }), 'BLOB_S3_PREFIX');
    expectConfigError(s3({ BLOB_S3_PREFIX: 'a b' }), 'BLOB_S3_PREFIX');
    expectConfigError(s3({ BLOB_S3_ENDPOINT: 'minio:9000' }), 'BLOB_S3_ENDPOINT');
    expectConfigError(s3({ BLOB_S3_ENDPOINT: 'ftp://minio' }), 'BLOB_S3_ENDPOINT');
    expectConfigError(s3({ BLOB_S3_FORCE_PATH_STYLE: 'yes' }), 'BLOB_S3_FORCE_PATH_STYLE');
  });

  it('the access key and its secret come together; the secret is never repeated', () => {
    const secret = 'very-secret-value-123';
    const msg = expectConfigError(s3({ BLOB_S3_SECRET_ACCESS_KEY: secret }), 'BLOB_S3_ACCESS_KEY_ID');
    assert.doesNotMatch(msg, new RegExp(secret));
    expectConfigError(s3({ BLOB_S3_ACCESS_KEY_ID: 'AKIA' }), 'BLOB_S3_SECRET_ACCESS_KEY');
    const bad = expectConfigError(
      s3({ BLOB_S3_SECRET_ACCESS_KEY: '', BLOB_S3_ACCESS_KEY_ID: 'AKIA' }),
      'BLOB_S3_SECRET_ACCESS_KEY',
    );
    assert.match(bad, /value not shown/);
    const key = expectConfigError(minimal({ SECRETS_KEY: 'hunter2-not-a-key' }), 'SECRETS_KEY');
    assert.doesNotMatch(key, /hunter2/, 'SECRETS_KEY is not repeated either');
  });

  it('BLOB_S3_FORCE_PATH_STYLE defaults to true with an endpoint (MinIO, R2...) and false for AWS', () => {
    const store = createBlobStore(loadEnv(s3({ BLOB_S3_ENDPOINT: 'http://127.0.0.1:9000' })));
    assert.ok(store instanceof S3BlobStore);
    assert.equal(store.client.config.forcePathStyle, true);
    store.client.destroy();
    const aws = createBlobStore(loadEnv(s3()));
    assert.ok(aws instanceof S3BlobStore);
    assert.equal(aws.client.config.forcePathStyle, false);
    aws.client.destroy();
  });
});

describe('env: push channels (event-driven google_drive / sharepoint)', () => {
  it('PUBLIC_API_URL: unset or empty is none, a trailing slash goes, a non-http URL is refused', () => {
    assert.equal(loadEnv(minimal()).PUBLIC_API_URL, undefined);
    assert.equal(loadEnv(minimal({ PUBLIC_API_URL: '' })).PUBLIC_API_URL, undefined);
    assert.equal(
      loadEnv(minimal({ PUBLIC_API_URL: 'https://api.example/base/' })).PUBLIC_API_URL,
      'https://api.example/base',
    );
    expectConfigError(minimal({ PUBLIC_API_URL: 'ftp://api.example' }), 'PUBLIC_API_URL');
    expectConfigError(minimal({ PUBLIC_API_URL: 'https://api.example/?x=1' }), 'PUBLIC_API_URL');
  });

  it('PUSH_CHANNEL_TTL_SECONDS: a day by default, 10 s to a week', () => {
    assert.equal(loadEnv(minimal()).PUSH_CHANNEL_TTL_SECONDS, 86_400);
    expectConfigError(minimal({ PUSH_CHANNEL_TTL_SECONDS: '5' }), 'PUSH_CHANNEL_TTL_SECONDS');
    expectConfigError(minimal({ PUSH_CHANNEL_TTL_SECONDS: '604801' }), 'PUSH_CHANNEL_TTL_SECONDS');
  });
});
