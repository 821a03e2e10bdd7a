// The workflow code bundle, built once by `npm run build` (scripts/bundle-workflows.ts) instead of
// by every worker at start: bundling (webpack) takes a worker to ~360 MB RSS before it runs
// anything, and that high-water mark stays. The bundle records a hash of the compiled workflow
// code it was made from (dist/workflows and dist/core, which workflows import); a worker uses it
// only while that code is unchanged (else it bundles at start, as without one).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const DIST = path.resolve(__dirname, '..');

/** What the workflow code is bundled from: the workflows and the tracing interceptors (workflows/tracing.ts). */
export const WORKFLOWS_PATH = require.resolve('../workflows');
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/tracing')];
/** dist/workflow-bundle.js, and its source hash beside it. */
export const WORKFLOW_BUNDLE_PATH = path.join(DIST, 'workflow-bundle.js');
export const WORKFLOW_BUNDLE_HASH_PATH = path.join(DIST, 'workflow-bundle.sha256');

/** SHA-256 over the compiled .js files the bundle is made from (paths and contents). */
export function workflowSourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.js')) h.update(path.relative(DIST, p)).update('\0').update(readFileSync(p));
    }
  };
  walk(path.join(DIST, 'workflows'));
  walk(path.join(DIST, 'core'));
  return h.digest('hex');
}

/** The prebuilt bundle's path when it was made from the workflow code as it is now; else null. */
export function freshWorkflowBundle(): string | null {
  try {
    return readFileSync(WORKFLOW_BUNDLE_HASH_PATH, 'utf8').trim() === workflowSourceHash()
      ? WORKFLOW_BUNDLE_PATH
      : null;
  } catch {
    return null;
  }
}
