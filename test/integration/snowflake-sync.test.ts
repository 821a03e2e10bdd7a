// End to end: a `snowflake` connection (the real snowflake-sdk driver against the in-process fake of
// Snowflake's REST endpoints) -> HTTP API -> Temporal workflow -> one object per row.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import { startFakeSnowflake, SF_USER, type SnowflakeServer } from '../providers/fixtures/snowflake';

const DB = 'SALES';
const SCHEMA = 'PUBLIC';
const TABLE = 'ORDERS';
const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('snowflake sync from a table, end to end', function () {
  this.timeout(180_000);
  let s: Stack;
  let sf: SnowflakeServer;
  let bucketId: string;
  /** The row as the provider serialises it: columns in table order, timestamps ISO 8601. */
  const expected = new Map<number, string>();
  const insert = (id: number, customer: string, amount: number) => {
    const at = new Date();
    sf.fake.upsert(DB, SCHEMA, TABLE, { ID: id, CUSTOMER: customer, AMOUNT: amount, UPDATED_AT: at });
    expected.set(
      id,
      JSON.stringify({ ID: id, CUSTOMER: customer, AMOUNT: amount, UPDATED_AT: at.toISOString() }),
    );
  };

  before(async function () {
    this.timeout(600_000);
    s = await stack();
    sf = await startFakeSnowflake();
    sf.fake.createTable(
      DB,
      SCHEMA,
      TABLE,
      [
        { name: 'ID', type: 'fixed' },
        { name: 'CUSTOMER', type: 'text' },
        { name: 'AMOUNT', type: 'real' },
        { name: 'UPDATED_AT', type: 'timestamp_ntz' },
      ],
      ['ID'],
    );
    const bucket = await http(s, 'POST', '/v1/buckets', { bucket_name: 'snowflake-e2e' });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    bucketId = bucket.body.bucket_id;
  });
  after(async () => {
    await sf?.fake.stop();
  });

  it('refuses to save a connection whose password Snowflake rejects, without echoing it', async () => {
    const r = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'snowflake-rejected',
      provider_type: 'snowflake',
      provider_config: sf.config(
        {},
        { type: 'username_password', username: SF_USER, password: 'wrong-password-value' },
      ),
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(JSON.stringify(r.body), /390100/);
    assert.doesNotMatch(JSON.stringify(r.body), /wrong-password-value/);
  });

  it('syncs every row into an object, a row inserted later after a trigger, and redacts the password', async () => {
    for (let i = 1; i <= 150; i++) insert(i, `customer ${i % 7}`, i * 1.5);

    const conn = await http(s, 'POST', '/v1/organizations/connections', {
      name: 'snowflake-fake',
      provider_type: 'snowflake',
      provider_config: sf.config(
        { database: DB, incremental_column: 'UPDATED_AT', fetch_size: 100 },
        { type: 'username_password', username: SF_USER, password: sf.password },
      ),
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    assert.equal(conn.body.provider_config.credentials, '[redacted]');
    assert.equal(conn.body.provider_config.endpoint_url, sf.fake.url);
    const got = await http(s, 'GET', `/v1/organizations/connections/${conn.body.connection_id}`);
    for (const body of [conn.body, got.body])
      assert.doesNotMatch(JSON.stringify(body), new RegExp(sf.password), 'the password is never returned');

    const created = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs`, {
      connection_id: conn.body.connection_id,
      source_path: `${SCHEMA}.${TABLE}`, // the database comes from provider_config
      polling_interval_seconds: 900,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const syncId: string = created.body.sync_config_id;

    const first = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(1)(x) && x.total_files_synced === 150,
      120_000,
    );
    assert.equal(first.status, 'ACTIVE');
    assert.equal(first.total_files_discovered, 150);

    const objectsOf = () => s.store.objects.find({ sync_config_id: syncId }).toArray();
    let objects = await objectsOf();
    assert.equal(objects.length, 150);
    assert.deepEqual(
      new Set(objects.map((o) => o.source_object_id)),
      new Set([...expected.keys()].map((id) => `${DB}.${SCHEMA}.${TABLE}/${id}`)),
    );
    for (const o of objects) {
      const id = Number(o.source_object_id.split('/').at(-1));
      assert.equal(o.blobs[0].details.hash, sha256(expected.get(id)!), `bytes of row ${id}`);
      assert.equal(o.blobs[0].details.filename, `${id}.json`);
      assert.equal(o.blobs[0].details.mime_type, 'application/json');
      assert.equal(o.metadata.CUSTOMER, `customer ${id % 7}`);
    }
    // Keyset pages with bound values, never OFFSET; identifiers quoted.
    const selects = sf.fake.queries.filter((q) =>
      q.sqlText.startsWith('SELECT * FROM "SALES"."PUBLIC"."ORDERS"'),
    );
    assert.ok(
      selects.some((q) => q.bindings.length > 0 && / WHERE /.test(q.sqlText)),
      'a keyset page',
    );
    assert.ok(selects.every((q) => !/OFFSET/i.test(q.sqlText)));

    // A row inserted later arrives after a trigger (the poll interval is 15 minutes away); the
    // incremental run asks only for rows modified since the last pass.
    await new Promise((r) => setTimeout(r, 20));
    insert(151, 'late customer', 9.75);
    const before = sf.fake.queries.length;
    const trig = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/trigger`);
    assert.equal(trig.status, 200, JSON.stringify(trig.body));
    const second = await waitForSync(
      s,
      bucketId,
      syncId,
      (x) => idleAfter(2)(x) && x.total_files_synced === 151,
      120_000,
    );
    assert.equal(second.status, 'ACTIVE');
    objects = await objectsOf();
    assert.equal(objects.length, 151);
    const late = objects.find((o) => o.source_object_id === `${DB}.${SCHEMA}.${TABLE}/151`);
    assert.ok(late, 'the late row is an object');
    assert.equal(late.blobs[0].details.hash, sha256(expected.get(151)!));
    const incremental = sf.fake.queries.slice(before).find((q) => q.sqlText.includes('"UPDATED_AT" >= ?'));
    assert.ok(incremental, 'the incremental run pushed modifiedSince down');
  });
});
