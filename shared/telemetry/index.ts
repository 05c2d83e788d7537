// OpenTelemetry through the Azure Monitor distribution (@azure/monitor-opentelemetry): traces, metrics and log
// records to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, nothing at all otherwise (the
// distribution is not even loaded, and every helper here returns at its first line).
// https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-enable?tabs=nodejs
//
// The spans are made at the edges of the app, so they mean the same in Azure and on the local host (dev/host):
// - one SERVER span per webhook and timer invocation, one CONSUMER span per Service Bus delivery (both become
//   `requests` in Application Insights), one PRODUCER span per Service Bus send and one CLIENT span per HTTP call to
//   Graph or Dataverse (`dependencies` rows; a call is named by its path template, pathTemplate.ts, never its URL);
// - the send puts the W3C trace context into the message's application properties (`traceparent`, and
//   `Diagnostic-Id` as the Service Bus SDKs name it), and the worker's span continues that trace, so one change is one
//   operation id from the webhook to the write, through every retry;
// - log records carry their properties as dimensions (`customDimensions`), inside the span that was active.
// Every attribute passes the allow-list in dimensions.ts. Exception messages are never recorded (a service error
// may quote the item), only error codes.
import { createRequire } from 'node:module';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, metrics, propagation, trace, type Counter, type Gauge, type Histogram, type Link, type Span } from '@opentelemetry/api';
import { SeverityNumber, logs } from '@opentelemetry/api-logs';
import type { AzureMonitorOpenTelemetryOptions, shutdownAzureMonitor, useAzureMonitor } from '@azure/monitor-opentelemetry';
import { ManagedIdentityCredential } from '@azure/identity';
import { dimensions, type Dimensions } from './dimensions.js';
import { pathTemplate } from './pathTemplate.js';

export { allowedDimensions, dimensions, type Dimensions } from './dimensions.js';
export { pathTemplate } from './pathTemplate.js';

export interface TelemetrySettings {
  APPLICATIONINSIGHTS_CONNECTION_STRING?: string | undefined;
  /** `Authorization=AAD;ClientId=<client id of the user-assigned identity>`: identity-based ingestion. */
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING?: string | undefined;
}

export interface TelemetryOptions {
  /**
   * How often metrics, spans and log records are exported (the distribution's defaults: 60 s for metrics, 5 s for
   * spans and logs). Tests make it short; the distribution reads it from OTEL_METRIC_EXPORT_INTERVAL,
   * OTEL_BSP_SCHEDULE_DELAY and OTEL_BLRP_SCHEDULE_DELAY, which are set for this process when given.
   */
  exportIntervalMs?: number;
  /** Share of traces kept (default 1: every change; the distribution's default would keep 5 traces a second). */
  samplingRatio?: number;
}

export type TelemetryStart = { enabled: true } | { enabled: false; reason: string };

const meterName = 'dataverse-exchange-sync';

/** The metrics' names, as the alert rules and the workbook query them (infra/modules/alerts.bicep, workbook.bicep). */
export const metricNames = {
  latency: 'sync.latency',
  queueTime: 'sync.queue_time',
  outcomes: 'sync.outcomes',
  retries: 'sync.retries',
  deadLetters: 'sync.dead_letters',
  reconcileRepairs: 'sync.reconcile.repairs',
  todoPollDuration: 'sync.todo_poll.duration',
  breakerHolds: 'sync.breaker.holds',
  mailboxAttention: 'sync.mailbox.attention',
} as const;

interface Instruments {
  latency: Histogram;
  queueTime: Histogram;
  outcomes: Counter;
  retries: Counter;
  deadLetters: Counter;
  reconcileRepairs: Counter;
  todoPollDuration: Histogram;
  breakerHolds: Counter;
  mailboxAttention: Gauge;
}

interface State {
  connectionString: string;
  instruments: Instruments;
  shutdown: () => Promise<void>;
}

let state: State | undefined;

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function ingestionEndpoint(connectionString: string): URL | undefined {
  const match = /(?:^|;)\s*IngestionEndpoint\s*=\s*([^;]+)/i.exec(connectionString);
  return match?.[1] && URL.canParse(match[1].trim()) ? new URL(match[1].trim()) : undefined;
}

/** The credential of an APPLICATIONINSIGHTS_AUTHENTICATION_STRING (the format App Service documents). */
export function credentialOf(authenticationString: string | undefined): ManagedIdentityCredential | undefined {
  if (!authenticationString) return undefined;
  const parts = new Map(
    authenticationString
      .split(';')
      .map((p) => p.split('=').map((s) => s.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
      .map(([k, v]) => [k.toLowerCase(), v]),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return undefined;
  const clientId = parts.get('clientid');
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/**
 * Starts the distribution once per process (again only if the connection string changes). Off without a connection
 * string. Off, with a reason, outside the Functions platform too: the distribution then probes the Azure VM metadata
 * service (169.254.169.254) for resource attributes, and nothing of this app runs on a VM. The Functions host and the
 * local host (dev/host) set WEBSITE_SITE_NAME.
 */
export function startTelemetry(settings: TelemetrySettings, options: TelemetryOptions = {}): TelemetryStart {
  const connectionString = settings.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return { enabled: false, reason: 'APPLICATIONINSIGHTS_CONNECTION_STRING is not set' };
  if (state?.connectionString === connectionString) return { enabled: true };
  if (!process.env.WEBSITE_SITE_NAME) return { enabled: false, reason: 'not on the Functions platform (WEBSITE_SITE_NAME is not set)' };
  const endpoint = ingestionEndpoint(connectionString);
  const local = endpoint !== undefined && loopbackHosts.has(endpoint.hostname);
  if (local) {
    // A loopback ingestion endpoint is a development one: the exporter's own usage reports (statsbeat) would go to
    // Microsoft, and failed batches would be kept on disk for a later run; neither.
    process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = 'true';
    process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
    process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';
  }
  if (options.exportIntervalMs !== undefined) {
    const ms = String(Math.max(1, Math.round(options.exportIntervalMs)));
    process.env.OTEL_METRIC_EXPORT_INTERVAL = ms;
    process.env.OTEL_BSP_SCHEDULE_DELAY = ms;
    process.env.OTEL_BLRP_SCHEDULE_DELAY = ms;
  }
  const credential = credentialOf(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
  const distroOptions: AzureMonitorOpenTelemetryOptions = {
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}), ...(local ? { disableOfflineStorage: true } : {}) },
    samplingRatio: options.samplingRatio ?? 1,
    // 0 = a fixed ratio instead of the distribution's 5 traces a second.
    tracesPerSecond: 0,
    enableLiveMetrics: false,
    enablePerformanceCounters: false,
    // No automatic instrumentation: the spans are made at the edges (above), so no URL (Graph filters may name an
    // address, webhook URLs carry keys), SQL or console line is exported unless it passed the allow-list.
    instrumentationOptions: {
      http: { enabled: false },
      azureSdk: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
      bunyan: { enabled: false },
      winston: { enabled: false },
      console: { enabled: false },
    },
  };
  // Loaded only when switched on: the distribution and its SDK cost startup time that an app without telemetry
  // should not pay.
  const distro = createRequire(import.meta.url)('@azure/monitor-opentelemetry') as { useAzureMonitor: typeof useAzureMonitor; shutdownAzureMonitor: typeof shutdownAzureMonitor };
  if (state) void state.shutdown().catch(() => undefined);
  state = undefined;
  try {
    distro.useAzureMonitor(distroOptions);
  } catch (error) {
    return { enabled: false, reason: `the Azure Monitor distribution did not start: ${(error as Error).message}` };
  }
  const meter = metrics.getMeter(meterName);
  state = {
    connectionString,
    shutdown: () => distro.shutdownAzureMonitor(),
    instruments: {
      latency: meter.createHistogram(metricNames.latency, { unit: 'ms', description: 'change received (webhook, poll or reconciliation) -> written to the other side' }),
      queueTime: meter.createHistogram(metricNames.queueTime, { unit: 'ms', description: 'message enqueued -> worker started' }),
      outcomes: meter.createCounter(metricNames.outcomes, { description: 'outcomes of applied changes, per outcome kind, item kind, direction and mailbox' }),
      retries: meter.createCounter(metricNames.retries, { description: 'deliveries of a change rescheduled after a retryable failure' }),
      deadLetters: meter.createCounter(metricNames.deadLetters, { description: 'changes judged dead (dead-lettered), per reason' }),
      reconcileRepairs: meter.createCounter(metricNames.reconcileRepairs, { description: 'changes reconciliation found and enqueued that notifications had not delivered' }),
      todoPollDuration: meter.createHistogram(metricNames.todoPollDuration, { unit: 'ms', description: "one mailbox's To Do poll (a work message of the poll sweep)" }),
      breakerHolds: meter.createCounter(metricNames.breakerHolds, { description: 'destructive writes (or creates over the cap) the mass-delete breaker held instead of executing' }),
      mailboxAttention: meter.createGauge(metricNames.mailboxAttention, { description: '1 while a mailbox is in a state that stops its sync (degraded, paused, blocked), 0 otherwise' }),
    },
  };
  return { enabled: true };
}

export function telemetryEnabled(): boolean {
  return state !== undefined;
}

interface Flushable {
  forceFlush?: () => Promise<void>;
  getDelegate?: () => Flushable;
}

/** Exports everything recorded so far (tests, and before a process ends). */
export async function flushTelemetry(): Promise<void> {
  if (!state) return;
  const tracerProvider = trace.getTracerProvider() as Flushable;
  const providers: Flushable[] = [tracerProvider.getDelegate?.() ?? tracerProvider, metrics.getMeterProvider() as Flushable, logs.getLoggerProvider() as Flushable];
  await Promise.all(providers.map((p) => (p.forceFlush ? p.forceFlush() : Promise.resolve())));
}

/** Flushes and stops the distribution. */
export async function stopTelemetry(): Promise<void> {
  const current = state;
  if (!current) return;
  state = undefined;
  await current.shutdown();
}

// ------------------------------------------------------------------------------------------------------------
// Spans
// ------------------------------------------------------------------------------------------------------------

/** What an edge may do with its span; a no-op when telemetry is off. */
export interface EdgeSpan {
  set(props: Record<string, unknown>): void;
  /** Marks the invocation failed, with an error code (never a message). */
  fail(errorCode: string): void;
}

const noopSpan: EdgeSpan = { set: () => undefined, fail: () => undefined };

function edgeSpan(span: Span): EdgeSpan & { failed: boolean } {
  const handle = {
    failed: false,
    set: (props: Record<string, unknown>) => void span.setAttributes(dimensions(props)),
    fail: (errorCode: string) => {
      handle.failed = true;
      span.setAttributes(dimensions({ errorCode }));
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
    },
  };
  return handle;
}

function contextOf(traceparent: string | undefined) {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

export interface InvocationTrace {
  /** SERVER for webhooks and timers, CONSUMER for a queue delivery. */
  kind: 'server' | 'consumer';
  /** W3C traceparent this invocation continues (the message's, else the Functions host's). */
  parent?: string | undefined;
  /** Other trace contexts this invocation relates to (the Functions host's, when the message's is the parent). */
  links?: (string | undefined)[];
  attributes?: Record<string, unknown>;
}

/** Runs one function invocation inside its span (a `requests` row). */
export async function traceInvocation<T>(name: string, how: InvocationTrace, fn: (span: EdgeSpan) => Promise<T>): Promise<T> {
  if (!state) return fn(noopSpan);
  const links: Link[] = [];
  for (const l of how.links ?? []) {
    const linked = l ? trace.getSpanContext(contextOf(l)) : undefined;
    if (linked) links.push({ context: linked });
  }
  const tracer = trace.getTracer(meterName);
  // The exporter names a request that has a parent by this attribute (an HTTP one by method and route instead).
  const attributes = { ...dimensions(how.attributes), 'ai.operation.name': name };
  return tracer.startActiveSpan(name, { kind: how.kind === 'server' ? SpanKind.SERVER : SpanKind.CONSUMER, attributes, links }, contextOf(how.parent), async (span) => {
    const handle = edgeSpan(span);
    try {
      const result = await fn(handle);
      if (!handle.failed) span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      if (!handle.failed) handle.fail(errorCodeOf(error));
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Runs a Service Bus send inside a PRODUCER span (a `dependencies` row); `traceProperties()` inside it names this span. */
export async function traceSend<T>(queueName: string, messageCount: number, fn: () => Promise<T>): Promise<T> {
  if (!state) return fn();
  const tracer = trace.getTracer(meterName);
  const attributes = dimensions({
    'messaging.system': 'servicebus',
    'messaging.destination.name': queueName,
    'messaging.operation.type': 'send',
    'messaging.batch.message_count': messageCount,
  });
  return tracer.startActiveSpan(`send ${queueName}`, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    try {
      const result = await fn();
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.setAttributes(dimensions({ errorCode: errorCodeOf(error) }));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs one HTTP call to a dependency (Graph, Dataverse) inside a CLIENT span: a `dependencies` row named
 * `<METHOD> <path template>`, with the host as its target and the HTTP status as its result code. The URL itself is
 * never recorded: its path may hold a UPN and its query a filter quoting an item (pathTemplate.ts).
 */
export async function traceHttpDependency<T>(method: string, url: string, fn: () => Promise<T>, statusOf: (result: T) => number | undefined): Promise<T> {
  if (!state) return fn();
  let host: URL | undefined;
  try {
    host = new URL(url);
  } catch {
    host = undefined;
  }
  const verb = method.toUpperCase();
  const template = pathTemplate(url);
  // The HTTP client attributes the exporter maps to the row's target, data and name. They are made here from the
  // path template and the host, never from a caller's values, so they are not on the caller allow-list
  // (dimensions.ts), which names no URL- or address-like key on purpose.
  const attributes: Dimensions = { ...dimensions({ 'http.request.method': verb }), 'url.path': template };
  if (host) {
    attributes['url.scheme'] = host.protocol.replace(/:$/, '');
    attributes['server.address'] = host.hostname;
    if (host.port) attributes['server.port'] = Number(host.port);
  }
  const tracer = trace.getTracer(meterName);
  return tracer.startActiveSpan(`${verb} ${template}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await fn();
      const status = statusOf(result);
      if (status !== undefined) span.setAttributes(dimensions({ 'http.response.status_code': status }));
      span.setStatus(status !== undefined && status >= 400 ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.setAttributes(dimensions({ errorCode: errorCodeOf(error) }));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active trace context as message application properties (empty when off or outside a span). */
export function traceProperties(): Record<string, string> {
  if (!state) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  if (!carrier.traceparent) return {};
  return { traceparent: carrier.traceparent, 'Diagnostic-Id': carrier.traceparent, ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) };
}

/** The trace context a message carries: `traceparent`, else `Diagnostic-Id` (what the Service Bus SDKs set). */
export function traceparentOf(applicationProperties: unknown): string | undefined {
  if (typeof applicationProperties !== 'object' || applicationProperties === null) return undefined;
  const props = applicationProperties as Record<string, unknown>;
  for (const key of ['traceparent', 'Diagnostic-Id']) {
    const v = props[key];
    if (typeof v === 'string' && /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(v)) return v;
  }
  return undefined;
}

function errorCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; name?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.name === 'string') return e.name;
  }
  return 'Error';
}

// ------------------------------------------------------------------------------------------------------------
// Log records
// ------------------------------------------------------------------------------------------------------------

const severity = { debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR } as const;

/** One log line as a log record (a `traces` row) with its allowed properties as dimensions. */
export function emitLog(level: keyof typeof severity, message: string, props: Record<string, unknown>): void {
  if (!state) return;
  logs.getLogger(meterName).emit({ severityNumber: severity[level], severityText: level.toUpperCase(), body: message, attributes: dimensions(props) });
}

// ------------------------------------------------------------------------------------------------------------
// Metrics
// ------------------------------------------------------------------------------------------------------------

/** Metric dimensions: low-cardinality ones only (item ids belong on spans and log records). */
const metricKeys = ['direction', 'kind', 'outcome', 'mailboxId', 'errorCode', 'reason', 'trigger', 'action', 'state'] as const;
type MetricDimensions = Partial<Record<(typeof metricKeys)[number], string | undefined>>;

function metricDimensions(d: MetricDimensions): Dimensions {
  const picked: Record<string, unknown> = {};
  for (const k of metricKeys) if (d[k] !== undefined) picked[k] = d[k];
  return dimensions(picked);
}

export const record = {
  /** receivedAt -> the write done. */
  latency(ms: number, d: MetricDimensions): void {
    if (state && Number.isFinite(ms)) state.instruments.latency.record(Math.max(0, ms), metricDimensions(d));
  },
  /** Enqueued -> the worker started. */
  queueTime(ms: number, d: MetricDimensions): void {
    if (state && Number.isFinite(ms)) state.instruments.queueTime.record(Math.max(0, ms), metricDimensions(d));
  },
  outcome(d: MetricDimensions): void {
    state?.instruments.outcomes.add(1, metricDimensions(d));
  },
  retry(d: MetricDimensions): void {
    state?.instruments.retries.add(1, metricDimensions(d));
  },
  deadLetter(d: MetricDimensions): void {
    state?.instruments.deadLetters.add(1, metricDimensions(d));
  },
  reconcileRepairs(count: number, d: MetricDimensions): void {
    if (state && count > 0) state.instruments.reconcileRepairs.add(count, metricDimensions(d));
  },
  todoPollDuration(ms: number): void {
    state?.instruments.todoPollDuration.record(Math.max(0, ms));
  },
  /**
   * Whether a mailbox needs a person (see mailboxNeedsAttention): recorded at each state change of a mailbox (the
   * mailbox store's listener, shared/runtime.ts) and, for the mailboxes needing attention, once a minute by the
   * attention pass the To Do poll's timer starts (shared/sync/work.ts).
   */
  mailboxAttention(mailboxId: string, mailboxState: string): void {
    state?.instruments.mailboxAttention.record(mailboxNeedsAttention(mailboxState) ? 1 : 0, metricDimensions({ mailboxId, state: mailboxState }));
  },
};

/**
 * States in which a mailbox syncs (or is meant not to): every other state (degraded today; paused and blocked of the
 * admin error policy) stops its sync until something changes, and raises the "mailbox needs attention" alert.
 */
export function mailboxNeedsAttention(mailboxState: string): boolean {
  return !['active', 'backfilling', 'disabled'].includes(mailboxState);
}

/** What the mass-delete breaker held: one scope (mailbox, kind, direction), why, and which kind of write. */
export interface BreakerHold {
  /** Entra object id of the mailbox of the scope. */
  mailboxId: string;
  /** The item kind (a kind name of shared/sync/kinds, e.g. appointment, task, contact). */
  kind: string;
  /** toExchange or toDataverse: the side the held writes were for. */
  direction: 'toExchange' | 'toDataverse';
  /** Which rule tripped, as a code: e.g. emptySide, ratio, hardCap, inferredRatio, inferredHardCap, resync, createCap. */
  trigger: string;
  /** Which write was held: delete, cancel, occurrenceDelete or create. */
  action: string;
}

/**
 * Counts writes the breaker held instead of executing (`sync.breaker.holds`, dimensions mailboxId, kind, direction,
 * trigger, action; values are codes and ids, so they pass the allow-list). Call it once per held write, or with
 * `count` for a batch held at once. A no-op when telemetry is off.
 */
export function recordBreakerHold(hold: BreakerHold, count = 1): void {
  if (!state || !Number.isFinite(count) || count <= 0) return;
  state.instruments.breakerHolds.add(count, metricDimensions(hold));
}
