// The worker process of the burst benchmark (dev/bench/burst.ts): the local host running only the Service Bus
// triggers of functions/table.ts against the parent's simulators, so the CPU time and peak memory it reports are the
// worker's alone. Started with the stack's settings as JSON in BURST_ENV and a mode in BURST_MODE:
// - 'items': the release as it is (sync-item-changes, no sessions, maxConcurrentCalls from host.json);
// - 'sessions': the design before it, for the comparison in the same run: changes on the session queue sync-changes
//   with one session per item pair (the previous release's session rule, sessionIdOf below), 8 sessions at once and a
//   250 ms session idle timeout, as that release's host.json had them.
// It answers the parent's IPC messages: 'stats' with CPU time, peak RSS and the applied changes' latencies, 'reset'
// to start a measurement, 'close' to stop.
import { createHash } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { ServiceBusClient } from '@azure/service-bus';
import { functionTable, type FunctionDefinition } from '../../functions/table.js';
import { createLogger, type LogSink } from '../../shared/log.js';
import { createRuntime, setRuntime } from '../../shared/runtime.js';
import type { ChangeMessage, ChangeMessageInput } from '../../shared/servicebus/messages.js';
import { legacyChangesQueue } from '../../shared/servicebus/queues.js';
import { toServiceBusMessage, type ChangeSender } from '../../shared/servicebus/sender.js';
import { startLocalHost } from '../host/index.js';
import { hostServiceBusSettings } from '../host/settings.js';

export type BurstMode = 'items' | 'sessions';

export interface WorkerStats {
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Peak resident set size of the process so far (getrusage ru_maxrss). */
  maxRssMb: number;
  rssMb: number;
  /**
   * Since the last reset, sampled every 50 ms: the largest RSS (ru_maxrss above is the whole process's, a first burst's
   * peak included), the most JavaScript heap in use and reserved, and the most memory held outside it (buffers:
   * sockets' and requests'), to tell what a peak RSS is made of.
   */
  peak: { rssMb: number; heapUsedMb: number; heapTotalMb: number; externalMb: number };
  /** The JavaScript heap in use after a full collection when the stats were asked for: what the process keeps. */
  heapKeptMb: number;
  /** Latencies (ms, change received -> applied) of the changes that wrote ('updated'), since the last reset. */
  latencies: number[];
  applied: number;
  /** HTTP requests this process sent to Table Storage (Azurite) since the last reset: every table operation. */
  tableOps: number;
  /** The same by method and table (e.g. "GET syncPairs"), to see where they go. */
  tableOpsBy: Record<string, number>;
}

const short = (value: string) => (value.length <= 100 ? value : `h-${createHash('sha256').update(value).digest('base64url')}`);

/** The previous release's session rule: one session per item pair (its Dataverse id), or the unpaired item. */
function sessionIdOf(message: ChangeMessage): string {
  switch (message.source) {
    case 'exchange':
      return message.dataverseId ? `dv-${message.dataverseId.toLowerCase()}` : short(`ex-${message.mailboxId}-${message.itemId}`);
    case 'dataverse':
      return `dv-${message.recordId.toLowerCase()}`;
    case 'lifecycle':
      return short(`sub-${message.subscriptionId}`);
  }
}

/** A change sender as the previous release had it: the session queue, a session per item pair. */
export function sessionSender(client: ServiceBusClient): ChangeSender {
  const sender = client.createSender(legacyChangesQueue.name);
  return {
    async send(messages: ChangeMessageInput[], options: { scheduledEnqueueTime?: Date } = {}) {
      if (messages.length === 0) return;
      const wire = messages.map((m) => {
        const message = toServiceBusMessage(m, options.scheduledEnqueueTime);
        return { ...message, sessionId: sessionIdOf(message.body as ChangeMessage) };
      });
      if (options.scheduledEnqueueTime) await sender.scheduleMessages(wire, options.scheduledEnqueueTime);
      else await sender.sendMessages(wire);
    },
    close: () => sender.close(),
  };
}

async function main(): Promise<void> {
  const env = JSON.parse(process.env.BURST_ENV ?? '{}') as Record<string, string>;
  const mode = (process.env.BURST_MODE ?? 'items') as BurstMode;
  let latencies: number[] = [];
  let applied = 0;
  let tableOps = 0;
  let tableOpsBy: Record<string, number> = {};
  const mb = (bytes: number) => bytes / 1048576;
  const none = { rssMb: 0, heapUsedMb: 0, heapTotalMb: 0, externalMb: 0 };
  let peak = none;
  setInterval(() => {
    const m = process.memoryUsage();
    peak = { rssMb: Math.max(peak.rssMb, mb(m.rss)), heapUsedMb: Math.max(peak.heapUsedMb, mb(m.heapUsed)), heapTotalMb: Math.max(peak.heapTotalMb, mb(m.heapTotal)), externalMb: Math.max(peak.externalMb, mb(m.external)) };
  }, 50).unref();
  // Table operations counted where they leave the process (Node's HTTP client diagnostics channel), not by the SDK.
  const tableHost = /TableEndpoint=https?:\/\/([^/;]+)/.exec(env.SYNC_TABLES_CONNECTION_STRING ?? '')?.[1];
  subscribe('http.client.request.start', (message) => {
    const request = (message as { request: ClientRequest }).request;
    if (!tableHost || request.getHeader('host') !== tableHost) return;
    tableOps += 1;
    const table = /^\/[^/]+\/([A-Za-z0-9]+|\$batch)/.exec(request.path)?.[1] ?? '?';
    const key = `${request.method} ${table}`;
    tableOpsBy[key] = (tableOpsBy[key] ?? 0) + 1;
  });
  const sink: LogSink = (level, message, props) => {
    if (process.env.BURST_DEBUG && level !== 'debug') console.error(level, message, JSON.stringify(props).slice(0, 300));
    if (message !== 'change applied') return;
    applied += 1;
    if ((props.outcomes as string[] | undefined)?.some((o) => o.startsWith('updated'))) latencies.push(Number(props.latencyMs));
  };
  const runtime = createRuntime(env, { log: createLogger(sink, 'info') });
  if (mode === 'sessions') runtime.sender = sessionSender(runtime.serviceBus);
  setRuntime(runtime);
  await runtime.ready();
  const queueRows = functionTable.filter((f): f is Extract<FunctionDefinition, { kind: 'serviceBusQueue' }> => f.kind === 'serviceBusQueue');
  // Sessions mode: the changes worker on the session queue only (its retries go there too, by the sender above).
  const table = mode === 'sessions' ? queueRows.filter((f) => f.name !== 'syncWorker') : queueRows.filter((f) => f.name !== 'legacyChangesWorker');
  const settings = hostServiceBusSettings();
  const host = await startLocalHost({
    table,
    functionKeys: ['unused'],
    serviceBusConnectionString: env.ServiceBusConnection!,
    runTimers: false,
    maxConcurrentSessions: mode === 'sessions' ? 8 : settings.maxConcurrentSessions,
    sessionIdleTimeoutMs: mode === 'sessions' ? 250 : settings.sessionIdleTimeoutMs,
    maxConcurrentCalls: settings.maxConcurrentCalls,
    log: (line) => void (process.env.BURST_DEBUG && console.error(line)),
  });
  process.on('message', (message: string) => {
    if (message === 'reset') {
      latencies = [];
      applied = 0;
      tableOps = 0;
      tableOpsBy = {};
      peak = none;
      process.send!('reset');
    } else if (message === 'stats') {
      const cpu = process.cpuUsage();
      // After the CPU time is read, so this collection is not counted in this answer's CPU time; the one made for the
      // answer before a burst falls inside that burst's window (tens of milliseconds over its changes, below the 0.1 ms
      // printed). The parent starts this process with --expose-gc.
      (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      const stats: WorkerStats = { cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, rssMb: mb(memory.rss), peak, heapKeptMb: mb(memory.heapUsed), latencies, applied, tableOps, tableOpsBy };
      process.send!(stats);
    } else if (message === 'close') {
      void host
        .close()
        .then(() => runtime.close())
        .finally(() => process.exit(0));
    }
  });
  process.send!('ready');
}

if (process.env.BURST_ENV) await main();
