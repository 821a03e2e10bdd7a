// Unit tests for config/env.ts: defaults, and a ConfigError naming each bad variable.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, decodeKey, loadEnv } from '../../config/env';

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
