// The Service Bus queues the app uses, with the properties infra/ gives them. The worker's retry and ordering
// rules depend on these values, so infra/ and the local Service Bus simulator are checked against this table.

export interface QueueDefinition {
  name: string;
  /** Changes to one item pair share a session, so they are never applied concurrently. */
  requiresSession: boolean;
  /** Deliveries before Service Bus dead-letters a message (MaxDeliveryCountExceeded). */
  maxDeliveryCount: number;
  /** Peek-lock duration, ISO 8601 (at most PT5M). */
  lockDuration: string;
  /** Duplicate detection by messageId inside this window, ISO 8601 (PT20S to P7D). */
  duplicateDetectionHistoryTimeWindow: string;
  /** Time to live of a message, ISO 8601. */
  defaultMessageTimeToLive: string;
  deadLetteringOnMessageExpiration: boolean;
}

/** Every change (webhook, delta poll, reconciliation, lifecycle) goes through this one session queue. */
export const changesQueue: QueueDefinition = {
  name: 'sync-changes',
  requiresSession: true,
  // The worker reschedules its own retries (back-off as scheduled messages) and dead-letters after
  // SYNC_MAX_ATTEMPTS; this count only catches a worker that crashes repeatedly on one message.
  maxDeliveryCount: 5,
  lockDuration: 'PT1M',
  duplicateDetectionHistoryTimeWindow: 'PT1H',
  defaultMessageTimeToLive: 'P14D',
  deadLetteringOnMessageExpiration: true,
};

/**
 * Per-mailbox periodic work (To Do poll, reconciliation, subscription renewal) and the paged sweeps that enqueue it.
 * One session per mailbox, so one mailbox's work never runs twice at once and never beside another task of the same
 * mailbox, while different mailboxes spread over every instance. A work message is only worth its period: it expires
 * after an hour without a dead letter, since the next sweep enqueues it again (shared/sync/work.ts).
 */
export const workQueue: QueueDefinition = {
  name: 'sync-mailbox-work',
  requiresSession: true,
  maxDeliveryCount: 5,
  lockDuration: 'PT1M',
  // A sweep that is delivered twice (its instance died before completing it) sends the same message ids again.
  duplicateDetectionHistoryTimeWindow: 'PT1H',
  defaultMessageTimeToLive: 'PT1H',
  deadLetteringOnMessageExpiration: false,
};

export const queues: readonly QueueDefinition[] = [changesQueue, workQueue];

/** The app setting prefix of the Service Bus connection (trigger binding and sender). */
export const serviceBusConnectionName = 'ServiceBusConnection';
