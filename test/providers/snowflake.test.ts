// What the conformance suite does not cover for `snowflake`: strict source paths, the SQL it sends
// (quoted identifiers, bound values, keyset pages), compound keys, the row-as-JSON content, a
// non-temporal incremental column, error classes. The real driver against the fake, as in the suite.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createProvider, ProviderError, type SourceEntry, type StorageProvider } from '../../providers';
import { snowflakeConfigSchema } from '../../providers/snowflake';
import { startFakeSnowflake, SF_USER, type SnowflakeServer } from './fixtures/snowflake';

const provider = (config: Record<string, unknown>): StorageProvider => {
  const { credentials, ...rest } = config;
  return createProvider('snowflake', rest, credentials as Record<string, unknown>);
};

async function rejects(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

async function readAll(p: StorageProvider, e: SourceEntry): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of await p.open(e)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

describe('snowflake provider', function () {
  this.timeout(60_000);
  let sf: SnowflakeServer;

  before(async () => {
    sf = await startFakeSnowflake();
    sf.fake.createTable(
      'DB',
      'S',
      'EVENTS',
      [
        { name: 'TENANT', type: 'text' },
        { name: 'SEQ', type: 'fixed' },
        { name: 'PAYLOAD', type: 'variant' },
        { name: 'Mixed Case', type: 'boolean' },
        { name: 'VERSION_NO', type: 'fixed' },
      ],
      [],
    );
    for (let i = 0; i < 7; i++)
      sf.fake.upsert('DB', 'S', 'EVENTS', {
        TENANT: i % 2 ? 'b' : 'a',
        SEQ: i,
        PAYLOAD: { n: i, tags: ['x'] },
        'Mixed Case': i % 3 === 0,
        VERSION_NO: 100 - i,
      });
  });
  after(() => sf.fake.stop());

  it('accepts only strict DB.SCHEMA.TABLE paths and identifiers, so nothing reaches SQL unquoted', async () => {
    const p = provider(sf.config({ primary_key_columns: ['TENANT', 'SEQ'] }));
    for (const bad of [
      'DB.S.EVENTS; DROP TABLE X',
      'DB.S.EVENTS--',
      'DB.S."EVEN',
      'A.B.C.D',
      'DB..EVENTS',
      '',
    ]) {
      const err = await rejects(() => p.list(bad, { pageSize: 10 }));
      assert.equal(err.kind, 'invalid', bad);
    }
    const { credentials: _, ...config } = sf.config({ primary_key_columns: ['"Mixed Case"', 'seq'] });
    assert.equal(snowflakeConfigSchema.safeParse(config).success, true);
    for (const col of ['ID) OR 1=1 --', 'a b', '"unterminated', ''])
      assert.equal(
        snowflakeConfigSchema.safeParse({ account: 'x', warehouse: 'W', primary_key_columns: [col] }).success,
        false,
        col,
      );
    // A quoted name with a quote in it is sent doubled, never closing the identifier early.
    const err = await rejects(() => p.list('DB.S."EV""ENTS"', { pageSize: 10 }));
    assert.equal(err.kind, 'not_found');
    assert.ok(sf.fake.queries.some((q) => q.sqlText.includes('"DB"."S"."EV""ENTS"')));
  });

  it('pages a compound key with bound values (no OFFSET) and opens each row as JSON', async () => {
    const p = provider(sf.config({ primary_key_columns: ['TENANT', 'SEQ'] }));
    const before = sf.fake.queries.length;
    const seen: SourceEntry[] = [];
    let cursor: string | null = null;
    do {
      const page = await p.list('db.s.events', { pageSize: 3, cursor });
      seen.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen.map((e) => e.path),
      ['a/0.json', 'a/2.json', 'a/4.json', 'a/6.json', 'b/1.json', 'b/3.json', 'b/5.json'],
    );
    const sent = sf.fake.queries.slice(before).filter((q) => q.sqlText.startsWith('SELECT'));
    assert.equal(sent.length, 3);
    assert.ok(sent.every((q) => !/OFFSET/i.test(q.sqlText) && / LIMIT 4$/.test(q.sqlText)));
    assert.match(sent[1].sqlText, /WHERE \("TENANT" > \? OR \("TENANT" = \? AND \("SEQ" > \?\)\)\)/);
    assert.deepEqual(
      sent[1].bindings.map((b) => b.value),
      ['a', 'a', '4'],
    );
    assert.ok(sent.every((q) => q.parameters.STATEMENT_TIMEOUT_IN_SECONDS === 300));

    const e = seen.find((x) => x.path === 'b/3.json')!;
    assert.equal(e.sourceObjectId, 'DB.S.EVENTS/["b",3]');
    assert.equal(e.contentType, 'application/json');
    assert.deepEqual(e.metadata, {
      TENANT: 'b',
      SEQ: 3,
      PAYLOAD: { n: 3, tags: ['x'] },
      'Mixed Case': true,
      VERSION_NO: 97,
    });
    const body = await readAll(p, e);
    assert.deepEqual(JSON.parse(body), e.metadata);
    assert.equal(e.size, Buffer.byteLength(body));
    assert.equal(e.modifiedAt, '1970-01-01T00:00:00.000Z');
    // A fresh instance (the DLQ's case) opens it from the entry alone.
    assert.equal(await readAll(provider(sf.config({ primary_key_columns: ['TENANT', 'SEQ'] })), e), body);
  });

  it('orders by a numeric incremental column and lists everything for modifiedSince', async () => {
    const p = provider(sf.config({ primary_key_columns: ['SEQ'], incremental_column: 'VERSION_NO' }));
    const page = await p.list('DB.S.EVENTS', { pageSize: 100, modifiedSince: new Date().toISOString() });
    assert.deepEqual(
      page.entries.map((e) => e.path),
      ['6.json', '5.json', '4.json', '3.json', '2.json', '1.json', '0.json'],
    );
    assert.equal(p.capabilities.serverSideModifiedFilter, false, 'not a timestamp: no push-down');
  });

  it('classifies errors: missing table, missing column, unknown warehouse, bad key, throttling', async () => {
    const p = provider(sf.config({ primary_key_columns: ['SEQ'] }));
    const missing = await rejects(() => p.list('DB.S.NOPE', { pageSize: 10 }));
    assert.deepEqual([missing.kind, missing.retryable], ['not_found', false]);
    assert.match(missing.message, /002003/);

    const noColumn = await rejects(() =>
      provider(sf.config({ primary_key_columns: ['ID'] })).list('DB.S.EVENTS', { pageSize: 10 }),
    );
    assert.equal(noColumn.kind, 'invalid');

    const noKey = await rejects(() => provider(sf.config()).list('DB.S.EVENTS', { pageSize: 10 }));
    assert.equal(noKey.kind, 'invalid');
    assert.match(noKey.message, /primary_key_columns/);

    const wh = await rejects(() =>
      provider(sf.config({ warehouse: 'NO_SUCH_WH', primary_key_columns: ['SEQ'] })).list('DB.S.EVENTS', {
        pageSize: 10,
      }),
    );
    assert.deepEqual([wh.kind, wh.retryable], ['invalid', false]);

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const jwt = await rejects(() =>
      provider(sf.config({}, { type: 'key_pair', username: SF_USER, private_key: other.toString() })).list(
        'DB.S.EVENTS',
        { pageSize: 1 },
      ),
    );
    assert.deepEqual([jwt.kind, jwt.retryable], ['auth', false]);
    assert.match(jwt.message, /390144/);

    const throttled = await startFakeSnowflake();
    try {
      throttled.fake.throttle(503);
      const err = await rejects(() => provider(throttled.config()).list('DB.S.EVENTS', { pageSize: 1 }));
      assert.deepEqual([err.kind, err.retryable], ['unavailable', true]);
    } finally {
      await throttled.fake.stop();
    }
  });

  it('reads an encrypted private key with its passphrase, and never puts secrets in errors', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const encrypted = privateKey.export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-256-cbc',
      passphrase: 'open sesame',
    });
    assert.throws(
      () =>
        provider(
          sf.config(
            {},
            {
              type: 'key_pair',
              username: SF_USER,
              private_key: encrypted.toString(),
              private_key_passphrase: 'wrong',
            },
          ),
        ),
      (e: ProviderError) =>
        e.kind === 'invalid' && !e.message.includes('wrong') && !e.message.includes('BEGIN'),
    );
    const r = await provider(
      sf.config({}, { type: 'username_password', username: SF_USER, password: 'hunter2-secret' }),
    ).test();
    assert.equal(r.success, false);
    assert.doesNotMatch(JSON.stringify(r), /hunter2-secret/);
    assert.match(r.message, /390100/);
  });
});
