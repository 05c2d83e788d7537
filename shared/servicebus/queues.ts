// The Service Bus queues the app uses, with the properties infra/ gives them. The worker's retry and ordering
// rules depend on these values, so infra/ and the local Service Bus simulator are checked against this table.

export interface QueueDefinition {
  name: string;
  /** Messages carry a session id and one session's messages are handled one at a time. */
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

/**
 * Every change (webhook, delta poll, reconciliation, lifecycle) goes through this one queue, without sessions.
 * Sessions (one per item pair) held a burst to one change at a time per session, 8 sessions per instance and a
 * session idle timeout paid for nearly every change; and a Dataverse change cannot name its mailbox before the
 * record is read, so sessions per mailbox were no option. Two changes of one item may now run at once; what keeps
 * the result right is duplicate detection (the message id), the writes conditional on the etag the sync last saw
 * (a failed precondition re-reads and merges, shared/sync/execute.ts), the pair rows' own etags, creates claimed by
 * a pending pair, and the version check that drops an older state (shared/sync/versions.ts). The name is new
 * because Service Bus cannot turn sessions off on an existing queue (requiresSession is set at creation,
 * https://learn.microsoft.com/azure/service-bus-messaging/message-sessions); docs/operations.md says how the old
 * `sync-changes` is drained and deleted on upgrade.
 */
export const changesQueue: QueueDefinition = {
  name: 'sync-item-changes',
  requiresSession: false,
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

/**
 * The session queue of changes before sync-item-changes, as it was. This release still reads it (the same worker:
 * its messages are the same change messages), so what was queued or scheduled there at the upgrade is applied, and
 * retries go to the new queue; once it is empty it is deleted (docs/operations.md, "Upgrading to
 * sync-item-changes"), and the next release drops it from the template.
 */
export const legacyChangesQueue: QueueDefinition = {
  name: 'sync-changes',
  requiresSession: true,
  maxDeliveryCount: 5,
  lockDuration: 'PT1M',
  duplicateDetectionHistoryTimeWindow: 'PT1H',
  defaultMessageTimeToLive: 'P14D',
  deadLetteringOnMessageExpiration: true,
};

export const queues: readonly QueueDefinition[] = [changesQueue, workQueue, legacyChangesQueue];

/** The app setting prefix of the Service Bus connection (trigger binding and sender). */
export const serviceBusConnectionName = 'ServiceBusConnection';
