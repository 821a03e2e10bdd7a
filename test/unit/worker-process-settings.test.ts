// `npm run start:worker` spells out the worker's process settings (worker/process-settings.ts): they
// must be the ones `npm run dev`, the tests' and the benchmarks' worker processes get.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../worker/process-settings';
import { PROJECT_ROOT } from '../setup/stack';

describe('worker process settings', () => {
  it('package.json start:worker runs the worker with the same flags and environment', () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    const expected = [
      ...Object.entries(WORKER_PROCESS_ENV).map(([k, v]) => `${k}=${v}`),
      'node',
      ...WORKER_NODE_FLAGS,
      'dist/worker/index.js',
    ].join(' ');
    assert.equal(pkg.scripts['start:worker'], expected);
  });

  it('this Node starts with those flags and environment', () => {
    const run = spawnSync(process.execPath, [...WORKER_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], {
      env: { ...process.env, ...WORKER_PROCESS_ENV },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'ok');
    assert.equal(run.stderr, '', 'no warning about a flag');
  });
});
