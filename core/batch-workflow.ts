// What the batch workflow takes and how it is named: pure, shared by workflow, pipeline and activities.

export interface BatchWorkflowInput {
  batchId: string;
  /** The task this run of the batch reports to (a retry makes a new task). */
  taskId: string;
}

export const workflowIdForBatch = (batchId: string): string => `batch-${batchId}`;

/** One collection of a tier, as the workflow runs it. */
export interface CollectionPlan {
  collectionId: string;
  chunks: number;
  steps: {
    kind: 'map' | 'deliver';
    /** For deliver steps: attempts and per-attempt timeout from the step's config. */
    maximumAttempts?: number;
    startToCloseSeconds?: number;
  }[];
}

export interface BatchPlan {
  found: boolean;
  /** Already in a terminal status (a duplicate run): nothing to do. */
  finished: boolean;
  tiers: CollectionPlan[][];
}

export interface StepInput {
  batchId: string;
  collectionId: string;
  chunk: number;
  step: number;
  /** Deliver steps: the attempt after which a failure is final (the documents are marked FAILED). */
  maximumAttempts?: number;
}

export interface StepResult {
  completed: number;
  failed: number;
  skipped: number;
}
