/**
 * Whether tracing is on and how, from the standard OpenTelemetry SDK variables. They are read
 * from the environment here (not through src/config): they are the SDK's own variables, which its
 * pieces (sampler, batch processor, OTLP exporter, resource detector) read from `process.env`
 * themselves; this file decides on/off before anything else loads and names what it will not do.
 */

export type TraceExporterName = 'otlp' | 'console';

export interface TracingSettings {
  enabled: boolean;
  /** The exporters to start (OTEL_TRACES_EXPORTER, or `otlp` when an OTLP endpoint is set). */
  exporters: TraceExporterName[];
  /** One line for the boot log: why tracing is off, or what goes where with which sampler. */
  summary: string;
  /** Settings that were given but are not honoured as written (each one line, logged at boot). */
  warnings: string[];
}

/** service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
export const DEFAULT_SERVICE_NAME = 'nest-model-server';

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const EXPORTERS: readonly string[] = ['otlp', 'console'];

type Env = Record<string, string | undefined>;

/** A variable's trimmed value; empty counts as unset (as the SDK reads it). */
const read = (env: Env, name: string): string | undefined => env[name]?.trim() || undefined;

/**
 * Tracing is on when OTEL_TRACES_EXPORTER names `otlp` or `console`, or (without it) when
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set; OTEL_SDK_DISABLED=true
 * and OTEL_TRACES_EXPORTER=none turn it off whatever else is set. Pure: unit tests pass `env`.
 */
export function tracingSettings(env: Env): TracingSettings {
  if (read(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return off('OTEL_SDK_DISABLED=true');
  const warnings: string[] = [];
  const named = read(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase().split(',').map((n) => n.trim()).filter(Boolean);
  let exporters: TraceExporterName[];
  if (named) {
    if (named.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
    const unknown = named.filter((n) => !EXPORTERS.includes(n));
    if (unknown.length) warnings.push(`OTEL_TRACES_EXPORTER: ${unknown.join(', ')} not supported (otlp, console or none); ignored`);
    exporters = [...new Set(named.filter((n): n is TraceExporterName => EXPORTERS.includes(n)))];
  } else {
    exporters = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') || read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ? ['otlp'] : [];
  }
  if (exporters.length === 0) return { ...off('no OTEL_EXPORTER_OTLP_ENDPOINT and no OTEL_TRACES_EXPORTER'), warnings };
  if (exporters.includes('otlp')) warnings.push(...protocolWarnings(env));
  warnings.push(...samplerWarnings(env));
  const targets = exporters.map((e) => (e === 'otlp' ? `OTLP/HTTP JSON to ${otlpTracesUrl(env)}` : 'the console (stdout)'));
  const summary = `tracing on: service ${serviceNameOf(env)}, spans to ${targets.join(' and ')}, sampler ${samplerOf(env)}`;
  return { enabled: true, exporters, summary, warnings };
}

function off(reason: string): TracingSettings {
  return { enabled: false, exporters: [], summary: `tracing off (${reason})`, warnings: [] };
}

/** Where the OTLP exporter sends: the traces endpoint as given, else the base endpoint + `/v1/traces`, else the SDK's default. */
export function otlpTracesUrl(env: Env): string {
  const specific = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (specific) return specific;
  const base = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return base ? `${base.replace(/\/$/, '')}/v1/traces` : 'http://localhost:4318/v1/traces';
}

/** OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else nest-model-server (the resource detector's precedence). */
export function serviceNameOf(env: Env): string {
  const fromAttributes = read(env, 'OTEL_RESOURCE_ATTRIBUTES')
    ?.split(',')
    .map((pair) => pair.split('='))
    .find(([key]) => key.trim() === 'service.name')?.[1];
  return read(env, 'OTEL_SERVICE_NAME') ?? (fromAttributes ? decodeURIComponent(fromAttributes.trim()) : DEFAULT_SERVICE_NAME);
}

function samplerOf(env: Env): string {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim() ? env.OTEL_TRACES_SAMPLER : 'parentbased_always_on';
  if (!SAMPLERS.includes(sampler)) return 'parentbased_always_on';
  return sampler.endsWith('traceidratio') ? `${sampler} ${read(env, 'OTEL_TRACES_SAMPLER_ARG') ?? '1'}` : sampler;
}

/** The exporter installed speaks OTLP/HTTP with JSON bodies only. */
function protocolWarnings(env: Env): string[] {
  const name = read(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(env, name);
  if (protocol === undefined || protocol === 'http/json') return [];
  const consequence = protocol === 'grpc'
    ? 'point the endpoint at the collector\'s OTLP/HTTP port (4318), not its gRPC port (4317)'
    : 'OTLP/HTTP receivers (Jaeger, Tempo, the Collector on 4318) accept both';
  return [`${name}=${protocol}: spans are sent as OTLP/HTTP JSON (http/json), the one protocol of the exporter installed; ${consequence}`];
}

/** The SDK falls back silently (to parentbased_always_on, or a ratio of 1): say so at boot. It matches the name exactly. */
function samplerWarnings(env: Env): string[] {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim() ? env.OTEL_TRACES_SAMPLER : undefined;
  if (sampler !== undefined && !SAMPLERS.includes(sampler)) return [`OTEL_TRACES_SAMPLER=${sampler} is not a known sampler (${SAMPLERS.join(', ')}); parentbased_always_on is used`];
  if (!sampler?.endsWith('traceidratio')) return [];
  const arg = read(env, 'OTEL_TRACES_SAMPLER_ARG');
  const ratio = arg === undefined ? NaN : Number(arg);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return [];
  return [`OTEL_TRACES_SAMPLER_ARG=${arg ?? ''} must be a ratio in [0, 1] for ${sampler}; 1 is used`];
}
