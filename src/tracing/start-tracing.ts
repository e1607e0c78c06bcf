import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

import type { RunningSdk } from './tracing-sdk';
import { tracingSettings } from './tracing-settings';

/** Tracing as started (or not) for this process. */
export interface Tracing {
  readonly enabled: boolean;
  /** One line for the boot log: what goes where, or why tracing is off. */
  readonly summary: string;
  /** Settings given but not honoured as written, one line each (logged at boot). */
  readonly warnings: readonly string[];
  /** Flushes the spans still queued (bounded by `timeoutMs`) and stops the SDK; resolves at once when off. Never rejects. */
  shutdown(timeoutMs?: number): Promise<void>;
  /**
   * What `env` (process.env once Nest has read the .env file) would have turned on but did not:
   * tracing starts before the .env file is read, so OTEL_* set only there have no effect.
   */
  lateWarnings(env?: Record<string, string | undefined>): string[];
}

export interface StartTracingOptions {
  /** Default process.env (the SDK's own pieces read process.env whatever is passed). */
  env?: Record<string, string | undefined>;
  /** Tests: tracing on, every span exported to this exporter as it ends (the env's exporters are not started). */
  exporter?: SpanExporter;
  /** Tests under jest: patch the already loaded `http` module (see SdkOptions.patchLoadedHttp). */
  patchLoadedHttp?: boolean;
}

/**
 * Starts OpenTelemetry tracing when the OTEL_* variables ask for it (see tracingSettings), before
 * Nest or an HTTP adapter loads: the HTTP instrumentation patches `http` when the adapters next
 * require it. Off, it loads none of the SDK, registers nothing and returns a handle whose
 * shutdown does nothing: the request path then never sees a span.
 */
export function startTracing(options: StartTracingOptions = {}): Tracing {
  const settings = tracingSettings(options.env ?? process.env);
  if (!settings.enabled && options.exporter === undefined) {
    return {
      enabled: false,
      summary: settings.summary,
      warnings: settings.warnings,
      shutdown: () => Promise.resolve(),
      lateWarnings: (env = process.env) => (tracingSettings(env).enabled
        ? ['tracing is off although OTEL_* now say on: they came from the .env file, which is read after tracing starts; set them in the process environment']
        : []),
    };
  }
  // Required here, not imported: with tracing off the SDK is never loaded.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startSdk } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  const sdk: RunningSdk = startSdk({ exporters: settings.exporters, exporter: options.exporter, patchLoadedHttp: options.patchLoadedHttp });
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    summary: options.exporter ? 'tracing on: spans to an in-process exporter' : settings.summary,
    warnings: settings.warnings,
    lateWarnings: () => [],
    shutdown(timeoutMs = 5000) {
      stopping ??= sdk.stop().catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
      return Promise.race([stopping, limit]).finally(() => clearTimeout(timer));
    },
  };
}
