// In-process retries for short waits only. A throttled or failed call whose wait is longer than `maxWaitMs` is
// handed back to the worker, which reschedules the change on Service Bus instead of holding a session lock while it
// sleeps.
import { SyncError, isSyncError, type ErrorCode } from '../errors.js';

export interface RetryPolicy {
  /** Attempts in this process, including the first. */
  attempts: number;
  /** Longest wait we are willing to sleep in-process. */
  maxWaitMs: number;
  /** Base of the exponential backoff when the service gives no Retry-After. */
  baseDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 3, maxWaitMs: 2_000, baseDelayMs: 200 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `call`, retrying retryable SyncErrors whose wait fits the policy. */
export async function withRetry<T>(call: () => Promise<T>, policy: RetryPolicy = defaultRetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      // A failed precondition is retryable only after a re-read, which the caller does; repeating the call cannot pass.
      if (!isSyncError(error) || !error.retryable || error.code === 'PreconditionFailed' || attempt >= policy.attempts) throw error;
      const wait = backoffMs(error, attempt, policy.baseDelayMs);
      if (wait > policy.maxWaitMs) throw error;
      await sleep(wait);
    }
  }
}

/** The wait before the next try: the service's Retry-After when it gave one, else exponential backoff with jitter. */
export function backoffMs(error: SyncError | undefined, attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  if (error?.retryAfterMs !== undefined) return error.retryAfterMs;
  const exp = baseDelayMs * 2 ** (attempt - 1);
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Parses a Retry-After header (seconds, possibly fractional as Graph sends, or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What identifies a failure of a service without quoting anything it stored: its error code and request id. */
export interface ServiceErrorIds {
  /** The service's error code (Graph: `error.code`, e.g. ErrorItemNotFound; Dataverse: a hex code, e.g. 0x80040217). */
  code?: string | null | undefined;
  /** The service's id of the failed request (Graph `request-id`), for a support case. */
  requestId?: string | null | undefined;
}

/** A code or request id as the services send them; anything else (free text) is not repeated. */
const idLike = /^[A-Za-z0-9_.:-]{1,100}$/;

/**
 * Service error codes that decide the error code over the HTTP status, because the status alone is ambiguous:
 * Dataverse answers 412 both for a record that exists (DuplicateRecord on a create-only upsert) and for a version
 * mismatch, and 400 for an expired change-tracking token; Graph answers 409 for a concurrent change of an item.
 * Dataverse codes: https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes;
 * Graph delta: https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset
 */
const codeByServiceCode: Readonly<Record<string, ErrorCode>> = {
  '0x80040237': 'AlreadyExists', // DuplicateRecord
  '0x80060882': 'PreconditionFailed', // ConcurrencyVersionMismatch
  '0x80044352': 'TokenExpired', // ExpiredVersionStamp: change-tracking token too old
  syncstatenotfound: 'TokenExpired',
  syncstateinvalid: 'TokenExpired',
  resyncrequired: 'TokenExpired',
  errorirresolvableconflict: 'PreconditionFailed',
  // The mailbox, not an item, is missing: a removed user, a deleted or unlicensed mailbox. Graph answers these with
  // 404 like a missing item, so only the code tells them apart (MailboxNotEnabledForRESTAPI: "The mailbox is either
  // inactive, soft-deleted, or is hosted on-premise", https://learn.microsoft.com/graph/api/resources/mail-api-overview).
  errorinvaliduser: 'MailboxUnavailable',
  errornonexistentmailbox: 'MailboxUnavailable',
  mailboxnotenabledforrestapi: 'MailboxUnavailable',
  mailboxnotsupportedforrestapi: 'MailboxUnavailable',
};

/**
 * Maps an HTTP status of a dependency onto the closed error set. The error keeps the service's code (as data, in
 * `serviceCode`), the status and the request id, never the service's message: Graph and Dataverse messages quote the
 * values they rejected (a subject, an address), and the message ends up in logs, dead-letter records and the status
 * report.
 */
export function errorForStatus(service: string, status: number, ids: ServiceErrorIds = {}, retryAfter?: string | null): SyncError {
  const serviceCode = ids.code && idLike.test(ids.code) ? ids.code : undefined;
  const request = ids.requestId && idLike.test(ids.requestId) ? ` (request-id ${ids.requestId})` : '';
  const detail = `${service} answered ${status}${serviceCode ? ` ${serviceCode}` : ''}${request}`;
  const details = { status, ...(serviceCode === undefined ? {} : { serviceCode }) };
  const byServiceCode = serviceCode === undefined ? undefined : codeByServiceCode[serviceCode.toLowerCase()];
  if (byServiceCode) return new SyncError(byServiceCode, detail, details);
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new SyncError('Throttled', detail, { ...details, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (status === 412) return new SyncError('PreconditionFailed', detail, details);
  if (status === 409) return new SyncError('AlreadyExists', detail, details);
  if (status === 410) return new SyncError('TokenExpired', detail, details);
  if (status === 404) return new SyncError('NotFound', detail, details);
  if (status === 401) return new SyncError('Unauthorized', detail, details);
  if (status === 403) return new SyncError('Forbidden', detail, details);
  if (status === 413) return new SyncError('TooLarge', detail, details);
  if (status >= 500 || status === 408) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new SyncError('Transient', detail, { ...details, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  return new SyncError('InvalidInput', detail, details);
}
