// Throughput of the Service Bus simulator end to end through the real SDK: batched sends, then receive and
// complete as the Functions Service Bus trigger would (a streaming receiver with concurrency for a plain queue;
// several session receivers in parallel for a session queue). Prints messages per second.
// Run: npm run bench:servicebus-sim [-- --messages 20000]
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startServiceBusSimulator } from './index.js';

const argIndex = process.argv.indexOf('--messages');
const total = argIndex > 0 ? Number(process.argv[argIndex + 1]) : 20_000;
const batchSize = 100;
const sessionsCount = 64;
// Functions' host.json defaults: maxConcurrentCalls 16 per instance, maxConcurrentSessions 8.
const maxConcurrentCalls = 16;
const maxConcurrentSessions = 8;

async function sendAll(client: ServiceBusClient, queue: string, sessionOf?: (i: number) => string): Promise<void> {
  const sender = client.createSender(queue);
  const batches: Array<Array<{ body: unknown; messageId: string; sessionId?: string }>> = [];
  for (let i = 0; i < total; i += batchSize) {
    const batch = [];
    for (let j = i; j < Math.min(total, i + batchSize); j++) {
      batch.push({ body: { change: 'update', item: j }, messageId: `m-${j}`, ...(sessionOf ? { sessionId: sessionOf(j) } : {}) });
    }
    batches.push(batch);
  }
  // A few batches in flight, as concurrent webhook invocations would send.
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) await sender.sendMessages(batches[next++]!);
    }),
  );
  await sender.close();
}

async function benchQueue(client: ServiceBusClient): Promise<number> {
  const receiver = client.createReceiver('bench');
  let completed = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const started = performance.now();
  receiver.subscribe(
    {
      // Auto-complete after the handler returns, as the trigger does.
      processMessage: () => Promise.resolve(),
      processError: ({ error }) => {
        console.error('receive error', error.message);
        return Promise.resolve();
      },
    },
    { maxConcurrentCalls, autoCompleteMessages: true },
  );
  const sim = benchSim!;
  const onCompleted = () => {
    if (++completed === total) finish();
  };
  sim.events.on('completed', onCompleted);
  await sendAll(client, 'bench');
  await done;
  const seconds = (performance.now() - started) / 1000;
  sim.events.off('completed', onCompleted);
  await receiver.close();
  return total / seconds;
}

async function benchSessions(client: ServiceBusClient): Promise<number> {
  const started = performance.now();
  await sendAll(client, 'bench-sessions', (i) => `pair-${i % sessionsCount}`);
  let completed = 0;
  let finishedAt = 0;
  const worker = async () => {
    while (completed < total) {
      let receiver;
      try {
        receiver = await client.acceptNextSession('bench-sessions', { maxAutoLockRenewalDurationInMs: 0 });
      } catch {
        continue; // no session free right now
      }
      for (;;) {
        const batch: ServiceBusReceivedMessage[] = await receiver.receiveMessages(50, { maxWaitTimeInMs: 100 });
        if (batch.length === 0) break;
        // FIFO within the session: complete in order, one handler at a time (maxConcurrentCalls 1 per session).
        for (const m of batch) await receiver.completeMessage(m);
        completed += batch.length;
        if (completed >= total && !finishedAt) finishedAt = performance.now();
      }
      await receiver.close();
    }
  };
  await Promise.all(Array.from({ length: maxConcurrentSessions }, worker));
  // Workers still waiting in acceptNextSession when the last message completes end at their server timeout;
  // that idle tail is not throughput, so the clock stops at the last completion.
  const seconds = (finishedAt - started) / 1000;
  return total / seconds;
}

let benchSim: Awaited<ReturnType<typeof startServiceBusSimulator>> | undefined;

async function main(): Promise<void> {
  benchSim = await startServiceBusSimulator({
    queues: [
      { name: 'bench', maxDeliveryCount: 5, lockDuration: 'PT1M', duplicateDetectionHistoryTimeWindow: 'PT1H', defaultMessageTimeToLive: 'P14D' },
      { name: 'bench-sessions', requiresSession: true, maxDeliveryCount: 5, lockDuration: 'PT1M', duplicateDetectionHistoryTimeWindow: 'PT1H', defaultMessageTimeToLive: 'P14D', deadLetteringOnMessageExpiration: true },
    ],
  });
  // The timeout is also acceptNextSession's server-side wait, so idle session workers notice the end quickly.
  const client = new ServiceBusClient(benchSim.connectionString, { retryOptions: { maxRetries: 1, timeoutInMs: 2000 } });
  try {
    const queueRate = await benchQueue(client);
    console.log(`servicebus-sim queue:    ${total} messages sent in batches of ${batchSize}, received (subscribe, maxConcurrentCalls ${maxConcurrentCalls}) and completed: ${queueRate.toFixed(0)} msg/s`);
    const sessionRate = await benchSessions(client);
    console.log(`servicebus-sim sessions: ${total} messages over ${sessionsCount} sessions, ${maxConcurrentSessions} session receivers, received and completed: ${sessionRate.toFixed(0)} msg/s`);
    console.log(`counts after: bench ${JSON.stringify(benchSim.counts('bench'))}, bench-sessions ${JSON.stringify(benchSim.counts('bench-sessions'))}`);
  } finally {
    await client.close();
    await benchSim.close();
  }
}

await main();
