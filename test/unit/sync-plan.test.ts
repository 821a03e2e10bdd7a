// Unit tests for core/sync-plan.ts: what a sync page decides for each listed entry, without I/O.
import assert from 'node:assert/strict';
import type { SourceEntry } from '../../core/entry';
import {
  checksumsToCheck,
  planPage,
  retryEntries,
  toComplete,
  fetchesNew,
  toLookUp,
  type DlqState,
  type PlanInput,
  type PlanSettings,
  type StoredObject,
} from '../../core/sync-plan';

const entry = (id: string, over: Partial<SourceEntry> = {}): SourceEntry => ({
  sourceObjectId: id,
  path: id,
  name: id.split('/').at(-1)!,
  size: 1,
  modifiedAt: '2026-01-01T00:00:00.000Z',
  version: 'v1',
  metadata: {},
  ...over,
});

const stored = (id: string, over: Partial<StoredObject> = {}): StoredObject => ({
  _id: `obj_${id}`,
  object_id: `obj_${id}`,
  sync_config_id: 'sync_a',
  source_version: 'v1',
  created_by_page: 'run_old|',
  last_seen_pass_id: 'pass_old',
  ...over,
});

const settings: PlanSettings = {
  syncConfigId: 'sync_a',
  runId: 'run_1',
  passId: 'pass_1',
  pageKey: 'run_1|c1',
  onUpdate: true,
  driftDeletes: true,
  deleteRemoved: true,
  skipDuplicates: false,
};

function plan(over: Partial<PlanInput> & { entries: SourceEntry[] }) {
  return planPage({
    removed: [],
    matches: () => true,
    stored: new Map(),
    dlq: new Map(),
    knownChecksums: new Set(),
    settings,
    ...over,
  });
}

const kinds = (p: ReturnType<typeof plan>) => p.decisions.map((d) => `${d.entry.sourceObjectId}:${d.kind}`);

describe('sync page plan (core/sync-plan.ts)', () => {
  it('new, unchanged, changed by version; discovered counts matching entries', () => {
    const p = plan({
      entries: [entry('a'), entry('b'), entry('c', { version: 'v2' })],
      stored: new Map([
        ['b', stored('b')],
        ['c', stored('c')],
      ]),
    });
    assert.deepEqual(kinds(p), ['a:new', 'b:unchanged', 'c:changed']);
    assert.equal(p.discovered, 3);
    const b = p.decisions[1];
    assert.ok(b.kind === 'unchanged' && b.version === 'v1', 'recorded at the version its object holds');
  });

  it('a lazy listing completes only the matching entries the page may ingest', () => {
    const partial = (id: string, over: Partial<SourceEntry> = {}) => entry(id, { partial: true, ...over });
    const entries = [
      partial('settled'), // the manifest holds it at v1
      partial('held'), // an object holds it at v1
      partial('changed', { version: 'v2' }),
      partial('new'),
      partial('out', { path: 'x.tmp' }),
      entry('whole'), // not partial: nothing to complete
    ];
    const known = new Map([['settled', 'v1']]);
    const objs = new Map([
      ['held', stored('held')],
      ['changed', stored('changed')],
    ]);
    const matches = (e: SourceEntry) => !e.path.endsWith('.tmp');
    const ids = (es: SourceEntry[]) => es.map((e) => e.sourceObjectId);
    assert.deepEqual(ids(toComplete(entries, matches, known, objs, true)), ['changed', 'new']);
    // With updates off a changed file keeps its object as it is: nothing to read of it.
    assert.deepEqual(ids(toComplete(entries, matches, known, objs, false)), ['new']);
    // Without a manifest or objects, every matching partial entry.
    assert.deepEqual(ids(toComplete(entries, matches, undefined, new Map(), true)), [
      'settled',
      'held',
      'changed',
      'new',
    ]);
    // A provider that fetches a file whole with its bytes: new files are left to their copy.
    assert.deepEqual(ids(toComplete(entries, matches, known, objs, true, true)), ['changed']);
    assert.deepEqual(ids(toComplete(entries, matches, undefined, new Map(), true, true)), []);
  });

  it('new files are fetched whole by their copy when nothing reads their checksum before it', () => {
    assert.equal(fetchesNew({ canFetch: true, assumeNew: false, skipDuplicates: false }), true);
    assert.equal(fetchesNew({ canFetch: true, assumeNew: true, skipDuplicates: true }), true, 'first pass');
    assert.equal(
      fetchesNew({ canFetch: true, assumeNew: false, skipDuplicates: true }),
      false,
      'skip_duplicates looks up known content by checksum before the copy',
    );
    assert.equal(fetchesNew({ canFetch: false, assumeNew: true, skipDuplicates: false }), false);
  });

  it('the manifest settles entries it holds at their version: no lookup, unchanged', () => {
    const known = new Map([
      ['a', 'v1'],
      ['b', 'v1'],
      ['gone-out', 'v1'],
    ]);
    const entries = [
      entry('a'),
      entry('b', { version: 'v2' }),
      entry('c'),
      entry('gone-out', { path: 'x.tmp' }),
      entry('never-in', { path: 'y.tmp' }),
    ];
    const matches = (e: SourceEntry) => !e.path.endsWith('.tmp');
    // b changed, c is new, gone-out is held but out of the filters now (drift); never-in was never
    // held: nothing to look up for it.
    assert.deepEqual(toLookUp(entries, ['r'], matches, known, true), ['b', 'c', 'gone-out', 'r']);
    // Without a manifest everything is looked up.
    assert.deepEqual(toLookUp(entries, [], matches, undefined, true), [
      'a',
      'b',
      'c',
      'gone-out',
      'never-in',
    ]);
    // Updates off: a held file at another version is settled too (at the version its object holds).
    assert.deepEqual(toLookUp([entry('b', { version: 'v2' })], [], matches, known, false), []);
    const p = plan({
      entries,
      matches,
      known,
      stored: new Map([
        ['b', stored('b')],
        ['gone-out', stored('gone-out')],
      ]),
    });
    assert.deepEqual(kinds(p), [
      'a:unchanged',
      'b:changed',
      'c:new',
      'gone-out:drifted',
      'never-in:filtered-out',
    ]);
    assert.equal(p.discovered, 3);
    const off = plan({
      entries: [entry('b', { version: 'v2' })],
      known,
      settings: { ...settings, onUpdate: false },
    });
    assert.deepEqual(
      off.decisions.map((d) => (d.kind === 'unchanged' ? d.version : d.kind)),
      ['v1'],
      'on_update false: unchanged at the version the object holds',
    );
  });

  it('on_update false keeps a changed file as unchanged', () => {
    const p = plan({
      entries: [entry('c', { version: 'v2' })],
      stored: new Map([['c', stored('c')]]),
      settings: { ...settings, onUpdate: false },
    });
    assert.deepEqual(kinds(p), ['c:unchanged']);
  });

  it('an object created by an earlier attempt of this very page counts as created again', () => {
    const p = plan({
      entries: [entry('a', { version: 'v9' })],
      stored: new Map([['a', stored('a', { created_by_page: 'run_1|c1', source_version: 'v9' })]]),
    });
    assert.deepEqual(kinds(p), ['a:created-by-page']);
    // The same object created by another page of the run (a file listed twice) is just unchanged.
    const q = plan({
      entries: [entry('a')],
      stored: new Map([['a', stored('a', { created_by_page: 'run_1|c0' })]]),
    });
    assert.deepEqual(kinds(q), ['a:unchanged']);
  });

  it('filter drift: only this sync’s objects of non-matching files are deleted, and only when enabled', () => {
    const matches = (e: SourceEntry) => !e.sourceObjectId.endsWith('.tmp');
    const input = {
      entries: [entry('x.tmp'), entry('y.tmp'), entry('z.tmp'), entry('keep.txt')],
      matches,
      stored: new Map([
        ['x.tmp', stored('x')],
        ['y.tmp', stored('y', { sync_config_id: 'sync_other' })],
      ]),
    };
    const p = plan(input);
    assert.deepEqual(kinds(p), ['x.tmp:drifted', 'y.tmp:filtered-out', 'z.tmp:filtered-out', 'keep.txt:new']);
    assert.equal(p.discovered, 1);
    const off = plan({ ...input, settings: { ...settings, driftDeletes: false } });
    assert.deepEqual(kinds(off), [
      'x.tmp:filtered-out',
      'y.tmp:filtered-out',
      'z.tmp:filtered-out',
      'keep.txt:new',
    ]);
  });

  it('DLQ: a version that failed for good is skipped (counted once, by the run that gave up); a new version is retried', () => {
    const dlq = new Map<string, DlqState>([
      ['f', { status: 'FAILED', version: 'v1', last_attempt_run_id: 'run_0' }],
      ['g', { status: 'FAILED', version: 'v1', last_attempt_run_id: 'run_1' }],
      ['h', { status: 'FAILED', version: 'v1', last_attempt_run_id: 'run_0' }],
      ['p', { status: 'PENDING', version: 'v1', last_attempt_run_id: 'run_0' }],
    ]);
    const p = plan({ entries: [entry('f'), entry('g'), entry('h', { version: 'v2' }), entry('p')], dlq });
    assert.deepEqual(kinds(p), ['f:gave-up', 'g:gave-up', 'h:new', 'p:new']);
    const [f, g, h, pending] = p.decisions;
    assert.ok(f.kind === 'gave-up' && !f.count);
    assert.ok(g.kind === 'gave-up' && g.count);
    assert.ok(h.kind === 'new' && h.inDlq, 'its DLQ entry is cleared once it is in');
    assert.ok(pending.kind === 'new' && pending.inDlq);
  });

  it('skip_duplicates: a new file whose provider checksum the bucket holds is a duplicate', () => {
    const input = {
      entries: [entry('a', { checksum: 'md5:1' }), entry('b', { checksum: 'md5:2' }), entry('c')],
      knownChecksums: new Set(['md5:1']),
    };
    assert.deepEqual(kinds(plan({ ...input, settings: { ...settings, skipDuplicates: true } })), [
      'a:duplicate',
      'b:new',
      'c:new',
    ]);
    assert.deepEqual(kinds(plan(input)), ['a:new', 'b:new', 'c:new'], 'off: every file is new');
  });

  it('removed files: this sync’s objects go when on_delete allows, and their DLQ entries with them', () => {
    const input = {
      entries: [],
      removed: ['r1', 'r2', 'r1', 'r3'],
      stored: new Map([
        ['r1', stored('r1')],
        ['r3', stored('r3', { sync_config_id: 'sync_other' })],
      ]),
    };
    const p = plan(input);
    assert.deepEqual(
      p.removed.map((d) => d._id),
      ['obj_r1'],
    );
    assert.deepEqual(p.removedIds, ['r1', 'r2', 'r3']);
    const kept = plan({ ...input, settings: { ...settings, deleteRemoved: false } });
    assert.deepEqual(kept.removed, []);
    assert.deepEqual(kept.removedIds, []);
  });

  it('retryEntries: DLQ entries not listed or removed, each once, without entries that lack one', () => {
    const got = retryEntries(
      [entry('listed')],
      ['gone'],
      [
        { source_object_id: 'listed', entry: entry('listed') },
        { source_object_id: 'gone', entry: entry('gone') },
        { source_object_id: 'w', entry: entry('w') },
        { source_object_id: 'w', entry: entry('w') },
        { source_object_id: 'none', entry: null },
      ],
    );
    assert.deepEqual(
      got.map((e) => e.sourceObjectId),
      ['w'],
    );
  });

  it('checksumsToCheck: checksums of matching files with no stored object, once each', () => {
    const got = checksumsToCheck(
      [
        entry('a', { checksum: 'md5:1' }),
        entry('b', { checksum: 'md5:1' }),
        entry('c', { checksum: 'md5:2' }),
        entry('d.tmp', { checksum: 'md5:3' }),
        entry('e'),
      ],
      (e) => !e.sourceObjectId.endsWith('.tmp'),
      new Map([['c', {}]]),
    );
    assert.deepEqual(got, ['md5:1']);
  });
});
