// Sends change messages with @azure/service-bus: identity-based in Azure (namespace + managed identity),
// a connection string locally (the Service Bus simulator).
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import { SyncError } from '../errors.js';
import { traceProperties, traceSend } from '../telemetry/index.js';
import { changeMessageSchema, messageIdOf, type ChangeMessage, type ChangeMessageInput } from './messages.js';
import { changesQueue } from './queues.js';

export interface ServiceBusSettings {
  ServiceBusConnection?: string | undefined;
  ServiceBusConnection__fullyQualifiedNamespace?: string | undefined;
  AZURE_CLIENT_ID?: string | undefined;
}

export interface ChangeSender {
  /** Enqueues changes (one batch when they fit); resolves once Service Bus has accepted them. */
  send(messages: ChangeMessageInput[], options?: { scheduledEnqueueTime?: Date }): Promise<void>;
  close(): Promise<void>;
}

/** A Service Bus client from the settings. */
export function createServiceBusClient(settings: ServiceBusSettings): ServiceBusClient {
  if (settings.ServiceBusConnection) return new ServiceBusClient(settings.ServiceBusConnection);
  if (!settings.ServiceBusConnection__fullyQualifiedNamespace) throw new SyncError('Internal', 'no Service Bus connection configured');
  const credential = settings.AZURE_CLIENT_ID ? new ManagedIdentityCredential({ clientId: settings.AZURE_CLIENT_ID }) : new DefaultAzureCredential();
  return new ServiceBusClient(settings.ServiceBusConnection__fullyQualifiedNamespace, credential);
}

/**
 * The wire form of a change: JSON body and id derived from the change (no session: queues.ts says why); `trace` is the W3C trace context
 * (traceparent, Diagnostic-Id) the worker continues, when telemetry is on.
 */
export function toServiceBusMessage(input: ChangeMessageInput, scheduledEnqueueTime?: Date, trace: Record<string, string> = {}): ServiceBusMessage {
  const message: ChangeMessage = changeMessageSchema.parse(input);
  return {
    body: message,
    contentType: 'application/json',
    messageId: messageIdOf(message),
    correlationId: message.correlationId,
    subject: message.source,
    applicationProperties: { attempt: message.attempt, source: message.source, ...trace },
    ...(scheduledEnqueueTime ? { scheduledEnqueueTimeUtc: scheduledEnqueueTime } : {}),
  };
}

export function createChangeSender(client: ServiceBusClient, queueName = changesQueue.name): ChangeSender {
  let sender: ServiceBusSender | undefined;
  const get = () => (sender ??= client.createSender(queueName));
  return {
    async send(messages, options = {}) {
      if (messages.length === 0) return;
      await traceSend(queueName, messages.length, async () => {
        const trace = traceProperties();
        const wire = messages.map((m) => toServiceBusMessage(m, options.scheduledEnqueueTime, trace));
        try {
          if (options.scheduledEnqueueTime) {
            await get().scheduleMessages(wire, options.scheduledEnqueueTime);
          } else {
            await get().sendMessages(wire);
          }
        } catch (error) {
          throw new SyncError('Transient', `could not enqueue ${messages.length} change(s) on ${queueName}`, { cause: error });
        }
      });
    },
    async close() {
      await sender?.close();
    },
  };
}
