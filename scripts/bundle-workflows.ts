// `npm run build` step: bundles the workflow code once into dist/workflow-bundle.js, which workers
// load instead of bundling at start (see worker/bundle.ts).
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import {
  WORKFLOW_BUNDLE_HASH_PATH,
  WORKFLOW_BUNDLE_PATH,
  WORKFLOW_INTERCEPTOR_MODULES,
  WORKFLOWS_PATH,
  workflowSourceHash,
} from '../worker/bundle';

async function main(): Promise<void> {
  const hash = workflowSourceHash();
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: new DefaultLogger('WARN'),
  });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  writeFileSync(WORKFLOW_BUNDLE_HASH_PATH, `${hash}\n`);
  process.stdout.write(`workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${Math.round(code.length / 1024)} KiB)\n`);
}

main().catch((err) => {
  process.stderr.write(
    `bundling the workflows failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
