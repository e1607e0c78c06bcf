import { Logger } from '@nestjs/common';
import { diag, DiagLogger, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

import { setTracingActive } from '../common/observability/trace-spans';
import { httpInstrumentationConfig } from './http-server-spans';
import { DEFAULT_SERVICE_NAME, TraceExporterName } from './tracing-settings';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version: SERVICE_VERSION } = require('../../package.json') as { version: string };

export interface SdkOptions {
  exporters: TraceExporterName[];
  /** Tests: spans go here, exported synchronously as each ends, instead of `exporters`. */
  exporter?: SpanExporter;
  /**
   * Also patch the `http` module already loaded now. The instrumentation normally patches it
   * when it is next required (require-in-the-middle); a host whose loader that hook cannot see
   * (jest's module registry) passes true. The patch is undone by `stop`.
   */
  patchLoadedHttp?: boolean;
}

/** What {@link startSdk} started: `stop` flushes the spans still queued and removes everything it installed. */
export interface RunningSdk {
  stop(): Promise<void>;
}

/** OTel's own problems (an export that failed, a dropped span) as warn/error lines of the app's logger; OTEL_LOG_LEVEL, default warn. */
function routeDiagnostics(): void {
  const logger = new Logger('OpenTelemetry');
  const line = (message: string, args: unknown[]): string => [message, ...args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)))].join(' ');
  const sink: DiagLogger = {
    error: (message, ...args) => logger.error(line(message, args)),
    warn: (message, ...args) => logger.warn(line(message, args)),
    info: (message, ...args) => logger.log(line(message, args)),
    debug: (message, ...args) => logger.debug(line(message, args)),
    verbose: (message, ...args) => logger.verbose(line(message, args)),
  };
  const level = (process.env.OTEL_LOG_LEVEL?.trim().toUpperCase() ?? 'WARN') as keyof typeof DiagLogLevel;
  diag.setLogger(sink, { logLevel: DiagLogLevel[level] ?? DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function processors(options: SdkOptions): SpanProcessor[] {
  if (options.exporter) return [new SimpleSpanProcessor(options.exporter)];
  // Batched export: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE … apply; OTLP: OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, compression).
  return options.exporters.map((name) => new BatchSpanProcessor(name === 'otlp' ? new OTLPTraceExporter() : new ConsoleSpanExporter()));
}

/**
 * The tracing SDK: a NodeTracerProvider (sampler from OTEL_TRACES_SAMPLER / _ARG, resource
 * service.name nest-model-server and service.version, overridden by OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES), W3C trace-context propagation, the HTTP server instrumentation, and
 * NO context manager: the service passes its spans explicitly, so AsyncLocalStorage stays off.
 * Loaded only when tracing is on.
 */
export function startSdk(options: SdkOptions): RunningSdk {
  routeDiagnostics();
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME, [ATTR_SERVICE_VERSION]: SERVICE_VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors(options) });
  provider.register({ contextManager: null, propagator: new W3CTraceContextPropagator() });
  const http = new HttpInstrumentation(httpInstrumentationConfig());
  const unregister = registerInstrumentations({ instrumentations: [http], tracerProvider: provider });
  const patched = options.patchLoadedHttp ? patchLoadedHttp(http) : undefined;
  setTracingActive(true);
  return {
    async stop() {
      setTracingActive(false);
      patched?.();
      unregister();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      diag.disable();
    },
  };
}

/** Applies the instrumentation's `http` patch to the loaded module now; returns its undo. */
function patchLoadedHttp(instrumentation: HttpInstrumentation): () => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require('node:http') as object;
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === 'http');
  definition?.patch?.(http);
  return () => definition?.unpatch?.(http);
}
