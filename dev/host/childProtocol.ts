// What the local host's child process (child.ts) and its parent (childHost.ts) say to each other over IPC. Both
// ends validate what they receive: a message crosses a process boundary.
import { z } from 'zod';

export const childOptionsSchema = z.object({
  /** The app settings the runtime reads (the same as the in-process stack's). */
  env: z.record(z.string(), z.string()),
  /** Fixed, so Graph subscriptions and Dataverse webhooks still reach the host after a restart. */
  port: z.number().int().min(1).max(65535),
  functionKeys: z.array(z.string().min(1)).min(1),
  maxConcurrentSessions: z.number().int().min(1),
  /** Handlers at once on a queue without sessions (host.json maxConcurrentCalls). */
  maxConcurrentCalls: z.number().int().min(1),
  sessionIdleTimeoutMs: z.number().int().min(1),
  configCacheMs: z.number().int().min(0),
  /** Send every log line to the parent (its log sink), else drop them. */
  forwardLogs: z.boolean(),
});
export type ChildOptions = z.infer<typeof childOptionsSchema>;

export const parentMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fireTimer'), id: z.number().int(), name: z.string().min(1) }),
  z.object({ type: z.literal('close') }),
]);
export type ParentMessage = z.infer<typeof parentMessageSchema>;

const settledEvent = z.object({
  functionName: z.string(),
  messageId: z.string(),
  sessionId: z.string().optional(),
  deliveryCount: z.number(),
  outcome: z.enum(['completed', 'abandoned']),
  error: z.string().optional(),
});

export const childMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), origin: z.string() }),
  z.object({ type: z.literal('settled'), event: settledEvent }),
  z.object({ type: z.literal('timerDone'), id: z.number().int(), error: z.string().optional() }),
  z.object({ type: z.literal('log'), level: z.enum(['debug', 'info', 'warn', 'error']), message: z.string(), props: z.record(z.string(), z.unknown()) }),
]);
export type ChildMessage = z.infer<typeof childMessageSchema>;
