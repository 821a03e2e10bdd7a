// Spans around provider calls, in one place for every provider: createProvider wraps what it makes
// while tracing is on (lib/tracing.ts). `provider.list` / `provider.lookup` / `provider.test` span the
// call, `provider.open` the opening of the stream (not the reading of it), `provider.read` a small
// file read whole, `provider.fetch` a partial entry completed and read in one request. Attributes:
// the provider type and counts; never a path, a file name, a config or a credential. An error is
// recorded by its class and message (providers' messages leave credentials out; the API shows them
// too).
import { SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { StorageProvider } from './types';

async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  after?: (span: Span, result: T) => void,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await fn();
      after?.(span, result);
      return result;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      span.recordException({ name: e.name, message: e.message });
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export function tracedProvider(type: string, provider: StorageProvider, tracer: Tracer): StorageProvider {
  const base = { 'bucket_syncs.provider': type };
  const traced: StorageProvider = {
    capabilities: provider.capabilities,
    list: (sourcePath, options) =>
      inSpan(
        tracer,
        'provider.list',
        {
          ...base,
          'bucket_syncs.page_size': options.pageSize,
          'bucket_syncs.first_page': !options.cursor,
          'bucket_syncs.delta': !!options.deltaToken,
        },
        () => provider.list(sourcePath, options),
        (span, page) => {
          span.setAttribute('bucket_syncs.entries', page.entries.length);
          span.setAttribute('bucket_syncs.last_page', page.nextCursor === null);
          if (page.removed) span.setAttribute('bucket_syncs.removed', page.removed.length);
        },
      ),
    open: (entry) =>
      inSpan(tracer, 'provider.open', { ...base, 'bucket_syncs.size': entry.size }, () =>
        provider.open(entry),
      ),
    test: (sourcePath) => inSpan(tracer, 'provider.test', base, () => provider.test(sourcePath)),
  };
  if (provider.read) {
    const read = provider.read.bind(provider);
    traced.read = (entry, maxBytes) =>
      inSpan(tracer, 'provider.read', { ...base, 'bucket_syncs.size': entry.size }, () =>
        read(entry, maxBytes),
      );
  }
  if (provider.fetch) {
    const fetch = provider.fetch.bind(provider);
    traced.fetch = (entry, maxBytes) =>
      inSpan(tracer, 'provider.fetch', { ...base, 'bucket_syncs.size': entry.size }, () =>
        fetch(entry, maxBytes),
      );
  }
  if (provider.lookup) {
    const lookup = provider.lookup.bind(provider);
    traced.lookup = (sourcePath, ids, limit) =>
      inSpan(
        tracer,
        'provider.lookup',
        { ...base, 'bucket_syncs.ids': ids.length },
        () => lookup(sourcePath, ids, limit),
        (span, found) => span.setAttribute('bucket_syncs.entries', found.entries.length),
      );
  }
  if (provider.complete) {
    const complete = provider.complete.bind(provider);
    traced.complete = (sourcePath, entries) =>
      inSpan(tracer, 'provider.complete', { ...base, 'bucket_syncs.entries': entries.length }, () =>
        complete(sourcePath, entries),
      );
  }
  return traced;
}
