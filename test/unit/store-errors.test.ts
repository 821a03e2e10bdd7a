// Store trouble -> 503 + Retry-After (not 500): the classifier (store/errors.ts) on the mongodb
// driver's own error classes, and the API's errorHandler answering them over real HTTP.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import {
  MongoClient,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from 'mongodb';
import { isTransientStoreError } from '../../store/errors';
import { ApiError, errorHandler } from '../../api/errors';
import { freePort } from '../../lib/servers';

/** A real MongoServerSelectionError: the driver trying a port nobody listens on. */
async function serverSelectionError(): Promise<unknown> {
  const port = await freePort();
  const client = new MongoClient(`mongodb://127.0.0.1:${port}/`, { serverSelectionTimeoutMS: 300 });
  try {
    await client.db('x').collection('y').findOne({});
    assert.fail('a closed port answered');
  } catch (err) {
    return err;
  } finally {
    await client.close();
  }
}

describe('store errors: transient -> 503', () => {
  let selection: unknown;
  before(async () => {
    selection = await serverSelectionError();
  });

  it('classifies the driver’s transient errors as transient', () => {
    assert.ok(selection instanceof MongoServerSelectionError, String(selection));
    assert.equal(isTransientStoreError(selection), true);
    assert.equal(
      isTransientStoreError(new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed')),
      true,
    );
    assert.equal(isTransientStoreError(new MongoNetworkTimeoutError('connection timed out')), true);
    assert.equal(
      isTransientStoreError(
        new MongoServerError({ errmsg: 'not primary', code: 10107, errorLabels: ['RetryableWriteError'] }),
      ),
      true,
    );
    assert.equal(
      isTransientStoreError(
        new MongoServerError({
          errmsg: 'WriteConflict',
          code: 112,
          errorLabels: ['TransientTransactionError'],
        }),
      ),
      true,
    );
    // FerretDB (SQLite backend) under write contention.
    assert.equal(
      isTransientStoreError(
        new MongoServerError({ errmsg: 'sqlite: step: database is locked (5) (SQLITE_BUSY)', code: 1 }),
      ),
      true,
    );
    // Wrapped by our own code.
    assert.equal(
      isTransientStoreError(new Error('listing failed', { cause: new MongoNetworkError('reset') })),
      true,
    );
  });

  it('leaves real failures alone', () => {
    assert.equal(
      isTransientStoreError(new MongoServerError({ errmsg: 'E11000 duplicate key error', code: 11000 })),
      false,
    );
    assert.equal(
      isTransientStoreError(new MongoServerError({ errmsg: 'unknown operator: $foo', code: 2 })),
      false,
    );
    assert.equal(isTransientStoreError(new Error('database is locked')), false, 'not a store error');
    assert.equal(isTransientStoreError(new TypeError('x is undefined')), false);
    assert.equal(isTransientStoreError(null), false);
  });

  describe('errorHandler over HTTP', () => {
    let server: Server;
    let base: string;
    const logged: { level: number; msg: string }[] = [];
    const errors: Record<string, () => unknown> = {};

    before(async () => {
      errors.selection = () => selection;
      errors.network = () => new MongoNetworkError('connection 7 to 127.0.0.1:27017 closed');
      errors.retryable = () =>
        new MongoServerError({ errmsg: 'not primary', code: 10107, errorLabels: ['RetryableWriteError'] });
      errors.busy = () =>
        new MongoServerError({ errmsg: 'sqlite: step: database is locked (5) (SQLITE_BUSY)', code: 1 });
      errors.duplicate = () => new MongoServerError({ errmsg: 'E11000 duplicate key error', code: 11000 });
      errors.api = () => new ApiError(409, 'conflict', 'ConflictError');
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line));
          cb();
        },
      });
      const app = express();
      app.get('/e/:kind', (req) => {
        throw errors[req.params.kind]();
      });
      app.use(errorHandler(pino({ level: 'info' }, sink)));
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    for (const kind of ['selection', 'network', 'retryable', 'busy']) {
      it(`${kind} -> 503 ServiceUnavailableError with Retry-After, logged`, async () => {
        const before = logged.length;
        const r = await fetch(`${base}/e/${kind}`);
        assert.equal(r.status, 503);
        assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
        const body = (await r.json()) as any;
        assert.equal(body.success, false);
        assert.equal(body.status, 503);
        assert.equal(body.error.type, 'ServiceUnavailableError');
        assert.match(body.error.message, /^database unavailable: /);
        const entries = logged.slice(before);
        assert.equal(entries.length, 1);
        assert.equal(entries[0].msg, 'store unavailable');
        assert.equal(entries[0].level, 40, 'a warning');
      });
    }

    it('a duplicate key is still a 500 (a bug, not trouble), and ApiErrors keep their status', async () => {
      const r = await fetch(`${base}/e/duplicate`);
      assert.equal(r.status, 500);
      assert.equal(r.headers.get('retry-after'), null);
      assert.equal(((await r.json()) as any).error.type, 'InternalError');
      const c = await fetch(`${base}/e/api`);
      assert.equal(c.status, 409);
    });
  });
});
