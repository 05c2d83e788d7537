// What a webhook handler sees of an HTTP request and returns; the Functions adapter (functions/) and the local host
// translate to and from it, so the handlers stay independent of the trigger runtime.

export interface WebhookRequest {
  method: string;
  url: string;
  headers: Headers;
  query: URLSearchParams;
  /** Raw body (already size-checked against maxWebhookBodyBytes by `readLimitedBody`). */
  body: string;
}

export interface WebhookResponse {
  status: number;
  body?: string;
  jsonBody?: unknown;
  headers?: Record<string, string>;
}

/** Bodies over 1 MB get 413 before parsing (issue 7, item 1). Graph batches and Dataverse contexts are far smaller. */
export const maxWebhookBodyBytes = 1024 * 1024;

export function jsonError(status: number, code: string, message: string): WebhookResponse {
  return { status, jsonBody: { error: { code, message } } };
}

/** 413 when the declared length is over the limit; the body itself is checked again once read. */
export function tooLarge(headers: Headers, body?: string): WebhookResponse | undefined {
  const declared = Number(headers.get('content-length') ?? '0');
  const actual = body === undefined ? 0 : Buffer.byteLength(body, 'utf8');
  if (declared > maxWebhookBodyBytes || actual > maxWebhookBodyBytes) {
    return jsonError(413, 'PayloadTooLarge', `request body exceeds ${maxWebhookBodyBytes} bytes`);
  }
  return undefined;
}
