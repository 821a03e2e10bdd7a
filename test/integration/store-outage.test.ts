// The database unreachable -> 503 + Retry-After in the API's error format (not a 500), and the same
// API answers again once the database is back. A second API whose Store reaches FerretDB through a
// proxy that the test closes and reopens.
import assert from 'node:assert/strict';
import { startApi } from '../../api/server';
import { loadEnv } from '../../config/env';
import { Store } from '../../store';
import { stack, type Stack } from '../setup/stack';
import { tcpProxy, type Proxy } from '../setup/proxy';
import { api, assertError } from './api-helpers';

describe('API: database unreachable', function () {
  this.timeout(120_000);
  let s: Stack;
  let proxy: Proxy;
  let store: Store;
  let second: { url: string; close: () => Promise<void> };

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    proxy = await tcpProxy(new URL(s.env.MONGODB_URI).host);
    store = await Store.connect(`mongodb://${proxy.address}/`, s.env.MONGODB_DB);
    const env = loadEnv({
      ...Object.fromEntries(
        Object.entries(s.env).map(([k, v]) => [k, Array.isArray(v) ? v.join(':') : String(v)]),
      ),
      PORT: '0',
    });
    second = await startApi(env, { store });
  });
  after(async () => {
    await second?.close();
    await proxy?.up();
    await store?.close();
    await proxy?.close();
  });

  it('answers 503 with Retry-After while the store is down, and 200 again when it is back', async () => {
    const ok = await api(s, 'GET', '/v1/buckets', undefined, { base: second.url });
    assert.equal(ok.status, 200, ok.text);

    await proxy.down();
    const r = await api(s, 'GET', '/v1/buckets', undefined, { base: second.url });
    assertError(r, 503, 'ServiceUnavailableError');
    assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
    assert.match(r.body.error.message, /^database unavailable: /);
    // A write too (the key lookup fails first; nothing reaches the store).
    const w = await api(s, 'POST', '/v1/buckets', { bucket_name: 'during-outage' }, { base: second.url });
    assertError(w, 503, 'ServiceUnavailableError');

    await proxy.up();
    const deadline = Date.now() + 60_000;
    let back;
    for (;;) {
      back = await api(s, 'GET', '/v1/buckets', undefined, { base: second.url });
      if (back.status !== 503 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(back.status, 200, back.text);
    assert.equal(await s.store.buckets.countDocuments({ bucket_name: 'during-outage' }), 0);
  });
});
