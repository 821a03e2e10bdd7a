// OpenTelemetry tracing of a process (API or worker), on only when OTEL_EXPORTER_OTLP_ENDPOINT is
// set: a Node tracer provider (AsyncLocalStorage context, W3C trace context) whose spans a batch
// processor sends to `<endpoint>/v1/traces` over OTLP/HTTP (JSON). Without the variable nothing is
// installed: no tracer, no spans, no exporter. The SDK's own variables still apply (e.g.
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER).
import type { Tracer } from '@opentelemetry/api';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
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
  return tracing ? [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] : [];
}
