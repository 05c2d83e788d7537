// The local Functions host in a process of its own, so a test can kill it (SIGKILL) at any point, as an instance of
// the Functions app dies, and start it again on the same storage and Service Bus. Spawned by childHost.ts; it
// talks to its parent over the IPC channel only (messages in childProtocol.ts, validated on both sides).
import { functionTable } from '../../functions/table.js';
import { createLogger } from '../../shared/log.js';
import { createRuntime, setRuntime } from '../../shared/runtime.js';
import { childOptionsSchema, parentMessageSchema, type ChildMessage } from './childProtocol.js';
import { startLocalHost, type SettledEvent } from './index.js';

const send = (message: ChildMessage) => {
  if (process.connected) process.send!(message);
};

const options = childOptionsSchema.parse(JSON.parse(process.env.CHILD_HOST_OPTIONS ?? 'null'));
const forward = options.forwardLogs;
const runtime = createRuntime(options.env, {
  log: createLogger(forward ? (level, message, props) => send({ type: 'log', level, message, props }) : () => undefined, 'debug'),
  configCacheMs: options.configCacheMs,
});
setRuntime(runtime);
await runtime.ready();
const host = await startLocalHost({
  table: functionTable,
  port: options.port,
  functionKeys: options.functionKeys,
  serviceBusConnectionString: options.env.ServiceBusConnection!,
  runTimers: false,
  maxConcurrentSessions: options.maxConcurrentSessions,
  maxConcurrentCalls: options.maxConcurrentCalls,
  sessionIdleTimeoutMs: options.sessionIdleTimeoutMs,
  log: forward ? (line) => send({ type: 'log', level: 'debug', message: line, props: {} }) : () => undefined,
});
host.events.on('settled', (event: SettledEvent) => send({ type: 'settled', event }));

process.on('message', (raw) => {
  const parsed = parentMessageSchema.safeParse(raw);
  if (!parsed.success) return void send({ type: 'log', level: 'error', message: 'child host: unknown message from the parent', props: {} });
  const message = parsed.data;
  if (message.type === 'fireTimer') {
    host
      .fireTimer(message.name)
      .then(() => send({ type: 'timerDone', id: message.id }))
      .catch((error: unknown) => send({ type: 'timerDone', id: message.id, error: (error as Error)?.message ?? String(error) }));
  } else {
    void host
      .close()
      .then(() => runtime.close())
      .finally(() => process.exit(0));
  }
});
// The parent went away without closing us (it crashed or was killed): do not linger as an orphan.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', origin: host.origin });
