// What a webhook handler sees of an HTTP request and returns; the Functions adapter (functions/) and the local host
// translate to and from it, so the handlers stay independent of the trigger runtime.

export interface WebhookRequest {
  method: string;
  url: string;
  headers: Headers;
  query: URLSearchParams;
  /** Raw body (already size-checked against maxWebhookBodyBytes by `tooLarge`). */
  body: string;
}

export interface WebhookResponse {
  status: number;
  body?: string;
  jsonBody?: unknown;
  headers?: Record<string, string>;
}

import type { z } from 'zod';

/** Bodies over 1 MB get 413 before parsing. Graph batches and Dataverse contexts are far smaller. */
export const maxWebhookBodyBytes = 1024 * 1024;

export function jsonError(status: number, code: string, message: string): WebhookResponse {
  return { status, jsonBody: { error: { code, message } } };
}

/**
 * The one size check of a webhook body: 413 when the declared length or the body (once read) is over the limit.
 * The Functions adapter calls it before and after reading; parseBody calls it again for any caller.
 */
export function tooLarge(headers: Headers, body?: string): WebhookResponse | undefined {
  const declared = Number(headers.get('content-length') ?? '0');
  const actual = body === undefined ? 0 : Buffer.byteLength(body, 'utf8');
  if (declared > maxWebhookBodyBytes || actual > maxWebhookBodyBytes) {
    return jsonError(413, 'PayloadTooLarge', `request body exceeds ${maxWebhookBodyBytes} bytes`);
  }
  return undefined;
}

/**
 * Size check, JSON parse and schema validation of a webhook body: the parsed value, or the 4xx answer naming the
 * problem (413 too large, 400 not JSON, 400 with the first failing path).
 */
export function parseBody<S extends z.ZodType>(req: WebhookRequest, schema: S, code: string, what: string): { ok: true; value: z.output<S> } | { ok: false; response: WebhookResponse } {
  const oversized = tooLarge(req.headers, req.body);
  if (oversized) return { ok: false, response: oversized };
  let json: unknown;
  try {
    json = JSON.parse(req.body);
  } catch {
    return { ok: false, response: jsonError(400, 'InvalidJson', 'request body is not valid JSON') };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, response: jsonError(400, code, `${what} rejected at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`) };
}
