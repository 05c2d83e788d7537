// The $management operations the SDK sends on `<entity>/$management` (operation names from @azure/core-amqp's
// Constants.operations, body keys from @azure/service-bus core/managementClient.js). Replies carry `statusCode`
// (the SDK's peek reads application_properties.statusCode, core-amqp accepts either spelling) and, on failure,
// `errorCondition`, which core-amqp translates into the ServiceBusError code.
import type { Typed } from 'rhea';
import { z } from 'zod';
import type { AmqpMessage } from './codec.js';
import {
  BrokerError,
  amqpLongArray,
  amqpTimestamp,
  amqpTimestampArray,
  amqpUuid,
  decodeMessage,
  lockTokenFromUuid,
  lockTokenToUuid,
  longFromWire,
} from './codec.js';
import type { Disposition, Entity } from './entity.js';

export interface ManagementReply {
  statusCode: number;
  statusDescription?: string;
  errorCondition?: string;
  body?: Record<string, unknown> | undefined;
}

export interface ManagementContext {
  entity: Entity;
  /** Encodes a stored message as peek and receive-by-sequence-number return it. */
  encode(entity: Entity, seq: number, lockedUntil: number | undefined): Buffer;
  /** Whether a receive link of this connection holds the session (for session-id operations). */
  associatedLinkName: string | undefined;
}

const uuidBytes = z.custom<Buffer>((v) => Buffer.isBuffer(v) && v.length === 16, 'expected a 16-byte uuid');
const long = z.unknown().transform((v, ctx) => {
  try {
    return longFromWire(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a long' });
    return z.NEVER;
  }
});
const sessionId = z.string().optional().nullable().transform((v) => v ?? undefined);

const schemas = {
  'com.microsoft:renew-lock': z.object({ 'lock-tokens': z.array(uuidBytes).min(1) }),
  'com.microsoft:update-disposition': z.object({
    'lock-tokens': z.array(uuidBytes).min(1),
    'disposition-status': z.enum(['completed', 'abandoned', 'suspended', 'defered']),
    'deadletter-reason': z.string().optional(),
    'deadletter-description': z.string().optional(),
    'properties-to-modify': z.record(z.string(), z.unknown()).optional().nullable(),
    'session-id': sessionId,
  }),
  'com.microsoft:peek-message': z.object({
    'from-sequence-number': long,
    'message-count': z.number().int().min(1),
    'session-id': sessionId,
  }),
  'com.microsoft:schedule-message': z.object({
    messages: z.array(z.object({ message: z.custom<Buffer>((v) => Buffer.isBuffer(v), 'expected an encoded message') })).min(1),
  }),
  'com.microsoft:cancel-scheduled-message': z.object({ 'sequence-numbers': z.array(long) }),
  'com.microsoft:receive-by-sequence-number': z.object({
    'sequence-numbers': z.array(long).min(1),
    'receiver-settle-mode': z.number().int().min(0).max(1),
    'session-id': sessionId,
  }),
  'com.microsoft:renew-session-lock': z.object({ 'session-id': z.string() }),
  'com.microsoft:get-session-state': z.object({ 'session-id': z.string() }),
  'com.microsoft:set-session-state': z.object({
    'session-id': z.string(),
    'session-state': z.custom<Buffer>((v) => Buffer.isBuffer(v)).optional().nullable(),
  }),
} as const;

type Operation = keyof typeof schemas;

const dispositions: Record<string, Disposition> = {
  completed: 'complete',
  abandoned: 'abandon',
  suspended: 'deadLetter',
  defered: 'defer',
};

/** Executes one management request against an entity. */
export function handleManagement(operation: unknown, body: unknown, ctx: ManagementContext): ManagementReply {
  try {
    if (typeof operation !== 'string' || !(operation in schemas)) {
      throw new BrokerError('amqp:not-implemented', `The management operation '${String(operation)}' is not supported by the simulator.`);
    }
    const op = operation as Operation;
    const parsed = schemas[op].safeParse(body);
    if (!parsed.success) {
      throw new BrokerError('amqp:invalid-field', `Invalid body for ${op}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    return run(op, parsed.data, ctx);
  } catch (err) {
    if (err instanceof BrokerError) {
      return { statusCode: err.statusCode, statusDescription: err.message, errorCondition: err.condition };
    }
    return { statusCode: 500, statusDescription: `Simulator error: ${(err as Error).message}`, errorCondition: 'amqp:internal-error' };
  }
}

function run(op: Operation, data: unknown, ctx: ManagementContext): ManagementReply {
  const ok = (body: Record<string, unknown>): ManagementReply => ({ statusCode: 200, body });
  const { entity } = ctx;
  switch (op) {
    case 'com.microsoft:renew-lock': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      const expirations = body['lock-tokens'].map((t) => entity.renewLock(lockTokenFromUuid(t)));
      return ok({ expirations: amqpTimestampArray(expirations) });
    }
    case 'com.microsoft:update-disposition': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      for (const t of body['lock-tokens']) {
        entity.settle(lockTokenFromUuid(t), dispositions[body['disposition-status']]!, {
          deadLetterReason: body['deadletter-reason'],
          deadLetterDescription: body['deadletter-description'],
          propertiesToModify: body['properties-to-modify'] ?? undefined,
          sessionId: body['session-id'],
        });
      }
      return ok({});
    }
    case 'com.microsoft:peek-message': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      const found = entity.peek(body['from-sequence-number'], body['message-count'], body['session-id']);
      // 204 is how Service Bus says "nothing to peek"; the SDK then returns an empty array.
      if (found.length === 0) return { statusCode: 204, statusDescription: 'No messages available' };
      return ok({ messages: found.map((m) => ({ message: ctx.encode(entity, m.seq, undefined) })) });
    }
    case 'com.microsoft:schedule-message': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      const sources: AmqpMessage[] = body.messages.map((m) => decodeMessage(m.message));
      return ok({ 'sequence-numbers': amqpLongArray(entity.schedule(sources)) });
    }
    case 'com.microsoft:cancel-scheduled-message': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      entity.cancelScheduled(body['sequence-numbers']);
      return ok({});
    }
    case 'com.microsoft:receive-by-sequence-number': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      const peekLock = body['receiver-settle-mode'] === 1;
      const received = entity.receiveDeferred(body['sequence-numbers'], peekLock, body['session-id']);
      const messages = received.map(({ message, lockToken }) => {
        const item: Record<string, Typed | Buffer> = { message: ctx.encode(entity, message.seq, message.lock?.until) };
        if (lockToken) item['lock-token'] = amqpUuid(lockTokenToUuid(lockToken));
        return item;
      });
      return ok({ messages });
    }
    case 'com.microsoft:renew-session-lock': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      return ok({ expiration: amqpTimestamp(entity.renewSessionLock(body['session-id'], ctx.associatedLinkName)) });
    }
    case 'com.microsoft:get-session-state': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      return ok({ 'session-state': entity.getSessionState(body['session-id'], ctx.associatedLinkName) ?? null });
    }
    case 'com.microsoft:set-session-state': {
      const body = data as z.output<(typeof schemas)[typeof op]>;
      entity.setSessionState(body['session-id'], ctx.associatedLinkName, body['session-state'] ?? undefined);
      return ok({});
    }
  }
}
