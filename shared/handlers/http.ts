// Adapts @azure/functions HTTP requests to the runtime-independent webhook handlers.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { emitLog } from '../telemetry/index.js';
import { tooLarge, type WebhookRequest, type WebhookResponse } from '../webhooks/http.js';

/** Reads the request into a WebhookRequest, or answers 413 when it is larger than a webhook can be. */
export async function toWebhookRequest(request: HttpRequest): Promise<WebhookRequest | WebhookResponse> {
  const headers = new Headers(Object.fromEntries(request.headers.entries()));
  // The declared length before reading, the body itself once read (a chunked request declares none).
  const declaredTooLarge = tooLarge(headers);
  if (declaredTooLarge) return declaredTooLarge;
  const body = await request.text();
  return tooLarge(headers, body) ?? { method: request.method, url: request.url, headers, query: new URLSearchParams(request.query), body };
}

export function toHttpResponse(response: WebhookResponse): HttpResponseInit {
  return {
    status: response.status,
    ...(response.body !== undefined ? { body: response.body } : {}),
    ...(response.jsonBody !== undefined ? { jsonBody: response.jsonBody } : {}),
    ...(response.headers ? { headers: response.headers } : {}),
  };
}

/** Logs through the invocation context (the host routes it to Application Insights). */
export function contextLog(context: InvocationContext) {
  return (level: 'info' | 'warn' | 'error', message: string, props: Record<string, unknown> = {}) => {
    const line = `${message} ${JSON.stringify({ invocationId: context.invocationId, ...props })}`;
    if (level === 'error') context.error(line);
    else if (level === 'warn') context.warn(line);
    else context.info(line);
    emitLog(level, message, { invocationId: context.invocationId, functionName: context.functionName, ...props });
  };
}
