// Event-driven syncs: how announcements coalesce and which pass they lead to (core/change-feed.ts),
// the Announcer's windows (lib/announcer.ts), and the local provider's lookup of announced ids.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  CHANGE_FEEDS,
  coalesceChanges,
  MAX_ANNOUNCED_KEYS,
  nextPass,
  type ChangesAnnounced,
} from '../../core/change-feed';
import { PROVIDER_TYPES } from '../../core/request-schemas';
import { Announcer } from '../../lib/announcer';
import { createProvider } from '../../providers';
import { LocalProvider } from '../../providers/local';

describe('change feeds: coalescing', () => {
  it('counts events and keeps each id once', () => {
    let p = coalesceChanges(null, { count: 2, keys: ['a', 'b'] });
    p = coalesceChanges(p, { count: 3, keys: ['b', 'c'] });
    assert.deepEqual(p, { count: 5, keys: ['a', 'b', 'c'], overflow: false });
  });

  it('overflows (a listing pass) past the id bound, or when an event names nothing, and stays so', () => {
    const many = Array.from({ length: MAX_ANNOUNCED_KEYS + 1 }, (_, i) => `k${i}`);
    assert.deepEqual(coalesceChanges(null, { count: many.length, keys: many }), {
      count: many.length,
      keys: [],
      overflow: true,
    });
    const unnamed = coalesceChanges(coalesceChanges(null, { count: 1, keys: ['a'] }), { count: 1 });
    assert.equal(unnamed.overflow, true);
    assert.equal(coalesceChanges(unnamed, { count: 1, keys: ['b'] }).overflow, true);
    const long = coalesceChanges(null, { count: 1, keys: ['x'.repeat(70 * 1024)] });
    assert.equal(long.overflow, true);
  });

  it('ignores junk counts and keys from a signal', () => {
    const p = coalesceChanges(null, { count: -4, keys: ['', 'a'] });
    assert.deepEqual(p, { count: 0, keys: ['a'], overflow: false });
  });

  it('targets the announced ids only when nothing else is pending', () => {
    const pending = { count: 2, keys: ['a', 'b'], overflow: false };
    const base = { pending, triggerRequested: false, pendingFullSync: false, hasCompletedPass: true };
    assert.deepEqual(nextPass(base), { kind: 'targeted', keys: ['a', 'b'] });
    assert.equal(nextPass({ ...base, triggerRequested: true }).kind, 'listing'); // a poll or a trigger
    assert.equal(nextPass({ ...base, pendingFullSync: true }).kind, 'listing');
    assert.equal(nextPass({ ...base, hasCompletedPass: false }).kind, 'listing');
    assert.equal(nextPass({ ...base, pending: { ...pending, overflow: true } }).kind, 'listing');
    assert.equal(nextPass({ ...base, pending: null }).kind, 'listing');
  });

  it('every provider that claims a change feed says so in its capabilities, and no other does', () => {
    const configs: Record<string, unknown> = {
      local: { root: '/tmp' },
      s3: { region: 'us-east-1' },
      tigris: {},
      gcs: { endpoint_url: 'http://127.0.0.1:9' },
      azure_blob: { account_name: 'devstoreaccount1' },
    };
    for (const type of PROVIDER_TYPES) {
      if (!(type in configs)) continue;
      const keys = { type: 'access_key', access_key_id: 'id', secret_access_key: 'secret' };
      const creds =
        type === 's3' || type === 'tigris'
          ? keys
          : type === 'azure_blob'
            ? { type: 'account_key', account_key: 'a2V5' }
            : null;
      const p = createProvider(type, configs[type], creds);
      assert.equal(p.capabilities.changeFeed, CHANGE_FEEDS[type], type);
    }
  });
});

describe('change feeds: the Announcer', () => {
  const log = pino({ level: 'silent' });

  it('sends one signal per sync per window, however many events', async () => {
    const sent: { id: string; msg: ChangesAnnounced }[] = [];
    const a = new Announcer(async (id, msg) => void sent.push({ id, msg }), log, 50);
    for (let i = 0; i < 10_000; i++) a.announce('s1', [`f-${i % 100}`]);
    a.announce('s2', ['x']);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(sent.length, 2);
    const s1 = sent.find((x) => x.id === 's1')!.msg;
    assert.equal(s1.count, 10_000);
    assert.equal(s1.keys!.length, 100);
    a.announce('s1', null, 7); // names nothing: the signal carries the count only
    await a.close();
    assert.deepEqual(sent.at(-1), { id: 's1', msg: { count: 7 } });
  });

  it('a failed signal is dropped (the poll catches it), not retried forever', async () => {
    let calls = 0;
    const a = new Announcer(
      async () => {
        calls++;
        throw new Error('temporal down');
      },
      log,
      10,
    );
    a.announce('s', ['k']);
    await new Promise((r) => setTimeout(r, 50));
    await a.close();
    assert.equal(calls, 1);
    assert.equal(a.sent, 0);
  });
});

describe('change feeds: local lookup of announced ids', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'lookup-'));
    mkdirSync(path.join(root, 'src/moved/deep'), { recursive: true });
    writeFileSync(path.join(root, 'src/a.txt'), 'a');
    writeFileSync(path.join(root, 'src/moved/one.txt'), '1');
    writeFileSync(path.join(root, 'src/moved/deep/two.txt'), '22');
    writeFileSync(path.join(root, 'outside.txt'), 'o');
    symlinkSync(path.join(root, 'outside.txt'), path.join(root, 'src/link-out.txt'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('files, a folder’s files, removed paths; ids outside the source path or escaping it are ignored', async () => {
    const p = new LocalProvider({ root });
    const r = await p.lookup(
      '/src',
      ['src/a.txt', 'src/moved', 'src/gone.txt', 'outside.txt', 'src/../outside.txt', 'src/link-out.txt'],
      100,
    );
    assert.deepEqual(r.entries.map((e) => [e.sourceObjectId, e.path, e.size]).sort(), [
      ['src/a.txt', 'a.txt', 1],
      ['src/moved/deep/two.txt', 'moved/deep/two.txt', 2],
      ['src/moved/one.txt', 'moved/one.txt', 1],
    ]);
    assert.deepEqual(r.removed, ['src/gone.txt']);
    assert.equal(r.incomplete, false);
    // The same entries as a listing would give (so versions compare equal).
    const listed = (await p.list('/src', { pageSize: 100 })).entries.find(
      (e) => e.sourceObjectId === 'src/a.txt',
    );
    assert.deepEqual(
      r.entries.find((e) => e.sourceObjectId === 'src/a.txt'),
      listed,
    );
  });

  it('says incomplete when a folder has more files than the page takes', async () => {
    const r = await new LocalProvider({ root }).lookup('/src', ['src/moved'], 1);
    assert.equal(r.entries.length, 1);
    assert.equal(r.incomplete, true);
  });
});
