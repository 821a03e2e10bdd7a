// The built-in steps by name, and the parsing of a stored step config. The batch activities look a
// step up here: a 'map' step runs once per object, a 'deliver' step once per chunk of documents.
import { z } from 'zod';
import { STEP_CONFIG_SCHEMAS, type StepConfig, type StepName } from '../../core/pipeline';
import * as fileMetadata from './file_metadata';
import * as textExtract from './text_extract';
import { StepError, type Delivery, type DeliveryResult, type MapStepInput } from './types';
import * as webhook from './webhook';

export * from './types';
export { verifySignature, signPayload } from './webhook';

export interface MapStep {
  kind: 'map';
  /** The step's output for this object; StepError(retryable=false) when this object cannot succeed. */
  run(config: unknown, input: MapStepInput, signal?: AbortSignal): Promise<Record<string, unknown>>;
}

export interface DeliverStep {
  kind: 'deliver';
  /** ONE attempt; StepError.retryable says whether another may succeed. */
  deliver(config: unknown, delivery: Delivery, signal?: AbortSignal): Promise<DeliveryResult>;
}

/** A stored step config, parsed (defaults filled in); an invalid one is a non-retryable StepError. */
export function parseStepConfig<S extends StepName>(step: S, config: unknown): StepConfig<S> {
  const schema: z.ZodType | undefined = Object.hasOwn(STEP_CONFIG_SCHEMAS, step)
    ? STEP_CONFIG_SCHEMAS[step]
    : undefined;
  if (!schema) throw new StepError(`unknown step ${JSON.stringify(step)}`, false);
  const r = schema.safeParse(config ?? {});
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`);
    throw new StepError(`invalid ${step} config: ${issues.join('; ')}`, false);
  }
  return r.data as StepConfig<S>;
}

export const steps: Record<StepName, MapStep | DeliverStep> = {
  file_metadata: {
    kind: 'map',
    run: async (config, input, signal) =>
      fileMetadata.run(parseStepConfig('file_metadata', config), input, signal),
  },
  text_extract: {
    kind: 'map',
    run: async (config, input, signal) =>
      textExtract.run(parseStepConfig('text_extract', config), input, signal),
  },
  webhook: {
    kind: 'deliver',
    deliver: async (config, delivery, signal) =>
      webhook.deliver(parseStepConfig('webhook', config), delivery, signal),
  },
};
