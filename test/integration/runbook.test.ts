// The README's Runbook, run as written: every ```sh block whose first line is `# runbook: <case>` is
// taken from README.md and run with bash (after the `variables` block) against the real stack,
// with the pinned `temporal` CLI on PATH and TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, API, KEY, NS,
// SYNC and BUCKET set; each case sets up its situation first and checks the effect after. A block
// documented without a case here fails the last test, so the README cannot drift from what runs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { provisionTools } from '../../lib/servers';
import { createSync, eventually, getSync, http, idleAfter, waitForSync, writeFiles } from '../helpers';
import { lane, PROJECT_ROOT, stack, type Lane } from '../setup/stack';

/** `# runbook: <case>` -> the block's text, in README order. */
function runbookBlocks(): Map<string, string> {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const m of readme.matchAll(/^```sh\n# runbook: ([\w-]+)\n([\s\S]*?)^```$/gm)) {
    assert.ok(!blocks.has(m[1]), `two runbook blocks named ${m[1]}`);
    blocks.set(m[1], m[2]);
  }
  return blocks;
}

describe('README runbook: every documented command against the real stack', function () {
  this.timeout(180_000);
  const blocks = runbookBlocks();
  const ran = new Set<string>(['variables']);
  let l: Lane;
  let cliDir: string;
  let home: string;
  let connection: Connection;
  let client: Client;

  before(async function () {
    this.timeout(300_000);
    // One failed run suspends a sync here (the stuck-page case goes on to the suspended one).
    l = await lane(await stack(), { AUTO_SUSPEND_THRESHOLD: '1' });
    cliDir = path.dirname(provisionTools(PROJECT_ROOT, ['temporal']).TEMPORAL_CLI_PATH!);
    // The CLI reads no config file of the machine's user.
    home = mkdtempSync(path.join(l.tmp, 'runbook-home-'));
    connection = await Connection.connect({ address: l.env.TEMPORAL_ADDRESS });
    client = new Client({ connection, namespace: l.env.TEMPORAL_NAMESPACE });
    assert.equal(spawnSync('curl', ['--version']).status, 0, 'the runbook needs curl on PATH');
  });
  after(() => connection?.close());

  /**
   * Runs the README block `name` for this sync; returns its output (stdout + stderr). Not spawnSync:
   * the API it calls answers from this process.
   */
  async function run(name: string, vars: { SYNC?: string; BUCKET: string }): Promise<string> {
    const block = blocks.get(name);
    assert.ok(block, `README has no block "# runbook: ${name}"`);
    ran.add(name);
    const script = `set -euo pipefail\n${blocks.get('variables')}\n${block}`;
    const child = spawn('bash', ['-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${cliDir}:${process.env.PATH}`,
        HOME: home,
        TEMPORAL_ADDRESS: l.env.TEMPORAL_ADDRESS,
        TEMPORAL_NAMESPACE: l.env.TEMPORAL_NAMESPACE,
        API: l.apiUrl,
        KEY: l.apiKey,
        NS: l.namespaceId,
        SYNC: vars.SYNC ?? '',
        BUCKET: vars.BUCKET,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, `runbook ${name} exited ${code}:\n${out}`);
    return out;
  }

  /** A bucket, a local connection over a new folder, a sync of it after its first run. */
  async function syncOf(files: Record<string, string>, body: Record<string, unknown> = {}) {
    const folder = mkdtempSync(path.join(l.tmp, 'runbook-src-'));
    writeFiles(folder, files);
    const bucket = await http(l, 'POST', '/v1/buckets', { bucket_name: `rb-${path.basename(folder)}` });
    assert.equal(bucket.status, 200, JSON.stringify(bucket.body));
    const conn = await http(l, 'POST', '/v1/organizations/connections', {
      name: `rb-${path.basename(folder)}`,
      provider_type: 'local',
      provider_config: { root: folder },
    });
    assert.equal(conn.status, 200, JSON.stringify(conn.body));
    const BUCKET = bucket.body.bucket_id as string;
    const SYNC = await createSync(l, BUCKET, {
      connection_id: conn.body.connection_id,
      source_path: '/',
      ...body,
    });
    await waitForSync(l, BUCKET, SYNC, idleAfter(1));
    return { folder, BUCKET, SYNC, connectionId: conn.body.connection_id as string };
  }

  it('a stuck page, then the SUSPENDED sync it leaves: found, read, resumed; pause and resume by signal and API', async () => {
    const { folder, BUCKET, SYNC } = await syncOf({ 'a.txt': 'a' });
    const v = { SYNC, BUCKET };
    // The source breaks in a way that is retried: the folder becomes a symlink loop (ELOOP).
    renameSync(folder, `${folder}.away`);
    symlinkSync(folder, folder);
    assert.equal((await http(l, 'POST', `/v1/buckets/${BUCKET}/syncs/${SYNC}/trigger`)).status, 200);
    let seen = '';
    const retrying = await eventually(
      async () => {
        seen = await run('stuck-page', v);
        return /syncPage/.test(seen) && /Attempt\s+[2-9]/.test(seen) && /ELOOP|symbolic links/i.test(seen);
      },
      40_000,
      1_000,
    );
    assert.ok(retrying, `describe shows no retrying syncPage:\n${seen}`);
    assert.match(seen, /"locked":true/);

    // Not fixed: the page gives up, the run fails, and (AUTO_SUSPEND_THRESHOLD=1) the sync suspends.
    await waitForSync(l, BUCKET, SYNC, (x) => x.status === 'SUSPENDED', 90_000);
    let listed = '';
    const found = await eventually(async () => {
      listed = await run('suspended', v);
      return listed.includes(`sync-${SYNC}`);
    }, 20_000);
    assert.ok(found, `SyncStatus="SUSPENDED" does not list sync-${SYNC}:\n${listed}`);
    assert.match(listed, /"status":"SUSPENDED"/);
    assert.match(
      listed,
      /"pause_reason":"auto-suspended after 1 consecutive failures: [^"]*(ELOOP|symbolic links)/i,
    );

    // Fixed, then resumed by the signal: ACTIVE, and the pass completes.
    unlinkSync(folder);
    renameSync(`${folder}.away`, folder);
    writeFiles(folder, { 'b.txt': 'b' });
    const counter = (await getSync(l, BUCKET, SYNC)).sync_run_counter as number;
    await run('resume-cli', v);
    const resumed = await waitForSync(
      l,
      BUCKET,
      SYNC,
      (x) => x.status === 'ACTIVE' && x.consecutive_failures === 0 && idleAfter(counter + 1)(x),
    );
    assert.equal(resumed.total_files_synced, 2);
    assert.equal(resumed.pause_reason, null);

    // Paused by the signal (reason and user shown), resumed by the API.
    await run('pause-cli', v);
    const paused = await waitForSync(l, BUCKET, SYNC, (x) => x.status === 'SUSPENDED');
    assert.equal(paused.pause_reason, 'maintenance');
    assert.equal(paused.paused_by_user_id, 'ops');
    const r = await run('resume-api', v);
    assert.match(r, /"paused":false/);
    // (Resume runs a pass; force-unlock below is tried on the idle sync after it.)
    await waitForSync(
      l,
      BUCKET,
      SYNC,
      (x) => x.status === 'ACTIVE' && !x.paused && !x.locked && x.next_sync_at,
    );

    // force-unlock on it: the lock is released, and the sync runs on.
    const u = await run('force-unlock', v);
    assert.match(u, /"locked":false/);
    const before = (await getSync(l, BUCKET, SYNC)).sync_run_counter as number;
    assert.equal((await http(l, 'POST', `/v1/buckets/${BUCKET}/syncs/${SYNC}/trigger`)).status, 200);
    await waitForSync(l, BUCKET, SYNC, idleAfter(before + 1));
  });

  it('a workflow terminated by hand: GET and the list show it, a trigger starts it again from its document', async () => {
    const { BUCKET, SYNC, folder } = await syncOf({ 'a.txt': 'a' });
    const h = client.workflow.getHandle(`sync-${SYNC}`);
    await h.terminate('runbook test: an operator terminated it');
    writeFiles(folder, { 'b.txt': 'b' });
    // GET answers from the document: the last recorded state, as if nothing happened.
    const gone = await getSync(l, BUCKET, SYNC);
    assert.equal(gone.status, 'ACTIVE');
    const counter = gone.sync_run_counter as number;
    // What the operator's list shows once visibility has it.
    await eventually(async () => {
      for await (const w of client.workflow.list({ query: `WorkflowId="sync-${SYNC}"` }))
        if (w.status.name === 'TERMINATED') return true;
      return false;
    });
    const out = await run('terminated', { SYNC, BUCKET });
    assert.match(out, new RegExp(`Terminated\\s+sync-${SYNC}`));
    assert.equal((await h.describe()).status.name, 'RUNNING', 'the trigger started the workflow again');
    const after = await waitForSync(l, BUCKET, SYNC, idleAfter(counter + 1));
    // From its document: the totals go on (nothing synced twice), and the new file is there.
    assert.equal(after.total_files_synced, 2);
  });

  it('a full resync by the API and by the signal: each a full pass', async () => {
    const { BUCKET, SYNC } = await syncOf({ 'a.txt': 'a', 'b.txt': 'b' });
    const lastRun = async () =>
      (await l.store.runs.find({ sync_config_id: SYNC }).sort({ started_at: -1 }).limit(1).toArray())[0];
    for (const name of ['full-resync-api', 'full-resync-cli']) {
      const counter = (await getSync(l, BUCKET, SYNC)).sync_run_counter as number;
      await run(name, { SYNC, BUCKET });
      const after = await waitForSync(l, BUCKET, SYNC, idleAfter(counter + 1));
      assert.equal(after.total_files_synced, 2, 'a full pass registers nothing twice');
      const run0 = await lastRun();
      assert.equal(run0.full, true, `${name}: the last run was a full pass`);
    }
  });

  it('a poison file: listed in the DLQ, FAILED after 3 runs, re-queued after the fix and synced', async () => {
    // A required field from the file name: `bad.txt` does not match, so it fails every run.
    const mapping = (dflt?: string) => ({
      mappings: {
        code: {
          target_type: 'field',
          source: {
            type: 'filename_regex',
            pattern: '^doc-(\\w+)\\.txt$',
            ...(dflt ? { default: dflt } : {}),
          },
          required: true,
        },
      },
    });
    const { BUCKET, SYNC } = await syncOf(
      { 'doc-1.txt': 'one', 'bad.txt': 'poison' },
      { schema_mapping: mapping() },
    );
    const base = `/v1/buckets/${BUCKET}/syncs/${SYNC}`;
    for (let runs = 2; runs <= 3; runs++) {
      assert.equal((await http(l, 'POST', `${base}/trigger`)).status, 200);
      await waitForSync(l, BUCKET, SYNC, idleAfter(runs));
    }
    const dlq = await http(l, 'GET', `${base}/dlq`);
    assert.equal(dlq.status, 200);
    const entry = (dlq.body.results as any[]).find((d) => d.path.endsWith('bad.txt'));
    assert.ok(entry, JSON.stringify(dlq.body));
    assert.equal(entry.status, 'FAILED');
    assert.equal(entry.attempts, 3);
    assert.equal((await getSync(l, BUCKET, SYNC)).total_files_failed, 1);

    // The fix: the mapping gets a default. Then the documented DLQ list, retry and trigger.
    const p = await http(l, 'PATCH', base, { schema_mapping: mapping('none') });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const counter = (await getSync(l, BUCKET, SYNC)).sync_run_counter as number;
    const out = await run('poison', { SYNC, BUCKET });
    assert.match(out, /bad\.txt/);
    assert.match(out, /required field code/);
    assert.match(out, /"requeued":1/);
    await waitForSync(l, BUCKET, SYNC, idleAfter(counter + 1));
    assert.equal(
      await l.store.objects.countDocuments({ bucket_id: BUCKET }),
      2,
      'the poison file synced too',
    );
    const left = await http(l, 'GET', `${base}/dlq`);
    assert.equal(
      (left.body.results as any[]).filter((d) => d.status === 'FAILED').length,
      0,
      JSON.stringify(left.body),
    );
  });

  it('every sync of a bucket by its BucketId search attribute (and the API list)', async () => {
    const one = await syncOf({ 'a.txt': 'a' });
    const second = await createSync(l, one.BUCKET, { connection_id: one.connectionId, source_path: '/' });
    const other = await syncOf({ 'c.txt': 'c' });
    let out = '';
    const both = await eventually(async () => {
      out = await run('bucket-syncs', { BUCKET: one.BUCKET });
      return out.includes(`sync-${one.SYNC}`) && out.includes(`sync-${second}`);
    }, 20_000);
    assert.ok(both, `BucketId query misses a sync:\n${out}`);
    assert.ok(!out.includes(`sync-${other.SYNC}`), 'a sync of another bucket listed');
    // The API list of the bucket names the same two.
    assert.ok(out.includes(`"sync_config_id":"${one.SYNC}"`) && out.includes(`"sync_config_id":"${second}"`));
  });

  it('every runbook block of the README was run by a case above', () => {
    assert.deepEqual(
      [...blocks.keys()].filter((k) => !ran.has(k)),
      [],
      'a README runbook block no test runs: add its case',
    );
  });
});
