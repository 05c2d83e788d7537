// AMQP encoding details of Service Bus that rhea does not do for us (docs/reference/local-tooling.md, probe 6):
// - batched sends arrive with message_format 0x80013700: the body is a list of data sections, each one an encoded
//   AMQP message, and rhea hands the payload over undecoded;
// - lock tokens travel as 16-byte delivery tags in .NET Guid byte order (the SDK reorders them, see
//   reorderLockToken in @azure/service-bus util/utils.js) but as plain AMQP uuids in $management bodies;
// - session lock expiry is a .NET ticks long in the attach properties (convertTicksToDate in the SDK).
// Messages are re-encoded once at enqueue into their immutable part (properties, application properties, body),
// and each delivery only prepends a fresh header and message annotations.
import { randomUUID } from 'node:crypto';
import rhea, { type Typed } from 'rhea';

/** Message format of a batch of messages sent with sendMessages([...]) or a ServiceBusMessageBatch. */
export const batchMessageFormat = 0x80013700;

/** The fields of a decoded AMQP message the broker reads (rhea flattens header and properties onto the message). */
export interface AmqpMessage {
  // header
  durable?: boolean;
  priority?: number;
  ttl?: number;
  first_acquirer?: boolean;
  delivery_count?: number;
  // annotations
  message_annotations?: Record<string, unknown>;
  delivery_annotations?: Record<string, unknown>;
  // properties
  message_id?: string | number | Buffer;
  user_id?: Buffer;
  to?: string;
  subject?: string;
  reply_to?: string;
  correlation_id?: string | number | Buffer;
  content_type?: string;
  content_encoding?: string;
  absolute_expiry_time?: Date;
  creation_time?: Date;
  group_id?: string;
  group_sequence?: number;
  reply_to_group_id?: string;
  application_properties?: Record<string, unknown>;
  body?: unknown;
  footer?: Record<string, unknown>;
}

interface WriterLike {
  write(o: Typed): void;
  toBuffer(): Buffer;
}
interface BodySection {
  collect_sections(sections: Typed[]): void;
}
interface Composite {
  described(): Typed;
}

const types = rhea.types;
const amqp = rhea.message as unknown as {
  encode(msg: unknown): Buffer;
  decode(buffer: Buffer): AmqpMessage;
  header(fields: object): Composite;
  properties(fields: object): Composite;
  accepted(): Composite;
  rejected(fields: { error: { condition: string; description: string } }): Composite;
};
const Writer = (types as unknown as { Writer: new () => WriterLike }).Writer;

const propertyFields = [
  'message_id',
  'user_id',
  'to',
  'subject',
  'reply_to',
  'correlation_id',
  'content_type',
  'content_encoding',
  'absolute_expiry_time',
  'creation_time',
  'group_id',
  'group_sequence',
  'reply_to_group_id',
] as const;

/** Decodes one encoded AMQP message. */
export function decodeMessage(buffer: Buffer): AmqpMessage {
  return amqp.decode(buffer);
}

/** Encodes a whole message (used for management request bodies in tests and by the simulator's own replies). */
export function encodeMessage(message: object): Buffer {
  return amqp.encode(message);
}

/** The messages of an incoming transfer: one, or each item of a batch (format 0x80013700). */
export function unpackTransfer(message: unknown, format: number | undefined): AmqpMessage[] {
  if (format === undefined || format === 0) return [message as AmqpMessage];
  if (format !== batchMessageFormat) throw new BrokerError('amqp:not-implemented', `message format ${format} is not supported`);
  const outer = decodeMessage(Buffer.from(message as Buffer));
  const body = outer.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (!body || body.typecode !== 0x75) throw new BrokerError('amqp:decode-error', 'a batched message must carry its messages as data sections');
  const items = body.multiple ? (body.content as Buffer[]) : [body.content as Buffer];
  return items.map((item) => decodeMessage(Buffer.from(item)));
}

/** Encodes the part of a message the broker never changes on delivery: properties, application properties, body. */
export function encodeBareMessage(message: AmqpMessage): Buffer {
  const writer = new Writer();
  const props: Record<string, unknown> = {};
  for (const field of propertyFields) if (message[field] !== undefined) props[field] = message[field];
  writer.write(amqp.properties(props).described());
  if (message.application_properties && Object.keys(message.application_properties).length > 0) {
    writer.write(types.described_nc(types.wrap_ulong(0x74), types.wrap_map(message.application_properties)) as Typed);
  }
  const body = message.body as Partial<BodySection> | undefined;
  if (body && typeof body.collect_sections === 'function') {
    const sections: Typed[] = [];
    body.collect_sections(sections);
    for (const section of sections) writer.write(section);
  } else {
    writer.write(types.described_nc(types.wrap_ulong(0x77), types.wrap(message.body)) as Typed);
  }
  if (message.footer) writer.write(types.described_nc(types.wrap_ulong(0x78), types.wrap_map(message.footer)) as Typed);
  return writer.toBuffer();
}

export interface DeliveryHeader {
  durable?: boolean | undefined;
  priority?: number | undefined;
  ttl?: number | undefined;
  deliveryCount: number;
}

/** Prepends a header and message annotations to the bare message: the bytes of one delivery. */
export function encodeDelivery(header: DeliveryHeader, annotations: Record<string, unknown>, bare: Buffer): Buffer {
  const writer = new Writer();
  const fields: Record<string, unknown> = { delivery_count: header.deliveryCount };
  if (header.durable !== undefined) fields.durable = header.durable;
  if (header.priority !== undefined) fields.priority = header.priority;
  if (header.ttl !== undefined) fields.ttl = header.ttl;
  writer.write(amqp.header(fields).described());
  writer.write(types.described_nc(types.wrap_ulong(0x72), types.wrap_symbolic_map(annotations)) as Typed);
  return Buffer.concat([writer.toBuffer(), bare]);
}

/** AMQP long, as Service Bus sends sequence numbers (the SDK reads a Buffer or a number). */
export function amqpLong(value: number): Typed {
  return types.wrap_long(value);
}

/** AMQP timestamp. */
export function amqpTimestamp(ms: number): Typed {
  return types.wrap_timestamp(ms);
}

/** AMQP int. */
export function amqpInt(value: number): Typed {
  return types.wrap_int(value);
}

/** AMQP uuid from 16 bytes. */
export function amqpUuid(bytes: Buffer): Typed {
  return types.wrap_uuid(bytes);
}

/** AMQP array of longs (sequence-numbers in management replies). */
export function amqpLongArray(values: number[]): Typed {
  return types.wrap_array(values, 0x81, undefined);
}

/** AMQP array of timestamps (expirations in renew-lock replies). */
export function amqpTimestampArray(values: number[]): Typed {
  return types.wrap_array(values, 0x83, undefined);
}

/** The disposition outcomes the broker settles back with. */
export const outcomes = {
  accepted: (): Typed => amqp.accepted().described(),
  rejected: (condition: string, description: string): Typed => amqp.rejected({ error: { condition, description } }).described(),
};

/** A new lock token, in the string form the SDK shows as `message.lockToken`. */
export function newLockToken(): string {
  return randomUUID();
}

/** The delivery tag for a lock token: its uuid bytes with the first three groups byte-reversed (.NET Guid order). */
export function lockTokenToDeliveryTag(lockToken: string): Buffer {
  return guidByteOrder(Buffer.from(rhea.string_to_uuid(lockToken)));
}

/** The lock token string for a uuid taken from a $management body (plain AMQP uuid byte order). */
export function lockTokenFromUuid(bytes: Buffer): string {
  return rhea.uuid_to_string(bytes);
}

/** The uuid bytes of a lock token for a $management reply (receive-by-sequence-number's lock-token). */
export function lockTokenToUuid(lockToken: string): Buffer {
  return Buffer.from(rhea.string_to_uuid(lockToken));
}

function guidByteOrder(b: Buffer): Buffer {
  return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8)]);
}

// .NET ticks (100 ns since 0001-01-01) at the Unix epoch.
const epochTicks = 621355968000000000n;

/** A time as a .NET ticks AMQP long (com.microsoft:locked-until-utc). */
export function ticksLong(ms: number): Typed {
  const ticks = BigInt(Math.round(ms)) * 10000n + epochTicks;
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(ticks);
  return types.wrap_long(buf);
}

/** A sequence number from a management body: the SDK sends Longs as 8-byte big-endian buffers. */
export function longFromWire(value: unknown): number {
  if (typeof value === 'number') return value;
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE());
  throw new BrokerError('amqp:invalid-field', `expected a long, got ${typeof value}`);
}

/** An error the broker reports in AMQP terms: the condition the SDK maps to a ServiceBusError code. */
export class BrokerError extends Error {
  constructor(
    readonly condition: string,
    description: string,
    /** HTTP-like status for $management replies. */
    readonly statusCode = statusForCondition(condition),
  ) {
    super(description);
  }
}

function statusForCondition(condition: string): number {
  switch (condition) {
    case 'amqp:not-found':
    case 'com.microsoft:message-not-found':
    case 'com.microsoft:session-cannot-be-locked':
      return 404;
    case 'com.microsoft:message-lock-lost':
    case 'com.microsoft:session-lock-lost':
      return 410;
    case 'amqp:unauthorized-access':
      return 401;
    case 'com.microsoft:timeout':
      return 408;
    case 'amqp:not-allowed':
    case 'amqp:invalid-field':
    case 'amqp:decode-error':
      return 400;
    case 'amqp:not-implemented':
      return 501;
    default:
      return 500;
  }
}
