// A local Azure Service Bus for the real @azure/service-bus SDK: an AMQP 1.0 broker on 127.0.0.1 that the SDK
// reaches with `UseDevelopmentEmulator=true` in the connection string (plain AMQP, no TLS). Queues are declared at
// start with the properties the Bicep templates give the real ones. See README.md for what it implements and where
// it knowingly differs from Service Bus.
import { EventEmitter } from 'node:events';
import { Broker } from './broker.js';
import type { EntityEvent, EntityEventName } from './entity.js';
import { Entity } from './entity.js';
import { simulatorOptionsSchema, type ServiceBusSimulatorOptions } from './options.js';
import { TimerQueue } from './timers.js';

export type { QueueOptions, FaultOptions, ServiceBusSimulatorOptions } from './options.js';
export type { EntityEvent as ServiceBusSimulatorEvent, EntityEventName } from './entity.js';
export { durationToMs } from './duration.js';

/** Events the simulator emits, with their payloads. */
export interface ServiceBusSimulatorEvents {
  enqueued: EntityEvent;
  scheduled: EntityEvent;
  scheduledActivated: EntityEvent;
  scheduleCancelled: EntityEvent;
  duplicateDropped: EntityEvent;
  delivered: EntityEvent;
  completed: EntityEvent;
  abandoned: EntityEvent;
  deferred: EntityEvent;
  deadLettered: EntityEvent;
  lockExpired: EntityEvent;
  lockRenewed: EntityEvent;
  expired: EntityEvent;
  sessionLockExpired: { queue: string; sessionId: string | undefined };
  /** acceptNextSession found no free session with messages; the broker holds the attach until one comes. */
  sessionAcceptWaiting: { queue: string; timeoutMs: number };
  connectionDropped: { drops: number };
}

export type ServiceBusSimulatorEventName = keyof ServiceBusSimulatorEvents;

export interface QueueCounts {
  /** Active messages, as Service Bus counts them: available plus locked. */
  active: number;
  /** Active messages currently locked by a receiver. */
  locked: number;
  scheduled: number;
  deferred: number;
  deadLettered: number;
}

export interface MessageSnapshot {
  sequenceNumber: number;
  messageId: string;
  sessionId: string | undefined;
  state: 'scheduled' | 'available' | 'locked' | 'deferred';
  deliveryCount: number;
  applicationProperties: Record<string, unknown> | undefined;
}

export interface ServiceBusSimulator {
  /** Endpoint=sb://127.0.0.1:PORT;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true */
  readonly connectionString: string;
  readonly port: number;
  /** In-process events, so tests await what happened instead of sleeping. */
  readonly events: EventEmitter;
  /** Resolves with the first event of that name whose payload passes `filter`; rejects after `timeoutMs`. */
  waitFor<E extends ServiceBusSimulatorEventName>(
    event: E,
    filter?: (payload: ServiceBusSimulatorEvents[E]) => boolean,
    timeoutMs?: number,
  ): Promise<ServiceBusSimulatorEvents[E]>;
  /** Message counts of a queue (and its dead-letter queue). */
  counts(queueName: string): QueueCounts;
  /** The messages of a queue or its dead-letter queue, in sequence order (for assertions). */
  messages(queueName: string, subQueue?: 'deadLetter'): MessageSnapshot[];
  /** The stored state of a session (undefined when none was set). */
  sessionState(queueName: string, sessionId: string): Buffer | undefined;
  /** Drops every client connection now (the connection-drop fault on demand). */
  dropConnections(): number;
  /** Open client connections. */
  connectionCount(): number;
  close(): Promise<void>;
}

/** Starts the broker and declares the queues. */
export async function startServiceBusSimulator(options: ServiceBusSimulatorOptions): Promise<ServiceBusSimulator> {
  const config = simulatorOptionsSchema.parse(options);
  const timers = new TimerQueue();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const entities = new Map<string, Entity>();
  const queues = new Map<string, { main: Entity; dlq: Entity }>();
  // The broker reads `entities` when links attach, so it can be built before the queues are declared.
  const broker = new Broker({
    entities,
    timers,
    keyName: config.sharedAccessKeyName,
    key: config.sharedAccessKey,
    faults: config.faults,
    random: mulberry32(config.seed),
    events,
    host: config.host,
  });
  const emit = (event: EntityEventName, payload: EntityEvent) => events.emit(event, payload);
  const available = (entity: Entity) => broker.schedulePump(entity);

  for (const queue of config.queues) {
    const key = queue.name.toLowerCase();
    if (queues.has(key)) throw new Error(`queue '${queue.name}' is declared twice`);
    let seq = 0;
    const nextSequenceNumber = () => ++seq;
    const dlq = new Entity(
      {
        queue: queue.name,
        subQueue: 'deadLetter',
        requiresSession: false,
        maxDeliveryCount: Number.POSITIVE_INFINITY,
        lockDurationMs: queue.lockDuration,
        duplicateWindowMs: undefined,
        defaultTtlMs: undefined,
        deadLetteringOnMessageExpiration: false,
      },
      { timers, emit, available, deadLetterQueue: undefined, nextSequenceNumber },
    );
    const duplicateDetection = queue.requiresDuplicateDetection ?? queue.duplicateDetectionHistoryTimeWindow !== undefined;
    const main = new Entity(
      {
        queue: queue.name,
        subQueue: undefined,
        requiresSession: queue.requiresSession,
        maxDeliveryCount: queue.maxDeliveryCount,
        lockDurationMs: queue.lockDuration,
        // Service Bus' default history window is 10 minutes when detection is on without a window.
        duplicateWindowMs: duplicateDetection ? (queue.duplicateDetectionHistoryTimeWindow ?? 600_000) : undefined,
        defaultTtlMs: queue.defaultMessageTimeToLive,
        deadLetteringOnMessageExpiration: queue.deadLetteringOnMessageExpiration,
      },
      { timers, emit, available, deadLetterQueue: dlq, nextSequenceNumber },
    );
    queues.set(key, { main, dlq });
    entities.set(key, main);
    entities.set(`${key}/$deadletterqueue`, dlq);
  }

  const port = await broker.listen(config.port);

  const queueOf = (name: string) => {
    const q = queues.get(name.toLowerCase());
    if (!q) throw new Error(`unknown queue '${name}'`);
    return q;
  };

  return {
    connectionString: `Endpoint=sb://${config.host}:${port};SharedAccessKeyName=${config.sharedAccessKeyName};SharedAccessKey=${config.sharedAccessKey};UseDevelopmentEmulator=true`,
    port,
    events,
    waitFor(event, filter, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        type Payload = Parameters<NonNullable<typeof filter>>[0];
        const listener = (payload: Payload) => {
          if (filter && !filter(payload)) return;
          cleanup();
          resolve(payload);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off(event, listener);
        };
        events.on(event, listener);
      });
    },
    counts(queueName) {
      const { main, dlq } = queueOf(queueName);
      const c = main.getCounts();
      return { ...c, deadLettered: dlq.getCounts().active };
    },
    messages(queueName, subQueue) {
      const { main, dlq } = queueOf(queueName);
      const entity = subQueue === 'deadLetter' ? dlq : main;
      return [...entity.messages.values()]
        .filter((m) => m.state !== 'removed')
        .map((m) => ({
          sequenceNumber: m.seq,
          messageId: m.messageId,
          sessionId: m.sessionId,
          state: m.state as MessageSnapshot['state'],
          deliveryCount: m.deliveryCount,
          applicationProperties: m.source.application_properties,
        }));
    },
    sessionState(queueName, sessionId) {
      return queueOf(queueName).main.sessions.get(sessionId)?.state;
    },
    dropConnections: () => broker.dropConnections(),
    connectionCount: () => broker.connectionCount(),
    async close() {
      await broker.close();
      timers.close();
      for (const { main, dlq } of queues.values()) {
        main.dispose();
        dlq.dispose();
      }
      events.removeAllListeners();
    },
  };
}

/** Small seeded PRNG (mulberry32) so fault injection replays the same way for a given seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
