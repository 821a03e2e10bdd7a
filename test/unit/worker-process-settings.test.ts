// `npm run start:worker` spells out the worker's process settings (worker/process-settings.ts): they
// must be the ones `npm run dev`, the tests' and the benchmarks' worker processes get.
import assert from 'node:assert/strict';
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

  it('the flags are ones this Node accepts', () => {
    for (const flag of WORKER_NODE_FLAGS)
      assert.ok(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]), `${flag} is not a Node/V8 flag`);
  });
});
