// The API's read cache (api/read-cache.ts) on its own, with a clock the test moves: how long an
// answer is served, when a read reloads it in the background, and what a write or a failed reload
// does to it. (test/integration/api-read-cache.test.ts checks it behind the routes.)
import assert from 'node:assert/strict';
import { ReadCache } from '../../api/read-cache';
import type { Tenant } from '../../store';

const TTL = 1000;
const tenant: Tenant = { internal_id: 'org_a', namespace_id: 'ns_a' };
const other: Tenant = { internal_id: 'org_b', namespace_id: 'ns_b' };

/** A load that answers `v<n>` (n counts its calls); while `holding`, calls wait for `release()`. */
function source() {
  const waiting: (() => void)[] = [];
  const s = {
    calls: 0,
    fail: false,
    holding: false,
    release: () => waiting.splice(0).forEach((r) => r()),
    load: async (): Promise<string> => {
      s.calls += 1;
      const n = s.calls;
      if (s.holding) await new Promise<void>((r) => waiting.push(r));
      if (s.fail) throw new Error('gone');
      return `v${n}`;
    },
  };
  return s;
}

/** Lets the background reload (promise callbacks only) run to its end. */
const settle = () => new Promise((r) => setImmediate(r));

describe('API read cache (ReadCache)', () => {
  let now: number;
  let cache: ReadCache;
  beforeEach(() => {
    now = 1_000_000;
    cache = new ReadCache(TTL, 100, () => now);
  });
  const get = (s: ReturnType<typeof source>, t: Tenant = tenant, id = 'obj_1') =>
    cache.get('object', id, t, 'bkt_1', s.load);
  /** The answer loaded (`v1`), then the clock moved past any refresh point but short of the TTL. */
  const pastRefreshPoint = async (s: ReturnType<typeof source>) => {
    assert.equal(await get(s), 'v1');
    now += Math.ceil(TTL * 0.75);
    return s;
  };

  it('serves an answer from memory until half its TTL without loading it again', async () => {
    const s = source();
    assert.equal(await get(s), 'v1');
    now += TTL / 2 - 1;
    assert.equal(await get(s), 'v1');
    await settle();
    assert.equal(s.calls, 1);
  });

  it('a read past the refresh point answers from memory and reloads once in the background', async () => {
    const s = await pastRefreshPoint(source());
    s.holding = true;
    assert.equal(await get(s), 'v1', 'the reader is not kept waiting for the reload');
    assert.equal(await get(s), 'v1', 'nor is the next one');
    assert.equal(s.calls, 2, 'one reload, shared');
    s.release();
    await settle();
    assert.equal(await get(s), 'v2', 'the reloaded answer replaces the old one');
    assert.equal(s.calls, 2);
  });

  it('never serves an answer older than its TTL: unread, it expires and the next read waits for a load', async () => {
    const s = source();
    assert.equal(await get(s), 'v1');
    now += TTL;
    assert.equal(await get(s), 'v2');
    assert.equal(s.calls, 2);
  });

  it('a reload started before a write is not kept', async () => {
    const s = await pastRefreshPoint(source());
    s.holding = true;
    assert.equal(await get(s), 'v1');
    cache.clear(); // a write through this process
    s.holding = false;
    assert.equal(await get(s), 'v3', 'after the write, a fresh load, not the reload in flight');
    s.release(); // the reload that started before the write ends last
    await settle();
    assert.equal(s.calls, 3);
    assert.equal(await get(s), 'v3', 'what is kept is what was loaded after the write');
  });

  it('a failed reload drops the answer: the next read loads it and gets the error', async () => {
    const s = await pastRefreshPoint(source());
    s.fail = true;
    assert.equal(await get(s), 'v1', 'answered from memory while the reload runs');
    await settle();
    await assert.rejects(get(s), /gone/);
    s.fail = false;
    assert.equal(await get(s), 'v4');
  });

  it('keeps an answer with the tenant that loaded it: another tenant loads its own', async () => {
    const mine = source();
    const theirs = source();
    assert.equal(await get(mine), 'v1');
    assert.equal(await get(theirs, other), 'v1');
    assert.equal(theirs.calls, 1, 'not served what another tenant loaded');
  });

  it('concurrent misses share one load', async () => {
    const s = source();
    const all = await Promise.all([get(s), get(s), get(s)]);
    assert.deepEqual(all, ['v1', 'v1', 'v1']);
    assert.equal(s.calls, 1);
  });
});
