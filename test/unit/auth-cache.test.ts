// The in-process cache behind authentication (api/auth.ts TtlCache).
import assert from 'node:assert/strict';
import { TtlCache } from '../../api/auth';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('auth cache (TtlCache)', () => {
  it('answers from the cache within the TTL and asks again after it', async () => {
    const cache = new TtlCache<string>(150);
    let loads = 0;
    let value: string | null = 'v1';
    const load = async () => {
      loads += 1;
      return value;
    };
    assert.equal(await cache.get('k', load), 'v1');
    value = null; // "revoked"
    assert.equal(await cache.get('k', load), 'v1', 'a second get within the TTL is served from the cache');
    assert.equal(loads, 1);
    // Polled, not timed: the revocation shows once the TTL has passed.
    let got: string | null = 'v1';
    for (let i = 0; i < 50 && got !== null; i++) {
      await sleep(20);
      got = await cache.get('k', load);
    }
    assert.equal(got, null);
    assert.ok(loads >= 2);
  });

  it('a key read late in its time is looked up again in the background; revoked, it is dropped', async () => {
    let now = 1_000_000;
    const cache = new TtlCache<string>(1000, 100, () => now);
    let loads = 0;
    let value: string | null = 'v1';
    let release = () => undefined as void;
    let holding = false;
    const load = async () => {
      loads += 1;
      if (holding) await new Promise<void>((r) => (release = r));
      return value;
    };
    assert.equal(await cache.get('k', load), 'v1');
    now += 700;
    assert.equal(await cache.get('k', load), 'v1');
    assert.equal(loads, 1, 'not looked up again before three quarters of its time');
    now += 100;
    holding = true;
    value = null; // revoked meanwhile
    assert.equal(await cache.get('k', load), 'v1', 'the reader does not wait for the lookup');
    assert.equal(await cache.get('k', load), 'v1');
    assert.equal(loads, 2, 'one background lookup');
    release();
    await new Promise((r) => setImmediate(r));
    holding = false;
    assert.equal(await cache.get('k', load), null, 'the revoked key is dropped once its lookup says so');
    assert.equal(loads, 3, 'and not served from memory any more');
  });

  it('does not cache misses, so a new key works at once', async () => {
    const cache = new TtlCache<string>(60_000);
    let value: string | null = null;
    const load = async () => value;
    assert.equal(await cache.get('k', load), null);
    value = 'created';
    assert.equal(await cache.get('k', load), 'created');
  });

  it('shares one lookup between concurrent misses, and does not cache a failed one', async () => {
    const cache = new TtlCache<string>(60_000);
    let loads = 0;
    const slow = async () => {
      loads += 1;
      await sleep(30);
      return 'v';
    };
    assert.deepEqual(await Promise.all([cache.get('k', slow), cache.get('k', slow), cache.get('k', slow)]), [
      'v',
      'v',
      'v',
    ]);
    assert.equal(loads, 1);
    await assert.rejects(
      cache.get('bad', async () => {
        throw new Error('store down');
      }),
      /store down/,
    );
    assert.equal(await cache.get('bad', async () => 'recovered'), 'recovered');
  });

  it('keeps at most max entries (oldest dropped) and ttl 0 disables it', async () => {
    const cache = new TtlCache<number>(60_000, 2);
    let loads = 0;
    const load = (n: number) => async () => {
      loads += 1;
      return n;
    };
    await cache.get('a', load(1));
    await cache.get('b', load(2));
    await cache.get('c', load(3));
    assert.equal(loads, 3);
    await cache.get('c', load(3));
    await cache.get('b', load(2));
    assert.equal(loads, 3, 'b and c are cached');
    await cache.get('a', load(1));
    assert.equal(loads, 4, 'a was dropped');
    const off = new TtlCache<number>(0);
    let n = 0;
    await off.get('x', async () => ++n);
    await off.get('x', async () => ++n);
    assert.equal(n, 2);
  });
});
