// Provider SDKs and the heavier pipeline libraries load on first use (lib/lazy-module.ts), not when the
// worker or the API starts. Each case is a fresh `node -e` child (the parent's require cache is full of
// them): it requires the worker's and the API's entry modules, checks that none of the SDKs is in its
// require.cache, then runs one trigger of ./lazy-sdks-triggers (create a provider, a blob store, read
// an SQS feed, run a step) and reports which SDKs are loaded after each of its steps.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { SDK_PACKAGES } from './lazy-sdks-triggers';

const DIST = path.resolve(__dirname, '../..');

interface ChildReport {
  startup: string[];
  afterHelpers: string[];
  steps: string[][];
}

function runChild(trigger: string): ChildReport {
  const script = `
    const loaded = () => require(${JSON.stringify(path.join(DIST, 'test/unit/lazy-sdks-triggers.js'))}).loadedSdks();
    const SDKS = ${JSON.stringify(SDK_PACKAGES)};
    require(${JSON.stringify(path.join(DIST, 'worker/worker.js'))});
    require(${JSON.stringify(path.join(DIST, 'api/server.js'))});
    const keys = Object.keys(require.cache).map((k) => k.split(require('node:path').sep).join('/'));
    const startup = SDKS.filter((p) => keys.some((k) => k.includes('/node_modules/' + p + '/')));
    const afterHelpers = loaded();
    require(${JSON.stringify(path.join(DIST, 'test/unit/lazy-sdks-triggers.js'))})
      .runTrigger(process.argv[1])
      .then((steps) => {
        process.stdout.write(JSON.stringify({ startup, afterHelpers, steps }));
        process.exit(0);
      }, (err) => {
        process.stderr.write(String(err && err.stack || err));
        process.exit(1);
      });
  `;
  const out = execFileSync(process.execPath, ['-e', script, trigger], {
    cwd: path.resolve(DIST, '..'),
    encoding: 'utf8',
    timeout: 60_000,
    // No tracing or other process-wide settings from the parent's environment.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), NODE_ENV: 'test' },
  });
  return JSON.parse(out) as ChildReport;
}

const cases: { trigger: string; after: string[][] }[] = [
  { trigger: 'startup', after: [] },
  {
    trigger: 'blob store: folder, then s3 (create, put)',
    after: [[], ['@aws-sdk/client-s3'], ['@aws-sdk/client-s3', '@aws-sdk/lib-storage']],
  },
  {
    trigger: 's3: access_key, then iam_role through STS',
    after: [['@aws-sdk/client-s3'], ['@aws-sdk/client-s3', '@aws-sdk/client-sts']],
  },
  { trigger: 'tigris', after: [['@aws-sdk/client-s3']] },
  { trigger: 'azure_blob', after: [['@azure/storage-blob']] },
  { trigger: 'sharepoint', after: [['@microsoft/microsoft-graph-client']] },
  { trigger: 'gcs', after: [['@google-cloud/storage']] },
  { trigger: 'google_drive', after: [['googleapis']] },
  // snowflake-sdk itself requires @azure/storage-blob and @aws-sdk/client-sts (its stage file transfer).
  {
    trigger: 'snowflake',
    after: [[], ['@aws-sdk/client-sts', '@azure/storage-blob', 'snowflake-sdk']],
  },
  {
    trigger: 'queue feeds: none, then an SQS feed',
    // The reader's SQS client gets the connection's credentials through providers/s3 (no S3 client).
    after: [[], ['@aws-sdk/client-sqs']],
  },
  { trigger: 'pipeline: file_metadata', after: [['image-size']] },
  {
    trigger: 'pipeline: text_extract plain, html, csv',
    after: [[], ['html-to-text'], ['csv-parse', 'html-to-text']],
  },
];

describe('provider SDKs load on first use (lazy-sdks)', function () {
  this.timeout(120_000);

  for (const c of cases) {
    it(`${c.trigger}: nothing at start-up; after each step: ${JSON.stringify(c.after)}`, () => {
      const report = runChild(c.trigger);
      assert.deepEqual(
        report.startup,
        [],
        'SDKs loaded by requiring dist/worker/worker.js and dist/api/server.js',
      );
      assert.deepEqual(report.afterHelpers, [], 'SDKs loaded by requiring the triggers module');
      assert.deepEqual(report.steps, c.after);
    });
  }
});
