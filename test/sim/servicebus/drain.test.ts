// Drain at the AMQP level, with rhea as the client: what the SDK's receiveMessages relies on when its wait ends.
// AMQP 1.0, 2.6.7 Flow Control: with drain set, the sender sends the messages it has, advances the delivery-count
// to use up any credit left, "and send[s] the flow state to the receiver"
// (http://docs.oasis-open.org/amqp/core/v1.0/os/amqp-core-transport-v1.0-os.html#doc-flow-control).
// The SDK waits for that flow (rhea's receiver_drained) after its wait timer and, when it does not come within
// 200 ms, closes the receive link; a message that arrived in between is then handed to the caller on a closed link,
// its settlement fails, and it is delivered again.
import { createHmac } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import rhea, { type Connection, type EventContext, type Receiver } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../../../dev/sim/servicebus/index.js';

let sim: ServiceBusSimulator;
let connection: Connection;

function part(connectionString: string, name: string): string {
  return new RegExp(`${name}=([^;]+)`).exec(connectionString)![1]!;
}

/** A SAS token as @azure/core-amqp makes it (see dev/sim/servicebus/sas.ts for the format). */
function sasToken(audience: string, keyName: string, key: string): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${encodeURIComponent(keyName)}`;
}

function once<T>(emitter: { once(event: string, fn: (ctx: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

beforeAll(async () => {
  sim = await startServiceBusSimulator({ queues: [{ name: 'work' }, { name: 'pairs', requiresSession: true }] });
  const endpoint = new URL(part(sim.connectionString, 'Endpoint'));
  connection = rhea.create_container().connect({ host: endpoint.hostname, port: Number(endpoint.port), reconnect: false });
  await once(connection, 'connection_open');
  // Authorise the namespace on $cbs, as the SDK does before attaching to an entity.
  const cbsSender = connection.open_sender('$cbs');
  const cbsReceiver = connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs-reply' } });
  await Promise.all([once(cbsSender, 'sendable'), once(cbsReceiver, 'receiver_open')]);
  const reply = once<EventContext>(cbsReceiver, 'message');
  cbsSender.send({
    reply_to: 'cbs-reply',
    message_id: 'put-1',
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `sb://${endpoint.host}/` },
    body: sasToken(`sb://${endpoint.host}/`, part(sim.connectionString, 'SharedAccessKeyName'), part(sim.connectionString, 'SharedAccessKey')),
  });
  expect((await reply).message!.application_properties!['status-code']).toBe(202);
});

afterAll(async () => {
  const closed = once(connection, 'connection_close');
  connection.close();
  await closed;
  await sim.close();
});

async function send(queue: string, messages: Array<{ body: string; messageId: string; sessionId?: string }>): Promise<void> {
  const c = new ServiceBusClient(sim.connectionString);
  try {
    await c.createSender(queue).sendMessages(messages);
  } finally {
    await c.close();
  }
}

/** Opens a receive link with no credit (the SDK's receiveMessages grants credit per call). */
async function receiver(source: string | { address: string; filter: Record<string, unknown> }): Promise<Receiver> {
  const link = connection.open_receiver({ source, credit_window: 0, autoaccept: false, rcv_settle_mode: 1 });
  await once(link, 'receiver_open');
  return link;
}

/** Grants one credit with drain set in the same flow; resolves with what came before the drained flow. */
async function drainOne(link: Receiver): Promise<{ messages: string[]; drained: boolean }> {
  const messages: string[] = [];
  const onMessage = (ctx: EventContext) => messages.push(String(ctx.message!.message_id));
  link.on('message', onMessage);
  const drained = new Promise<boolean>((resolve) => {
    link.once('receiver_drained', () => resolve(true));
    setTimeout(() => resolve(false), 1000);
  });
  link.add_credit(1);
  link.drain_credit();
  const result = { messages, drained: await drained };
  link.removeListener('message', onMessage);
  return result;
}

describe('Service Bus simulator: drain', () => {
  it('answers a drain with the drained flow when the credit is used up by a message', async () => {
    await send('work', [{ body: 'one', messageId: 'one' }]);
    const link = await receiver('work');
    const result = await drainOne(link);
    expect(result).toEqual({ messages: ['one'], drained: true });
    link.close();
  });

  it('answers a drain with the drained flow when nothing is there (the credit is used up by advancing the count)', async () => {
    const link = await receiver('work');
    expect(await drainOne(link)).toEqual({ messages: [], drained: true });
    link.close();
  });

  it('answers a drain on a session link whose session has a message', async () => {
    await send('pairs', [{ body: 'in-session', messageId: 'in-session', sessionId: 's-1' }]);
    const link = await receiver({ address: 'pairs', filter: { 'com.microsoft:session-filter': 's-1' } });
    expect(await drainOne(link)).toEqual({ messages: ['in-session'], drained: true });
    link.close();
  });
});
