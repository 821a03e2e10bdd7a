// The worker's half of tracing (lib/tracing.ts): an activity span (RunActivity) under the workflow's
// StartActivity span, the workflow spans' way out of the sandbox (the `exporter` sink), and trace
// context on what the worker's own client starts (batch workflows: lib/tracing.ts).
// (The interceptor package loads only when tracing is on.)
import type * as OtelWorker from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { Tracing } from '../lib/tracing';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
const otelWorker = () => require('@temporalio/interceptors-opentelemetry/lib/worker') as typeof OtelWorker;

/**
 * The `exporter` sink the bundled workflow interceptors (workflows/tracing.ts) call: into the
 * process's span processor when tracing is on, else nowhere. Every worker on the bundle needs it
 * (a missing sink is logged as an error on every workflow task).
 */
export function workflowSinks(
  tracing: Tracing | null,
): InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }> {
  if (tracing)
    return { exporter: otelWorker().makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };
}

/** Worker options for tracing: the sink always, the activity interceptors when on. */
export function workerTracingOptions(tracing: Tracing | null): Pick<WorkerOptions, 'sinks' | 'interceptors'> {
  if (!tracing) return { sinks: workflowSinks(null) };
  const options = { tracer: tracing.tracer };
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } = otelWorker();
  return {
    sinks: workflowSinks(tracing),
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, options),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
  };
}
