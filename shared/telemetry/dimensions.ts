// The scrubbing allow-list: the only attribute keys that may leave the process as telemetry dimensions (span
// attributes, log record properties, metric attributes). Everything else is dropped, whatever its value, so a new log
// property never reaches Application Insights until someone names it here. Values are ids, codes, kinds and counts:
// a string value must look like one (no spaces, no '@'), which keeps subjects, bodies and e-mail addresses out even
// when a caller puts one under an allowed key.

export type Dimensions = Record<string, string | number | boolean>;

/** Dimension keys that pass, with what they carry. */
export const allowedDimensions: Readonly<Record<string, string>> = {
  // what the change is about
  direction: 'toExchange, toDataverse or lifecycle',
  kind: 'the item kind: the Dataverse table (appointment, task, contact, ...) or the Exchange resource (event, todoTask, contact)',
  outcome: 'created, updated, unchanged, echo, ignored, linked, unlinked, deleted, awaiting-invitation, retried, dead-lettered',
  change: 'the change type (created/updated/deleted, Create/Update/Delete/SetState/Reconcile, lifecycle event)',
  source: 'exchange, dataverse or lifecycle',
  entity: 'the Dataverse table',
  resource: 'the Exchange resource',
  resourceKind: 'the subscribed resource kind',
  // ids (opaque: Entra object ids, Dataverse GUIDs, Graph ids)
  mailboxId: 'Entra object id of the mailbox',
  dataverseId: 'Dataverse record id',
  exchangeId: 'Graph item id',
  subscriptionId: 'Graph subscription id',
  oldSubscriptionId: 'the replaced Graph subscription id',
  correlationId: 'correlation id of the change (in every log line, message and span of it)',
  messageId: 'Service Bus message id',
  sessionId: 'Service Bus session id',
  invocationId: 'Functions invocation id',
  functionName: 'the function',
  // failures
  errorCode: 'SyncError code or service error code',
  code: 'SyncError code or service error code (log property)',
  cause: 'error code that caused a retry (log property)',
  reason: 'dead-letter reason',
  trigger: 'the breaker rule that held a write (emptySide, ratio, hardCap, ...)',
  action: 'the write the breaker held (delete, cancel, occurrenceDelete, create)',
  state: 'a mailbox state (active, backfilling, degraded, paused, blocked, disabled)',
  status: 'HTTP status of a failed call',
  httpStatus: 'HTTP status of a webhook answer',
  // counts and times
  attempt: 'attempt number of the change',
  nextAttempt: 'attempt number of a scheduled retry',
  deliveryCount: 'Service Bus delivery count',
  latencyMs: 'receivedAt -> write done',
  queuedMs: 'receivedAt -> worker started',
  waitMs: 'back-off before a retry',
  changes: 'changes a webhook enqueued',
  messages: 'messages sent in one batch',
  enqueued: 'changes a timer enqueued',
  skipped: 'changes a timer found already synced',
  resynced: 'delta rounds started over',
  errors: 'error count',
  count: 'a count',
  dropped: 'notifications dropped',
  // messaging semantic conventions on the Service Bus spans
  'messaging.system': 'servicebus',
  'messaging.destination.name': 'the queue',
  'messaging.operation.type': 'send or process',
  'messaging.message.id': 'Service Bus message id',
  'messaging.batch.message_count': 'messages in a send',
  'http.request.method': 'HTTP method of a webhook',
  'http.response.status_code': 'HTTP status of a webhook answer',
  'http.route': 'route of the function',
};

const allowed = new Set(Object.keys(allowedDimensions));
/** An id, code or kind: no whitespace, no '@', at most 256 characters. */
const idLike = /^[^\s@]{1,256}$/;

/** Keeps only allowed keys with id-like strings, finite numbers or booleans. */
export function dimensions(props: Record<string, unknown> | undefined): Dimensions {
  const out: Dimensions = {};
  if (!props) return out;
  for (const [key, value] of Object.entries(props)) {
    if (!allowed.has(key)) continue;
    if (typeof value === 'string') {
      if (idLike.test(value)) out[key] = value;
    } else if (typeof value === 'number') {
      if (Number.isFinite(value)) out[key] = value;
    } else if (typeof value === 'boolean') {
      out[key] = value;
    }
  }
  return out;
}
