// `_id` point operations reach an index on the store the suite runs on: on FerretDB's SQLite
// backend only with scripts/patches/ferretdb-sqlite-id-index.patch (the query expression for `_id`
// matches the unique index FerretDB creates); on MongoDB always. Plus the store's one-function
// picks per capability (store.lookupByIds, store.updateIfMatches), which hot paths use.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Collection } from 'mongodb';
import { indexesFor } from '../../store';
import { stack, type Stack } from '../setup/stack';

interface Row {
  _id: string;
  n: number;
  tag: string | null;
}

describe('store: _id operations use an index', function () {
  this.timeout(120_000);
  let s: Stack;
  let coll: Collection<Row>;

  before(async () => {
    s = await stack();
    coll = s.store.db.collection<Row>(`id_index_${randomBytes(4).toString('hex')}`);
    const rows: Row[] = Array.from({ length: 500 }, (_, i) => ({
      _id: `k${i}`,
      n: i,
      tag: i % 2 ? 'odd' : null,
    }));
    await coll.insertMany(rows);
  });
  after(() => coll?.drop().catch(() => undefined));

  /** The plan the server reports for find(filter). */
  async function planOf(filter: Record<string, unknown>): Promise<string[]> {
    const res = await s.store.db.command({ explain: { find: coll.collectionName, filter } });
    if (s.store.kind === 'ferretdb') {
      // FerretDB's SQLite backend answers with SQLite's EXPLAIN QUERY PLAN of the query it runs.
      const plan = (res.queryPlanner as { Plan?: string[] }).Plan;
      assert.ok(Array.isArray(plan), `SQLite query plan in ${JSON.stringify(res)}`);
      return plan;
    }
    const stages: string[] = [];
    const walk = (n: Record<string, unknown> | undefined) => {
      if (!n) return;
      if (typeof n.stage === 'string') stages.push(n.stage);
      walk(n.inputStage as Record<string, unknown> | undefined);
    };
    walk((res.queryPlanner as { winningPlan: Record<string, unknown> }).winningPlan);
    return stages;
  }

  it('reports which server it is', async () => {
    const info = await s.store.db.admin().command({ buildInfo: 1 });
    assert.equal(s.store.kind, 'ferretdbVersion' in info ? 'ferretdb' : 'mongodb');
  });

  it('answers a lookup by _id from the _id index, not a scan', async () => {
    const plan = await planOf({ _id: 'k250' });
    if (s.store.kind === 'ferretdb') {
      // Same expression as UpdateAll and DeleteAll use (metadata.IDColumn), so those search too.
      assert.ok(
        plan.some((l) => /SEARCH .* USING INDEX .*_id_/.test(l)),
        `expected an index search for {_id}, got ${JSON.stringify(plan)}`,
      );
      assert.ok(!plan.some((l) => /\bSCAN\b/.test(l)), JSON.stringify(plan));
      // The control: a filter without `_id` is not pushed down, so it is a scan; the plan above is no accident.
      const other = await planOf({ n: 250 });
      assert.ok(
        other.some((l) => /\bSCAN\b/.test(l)),
        `a filter on n scans: ${JSON.stringify(other)}`,
      );
    } else {
      assert.ok(
        plan.some((st) => st === 'IDHACK' || st === 'EXPRESS_IXSCAN' || st === 'IXSCAN'),
        JSON.stringify(plan),
      );
    }
    assert.equal((await coll.findOne({ _id: 'k250' }))?.n, 250);
  });

  it('answers {_id: {$in}} and {_id, more} from the _id index too (one query for a page of lookups)', async () => {
    // The store uses $in and conditional updates only where the server pushes them down.
    assert.equal(s.store.idPushdown, true, 'the embedded FerretDB is the patched build');
    const ids = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const inPlan = await planOf({ _id: { $in: ids } });
    const andPlan = await planOf({ _id: 'k7', tag: 'odd' });
    if (s.store.kind === 'ferretdb') {
      for (const [what, plan] of [
        ['$in', inPlan],
        ['{_id, tag}', andPlan],
      ] as const) {
        assert.ok(
          plan.some((l) => /SEARCH .* USING INDEX .*_id_/.test(l)) && !plan.some((l) => /\bSCAN\b/.test(l)),
          `expected an index search for ${what}, got ${JSON.stringify(plan)}`,
        );
      }
      // A $in that mixes in a non-string stays with the handler (a scan), as upstream.
      const mixed = await planOf({ _id: { $in: ['k1', 5] } });
      assert.ok(
        mixed.some((l) => /\bSCAN\b/.test(l)),
        JSON.stringify(mixed),
      );
    } else {
      assert.ok(
        inPlan.some((st) => st === 'IXSCAN' || st === 'EXPRESS_IXSCAN'),
        JSON.stringify(inPlan),
      );
    }
    // Results are the whole filter's: the handler still applies the rest of it.
    const docs = await coll.find({ _id: { $in: [...ids, 'nope'] } }).toArray();
    assert.equal(docs.length, 300);
    assert.equal((await coll.find({ _id: { $in: ['k1', 'k2', 'k3'] }, tag: 'odd' }).toArray()).length, 2);
    assert.equal(await coll.findOne({ _id: 'k7', tag: null }), null);
    assert.equal((await coll.findOne({ _id: 'k7', tag: 'odd' }))?.n, 7);
    assert.equal((await coll.updateOne({ _id: 'k9', tag: 'odd' }, { $set: { n: 9 } })).matchedCount, 1);
    assert.equal((await coll.updateOne({ _id: 'k9', tag: null }, { $set: { n: 0 } })).matchedCount, 0);
    assert.equal((await coll.deleteMany({ _id: { $in: ['k498', 'k499'] }, tag: null })).deletedCount, 1);
  });

  it('answers an _id range sorted by _id with a limit from the _id index, reading only the page', async () => {
    // store/object-order.ts pages a bucket's object list this way.
    const ranged = s.store.db.collection<{ _id: string | number | object; n: number }>(
      `${coll.collectionName}_range`,
    );
    const keys = Array.from({ length: 300 }, (_, i) => `b1|${String(i).padStart(4, '0')}`);
    await ranged.insertMany([
      ...keys.map((k, n) => ({ _id: k, n })),
      // Outside the range, or no string: never in its results (MongoDB compares strings with strings).
      { _id: 'b0|9999', n: -1 },
      { _id: 'b2|0000', n: -2 },
      { _id: 7, n: -3 },
      { _id: { b: 1 }, n: -4 },
    ]);
    try {
      const range = { $gt: 'b1|', $lt: 'b1}' };
      const page = await ranged
        .find({ _id: range } as never)
        .sort({ _id: 1 })
        .skip(20)
        .limit(5)
        .toArray();
      assert.deepEqual(
        page.map((d) => d._id),
        keys.slice(20, 25),
      );
      const desc = await ranged
        .find({ _id: range } as never)
        .sort({ _id: -1 })
        .limit(3)
        .toArray();
      assert.deepEqual(
        desc.map((d) => d._id),
        keys.slice(-3).reverse(),
      );
      const after = await ranged
        .find({ _id: { $gt: keys[297], $lt: 'b1}' } } as never)
        .sort({ _id: 1 })
        .toArray();
      assert.deepEqual(
        after.map((d) => d._id),
        keys.slice(298),
      );
      assert.equal(await ranged.countDocuments({ _id: range } as never), 300);
      const ex = await s.store.db.command({
        explain: { find: ranged.collectionName, filter: { _id: range }, sort: { _id: 1 }, limit: 5 },
      });
      if (s.store.kind === 'ferretdb') {
        const plan = (ex.queryPlanner as { Plan?: string[] }).Plan ?? [];
        assert.ok(
          plan.some((l) => /SEARCH .* USING INDEX .*_id_/.test(l)) &&
            !plan.some((l) => /\bSCAN\b|TEMP B-TREE/.test(l)),
          `expected an index range in _id order, got ${JSON.stringify(plan)}`,
        );
        // Filter, sort and limit all reach SQLite: the page is read, not the collection.
        assert.deepEqual(
          [ex.filterPushdown, ex.sortPushdown, ex.limitPushdown],
          [true, true, true],
          JSON.stringify(ex),
        );
        // The control: sorted by another field, nothing but the filter is pushed down.
        const other = await s.store.db.command({
          explain: { find: ranged.collectionName, filter: { _id: range }, sort: { n: 1 }, limit: 5 },
        });
        assert.deepEqual([other.sortPushdown, other.limitPushdown], [false, false], JSON.stringify(other));
      } else {
        const stages = JSON.stringify(ex.queryPlanner);
        assert.match(stages, /IXSCAN/);
        assert.doesNotMatch(stages, /"SORT"/);
      }
    } finally {
      await ranged.drop().catch(() => undefined);
    }
  });

  it('lookupByIds finds what exists, by _id, whatever the count', async () => {
    const ids = [...Array.from({ length: 40 }, (_, i) => `k${i * 7}`), 'missing', 'k0'];
    const found = await s.store.lookupByIds(coll, ids, { n: 1 });
    assert.equal(found.size, 40);
    assert.equal(found.get('k49')?.n, 49);
    assert.equal(found.has('missing'), false);
    assert.equal((await s.store.lookupByIds(coll, [])).size, 0);
  });

  it('deleteByIds deletes exactly those ids (one $in delete where pushed down) and counts them', async () => {
    const doomed = ['k100', 'k101', 'k102', 'k100', 'missing'];
    assert.equal(await s.store.deleteByIds(coll, doomed), 3, 'duplicates and missing ids count nothing');
    assert.equal(await coll.countDocuments({ _id: { $in: ['k100', 'k101', 'k102'] } }), 0);
    assert.equal((await coll.findOne({ _id: 'k103' }))?.n, 103, 'its neighbours stay');
    assert.equal(await s.store.deleteByIds(coll, []), 0);
  });

  it('updateEachById: one bulk write of many _id statements, each reading what those before it wrote', async () => {
    // The patched FerretDB says it writes them at once; MongoDB always does.
    assert.equal(s.store.bulkUpdates, true);
    // More statements than FerretDB's connection pool holds (100): upstream waited forever here.
    const ids = Array.from({ length: 290 }, (_, i) => `k${200 + i}`);
    await s.store.updateEachById(
      coll,
      ids.map((_id, i) => ({ _id, update: { $set: { n: -(200 + i) }, $inc: { bulk: 1 } } as never })),
    );
    const after = await s.store.lookupByIds(coll, ids);
    assert.deepEqual(
      ids.filter((id) => !after.has(id)),
      [],
    );
    for (const [i, id] of ids.entries()) assert.equal(after.get(id)?.n, -(200 + i), id);
    // The same _id twice, an update by another field between, a missing _id: in order, as one by one.
    const res = await coll.bulkWrite(
      [
        { updateOne: { filter: { _id: 'k150' }, update: { $inc: { n: 1000 } } } },
        { updateOne: { filter: { _id: 'missing' }, update: { $set: { n: 0 } } } },
        { updateOne: { filter: { _id: 'k150' }, update: { $inc: { n: 1000 } } } },
        { updateOne: { filter: { n: 2150 }, update: { $set: { tag: 'seen the two increments' } } } },
        { updateOne: { filter: { _id: 'k151' }, update: { $set: { tag: 'last' } } } },
      ],
      { ordered: true },
    );
    assert.equal(res.matchedCount, 4);
    assert.equal(res.modifiedCount, 4);
    const k150 = await coll.findOne({ _id: 'k150' });
    assert.equal(k150?.n, 2150);
    assert.equal(k150?.tag, 'seen the two increments');
    assert.equal((await coll.findOne({ _id: 'k151' }))?.tag, 'last');
    assert.equal(await coll.findOne({ _id: 'missing' }), null);
  });

  it('updateIfMatches updates only while the expected fields hold', async () => {
    assert.equal(await s.store.updateIfMatches(coll, 'k3', { tag: 'even' }, { $set: { n: -1 } }), false);
    assert.equal((await coll.findOne({ _id: 'k3' }))?.n, 3);
    assert.equal(await s.store.updateIfMatches(coll, 'k3', { tag: 'odd' }, { $set: { n: -3 } }), true);
    assert.equal((await coll.findOne({ _id: 'k3' }))?.n, -3);
    // null matches a null field.
    assert.equal(await s.store.updateIfMatches(coll, 'k4', { tag: null }, { $set: { tag: 'x' } }), true);
    assert.equal((await coll.findOne({ _id: 'k4' }))?.tag, 'x');
    assert.equal(await s.store.updateIfMatches(coll, 'nope', {}, { $set: { n: 1 } }), false);
  });

  it('makes on each server only the indexes that answer its queries; FerretDB drops the others', async () => {
    const present = async (collection: string) => {
      // A collection without indexes of its own is made by its first insert, with only `_id`'s.
      await s.store.db.createCollection(collection).catch(() => undefined);
      return (await s.store.db.collection(collection).listIndexes().toArray())
        .map((i) => i.name as string)
        .sort();
    };
    const wanted = indexesFor(s.store.kind);
    for (const collection of ['objects', 'batches', 'tasks', 'sync_pass_seen', 'namespaces']) {
      const names = wanted.filter((w) => w.collection === collection).map((w) => w.name);
      assert.deepEqual(await present(collection), ['_id_', ...names].sort(), collection);
    }
    if (s.store.kind !== 'ferretdb') return;
    // FerretDB: no index beside `_id` on objects (none would answer a query; each costs every insert).
    assert.deepEqual(await present('objects'), ['_id_']);
    // A store an earlier version indexed loses them at the next connect.
    await s.store.objects.createIndex({ object_id: 1 }, { unique: true });
    await s.store.objects.createIndex({ sync_config_id: 1, last_seen_pass_id: 1 });
    assert.deepEqual(await present('objects'), [
      '_id_',
      'object_id_1',
      'sync_config_id_1_last_seen_pass_id_1',
    ]);
    await s.store.ensureIndexes();
    assert.deepEqual(await present('objects'), ['_id_']);
    // The namespace name stays unique per organization there too (no `_id` holds it).
    assert.ok((await present('namespaces')).includes('internal_id_1_namespace_name_1'));
  });
});
