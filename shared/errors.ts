// The closed set of errors the product raises. The worker decides retry, dead-letter or drop from `code` and
// `retryable`, never from a message string (house style; cf. ServiceBusErrorCode in @azure/service-bus).

export const errorCodes = {
  /** Input from an API, a webhook or a message is malformed or has a value the rules do not accept. Not retryable. */
  InvalidInput: { retryable: false, status: 400 },
  /** The caller is not who it claims (bad key, clientState, token not issued). Not retryable. */
  Unauthorized: { retryable: false, status: 401 },
  /** The caller is known but lacks the permission (403: missing role, application access policy). Not retryable. */
  Forbidden: { retryable: false, status: 403 },
  /** The item does not exist (any more). Not retryable; callers decide whether that is success. */
  NotFound: { retryable: false, status: 404 },
  /**
   * The mailbox itself cannot be reached, not one item of it: the user was removed (ErrorInvalidUser), the mailbox
   * was deleted or lost its license (ErrorNonExistentMailbox, MailboxNotEnabledForRESTAPI), or an application access
   * policy excludes it. A read that answers this must never be taken for "the item is gone" (no inferred deletes);
   * the error policy blocks the mailbox (shared/sync/errorPolicy.ts). Not retryable.
   */
  MailboxUnavailable: { retryable: false, status: 404 },
  /** An optimistic-concurrency check failed (etag, If-Match, a concurrent write): re-read and decide again. Retryable. */
  PreconditionFailed: { retryable: true, status: 412 },
  /** A create found the item there already (a client-chosen id or key in use). Not retryable; an idempotent create treats it as done. */
  AlreadyExists: { retryable: false, status: 409 },
  /**
   * A Graph delta token or a Dataverse change-tracking token the service no longer knows (evicted, expired): not a
   * missing item but a "start over" signal; the caller runs a full round. Not retryable as it is.
   */
  TokenExpired: { retryable: false, status: 410 },
  /** The request body is larger than accepted. Not retryable. */
  TooLarge: { retryable: false, status: 413 },
  /** A service asked us to slow down (429); `retryAfterMs` says for how long. Retryable. */
  Throttled: { retryable: true, status: 503 },
  /**
   * Another change of the same item holds its create (a claim, shared/sync/claim.ts): this change waits for it, then
   * decides again. Retryable, and a wait rather than a failure: it does not count toward SYNC_MAX_ATTEMPTS, since the
   * claim's own age bounds it (shared/sync/errorPolicy.ts).
   */
  Busy: { retryable: true, status: 409 },
  /** A dependency failed in a way that may pass (5xx, timeout, connection reset). Retryable. */
  Transient: { retryable: true, status: 503 },
  /** A configuration or programming error of ours. Not retryable without a fix. */
  Internal: { retryable: false, status: 500 },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface SyncErrorDetails {
  /** The field, setting or path the problem concerns. */
  field?: string;
  /** The offending value, when it is safe to log (never secrets or item bodies). */
  value?: unknown;
  /** For Throttled: how long the service asked us to wait. */
  retryAfterMs?: number;
  /** HTTP status of the failed dependency call, when there was one. */
  status?: number;
  /** The service's own error code (Graph `error.code`, e.g. ErrorItemNotFound; Dataverse a hex code, e.g. 0x80040237). */
  serviceCode?: string;
  /** Dataverse: the failed call acted as a mailbox's user (CallerObjectId), not as the application user itself. */
  impersonated?: boolean;
  /** Dataverse 0x80040220: the privilege the service named as missing (a name such as prvCreateActivity, never item text). */
  privilege?: string;
  cause?: unknown;
}

/** An error with a code from the closed set. */
export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly field: string | undefined;
  readonly value: unknown;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;
  readonly serviceCode: string | undefined;
  readonly impersonated: boolean | undefined;
  readonly privilege: string | undefined;

  constructor(code: ErrorCode, message: string, details: SyncErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SyncError';
    this.code = code;
    this.retryable = errorCodes[code].retryable;
    this.field = details.field;
    this.value = details.value;
    this.retryAfterMs = details.retryAfterMs;
    this.status = details.status;
    this.serviceCode = details.serviceCode;
    this.impersonated = details.impersonated;
    this.privilege = details.privilege;
  }
}

/** Invalid input naming the field and the value, e.g. `invalidInput('statuscode', 42, 'is not a valid appointment status')`. */
export function invalidInput(field: string, value: unknown, problem: string): SyncError {
  return new SyncError('InvalidInput', `${field} ${describeValue(value)} ${problem}`, { field, value });
}

export function isSyncError(error: unknown, code?: ErrorCode): error is SyncError {
  return error instanceof SyncError && (code === undefined || error.code === code);
}

/**
 * Anything thrown, as a SyncError: a SyncError is kept as it is, anything else (a bug, a library's own error) is
 * Internal with its message, so callers decide from a code, never from what was thrown.
 */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SyncError('Internal', message, { cause: error });
}

/**
 * The value as an error message may show it. The message reaches logs, dead-letter records and status, so free text
 * (a subject, a body, an address) is described by its length, never quoted; numbers, booleans, null and short
 * id-like strings (table names, GUIDs, codes, dates) are shown, since they name the problem without quoting an item.
 * The value itself stays on the error (`value`) for code that needs it.
 */
function describeValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return /^[A-Za-z0-9_.:#/+-]{1,64}$/.test(value) ? JSON.stringify(value) : `(text of ${value.length} characters)`;
  if (Array.isArray(value)) return `(a list of ${value.length})`;
  return `(${typeof value})`;
}
