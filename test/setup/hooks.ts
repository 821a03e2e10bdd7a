// Mocha root hooks: stops the shared servers after the whole run, and prints the plain
// `N passed, N failed` line CI reads.
import { stopStack } from './stack';

let passed = 0;
let failed = 0;

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    const state = this.currentTest?.state;
    if (state === 'passed') passed++;
    else if (state === 'failed') failed++;
  },
  async afterAll(this: Mocha.Context) {
    // Every lane's worker and API, then the shared servers: each cleanup is bounded (stack.ts), the
    // sum is more than mocha's default on a busy machine.
    this.timeout(5 * 60_000);
    await stopStack();
  },
};

// mocha exits with the number of failures, hooks included (which afterEach does not see).
process.on('exit', (code) => {
  process.stdout.write(`\n${passed} passed, ${Math.max(failed, code)} failed\n`);
});
