// Crashes: a 5,000-file pass survives three SIGKILLs of its worker process at different moments.
// Exactly 5,000 objects, no duplicates, counters exact, and every object's bytes are whole.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import {
  bucketWithFolder,
  createSync,
  http,
  killProcess as kill,
  startWorker,
  waitForSync,
} from '../helpers';
import { lane, stack, type Lane, type Stack } from '../setup/stack';

describe('crash: SIGKILL the worker three times during a 5,000-file pass', function () {
  this.timeout(600_000);
  let s: Stack;
  let l: Lane;
  let worker: ChildProcess | null = null;

  before(async function () {
    this.timeout(300_000);
    s = await stack();
    // Its own task queue and API, and no in-process worker: the worker is a process we can kill.
    l = await lane(s, { SYNC_PAGE_SIZE: '250' }, { worker: false });
  });
  after(async () => {
    if (worker && worker.exitCode === null) await kill(worker);
  });

  it('ends with exactly 5,000 objects, no duplicates, exact counters', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5000; i++)
      files[`p${i % 20}/file-${String(i).padStart(5, '0')}.txt`] = `crash test file ${i}`;
    const ls: Stack = l;
    const { bucketId, connectionId } = await bucketWithFolder(ls, files);
    worker = startWorker(l, 'crash-worker-0');
    const syncId = await createSync(ls, bucketId, {
      connection_id: connectionId,
      source_path: '/',
      sync_mode: 'initial_only',
    });

    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    const killedAt: number[] = [];
    for (const [i, threshold] of [500, 1500, 2500].entries()) {
      let n = 0;
      while ((n = await count()) < threshold) await new Promise((r) => setTimeout(r, 50));
      killedAt.push(n);
      await kill(worker);
      worker = startWorker(l, `crash-worker-${i + 1}`);
    }
    assert.ok(
      killedAt.every((n) => n < 5000),
      `every kill happened mid-pass (${killedAt.join(', ')})`,
    );

    const st = await waitForSync(ls, bucketId, syncId, (x) => x.status === 'COMPLETED', 300_000);
    const objs = await l.store.objects.find({ sync_config_id: syncId }).toArray();
    assert.equal(objs.length, 5000);
    assert.equal(new Set(objs.map((o) => o.source_object_id)).size, 5000, 'no duplicate source ids');
    assert.equal(st.total_files_synced, 5000, 'synced counted exactly once per file');
    assert.equal(st.total_files_discovered, 5000);
    assert.equal(st.total_files_failed, 0);
    const bytes = Object.values(files).reduce((sum, c) => sum + Buffer.byteLength(c), 0);
    assert.equal(st.total_bytes_synced, bytes, 'bytes counted exactly once');
    // No half objects: every object's blob is complete on disk.
    for (const o of objs) {
      const key = o.blobs[0].properties.storage_key as string;
      assert.equal(
        statSync(path.join(l.env.BLOB_DIR, ...key.split('/'))).size,
        o.blobs[0].details.size_bytes,
      );
    }
    const runs = await http(ls, 'GET', `/v1/buckets/${bucketId}/syncs/${syncId}/runs`);
    assert.equal(runs.body.results.length, 1, 'one run, resumed across the crashes');
    assert.equal(runs.body.results[0].files_synced, 5000);
    process.stdout.write(
      `      kills at ${killedAt.join(', ')} objects; run took ${runs.body.results[0].duration_seconds}s\n`,
    );
  });
});
