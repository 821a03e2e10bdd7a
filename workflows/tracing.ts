// Workflow interceptors, bundled with the workflow code (worker/bundle.ts): OpenTelemetry spans for
// a workflow run (RunWorkflow), the signals it handles (HandleSignal), the activities and child
// workflows it starts (StartActivity, StartChildWorkflow), and the trace context passed on in their
// headers. Spans leave the sandbox through the `exporter` sink (worker/tracing.ts), a no-op when
// tracing is off. Deterministic: spans use the workflow's clock and ids, and add no commands.
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import type {
  ContinueAsNewInput,
  Next,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/**
 * A sync workflow runs for ever through continue-as-new: each run (one cycle: a pass and the wait
 * after it) starts a trace of its own instead of nesting under the run before, so traces stay the
 * size of a pass. (Runs after the OpenTelemetry interceptor, which put the context in the headers.)
 */
class NewTracePerRun implements WorkflowOutboundCallsInterceptor {
  continueAsNew(
    input: ContinueAsNewInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>,
  ): Promise<never> {
    const { [TRACE_HEADER]: _context, ...headers } = input.headers;
    return next({ ...input, headers });
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor(), new NewTracePerRun()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
