// A stride prepares its next page (list, plan, copies) while a page's writes go to the store
// (activities/sync.ts syncPage). Here the writes of a page fail half-way (its batch cannot be
// started): the call ends with the pages before it, the page prepared beside it leaves no copies
// behind, and the next call finishes the pass with every file an object exactly once. The
// activity runs in Temporal's MockActivityEnvironment on the lane's real FerretDB and folders.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { createSyncActivities, type SyncPageInput, type SyncPageResult } from '../../activities/sync';
import { decodeKey } from '../../config/env';
import { FolderBlobStore } from '../../store/blobs';
import { SecretBox } from '../../store/secrets';
import { bucketWithFolder, createSync, http } from '../helpers';
import { lane, stack, type Lane } from '../setup/stack';

/** Files under `dir`, as paths relative to it (none when it does not exist). */
function filesUnder(dir: string, rel = ''): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, `${rel}${e.name}/`) : [`${rel}${e.name}`],
  );
}

/** A batch runner whose workflow starts fail from the `failFrom`-th on (Temporal unreachable). */
function runner(failFrom: number) {
  const calls = { starts: 0 };
  const client = {
    workflow: {
      start: async () => {
        calls.starts++;
        if (calls.starts >= failFrom) throw new Error('Temporal is unreachable');
        return {};
      },
    },
  } as unknown as Client;
  return { calls, runner: { client, taskQueue: 'batches-nowhere' } };
}

describe('strides: the next page is prepared while a page is written', function () {
  this.timeout(180_000);
  let l: Lane;

  before(async function () {
    this.timeout(300_000);
    l = await lane(await stack(), { SYNC_PAGE_SIZE: '10' }, { worker: false });
  });
  after(async () => {
    await l?.close();
  });

  it('a page whose writes fail ends the call with the pages before it; the page prepared beside it leaves no copies', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `body ${i}`]),
    );
    const { bucketId, connectionId } = await bucketWithFolder(l, files);
    // A collection reads from the bucket, so each page's batch starts a workflow.
    const col = await http(l, 'POST', '/v1/collections', {
      collection_name: `c-${bucketId}`,
      source: { type: 'bucket', bucket_ids: [bucketId] },
      pipeline: [{ step: 'text_extract' }],
    });
    assert.equal(col.status, 200, JSON.stringify(col.body));
    const syncId = await createSync(l, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      batch_size: 10,
    });
    const blobDir = path.join(l.env.BLOB_DIR, bucketId);
    const storedKeys = async () =>
      (await l.store.objects.find({ bucket_id: bucketId }).toArray())
        .flatMap((o) => o.blobs.map((b) => b.properties.storage_key as string))
        .map((k) => k.slice(bucketId.length + 1))
        .sort();
    const activities = (batches: ReturnType<typeof runner>['runner']) =>
      createSyncActivities({
        store: l.store,
        secrets: new SecretBox(decodeKey(l.env.SECRETS_KEY)!),
        blobs: new FolderBlobStore(l.env.BLOB_DIR),
        log: pino({ level: 'silent' }),
        workerId: 'test-worker',
        pageSize: 10,
        fileConcurrency: 4,
        autoSuspendThreshold: 5,
        batches,
        strideMs: 60_000,
      });
    const input: SyncPageInput = {
      syncConfigId: syncId,
      runId: 'run-pipelined',
      passId: 'pass-pipelined',
      cursor: null,
      modifiedSince: null,
      remaining: 1000,
      assumeNew: true,
      knownPassId: null,
    };

    // Page 3's batch cannot be started: its writes fail after its objects went in.
    const failing = runner(3);
    const syncPage = (a: ReturnType<typeof activities>, i: SyncPageInput): Promise<SyncPageResult> =>
      new MockActivityEnvironment().run((x: SyncPageInput) => a.syncPage(x), i);
    const first = await syncPage(activities(failing.runner), input);
    assert.equal(first.pages, 2, 'the call returns the two pages before the failed one');
    assert.equal(first.created, 20);
    assert.equal(first.nextCursor, 'f19.txt');
    assert.equal(failing.calls.starts, 3);
    // Page 4 was prepared beside page 3's writes: its intent record names its files.
    const records = await l.store.passSeen
      .find({ sync_config_id: syncId, pass_id: 'pass-pipelined' })
      .toArray();
    const named = records.flatMap((r) => (JSON.parse(r.files ?? '[]') as [string][]).map(([id]) => id));
    assert.ok(named.includes('f30.txt') && named.includes('f39.txt'), 'page 4 was prepared');
    assert.ok(!named.includes('f40.txt'), 'no page past it');
    // Page 3's objects are in (it failed at its batch); page 4, prepared beside it, left nothing.
    assert.equal(await l.store.objects.countDocuments({ bucket_id: bucketId }), 30);
    assert.deepEqual(filesUnder(blobDir).sort(), await storedKeys(), 'every blob file is an object’s');

    // The workflow's next call goes on from the cursor and finishes the pass.
    const working = runner(Infinity);
    const second = await syncPage(activities(working.runner), { ...input, cursor: first.nextCursor });
    assert.equal(second.nextCursor, null);
    // Pages 3-5, and the empty page that ends a listing whose last page was full.
    assert.equal(second.pages, 4);
    assert.equal(working.calls.starts, 3, 'page 3 submits its batch (DRAFT again after the failure) once');
    assert.equal(second.created, 30, 'page 3 counts the objects its failed attempt made');
    const objects = await l.store.objects.find({ bucket_id: bucketId }).toArray();
    assert.deepEqual(objects.map((o) => o.source_object_id).sort(), Object.keys(files).sort());
    assert.deepEqual(filesUnder(blobDir).sort(), await storedKeys());
    const batches = await l.store.batches.find({ sync_config_id: syncId }).toArray();
    const batched = batches.flatMap((b) => b.object_ids);
    assert.equal(batched.length, 50, 'each object in one batch');
    assert.deepEqual(new Set(batched), new Set(objects.map((o) => o.object_id)));
    assert.ok(
      batches.every((b) => b.status === 'PENDING'),
      batches.map((b) => b.status).join(),
    );
  });
});
