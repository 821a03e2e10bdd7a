// OpenTelemetry tracing of a process (API or worker), on only when OTEL_EXPORTER_OTLP_ENDPOINT is
// set: a Node tracer provider (AsyncLocalStorage context, W3C trace context) whose spans a batch
// processor sends to `<endpoint>/v1/traces` over OTLP/HTTP (JSON). Without the variable nothing is
// installed: no tracer, no spans, no exporter. The SDK's own variables still apply (e.g.
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER).
// The SDK modules load only then (static `import type` emits nothing), so a process without
// tracing never loads them.
import type { Tracer } from '@opentelemetry/api';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as TraceNode from '@opentelemetry/sdk-trace-node';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type * as OtelClient from '@temporalio/interceptors-opentelemetry/lib/client';
import type { Env } from '../config/env';

export interface Tracing {
  tracer: Tracer;
  resource: Resource;
  /** Where every span of the process goes (the worker's workflow spans too, through a sink). */
  spanProcessor: SpanProcessor;
  /** Sends what is buffered and stops. */
  shutdown: () => Promise<void>;
}

let active: Tracer | null = null;

/** This process's tracer once startTracing installed one; null while tracing is off. */
export function activeTracer(): Tracer | null {
  return active;
}

/** `<endpoint>/v1/traces`, as the OTLP/HTTP spec derives it from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** Installs tracing for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set; else null. Once per process. */
export function startTracing(env: Env, service: 'api' | 'worker'): Tracing | null {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when on (see above) */
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
  const { Resource } = require('@opentelemetry/resources') as typeof Resources;
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof TraceBase;
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof TraceNode;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME ?? `bucket-syncs-${service}` });
  const spanProcessor = new BatchSpanProcessor(
    new OTLPTraceExporter({ url: tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT) }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  const tracer = provider.getTracer('bucket-syncs');
  active = tracer;
  return {
    tracer,
    resource,
    spanProcessor,
    shutdown: async () => {
      active = null;
      await provider.shutdown();
    },
  };
}

/**
 * Temporal client interceptors that wrap starts, signals and queries in a span and pass the active
 * trace context to the workflow in their headers; none while tracing is off.
 */
export function clientTracingInterceptors(tracing: Tracing | null): WorkflowClientInterceptor[] {
  if (!tracing) return [];
  const { OpenTelemetryWorkflowClientInterceptor } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when on
    require('@temporalio/interceptors-opentelemetry/lib/client') as typeof OtelClient;
  return [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })];
}
