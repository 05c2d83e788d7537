// Tunable limits and timings. Defaults are Graph's documented values (docs/reference/platform-facts.md sections 1, 4 and 8); tests
// shrink them so a limit is reached in a few requests and a retry waits milliseconds, not seconds.

/** Service limits. */
export interface GraphSimLimits {
  /** Outlook: 10,000 requests per 10 minutes per app and mailbox (docs/reference/platform-facts.md section 4). */
  requestsPerWindow: number;
  windowMs: number;
  /** Outlook: 4 concurrent requests per app and mailbox. */
  concurrentRequests: number;
  /** Retry-After (seconds) when the concurrency limit answers 429. */
  concurrencyRetryAfterSeconds: number;
  /** $batch: at most 20 requests (concepts/json-batching.md). */
  maxBatchRequests: number;
  /** Graph hands at most 4 requests of a batch to Outlook at a time. */
  batchConcurrency: number;
  /** Maximum subscription lifetime per resource kind, minutes (docs/reference/platform-facts.md section 8). */
  maxSubscriptionMinutes: { event: number; contact: number; message: number; todoTask: number };
  /** An expiry sooner than this is raised to it (docs/reference/platform-facts.md section 8: 45 minutes). */
  minSubscriptionMinutes: number;
  /** 1,000 active subscriptions per mailbox for all applications. */
  subscriptionsPerMailbox: number;
  /** Page size of list endpoints without $top (Outlook's default is 10). */
  defaultPageSize: number;
  /** Page size of delta rounds without `Prefer: odata.maxpagesize`. */
  defaultDeltaPageSize: number;
  maxPageSize: number;
  /** Delta states kept before the oldest are evicted (Outlook keeps sync states in a cache; docs/reference/platform-facts.md section 2). */
  maxDeltaStates: number;
}

/** Change-notification delivery timings (docs/reference/platform-facts.md section 1). */
export interface NotificationPolicy {
  /** A notification answered later than this is a failure and retried (3 s). */
  responseTimeoutMs: number;
  /** The validation handshake must be answered within this (10 s). */
  validationTimeoutMs: number;
  /** Backoff of retries: initial delay, doubled per attempt up to the maximum. */
  retryInitialDelayMs: number;
  retryMaxDelayMs: number;
  /** Retries stop after this long (Graph: up to 4 hours), then a `missed` lifecycle event is sent. */
  retryForMs: number;
  /** Notifications to one URL gathered into one POST. */
  maxBatchSize: number;
  /** How long changes are gathered before a POST (0 = the end of the current tick). */
  batchDelayMs: number;
}

export const DEFAULT_LIMITS: GraphSimLimits = {
  requestsPerWindow: 10_000,
  windowMs: 10 * 60 * 1000,
  concurrentRequests: 4,
  concurrencyRetryAfterSeconds: 1,
  maxBatchRequests: 20,
  batchConcurrency: 4,
  maxSubscriptionMinutes: { event: 10_080, contact: 10_080, message: 10_080, todoTask: 4_230 },
  minSubscriptionMinutes: 45,
  subscriptionsPerMailbox: 1_000,
  defaultPageSize: 10,
  defaultDeltaPageSize: 100,
  maxPageSize: 1_000,
  maxDeltaStates: 100_000,
};

export const DEFAULT_NOTIFICATION_POLICY: NotificationPolicy = {
  responseTimeoutMs: 3_000,
  validationTimeoutMs: 10_000,
  retryInitialDelayMs: 1_000,
  retryMaxDelayMs: 5 * 60 * 1000,
  retryForMs: 4 * 3600 * 1000,
  maxBatchSize: 50,
  batchDelayMs: 0,
};

export type PartialLimits = Partial<Omit<GraphSimLimits, 'maxSubscriptionMinutes'>> & { maxSubscriptionMinutes?: Partial<GraphSimLimits['maxSubscriptionMinutes']> };

export function mergeLimits(partial: PartialLimits | undefined): GraphSimLimits {
  return { ...DEFAULT_LIMITS, ...partial, maxSubscriptionMinutes: { ...DEFAULT_LIMITS.maxSubscriptionMinutes, ...partial?.maxSubscriptionMinutes } };
}

/**
 * Recurring-event behaviours the documentation leaves open or that tenants are reported to show both ways. Each
 * default is what Microsoft's v1.0 documentation states; the other value is what users report.
 */
export interface RecurrenceBehaviour {
  /**
   * iCalUId of occurrences and exceptions. 'perOccurrence' (default): "This ID is different for each occurrence in a
   * recurring series" (https://learn.microsoft.com/graph/api/resources/event); the simulator puts the occurrence's
   * date into the master's global object id, as MS-OXOCAL does for instances. 'series': the master's iCalUId, as
   * Microsoft announced in 2020 and some tenants show.
   */
  occurrenceICalUId: 'perOccurrence' | 'series';
  /**
   * Occurrences in calendarView delta. 'full' (default): "the same properties you'd normally get from a GET
   * /calendarView request" (https://learn.microsoft.com/graph/api/event-delta). 'sparse': only @odata.type,
   * @odata.etag, id, type, seriesMasterId, start and end, as reported from real tenants.
   */
  deltaOccurrences: 'full' | 'sparse';
  /**
   * calendarView delta after an occurrence is deleted (cancelled). 'relist' (default, the simulator's behaviour so
   * far): the master's change re-lists its remaining occurrences. 'silent': the round lists nothing for it, "no
   * indication... for a deleted occurrence" as found by experiment (PR microsoftgraph/microsoft-graph-docs#4501); the
   * event-delta page says neither.
   */
  deltaAfterCancellation: 'relist' | 'silent';
}

export const DEFAULT_RECURRENCE_BEHAVIOUR: RecurrenceBehaviour = { occurrenceICalUId: 'perOccurrence', deltaOccurrences: 'full', deltaAfterCancellation: 'relist' };

/**
 * Mail behaviours: Exchange Online's sending limits and what the documentation leaves open about sent mail. The
 * limits are those of https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits
 * and of the message resource page (https://learn.microsoft.com/graph/api/resources/message: at most 500
 * recipients per message).
 */
export interface MailBehaviour {
  /** Message rate limit: messages a mailbox may submit per minute (30), counted on the simulator clock. */
  messagesPerMinute: number;
  /** The window of the message rate in ms (60,000, the documented minute; shorter only so tests need not wait a minute). */
  rateWindowMs?: number;
  /** Recipient rate limit: recipients per mailbox in 24 hours (10,000). */
  recipientsPerDay: number;
  /** To + Cc + Bcc of one message (500). */
  recipientsPerMessage: number;
  /**
   * A send over the message rate. The limits page says both that such messages "will be rejected and the client
   * will need to retry" and that "any excess in message submission will be throttled and successively carried over
   * to the following minutes" (see MicrosoftDocs/OfficeDocs-O365ServiceDescriptions issue 568). 'defer' (default,
   * the footnote's reading): 202, the message waits in the Outbox and is submitted when the minute frees. 'reject':
   * 429 `ErrorSubmissionQuotaExceeded` (EWS's code for the condition; Graph's is undocumented) with Retry-After.
   */
  sendRateExceeded: 'defer' | 'reject';
  /**
   * The Sent Items copy's id. 'new' (default): a new id, as users report and the mail API overview says ("with the
   * exception of sending a draft message"). 'draft': the draft's id, as the immutable-id page describes for ids
   * created with `Prefer: IdType="ImmutableId"` (https://learn.microsoft.com/graph/outlook-immutable-id).
   */
  sentCopyId: 'new' | 'draft';
  /**
   * `internetMessageHeaders` of drafts and Sent Items copies. 'none' (default): not returned, as users report for
   * sent mail; 'full': the same header set a delivered copy has. Delivered copies always have headers.
   */
  sentCopyHeaders: 'none' | 'full';
  /** Whether the Sent Items copy keeps the draft's singleValueExtendedProperties ('keep', default) or not ('drop'). */
  sentCopyExtendedProperties: 'keep' | 'drop';
  /**
   * How long after a send its Sent Items copy appears (ms of simulator time). 0 (default): at once. Above 0: the
   * message is in no folder meanwhile (a read of the draft's id or a search of Sent Items finds nothing), as the
   * immutable-id page warns: "Retrieving the message in Sent Items might not succeed immediately after sending the
   * message. The copy of the message is not created until the message is successfully sent, which can take time"
   * (https://learn.microsoft.com/graph/outlook-immutable-id#immutable-id-with-sending-mail).
   */
  sentCopyDelayMs: number;
  /**
   * Maximum message size including attachments. Exchange Online's default is 35 MB and administrators may change it
   * (https://learn.microsoft.com/graph/api/attachment-createuploadsession, Tip).
   */
  maxMessageSizeBytes: number;
}

export const DEFAULT_MAIL_BEHAVIOUR: MailBehaviour = {
  messagesPerMinute: 30,
  recipientsPerDay: 10_000,
  recipientsPerMessage: 500,
  sendRateExceeded: 'defer',
  sentCopyId: 'new',
  sentCopyHeaders: 'none',
  sentCopyExtendedProperties: 'keep',
  sentCopyDelayMs: 0,
  maxMessageSizeBytes: 35 * 1024 * 1024,
};
