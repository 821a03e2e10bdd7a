// The workflow code bundle, built once by `npm run build` (scripts/bundle-workflows.ts) instead of
// by every worker at start: bundling (webpack) takes a worker to ~360 MB RSS before it runs
// anything, and that high-water mark stays. A bundle older than the compiled workflow code it was
// made from is not used (the worker bundles at start, as without one).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** dist/workflow-bundle.js */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '..', 'workflow-bundle.js');

/** Newest modification time of the .js files under these compiled folders. */
function newestJs(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.js')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(d);
  return newest;
}

/** The prebuilt bundle's path when it is at least as new as the workflow code (and core/, which it imports). */
export function freshWorkflowBundle(): string | null {
  try {
    const built = statSync(WORKFLOW_BUNDLE_PATH).mtimeMs;
    const root = path.resolve(__dirname, '..');
    return built >= newestJs([path.join(root, 'workflows'), path.join(root, 'core')])
      ? WORKFLOW_BUNDLE_PATH
      : null;
  } catch {
    return null;
  }
}
