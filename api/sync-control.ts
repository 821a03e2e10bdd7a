// How the API talks to the sync workflows: start, signal, query, cancel. Temporal being
// unreachable becomes a 503 with Retry-After, never a 500.
import { MongoError } from 'mongodb';
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  type WorkflowClientInterceptor,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { SA_BUCKET_ID, SA_NAMESPACE_ID, SA_SYNC_STATUS } from '../core/search-attributes';
import { randomUUID } from 'node:crypto';
import type { SyncConfigDoc } from '../store';
import {
  configUpdatedSignal,
  forceUnlockSignal,
  pauseSignal,
  resumeSignal,
  stateQuery,
  triggerSignal,
  workflowIdForSync,
} from '../workflows/messages';
import { pause, resume, trigger, type Mint, type PauseRequest, type SyncState } from '../core/sync-state';
import { documentToState } from '../store/sync-document';
import type { syncWorkflow } from '../workflows/sync';
import { ApiError, RETRY_AFTER_SECONDS } from './errors';
import { isTransientStoreError } from '../store/errors';
import { BatchStateError, type BatchRunner } from '../pipeline/submit';

/** Time and ids outside a workflow. */
const apiMint: Mint = { now: () => new Date().toISOString(), uuid: () => randomUUID() };

function unavailable(err: unknown): ApiError {
  const message = typeof err === 'string' ? err : ((err as Error)?.message ?? String(err));
  return new ApiError(503, `workflow service unavailable: ${message}`, 'ServiceUnavailableError', null, {
    'Retry-After': RETRY_AFTER_SECONDS,
  });
}

/** How long a health probe may take (a cheap getSystemInfo). */
const PROBE_DEADLINE_MS = 1_500;
/** While Temporal is down, it is probed this often in the background, so recovery is noticed. */
const DOWN_PROBE_EVERY_MS = 2_000;

/**
 * Whether Temporal answers, as far as the last probe knows. Unknown (the first call) waits for one
 * probe; known down fails calls at once while a background probe watches for recovery; up trusts
 * the calls themselves: a call that fails for an unexpected reason starts a probe.
 */
export class TemporalHealth {
  private up: boolean | null = null;
  private lastError = '';
  private probing: Promise<boolean> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly probeOnce: () => Promise<unknown>) {}

  /** Null when calls may go ahead; else why Temporal is known to be down. */
  async downReason(): Promise<string | null> {
    if (this.up === null) await this.probe();
    return this.up === false ? this.lastError : null;
  }

  /** Known down right now (no waiting). */
  get knownDown(): boolean {
    return this.up === false;
  }

  /** One probe at a time; its result is cached until the next one. */
  probe(): Promise<boolean> {
    this.probing ??= this.probeOnce()
      .then(
        () => {
          this.up = true;
          this.lastError = '';
        },
        (err: unknown) => {
          this.up = false;
          this.lastError = (err as Error)?.message ?? String(err);
        },
      )
      .then(() => {
        this.probing = null;
        this.schedule();
        return this.up === true;
      });
    return this.probing;
  }

  private schedule() {
    if (this.closed || this.up !== false) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probe();
    }, DOWN_PROBE_EVERY_MS);
    this.timer.unref();
  }

  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * GET of a sync reads its MongoDB projection, which the workflow writes (recordSyncState) at every
 * change of its state: run start, page, pass end, wait, pause. Right after this API signals a
 * workflow (pause, resume, trigger, config change, force-unlock) the projection can lag — a pause
 * during a page is recorded when the page ends — so for that sync GET merges the workflow's live
 * state until the projection agrees with it, or at most for this long.
 */
const LIVE_AFTER_SIGNAL_MS = 10 * 60_000;
const MAX_SIGNALLED = 10_000;

/** The projection shows what the live state owns (serializeSync's overlay) as the workflow has it. */
function projectionAgrees(cfg: SyncConfigDoc, live: SyncState): boolean {
  const time = (d: Date | string | null | undefined) => (d ? new Date(d).getTime() : null);
  return (
    cfg.status === live.status &&
    cfg.paused === live.paused &&
    (cfg.pause_reason ?? null) === (live.pauseReason ?? null) &&
    (cfg.paused_by_user_id ?? null) === (live.pausedBy ?? null) &&
    time(cfg.paused_at) === time(live.pausedAt) &&
    cfg.pending_full_sync === live.pendingFullSync &&
    cfg.consecutive_failures === live.consecutiveFailures &&
    cfg.sync_run_counter === live.runCounter &&
    time(cfg.next_sync_at) === time(live.nextSyncAt) &&
    (cfg.last_error ?? null) === (live.lastError ? live.lastError.slice(0, 1000) : null)
  );
}

export class SyncControl {
  readonly health: TemporalHealth;
  /** Syncs this process signalled, and when (ms): their GET reads live state until the projection catches up. */
  private readonly signalled = new Map<string, number>();

  private constructor(
    readonly client: Client,
    private readonly taskQueue: string,
  ) {
    const conn = client.connection;
    this.health = new TemporalHealth(() =>
      conn.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => conn.workflowService.getSystemInfo({})),
    );
  }

  static async connect(
    address: string,
    namespace: string,
    taskQueue: string,
    opts: { interceptors?: WorkflowClientInterceptor[] } = {},
  ): Promise<SyncControl> {
    // Lazy: the API starts (and answers 503s) even while Temporal is down.
    // Reconnect attempts at most 5 s apart (grpc's default backs off to 2 minutes), so the API
    // notices soon that Temporal is back.
    const connection = Connection.lazy({
      address,
      connectTimeout: '3s',
      channelArgs: { 'grpc.max_reconnect_backoff_ms': 5_000 },
    });
    return new SyncControl(
      new Client({ connection, namespace, interceptors: { workflow: opts.interceptors ?? [] } }),
      taskQueue,
    );
  }

  private noteSignalled(syncConfigId: string): void {
    this.signalled.delete(syncConfigId);
    this.signalled.set(syncConfigId, Date.now());
    if (this.signalled.size > MAX_SIGNALLED) this.signalled.delete(this.signalled.keys().next().value!);
  }

  /**
   * The workflow's live state for GET of this sync, only while a signal this process sent may not
   * be in the projection yet; null otherwise (the projection is the answer, and GET costs no
   * Temporal call). Once the projection agrees with the live state the sync is read from it
   * again. (Another API process's signal shows in GET once the workflow records it.)
   */
  async liveIfProjectionBehind(cfg: SyncConfigDoc): Promise<SyncState | null> {
    const at = this.signalled.get(cfg.sync_config_id);
    if (at === undefined) return null;
    const live = Date.now() - at > LIVE_AFTER_SIGNAL_MS ? null : await this.state(cfg.sync_config_id);
    if (!live || projectionAgrees(cfg, live)) this.signalled.delete(cfg.sync_config_id);
    return live;
  }

  private handle(syncConfigId: string): WorkflowHandle<typeof syncWorkflow> {
    return this.client.workflow.getHandle<typeof syncWorkflow>(workflowIdForSync(syncConfigId));
  }

  /**
   * Runs a call against Temporal with a deadline; connection trouble -> 503. While Temporal is known
   * to be down the call is not sent at all: 503 at once (nothing reaches Temporal, so nothing is
   * half-done), until the background probe sees it back.
   */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    const down = await this.health.downReason();
    if (down !== null) throw unavailable(down);
    try {
      return await this.client.withDeadline(Date.now() + 10_000, fn);
    } catch (err) {
      if (
        err instanceof WorkflowNotFoundError ||
        err instanceof WorkflowExecutionAlreadyStartedError ||
        err instanceof BatchStateError ||
        err instanceof ApiError
      )
        throw err;
      // A store error inside a call (batches read and write MongoDB too) is not Temporal's.
      if (isTransientStoreError(err) || err instanceof MongoError) throw err;
      void this.health.probe(); // is Temporal down? the next calls will know
      throw unavailable(err);
    }
  }

  /** Starts and cancels batch workflows (pipeline/submit.ts). */
  get batches(): BatchRunner {
    return { client: this.client, taskQueue: this.taskQueue };
  }

  async start(cfg: SyncConfigDoc, state?: SyncState): Promise<void> {
    await this.call(() =>
      this.client.workflow.start<typeof syncWorkflow>('syncWorkflow', {
        workflowId: workflowIdForSync(cfg.sync_config_id),
        taskQueue: this.taskQueue,
        args: [{ syncConfigId: cfg.sync_config_id, state }],
        typedSearchAttributes: [
          { key: SA_SYNC_STATUS, value: state?.status ?? 'PENDING' },
          { key: SA_BUCKET_ID, value: cfg.bucket_id },
          { key: SA_NAMESPACE_ID, value: cfg.namespace_id },
        ],
      }),
    );
  }

  /**
   * Signals the running workflow; if there is none (an initial_only sync that completed, or one an
   * operator terminated), starts it again with the state rebuilt from the stored projection.
   */
  private async signalOrRestart(
    cfg: SyncConfigDoc,
    send: (h: WorkflowHandle<typeof syncWorkflow>) => Promise<void>,
    transition: (s: SyncState) => SyncState,
  ) {
    const h = this.handle(cfg.sync_config_id);
    this.noteSignalled(cfg.sync_config_id);
    try {
      const desc = await this.call(() => h.describe());
      if (desc.status.name === 'RUNNING') {
        await this.call(() => send(h));
        return;
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // The same transition the running workflow's handler makes (core/sync-state.ts).
    const state = transition(documentToState(cfg, apiMint));
    try {
      await this.start(cfg, state);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await this.call(() => send(h)); // started by a concurrent request meanwhile
    }
  }

  async trigger(cfg: SyncConfigDoc, fullSync: boolean): Promise<void> {
    await this.signalOrRestart(
      cfg,
      (h) => h.signal(triggerSignal, { full_sync: fullSync }),
      (s) => trigger(s, { full_sync: fullSync }),
    );
  }

  async pause(cfg: SyncConfigDoc, req: PauseRequest): Promise<void> {
    await this.signalOrRestart(
      cfg,
      (h) => h.signal(pauseSignal, req),
      (s) => pause(s, req, apiMint),
    );
  }

  async resume(cfg: SyncConfigDoc): Promise<void> {
    await this.signalOrRestart(
      cfg,
      (h) => h.signal(resumeSignal),
      (s) => resume(s),
    );
  }

  /**
   * Releases a stuck run: the running workflow abandons the page in flight and redoes it from the
   * checkpoint; a workflow an operator terminated is started again from the MongoDB checkpoint.
   */
  async forceUnlock(cfg: SyncConfigDoc): Promise<void> {
    await this.signalOrRestart(
      cfg,
      (h) => h.signal(forceUnlockSignal),
      (s) => s,
    );
  }

  async configUpdated(cfg: SyncConfigDoc): Promise<void> {
    this.noteSignalled(cfg.sync_config_id);
    try {
      await this.call(() => this.handle(cfg.sync_config_id).signal(configUpdatedSignal));
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // not running: it reads the config when started
    }
  }

  /** Live state of the workflow, or null when it is not running or does not answer in time. */
  async state(syncConfigId: string): Promise<SyncState | null> {
    if (this.health.knownDown) return null;
    try {
      return await this.client.withDeadline(Date.now() + 2_000, () =>
        this.handle(syncConfigId).query(stateQuery),
      );
    } catch {
      return null;
    }
  }

  async stop(syncConfigId: string): Promise<void> {
    try {
      await this.call(() => this.handle(syncConfigId).cancel());
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }

  async close(): Promise<void> {
    this.health.close();
    await this.client.connection.close();
  }
}
