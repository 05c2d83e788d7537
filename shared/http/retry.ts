// In-process retries for short waits only. A throttled or failed call whose wait is longer than `maxWaitMs` is
// handed back to the worker, which reschedules the change on Service Bus instead of holding a session lock while it
// sleeps.
import { SyncError, isSyncError } from '../errors.js';

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
      if (!isSyncError(error) || !error.retryable || error.code === 'Conflict' || attempt >= policy.attempts) throw error;
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
 * Maps an HTTP status of a dependency onto the closed error set. The error keeps the service's code, the status and
 * the request id, never the service's message: Graph and Dataverse messages quote the values they rejected (a
 * subject, an address), and the message ends up in logs, dead-letter records and the status report.
 */
export function errorForStatus(service: string, status: number, ids: ServiceErrorIds = {}, retryAfter?: string | null): SyncError {
  const code = ids.code && idLike.test(ids.code) ? ` ${ids.code}` : '';
  const request = ids.requestId && idLike.test(ids.requestId) ? ` (request-id ${ids.requestId})` : '';
  const detail = `${service} answered ${status}${code}${request}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new SyncError('Throttled', detail, { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (status === 412 || status === 409) return new SyncError('Conflict', detail, { status });
  if (status === 404 || status === 410) return new SyncError('NotFound', detail, { status });
  if (status === 401 || status === 403) return new SyncError('Unauthorized', detail, { status });
  if (status === 413) return new SyncError('TooLarge', detail, { status });
  if (status >= 500 || status === 408) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new SyncError('Transient', detail, { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  return new SyncError('InvalidInput', detail, { status });
}
