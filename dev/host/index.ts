// The local Functions host: runs the rows of functions/table.ts with the trigger semantics of Azure Functions,
// since the real host (Core Tools) cannot be installed here (docs/reference/local-tooling.md, "The Functions host").
// - HTTP: http://127.0.0.1:PORT/api/<route>, function-level keys checked as the host does (`?code=` or the
//   `x-functions-key` header; 401 otherwise), the handler's HttpResponseInit written back.
// - Service Bus, session queues: the SDK's session receiver (acceptNextSession), one message at a time per session,
//   up to maxConcurrentSessions sessions at once; a session is released after sessionIdleTimeout without messages.
// - Service Bus, queues without sessions: one receiver streaming with maxConcurrentCalls handlers at once (the
//   trigger's ServiceBusProcessor: it holds that many messages and takes the next as a handler ends).
// - Both complete the message when the handler resolves and abandon it when it throws, as the trigger does with
//   autoCompleteMessages, and renew its lock up to maxAutoLockRenewalDuration (host.json).
//   https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus#hostjson-settings
// - Timers: NCRONTAB (with seconds, UTC) schedules, or fired on demand with fireTimer() in tests.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import functions, { type HttpResponseInit, type Timer } from '@azure/functions';
import { ServiceBusClient, isServiceBusError, type ServiceBusReceivedMessage, type ServiceBusReceiver, type ServiceBusSessionReceiver } from '@azure/service-bus';
import { CronExpressionParser } from 'cron-parser';
import type { FunctionDefinition } from '../../functions/table.js';

// @azure/functions is CommonJS; under Node's own ESM loader only its default export is reliable.
const { HttpRequest, InvocationContext } = functions;
type InvocationContext = InstanceType<typeof InvocationContext>;

export interface LocalHostOptions {
  table: readonly FunctionDefinition[];
  /** 0 = ephemeral; `npm start` uses 7071 like Core Tools. */
  port?: number;
  /** Accepted function keys (`default` key first). */
  functionKeys: string[];
  /** Connection string of the Service Bus (simulator) the trigger reads; omit to run no queue trigger. */
  serviceBusConnectionString?: string;
  maxConcurrentSessions?: number;
  sessionIdleTimeoutMs?: number;
  /** Handlers at once per queue without sessions (host.json maxConcurrentCalls). */
  maxConcurrentCalls?: number;
  /** Run timers on their schedules (default true); tests fire them with fireTimer(). */
  runTimers?: boolean;
  /** Largest request body the host accepts (Azure: 100 MB); the webhook handlers enforce their own 1 MB. */
  maxRequestBytes?: number;
  log?: (line: string) => void;
  /**
   * Runs every invocation inside this scope: a second instance in the same process gives each invocation its own
   * runtime (shared/runtime.ts withRuntime), as separate Functions instances have separate processes.
   */
  scope?: <T>(run: () => T | Promise<T>) => Promise<T>;
}

export interface SettledEvent {
  functionName: string;
  messageId: string;
  sessionId: string | undefined;
  deliveryCount: number;
  outcome: 'completed' | 'abandoned';
  error?: string;
}

export interface LocalHost {
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** 'settled' (SettledEvent) after each Service Bus message; 'http' after each request. */
  events: EventEmitter;
  fireTimer(name: string): Promise<void>;
  /**
   * Serves this many sessions at once from now on, so a benchmark can measure another host.json value on the same
   * stack and data. More loops start at once; a loop past a lowered number ends after the session it serves, or
   * when its wait for a session times out (the SDK's server timeout): the promise resolves when they have ended.
   */
  setMaxConcurrentSessions?(sessions: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  const scope = options.scope ?? (async <T>(run: () => T | Promise<T>): Promise<T> => run());
  // The Functions platform names the site to its worker; the app's telemetry (and the Azure Monitor distribution's
  // resource detection, which otherwise probes the Azure VM metadata address) reads it. The app runs in this process.
  process.env.WEBSITE_SITE_NAME ??= 'local-functions-host';
  const events = new EventEmitter();
  events.setMaxListeners(100);
  const keys = new Set(options.functionKeys);
  const maxBytes = options.maxRequestBytes ?? 100 * 1024 * 1024;
  const httpFunctions = options.table.filter((f): f is Extract<FunctionDefinition, { kind: 'http' }> => f.kind === 'http');
  let running = true;

  const server: Server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      log(`[host] http handler failed: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('Internal Server Error');
      } else {
        res.destroy();
      }
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The request target is a path (origin form): prefixing the origin keeps "//x" a path instead of a host, and a
    // target that is no URL at all is the client's error (400), as the Functions host answers it.
    let url: URL;
    try {
      url = new URL(`http://127.0.0.1${(req.url ?? '/').startsWith('/') ? (req.url ?? '/') : `/${req.url ?? ''}`}`);
    } catch {
      return void writePlain(res, 400, 'Bad Request');
    }
    const route = url.pathname.replace(/^\/api\//, '').replace(/\/+$/, '');
    const fn = httpFunctions.find((f) => f.route === route);
    if (!url.pathname.startsWith('/api/') || !fn) return void writePlain(res, 404, 'Not Found');
    if (!fn.methods.includes((req.method ?? 'GET').toUpperCase() as 'GET' | 'POST')) return void writePlain(res, 405, 'Method Not Allowed');
    if (fn.authLevel === 'function') {
      const key = url.searchParams.get('code') ?? headerValue(req, 'x-functions-key');
      if (!key || !keys.has(key)) return void writePlain(res, 401, 'Unauthorized');
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBytes) return void writePlain(res, 413, 'Request Entity Too Large');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) return void writePlain(res, 413, 'Request Entity Too Large');
      chunks.push(chunk as Buffer);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: `http://127.0.0.1${req.url ?? '/'}`,
      headers,
      query: Object.fromEntries(url.searchParams.entries()),
      body: { bytes: new Uint8Array(Buffer.concat(chunks)) },
      params: {},
    });
    const context = invocation(fn.name, log);
    const started = performance.now();
    const response: HttpResponseInit = await scope(() => fn.handler(request, context));
    writeResponse(res, response);
    events.emit('http', { functionName: fn.name, status: response.status ?? 200, ms: performance.now() - started });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  // --- Service Bus trigger ---------------------------------------------------------------------------------
  const sbClient = options.serviceBusConnectionString ? new ServiceBusClient(options.serviceBusConnectionString, { retryOptions: { maxRetries: 2, timeoutInMs: 10_000 } }) : undefined;
  const firstQueue = options.table.find((f): f is Extract<FunctionDefinition, { kind: 'serviceBusQueue' }> => f.kind === 'serviceBusQueue');
  if (sbClient && firstQueue) await connectWithoutNagle(sbClient, firstQueue.queueName, firstQueue.isSessionsEnabled);
  const openReceivers = new Set<ServiceBusReceiver>();
  // Work close() waits for: a message being handled and settled, and a session being served. A loop parked in
  // acceptNextSession is not among them: the SDK (7.9) waits there for its server timeout (about 10 s) whatever the
  // client or an abort signal does, and a host that waited for it took its whole close cap each time.
  const inFlight = new Set<Promise<void>>();
  const serving = new Set<Promise<void>>();
  const sessionQueues: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>[] = [];
  let sessionLimit = options.maxConcurrentSessions ?? 8;
  /** The session loops running per queue, by index (a loop past a lowered limit ends after its session). */
  const liveLoops = new Map<string, Set<number>>();
  const loopEnded = new EventEmitter();
  if (sbClient) {
    for (const fn of options.table) {
      if (fn.kind !== 'serviceBusQueue') continue;
      if (!fn.isSessionsEnabled) {
        streamQueue(fn);
        continue;
      }
      sessionQueues.push(fn);
      for (let i = 0; i < sessionLimit; i += 1) void sessionLoop(fn, i);
    }
  }

  /**
   * A queue without sessions: the SDK's streaming receiver keeps maxConcurrentCalls messages in flight and adds one
   * credit as each handler ends, which is what the trigger's processor does. Settled by hand (autoCompleteMessages
   * off in the SDK) so 'settled' is emitted after the settlement, as the session path does.
   */
  function streamQueue(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>): void {
    const receiver = sbClient!.createReceiver(fn.queueName, { maxAutoLockRenewalDurationInMs: 5 * 60_000 });
    openReceivers.add(receiver);
    receiver.subscribe(
      {
        processMessage: async (message) => void (await handleTracked(fn, receiver, message)),
        processError: (args) => {
          if (running) log(`[host] ${fn.name}: receiving failed: ${args.error.message}`);
          return Promise.resolve();
        },
      },
      { maxConcurrentCalls: options.maxConcurrentCalls ?? 16, autoCompleteMessages: false },
    );
  }

  async function sessionLoop(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>, index: number): Promise<void> {
    const live = liveLoops.get(fn.name) ?? new Set<number>();
    liveLoops.set(fn.name, live);
    if (live.has(index)) return;
    live.add(index);
    try {
      await serveSessions(fn, index);
    } finally {
      live.delete(index);
      loopEnded.emit('ended');
    }
  }

  async function serveSessions(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>, index: number): Promise<void> {
    while (running && index < sessionLimit) {
      let receiver: ServiceBusSessionReceiver;
      try {
        receiver = await sbClient!.acceptNextSession(fn.queueName, { maxAutoLockRenewalDurationInMs: 5 * 60_000 });
      } catch (error) {
        if (!running) return;
        // No session with messages within the SDK's wait: ask again (the trigger's listener does the same).
        if (isServiceBusError(error) && (error.code === 'ServiceTimeout' || error.code === 'SessionCannotBeLocked')) continue;
        log(`[host] ${fn.name}: accepting a session failed: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!running) {
        // Accepted after close began: release the session lock unused so another receiver takes it at once.
        await receiver.close().catch(() => undefined);
        return;
      }
      const served = serveSession(fn, receiver);
      serving.add(served);
      await served;
      serving.delete(served);
    }
  }

  async function serveSession(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>, receiver: ServiceBusSessionReceiver): Promise<void> {
    openReceivers.add(receiver);
    try {
      while (running) {
        const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: options.sessionIdleTimeoutMs ?? 5_000 });
        if (!message || !(await handleTracked(fn, receiver, message))) break;
      }
    } catch (error) {
      if (running) log(`[host] ${fn.name}: session ${receiver.sessionId} ended: ${(error as Error).message}`);
    } finally {
      openReceivers.delete(receiver);
      await receiver.close().catch(() => undefined);
    }
  }

  /**
   * Handles one message as work close() waits for; false when it was received while the host was closing, in which
   * case it is handed back at once rather than holding its lock until it expires.
   */
  async function handleTracked(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage): Promise<boolean> {
    if (!running) {
      await receiver.abandonMessage(message).catch(() => undefined);
      return false;
    }
    const handled = handleMessage(fn, receiver, message);
    inFlight.add(handled);
    await handled;
    inFlight.delete(handled);
    return true;
  }

  async function handleMessage(fn: Extract<FunctionDefinition, { kind: 'serviceBusQueue' }>, receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage): Promise<void> {
    const messageId = String(message.messageId ?? '');
    // The JS SDK surfaces the raw AMQP delivery count (0 on the first delivery); the Functions trigger reports
    // Service Bus's DeliveryCount, which starts at 1.
    const deliveryCount = (message.deliveryCount ?? 0) + 1;
    const context = invocation(fn.name, log, {
      messageId,
      deliveryCount,
      sessionId: message.sessionId,
      enqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
      applicationProperties: message.applicationProperties ?? {},
      correlationId: message.correlationId,
      sequenceNumber: message.sequenceNumber?.toString(),
    });
    let outcome: SettledEvent['outcome'] = 'completed';
    let failure: string | undefined;
    try {
      await scope(() => fn.handler(message.body, context));
    } catch (error) {
      outcome = 'abandoned';
      failure = (error as Error)?.message ?? String(error);
    }
    try {
      if (outcome === 'completed') await receiver.completeMessage(message);
      else await receiver.abandonMessage(message);
    } catch (error) {
      // Not settled: the lock expires and Service Bus delivers the message again, so nothing is lost.
      if (!running) return;
      log(`[host] ${fn.name}: settling ${messageId} failed: ${(error as Error).message}`);
    }
    events.emit('settled', {
      functionName: fn.name,
      messageId,
      sessionId: message.sessionId,
      deliveryCount,
      outcome,
      ...(failure ? { error: failure } : {}),
    } satisfies SettledEvent);
  }

  // --- timers ----------------------------------------------------------------------------------------------
  const timers = options.table.filter((f): f is Extract<FunctionDefinition, { kind: 'timer' }> => f.kind === 'timer');
  const handles = new Map<string, NodeJS.Timeout>();
  const fire = async (fn: Extract<FunctionDefinition, { kind: 'timer' }>, isPastDue: boolean) => {
    const expression = CronExpressionParser.parse(fn.schedule, { tz: 'UTC' });
    const timer: Timer = {
      isPastDue,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: new Date().toISOString(), next: expression.next().toDate().toISOString(), lastUpdated: new Date().toISOString() },
    };
    await scope(() => fn.handler(timer, invocation(fn.name, log)));
  };
  const schedule = (fn: Extract<FunctionDefinition, { kind: 'timer' }>) => {
    const next = CronExpressionParser.parse(fn.schedule, { tz: 'UTC' }).next().toDate();
    const handle = setTimeout(() => {
      fire(fn, false)
        .catch((error: unknown) => log(`[host] timer ${fn.name} failed: ${(error as Error).message}`))
        .finally(() => running && schedule(fn));
    }, Math.max(0, next.getTime() - Date.now()));
    handle.unref();
    handles.set(fn.name, handle);
  };
  if (options.runTimers ?? true) for (const fn of timers) schedule(fn);

  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    events,
    async setMaxConcurrentSessions(sessions) {
      sessionLimit = sessions;
      for (const fn of sessionQueues) for (let i = 0; i < sessions; i += 1) void sessionLoop(fn, i);
      const over = () => [...liveLoops.values()].some((live) => [...live].some((i) => i >= sessionLimit));
      while (running && over()) await new Promise((resolve) => loopEnded.once('ended', resolve));
    },
    async fireTimer(name) {
      const fn = timers.find((t) => t.name === name);
      if (!fn) throw new Error(`no timer function named ${name}`);
      await fire(fn, false);
    },
    async close() {
      running = false;
      for (const handle of handles.values()) clearTimeout(handle);
      // As the Functions host drains on shutdown: messages being handled finish and are settled on their still open
      // session, then idle sessions are closed (which ends their receive wait). A handler that hangs is given up on
      // after the cap; its message's lock then expires and it is delivered again.
      let cap: NodeJS.Timeout | undefined;
      const capped = new Promise<void>((resolve) => (cap = setTimeout(resolve, 5_000)));
      try {
        await Promise.race([drain(inFlight), capped]);
        await Promise.all([...openReceivers].map((r) => r.close().catch(() => undefined)));
        await Promise.race([drain(serving), capped]);
      } finally {
        clearTimeout(cap);
      }
      await sbClient?.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** Settles once every promise in the set has, including ones added while waiting. */
async function drain(pending: Set<Promise<void>>): Promise<void> {
  while (pending.size > 0) {
    const now = [...pending];
    await Promise.allSettled(now);
    for (const p of now) pending.delete(p);
  }
}

/**
 * Opens the trigger's AMQP connection with Nagle's algorithm off. The Functions host's .NET transport sends its small
 * flow and settlement frames at once; rhea turns TCP_NODELAY on only on some paths, and on loopback a frame held
 * back by Nagle waits for the peer's delayed ACK (about 40 ms), which showed as a 40-80 ms tail between a message
 * being enqueued and delivered (measured with the Service Bus simulator's events). The connection is made by a short
 * call while net.connect sets noDelay, so no other connection of the process is touched.
 */
async function connectWithoutNagle(client: ServiceBusClient, queueName: string, sessions: boolean): Promise<void> {
  const netModule = net as unknown as { connect: (...args: unknown[]) => Socket };
  const original = netModule.connect;
  netModule.connect = (...args: unknown[]) => original(...args).setNoDelay(true);
  try {
    // Peeking opens the connection and a link; a session queue needs a (throwaway) session receiver to peek.
    const receiver = sessions ? await client.acceptSession(queueName, `local-host-connect-${randomUUID()}`) : client.createReceiver(queueName);
    await receiver.peekMessages(1);
    await receiver.close();
  } finally {
    netModule.connect = original;
  }
}

function invocation(functionName: string, log: (line: string) => void, triggerMetadata?: Record<string, unknown>): InvocationContext {
  const invocationId = randomUUID();
  return new InvocationContext({
    functionName,
    invocationId,
    ...(triggerMetadata ? { triggerMetadata } : {}),
    logHandler: (level, ...args) => log(`[${functionName}] ${level}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
  });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function writePlain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function writeResponse(res: ServerResponse, response: HttpResponseInit): void {
  const headers: Record<string, string> = {};
  if (response.headers) {
    const entries = response.headers instanceof Headers ? [...response.headers.entries()] : Array.isArray(response.headers) ? response.headers : Object.entries(response.headers);
    for (const [k, v] of entries) headers[k] = v;
  }
  let body: string | Uint8Array = '';
  if (response.jsonBody !== undefined) {
    body = JSON.stringify(response.jsonBody);
    headers['content-type'] ??= 'application/json';
  } else if (typeof response.body === 'string') {
    body = response.body;
  } else if (response.body instanceof Uint8Array) {
    body = response.body;
  }
  res.writeHead(response.status ?? 200, headers);
  res.end(body);
}
