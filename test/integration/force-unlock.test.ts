// force-unlock of a page that is stuck but still running (its activity heartbeats, so it never
// times out by itself): the page hangs for real on a named pipe nobody writes (open() of a FIFO
// blocks until a writer comes), on the real servers, over HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bucketWithFolder, createSync, http, idleAfter, waitForSync } from '../helpers';
import { stack, type Stack } from '../setup/stack';
import type { SyncConfigDoc } from '../../store';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value (not undefined); fails with `what` after `timeoutMs`. */
async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function filesUnder(dir: string): number {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
  } catch {
    return 0;
  }
}

describe('force-unlock of a stuck-but-running page', function () {
  this.timeout(240_000);
  let s: Stack;
  let connection: Connection;
  let client: Client;
  let fifo: string | null = null;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    connection = await Connection.connect({ address: s.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: s.env.TEMPORAL_NAMESPACE });
  });
  after(async () => {
    // Whatever happened, nobody stays blocked on the pipe (the worker has to shut down).
    if (fifo) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        /* no reader left */
      }
    }
    await connection?.close();
  });

  it('abandons the stuck page, redoes it in the same workflow with the lock retaken, and counts exactly', async () => {
    const files = { 'a.txt': 'alpha', 'b.txt': 'bravo!', 'c.txt': 'charlie' };
    const { folder, bucketId, connectionId } = await bucketWithFolder(s, files);
    // The blocker: a link in the folder to a FIFO. The listing stats it (size 0, a file), and
    // opening it to copy the bytes blocks: no writer ever comes.
    fifo = path.join(s.tmp, `fifo-${randomBytes(4).toString('hex')}`);
    execFileSync('mkfifo', [fifo]);
    const link = path.join(folder, 'p.pipe');
    symlinkSync(fifo, link);

    const syncId = await createSync(s, bucketId, { connection_id: connectionId, source_path: '/' });
    const doc = () => s.store.syncs.findOne({ sync_config_id: syncId }) as Promise<SyncConfigDoc>;
    const objects = () => s.store.objects.find({ sync_config_id: syncId }).toArray();

    // Stuck but alive: the page holds the lock and keeps extending it (its heartbeats), and
    // registers nothing.
    const stuck = await poll('the page to take the lock', async () => {
      const d = await doc();
      return d.locked && d.locked_at && d.lock_expires_at ? d : undefined;
    });
    const firstLockedAt = stuck.locked_at!.getTime();
    await poll('the stuck page to extend its lock', async () => {
      const d = await doc();
      return d.lock_expires_at! > stuck.lock_expires_at! && d.locked_at?.getTime() === firstLockedAt
        ? true
        : undefined;
    });
    assert.equal((await objects()).length, 0, 'nothing registered while the page is stuck');
    const handle = client.workflow.getHandle(`sync-${syncId}`);
    const before = await handle.describe();
    assert.equal(before.status.name, 'RUNNING');

    const unlock = await http(s, 'POST', `/v1/buckets/${bucketId}/syncs/${syncId}/force-unlock`);
    assert.equal(unlock.status, 200, JSON.stringify(unlock.body));

    // The page is redone at once: the redo takes the lock anew (a later locked_at) ...
    await poll('the redone page to take the lock', async () => {
      const d = await doc();
      return d.locked && d.locked_at && d.locked_at.getTime() > firstLockedAt ? true : undefined;
    });
    // ... in the same workflow execution (no restart, no new run).
    const after = await handle.describe();
    assert.equal(after.status.name, 'RUNNING');
    assert.equal(after.runId, before.runId, 'the same workflow execution');
    assert.equal((await doc()).sync_run_counter, 1, 'still the first run');

    // The abandoned attempt is still blocked in open(), but it learned of its cancellation through
    // its heartbeats and stopped: it never takes the lock back. (Watched for longer than the SDK's
    // heartbeat throttling plus several of its 3 s lock refreshes.)
    const watchUntil = Date.now() + 20_000;
    while (Date.now() < watchUntil) {
      const d = await doc();
      assert.notEqual(d.locked_at?.getTime(), firstLockedAt, 'the abandoned attempt re-took the lock');
      await sleep(500);
    }
    // The redo is stuck on the same pipe (it lists it too).
    assert.equal((await objects()).length, 0);

    // Remove the blocker: the link goes, and the pipe's waiting readers (the abandoned attempt and
    // the redo) get end-of-file.
    rmSync(link);
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));

    const st = await waitForSync(s, bucketId, syncId, idleAfter(1));
    const objs = await objects();
    assert.deepEqual(objs.map((o) => o.source_object_id).sort(), ['a.txt', 'b.txt', 'c.txt', 'p.pipe']);
    assert.equal(new Set(objs.map((o) => o._id)).size, 4, 'no duplicates');
    const bytes = Object.values(files).reduce((n, c) => n + c.length, 0);
    assert.equal(st.total_files_discovered, 4);
    assert.equal(st.total_files_synced, 4);
    assert.equal(st.total_files_failed, 0);
    assert.equal(st.total_bytes_synced, bytes, 'the pipe gave no bytes');
    assert.equal(st.sync_run_counter, 1);
    const runs = await s.store.runs.find({ sync_config_id: syncId }).toArray();
    assert.equal(runs.length, 1, JSON.stringify(runs));
    assert.equal(runs[0].status, 'COMPLETED');
    assert.equal(runs[0].files_synced, 4);

    // The abandoned attempt, released too, wrote nothing: no object, no stray bytes in the blob
    // store (it drops what it copied), and the lock stays released.
    const blobs = path.join(s.env.BLOB_DIR, bucketId);
    await poll('the blob store to hold exactly the objects’ bytes', async () =>
      filesUnder(blobs) === 4 ? true : undefined,
    );
    await sleep(5_000);
    assert.equal(filesUnder(blobs), 4);
    const end = await doc();
    assert.equal(end.locked, false);
    assert.equal(end.total_files_synced, 4);
    assert.equal((await objects()).length, 4);
    fifo = null;
  });
});
