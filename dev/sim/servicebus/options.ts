// Options of the simulator, validated with zod: queues take the same shape as the Bicep queue properties
// (infra/ and shared/servicebus/queues.ts), so a test can pass the product's queue table straight in.
import { z } from 'zod';
import { durationToMs } from './duration.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return durationToMs(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

// Entity names: letters, digits, '.', '-', '_', '/' (Service Bus naming rules); '$' would clash with sub-queues.
const entityName = z
  .string()
  .min(1)
  .max(260)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'queue names use letters, digits, ".", "-", "_" and "/"');

export const queueOptionsSchema = z.object({
  name: entityName,
  requiresSession: z.boolean().default(false),
  /** Service Bus default 10, minimum 1. */
  maxDeliveryCount: z.number().int().min(1).default(10),
  /** Service Bus default PT1M (maximum PT5M; shorter values are allowed here so tests run fast). */
  lockDuration: duration.default(60_000),
  /** Duplicate detection is on when a window is set (requiresDuplicateDetection in Bicep). */
  duplicateDetectionHistoryTimeWindow: duration.optional(),
  requiresDuplicateDetection: z.boolean().optional(),
  defaultMessageTimeToLive: duration.optional(),
  deadLetteringOnMessageExpiration: z.boolean().default(false),
});

/** A queue as declared at start, with the properties the Bicep templates give the real ones. */
export type QueueOptions = z.input<typeof queueOptionsSchema>;
export type QueueConfig = z.output<typeof queueOptionsSchema>;

const probability = z.number().min(0).max(1);

export const faultOptionsSchema = z.object({
  /**
   * Drops the client's TCP connection instead of processing an incoming send or settlement, with this
   * probability, at most `maxDrops` times. The SDK has to reconnect and retry (sends) or see the lock expire
   * and the message come back (settlements).
   */
  dropConnection: z.object({ probability, maxDrops: z.number().int().min(0).default(Number.MAX_SAFE_INTEGER) }).optional(),
  /** Delays the broker's acknowledgement of a settlement by a seeded random time in [minMs, maxMs]. */
  delaySettlement: z.object({ probability, minMs: z.number().min(0), maxMs: z.number().min(0) }).optional(),
});
export type FaultOptions = z.input<typeof faultOptionsSchema>;

export const simulatorOptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().default('127.0.0.1'),
  queues: z.array(queueOptionsSchema).min(1),
  seed: z.number().int().default(1),
  faults: faultOptionsSchema.default({}),
  sharedAccessKeyName: z.string().min(1).default('RootManageSharedAccessKey'),
  /** The key the SAS tokens from the connection string are checked against. */
  sharedAccessKey: z.string().min(1).default('SAS_KEY_VALUE'),
});
export type ServiceBusSimulatorOptions = z.input<typeof simulatorOptionsSchema>;
export type SimulatorConfig = z.output<typeof simulatorOptionsSchema>;
