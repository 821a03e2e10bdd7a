// The sync workflow on its own, in a TestWorkflowEnvironment (the provisioned Temporal CLI's dev
// server) with FAKE activities, as Temporal's samples test workflows: every signal, auto-suspend,
// force-unlock of a stuck page, and continue-as-new in the middle of a pass with signals arriving.
// No MongoDB, no provider: the activities below script what a source returns.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context, sleep as activitySleep } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FinishPassInput, SyncPageInput, SyncPageResult, SyncSettings } from '../../activities/sync';
import { SA_BUCKET_ID, SA_NAMESPACE_ID, SA_SYNC_STATUS } from '../../core/search-attributes';
import type { SyncState } from '../../core/sync-state';
import { provisionTools } from '../../lib/servers';
import {
  configUpdatedSignal,
  forceUnlockSignal,
  pauseSignal,
  resumeSignal,
  stateQuery,
  triggerSignal,
  workflowIdForSync,
} from '../../workflows/messages';
import type { syncWorkflow } from '../../workflows/sync';
import { PROJECT_ROOT, workflowBundle } from '../setup/stack';
import { workflowSinks } from '../../worker/tracing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A scripted source and a record of what the workflow asked of its activities. */
class FakeSync {
  settings: SyncSettings = {
    found: true,
    syncMode: 'continuous',
    pollingIntervalSeconds: 3600,
    isActive: true,
    maxObjectsPerRun: 1_000_000,
    autoSuspendThreshold: 3,
    resumeEnabled: true,
    skipBatchSubmission: false,
  };
  /** Pages a pass's listing has; each page creates 2 objects. */
  pagesFor: (input: SyncPageInput) => number = () => 3;
  /** The next this-many page calls fail (non-retryable, so the run fails at once). */
  failures = 0;
  /** While set, a page waits for it (heartbeating, cancellable). */
  gate: Promise<void> | null = null;
  calls: SyncPageInput[] = [];
  finished: FinishPassInput[] = [];
  recorded: SyncState[] = [];
  cancelledPages = 0;

  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    return () => {
      this.gate = null;
      open();
    };
  }

  activities() {
    return {
      loadSyncSettings: async (_id: string): Promise<SyncSettings> => ({ ...this.settings }),
      recordSyncState: async (_id: string, state: SyncState): Promise<void> => {
        this.recorded.push(state);
      },
      releaseHeldBatches: async () => ({ released: 0, taskIds: [] as string[] }),
      finishPass: async (input: FinishPassInput) => {
        this.finished.push(input);
        return { deleted: 0 };
      },
      syncPage: async (input: SyncPageInput): Promise<SyncPageResult> => {
        this.calls.push(input);
        const ctx = Context.current();
        while (this.gate) {
          ctx.heartbeat();
          try {
            await Promise.race([this.gate, activitySleep(200)]);
          } catch (err) {
            this.cancelledPages++;
            throw err;
          }
        }
        if (this.failures > 0) {
          this.failures--;
          throw ApplicationFailure.nonRetryable(
            'listing failed: the source said no',
            'ProviderError.invalid',
          );
        }
        const n = input.cursor === null ? 0 : Number(input.cursor);
        const last = n + 1 >= this.pagesFor(input);
        return {
          found: true,
          listed: 2,
          discovered: 2,
          created: 2,
          updated: 0,
          unchanged: 0,
          duplicates: 0,
          dlq: 0,
          failed: 0,
          drifted: 0,
          removed: 0,
          bytes: 20,
          listedAll: true,
          nextCursor: last ? null : String(n + 1),
          batches: { created: 0, batchIds: [], taskIds: [], held: 0 },
        };
      },
    };
  }
}

describe('sync workflow (TestWorkflowEnvironment, fake activities)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let fake: FakeSync;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `sync-wf-test-${randomBytes(4).toString('hex')}`;

  before(async function () {
    this.timeout(300_000);
    const tools = provisionTools(PROJECT_ROOT, ['temporal']);
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: tools.TEMPORAL_CLI_PATH! },
        searchAttributes: [SA_SYNC_STATUS, SA_BUCKET_ID, SA_NAMESPACE_ID],
        extraArgs: ['--log-level', 'error'],
      },
    });
  });
  after(async () => {
    await env?.teardown();
  });

  beforeEach(async () => {
    fake = new FakeSync();
    const acts = fake.activities();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      sinks: workflowSinks(null),
      // The batch workflow's activities are not needed here; the sync workflow's are all fakes.
      activities: acts,
    });
    running = worker.run();
  });
  afterEach(async () => {
    worker.shutdown();
    await running;
  });

  async function start(state?: SyncState) {
    const id = `t-${randomBytes(4).toString('hex')}`;
    const h = await env.client.workflow.start<typeof syncWorkflow>('syncWorkflow', {
      workflowId: workflowIdForSync(id),
      taskQueue,
      args: [{ syncConfigId: id, state }],
    });
    return env.client.workflow.getHandle<typeof syncWorkflow>(h.workflowId);
  }

  /** Polls the live state until `pred` holds. */
  async function until(
    h: Awaited<ReturnType<typeof start>>,
    what: string,
    pred: (s: SyncState) => boolean,
    timeoutMs = 30_000,
  ): Promise<SyncState> {
    const deadline = Date.now() + timeoutMs;
    let last: SyncState | null = null;
    for (;;) {
      try {
        last = await h.query(stateQuery);
        if (pred(last)) return last;
      } catch {
        // between runs of a continue-as-new: ask again
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
      await sleep(50);
    }
  }
  const idle = (runs: number) => (s: SyncState) => s.runCounter >= runs && !s.pass && s.nextSyncAt !== null;

  it('a first pass lists every page, writes a sweeping run record, and waits ACTIVE', async () => {
    const h = await start();
    const s = await until(h, 'the first pass', idle(1));
    assert.deepEqual(s.totals, { discovered: 6, synced: 6, failed: 0, bytes: 60 });
    assert.equal(s.status, 'ACTIVE');
    assert.equal(fake.calls.length, 3);
    assert.deepEqual(
      fake.calls.map((c) => c.cursor),
      [null, '1', '2'],
    );
    assert.equal(fake.calls[0].assumeNew, true, 'the first pass assumes new files');
    assert.equal(fake.finished.length, 1);
    assert.equal(fake.finished[0].status, 'COMPLETED');
    assert.equal(fake.finished[0].sweep, true);
    assert.equal(fake.finished[0].full, true);
    const desc = await h.describe();
    assert.equal(desc.typedSearchAttributes.get(SA_SYNC_STATUS), 'ACTIVE');
    await h.cancel();
  });

  it('initial_only: completes after its pass', async () => {
    fake.settings.syncMode = 'initial_only';
    const h = await start();
    await h.result();
    assert.equal(fake.recorded.at(-1)!.status, 'COMPLETED');
    assert.equal(fake.finished.length, 1);
  });

  it('trigger runs an incremental pass at once; trigger full_sync a full one', async () => {
    const h = await start();
    const first = await until(h, 'the first pass', idle(1));
    await h.signal(triggerSignal, {});
    await until(h, 'the triggered pass', idle(2));
    const inc = fake.calls.at(-1)!;
    assert.notEqual(inc.modifiedSince, null, 'incremental: since the first pass');
    assert.equal(fake.finished[1].full, false);
    await h.signal(triggerSignal, { full_sync: true });
    const s = await until(h, 'the full pass', idle(3));
    assert.equal(fake.calls.at(-1)!.modifiedSince, null);
    assert.equal(fake.finished[2].full, true);
    assert.equal(s.pendingFullSync, false);
    assert.ok(s.lastSyncAt! >= first.lastSyncAt!);
    await h.cancel();
  });

  it('pause stops the run after the page in flight; resume continues the pass from its cursor', async () => {
    const h = await start();
    const release = fake.hold();
    await until(h, 'the first page in flight', (s) => s.pass?.inRun === true && fake.calls.length === 1);
    await h.signal(pauseSignal, { reason: 'maintenance', user: 'u1' });
    const paused = await until(h, 'the pause', (s) => s.paused);
    assert.equal(paused.pausedBy, 'u1');
    release();
    const stopped = await until(
      h,
      'the run stopped',
      (s) => s.status === 'SUSPENDED' && s.pass?.inRun === false,
    );
    assert.equal(stopped.pass!.cursor, '1', 'the page in flight finished');
    assert.equal(fake.calls.length, 1, 'no new page while paused');
    assert.equal(fake.finished.length, 0, 'a paused run writes no record');
    await h.signal(resumeSignal);
    const s = await until(h, 'the pass after resume', idle(2));
    assert.equal(s.paused, false);
    assert.equal(s.pausedAt, null);
    assert.equal(s.pausedBy, null);
    assert.deepEqual(
      fake.calls.map((c) => c.cursor),
      [null, '1', '2'],
    );
    assert.equal(s.totals.synced, 6, 'every page counted once');
    assert.equal(fake.finished.length, 1);
    await h.cancel();
  });

  it('configUpdated reloads the settings: a shorter polling interval re-times the current wait', async () => {
    const h = await start();
    await until(h, 'the first pass', idle(1));
    fake.settings.pollingIntervalSeconds = 1;
    await h.signal(configUpdatedSignal);
    const s = await until(h, 'a run after the new interval', idle(2), 20_000);
    assert.equal(s.pollingIntervalSeconds, 1);
    await h.cancel();
  });

  it('failures count; at the threshold the sync auto-suspends; resume forgets them', async () => {
    fake.settings.autoSuspendThreshold = 2;
    fake.failures = 2;
    const h = await start();
    const one = await until(
      h,
      'the first failure',
      (s) => s.consecutiveFailures === 1 && s.nextSyncAt !== null,
    );
    assert.equal(one.paused, false);
    assert.equal(one.lastError, 'listing failed: the source said no');
    assert.equal(fake.finished[0].status, 'FAILED');
    await h.signal(triggerSignal, {});
    const two = await until(h, 'auto-suspend', (s) => s.paused && s.status === 'SUSPENDED');
    assert.equal(two.pausedBy, 'system');
    assert.match(two.pauseReason!, /^auto-suspended after 2 consecutive failures: listing failed/);
    const desc = await h.describe();
    assert.equal(desc.typedSearchAttributes.get(SA_SYNC_STATUS), 'SUSPENDED');
    // The failed pass kept its run id (its retried page counts the objects once).
    assert.equal(fake.calls[0].runId, fake.calls[1].runId);
    await h.signal(resumeSignal);
    const s = await until(h, 'the pass after resume', idle(3));
    assert.equal(s.consecutiveFailures, 0);
    assert.equal(s.lastError, null);
    assert.equal(s.totals.synced, 6);
    await h.cancel();
  });

  it('forceUnlock abandons the stuck page and redoes it from the last checkpoint', async () => {
    fake.gate = new Promise<void>(() => undefined); // stuck: the attempt leaves only when cancelled
    const h = await start();
    await until(h, 'the stuck page', () => fake.calls.length === 1);
    await h.signal(forceUnlockSignal);
    await until(h, 'the cancelled attempt', () => fake.cancelledPages === 1);
    fake.gate = null; // the redone attempt goes through
    const s = await until(h, 'the pass', idle(1));
    assert.equal(fake.calls[1].cursor, null, 'redone from the checkpoint');
    assert.equal(fake.calls[1].runId, fake.calls[0].runId);
    assert.equal(s.totals.synced, 6);
    assert.equal(s.runCounter, 1, 'the same run');
    await h.cancel();
  });

  it('continues as new in the middle of a long pass, carrying the pass and the signals that arrive meanwhile', async function () {
    this.timeout(180_000);
    // The first pass lists 200 pages, later ones 1.
    fake.pagesFor = (input) => (input.passId === fake.calls[0].passId ? 200 : 1);
    const h = await start();
    const firstRunId = (await h.describe()).runId;
    // Signals throughout the pass, around the continue-as-new.
    let signalled = 0;
    const signals = (async () => {
      while (fake.calls.length < 195) {
        await h.signal(triggerSignal, { full_sync: true });
        signalled++;
        await sleep(100);
      }
    })();
    await until(
      h,
      'the long pass',
      (s) => s.runCounter >= 1 && s.lastCompletedPassStartedAt !== null,
      150_000,
    );
    await signals;
    assert.ok(signalled > 0);
    const firstRun = await env.client.workflow.getHandle(h.workflowId, firstRunId).describe();
    assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW', 'the first run continued as new mid-pass');
    assert.equal(fake.finished[0].run.synced, 400, 'every page counted once across runs');
    assert.deepEqual(
      fake.calls.slice(0, 200).map((c) => c.cursor),
      [null, ...Array.from({ length: 199 }, (_, i) => String(i + 1))],
      'no page listed twice or skipped',
    );
    // The full-sync trigger that arrived during the pass runs right after it, as a full pass.
    const s = await until(h, 'the triggered full pass', idle(2), 60_000);
    assert.equal(fake.finished[1].full, true);
    assert.equal(s.pendingFullSync, false);
    assert.equal(s.triggerRequested, false);
    await h.cancel();
  });
});
