// Control storms during a pass: 100 concurrent triggers, pause/resume storms and PATCHes while the
// first pass runs. Expect: every answer a 2xx (never a 5xx), one pass at a time (pass spans never
// overlap, no object fetched twice at once), the triggers coalesced into exactly one more pass, a
// consistent final state (ACTIVE, not paused, idle) and 0 duplicates. The provider stalls during
// the storm so that it lands inside the first pass.
import assert from 'node:assert/strict';
import { createSync, http, idleAfter, waitForSync } from '../helpers';
import type { Lane } from '../setup/stack';
import { checkInvariants } from './invariants';
import { chaosLane, s3Source, sleep, type S3Source } from './scenario';

const N = 800;

describe('chaos: 100 concurrent triggers, pause/resume storms, PATCH during a pass', function () {
  this.timeout(900_000);
  let l: Lane;
  let src: S3Source;

  before(async function () {
    this.timeout(600_000);
    l = await chaosLane({ SYNC_PAGE_SIZE: '50' });
    src = await s3Source(l, N);
  });
  after(async () => {
    await src?.close();
    await l?.close();
  });

  it('runs one pass at a time and ends consistent, with 0 duplicates', async () => {
    const syncId = await createSync(l, src.bucketId, {
      connection_id: src.connectionId,
      source_path: 'chaos/data',
      polling_interval_seconds: 900,
    });
    const path = `/v1/buckets/${src.bucketId}/syncs/${syncId}`;
    const count = () => l.store.objects.countDocuments({ sync_config_id: syncId });
    while ((await count()) < 100) await sleep(50);
    const statuses = new Map<number, number>();
    const call = async (method: string, p: string, body?: unknown) => {
      const r = await http(l, method, p, body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      return r;
    };

    // The provider stalls for the storm (object GETs held, heartbeats go on), so the whole storm
    // lands inside the first pass however fast the engine is.
    src.proxy.hold = true;
    // At most 60 s (well inside the S3 client's 120 s request timeout), however slow the storm.
    const stallLimit = setTimeout(() => (src.proxy.hold = false), 60_000);
    const t0 = Date.now();
    const marks: string[] = [];
    const mark = async (what: string) =>
      marks.push(`${what} +${Date.now() - t0}ms (${await count()} objects)`);
    await Promise.all(Array.from({ length: 100 }, () => call('POST', `${path}/trigger`)));
    await mark('100 triggers');
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0
            ? call('POST', `${path}/pause`, { reason: `storm ${round}` })
            : call('POST', `${path}/resume`, {}),
        ),
      );
      await call('PATCH', path, { description: `patched ${round}`, polling_interval_seconds: 600 + round });
      await mark(`round ${round} pause/resume + PATCH`);
      await Promise.all(Array.from({ length: 10 }, () => call('POST', `${path}/trigger`)));
      await mark(`round ${round} triggers`);
    }
    // The storm ends resumed.
    await call('POST', `${path}/resume`, {});
    const mid = await count();
    clearTimeout(stallLimit);
    src.proxy.hold = false;
    assert.ok(mid < N, `the storm ran during the first pass (${mid} objects)`);

    const st = await waitForSync(
      l,
      src.bucketId,
      syncId,
      (x) => idleAfter(1)(x) && x.total_files_synced === N && x.status === 'ACTIVE',
      600_000,
    );
    // Every trigger during the first pass coalesces into one follow-up run.
    await sleep(3000);
    const final = await waitForSync(l, src.bucketId, syncId, idleAfter(st.sync_run_counter), 600_000);
    assert.equal(final.paused, false);
    assert.equal(final.pause_reason, null);
    assert.equal(final.description, 'patched 2');
    assert.equal(final.polling_interval_seconds, 602);
    // A pause between two pages ends that run (resume starts the next one, same pass), so runs are
    // not the measure: the 130 triggers, all sent during the first pass, coalesce into exactly one
    // pass after it.
    const runs = await l.store.runs.find({ sync_config_id: syncId }).sort({ started_at: 1 }).toArray();
    const passes = new Set(runs.map((r) => r.pass_id));
    const timeline = [
      ...marks,
      ...runs.map(
        (r) =>
          `run ${r.pass_id.slice(0, 8)} ${r.status} +${r.started_at.getTime() - t0}..+${r.finished_at.getTime() - t0}ms ` +
          `synced ${r.files_synced}`,
      ),
    ].join('\n');
    assert.equal(passes.size, 2, `triggers coalesced into one more pass\n${timeline}`);
    assert.equal(src.proxy.overlaps, 0, 'no object fetched by two page attempts at once');
    const summary = await checkInvariants(l, src.expected(syncId, { discovered: 'at-least-files' }));
    const byStatus = [...statuses.entries()].map(([c, n]) => `${c}: ${n}`).join(', ');
    process.stdout.write(
      `      ${[...statuses.values()].reduce((a, b) => a + b, 0)} control calls (${byStatus}) during the pass ` +
        `(storm over at ${mid} objects); ${final.sync_run_counter} runs, ${passes.size} passes\n      ${summary}\n`,
    );
  });
});
