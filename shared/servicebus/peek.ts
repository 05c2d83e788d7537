// Peeking a queue from its first message. Without `fromSequenceNumber`, the SDK's peekMessages continues after the
// last message peeked on the same entity through the same client (its management link keeps that position, shared by
// every receiver of the entity), so a second count in one process would start where the first one stopped and
// report too few. Every peek here names where it starts.
// https://learn.microsoft.com/azure/service-bus-messaging/message-browsing
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import Long from 'long';

/** Up to `max` messages from the start of the receiver's entity (active, scheduled and deferred), in pages. */
export async function peekFromStart(receiver: ServiceBusReceiver, max: number, pageSize = 100): Promise<ServiceBusReceivedMessage[]> {
  const out: ServiceBusReceivedMessage[] = [];
  let from = Long.ONE;
  while (out.length < max) {
    const page = await receiver.peekMessages(Math.min(pageSize, max - out.length), { fromSequenceNumber: from });
    const last = page.at(-1)?.sequenceNumber;
    out.push(...page);
    if (page.length === 0 || last === undefined) break;
    from = last.add(1);
  }
  return out;
}
