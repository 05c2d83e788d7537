// A local Application Insights ingestion endpoint: accepts what the Azure Monitor exporter sends (POST
// <IngestionEndpoint>/v2.1/track, a JSON array of envelopes, gzip-compressed; the Breeze "track" API of
// @azure/monitor-opentelemetry-exporter), answers as the service does ({ itemsReceived, itemsAccepted, errors }),
// records every envelope and lets tests await them. A connection string with IngestionEndpoint pointing here sends
// the real exporter to it. See dev/sim/appinsights/README.md.
// Like every simulator, it imports no product code.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { sendJson, startHttpsServer, type StartedHttpsServer } from '../common/https.js';

/** One telemetry item as the track API receives it (Microsoft.ApplicationInsights.<Type> envelopes). */
export interface Envelope {
  name: string;
  time: string;
  iKey: string;
  sampleRate?: number;
  tags?: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> & { properties?: Record<string, string>; metrics?: MetricPoint[] } };
}

export interface MetricPoint {
  name: string;
  value: number;
  count?: number;
  min?: number;
  max?: number;
  ns?: string;
}

export interface AppInsightsSimulatorOptions {
  port?: number;
  /** The instrumentation key envelopes must carry (random when absent); others are rejected per item with 400. */
  instrumentationKey?: string;
  /** Largest request body, compressed or not (the service documents 64 MB; the exporter batches far below it). */
  maxBodyBytes?: number;
}

export interface AppInsightsSimulator {
  origin: string;
  instrumentationKey: string;
  /** InstrumentationKey=...;IngestionEndpoint=https://127.0.0.1:<port>/ (no LiveEndpoint: live metrics stay off). */
  connectionString: string;
  /** Every accepted envelope, in arrival order. */
  envelopes(): Envelope[];
  /** The raw request bodies as received (decompressed), for leak checks over everything that arrived. */
  rawBodies(): string[];
  /** Track requests answered, with whether they were gzip-compressed. */
  requests(): { gzip: boolean; items: number; authorization: boolean }[];
  /** Resolves with the first envelopes matching, once `count` of them have arrived (default 1). */
  waitFor(predicate: (e: Envelope) => boolean, options?: { count?: number; timeoutMs?: number }): Promise<Envelope[]>;
  /** 'envelope' for each accepted envelope. */
  events: EventEmitter;
  close(): Promise<void>;
}

const typeOfEnvelope = /^Microsoft\.ApplicationInsights\.(?:[0-9a-f]{32}\.)?(Request|RemoteDependency|Message|Exception|Event|Metric|PageView|Availability)$/;

/** Starts the endpoint on 127.0.0.1 over HTTPS with the dev certificate (trusted through dev/with-dev-ca.mjs). */
export async function startAppInsightsSimulator(options: AppInsightsSimulatorOptions = {}): Promise<AppInsightsSimulator> {
  const instrumentationKey = options.instrumentationKey ?? randomUUID();
  const maxBody = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const received: Envelope[] = [];
  const bodies: string[] = [];
  const requests: { gzip: boolean; items: number; authorization: boolean }[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(100);

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    if (path !== '/v2.1/track' && path !== '/v2/track') return sendJson(res, 404, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 404, message: `no route ${path}` }] });
    if (req.method !== 'POST') return sendJson(res, 405, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 405, message: 'POST only' }] });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBody) return sendJson(res, 413, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 413, message: 'body too large' }] });
      chunks.push(chunk as Buffer);
    }
    const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
    let text: string;
    try {
      text = (gzip ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks)).toString('utf8');
    } catch {
      return sendJson(res, 400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: 'body is not valid gzip' }] });
    }
    // The track API takes a JSON array, or one JSON envelope per line.
    let items: unknown[];
    try {
      const trimmed = text.trim();
      items = trimmed.startsWith('[') ? (JSON.parse(trimmed) as unknown[]) : trimmed.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
    } catch {
      return sendJson(res, 400, { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: 400, message: 'body is not JSON' }] });
    }
    bodies.push(text);
    const errors: { index: number; statusCode: number; message: string }[] = [];
    const accepted: Envelope[] = [];
    items.forEach((item, index) => {
      const problem = check(item, instrumentationKey);
      if (problem) errors.push({ index, statusCode: 400, message: problem });
      else accepted.push(item as Envelope);
    });
    requests.push({ gzip, items: items.length, authorization: typeof req.headers.authorization === 'string' });
    for (const e of accepted) {
      received.push(e);
      events.emit('envelope', e);
    }
    // 206 with per-item errors for a partly accepted batch, as the service answers.
    sendJson(res, errors.length === 0 ? 200 : accepted.length === 0 ? 400 : 206, { itemsReceived: items.length, itemsAccepted: accepted.length, appId: null, errors });
  };

  const server: StartedHttpsServer = await startHttpsServer(options.port ?? 0, handler);
  const origin = server.origin;
  return {
    origin,
    instrumentationKey,
    connectionString: `InstrumentationKey=${instrumentationKey};IngestionEndpoint=${origin}/`,
    envelopes: () => [...received],
    rawBodies: () => [...bodies],
    requests: () => [...requests],
    events,
    waitFor(predicate, { count = 1, timeoutMs = 30_000 } = {}) {
      // Made here, so a timeout's stack names the caller that waited.
      const timeout = new Error('timeout');
      return new Promise<Envelope[]>((resolve, reject) => {
        const matching = () => received.filter(predicate);
        if (matching().length >= count) return resolve(matching().slice(0, count));
        const onEnvelope = () => {
          const m = matching();
          if (m.length < count) return;
          cleanup();
          resolve(m.slice(0, count));
        };
        const timer = setTimeout(() => {
          cleanup();
          timeout.message = `${matching().length} of ${count} matching envelope(s) arrived within ${timeoutMs} ms (${received.length} in all)`;
          reject(timeout);
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('envelope', onEnvelope);
        };
        events.on('envelope', onEnvelope);
      });
    },
    close: () => server.close(),
  };
}

/** Why the service would reject one item, or undefined. */
function check(item: unknown, instrumentationKey: string): string | undefined {
  if (typeof item !== 'object' || item === null) return 'item is not an object';
  const e = item as Partial<Envelope>;
  if (typeof e.name !== 'string' || !typeOfEnvelope.test(e.name)) return `unknown envelope name ${String(e.name)}`;
  if (typeof e.time !== 'string' || Number.isNaN(Date.parse(e.time))) return 'time is not a date';
  if (typeof e.iKey !== 'string' || e.iKey.toLowerCase() !== instrumentationKey.toLowerCase()) return 'Invalid instrumentation key';
  if (typeof e.data !== 'object' || e.data === null || typeof e.data.baseType !== 'string' || typeof e.data.baseData !== 'object') return 'data.baseType and data.baseData are required';
  return undefined;
}
