// The two webhook functions: thin glue from the Functions trigger to the handlers in shared/webhooks/, each inside
// its telemetry span (shared/telemetry): the changes it enqueues carry that span's trace context to the worker.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { syncTag } from '../dataverse/client.js';
import { getRuntime } from '../runtime.js';
import type { ChangeMessageInput } from '../servicebus/messages.js';
import { traceInvocation, type EdgeSpan } from '../telemetry/index.js';
import { recordProbe, recordSubscriptionProbe } from '../doctor/index.js';
import { handleDataverseWebhook } from '../webhooks/dataverseWebhook.js';
import { handleGraphNotifications } from '../webhooks/graphNotifications.js';
import { contextLog, toHttpResponse, toWebhookRequest } from './http.js';

/** The span of one webhook request: POST on its route, answered with a status. */
function webhookTrace(context: InvocationContext, route: string, direction: string) {
  return {
    kind: 'server' as const,
    parent: context.traceContext?.traceParent ?? undefined,
    attributes: { functionName: context.functionName, invocationId: context.invocationId, direction, 'http.request.method': 'POST', 'http.route': route },
  };
}

/** What the webhook enqueued, on its span: how many changes and, when they share one, the mailbox, kind and ids. */
function describeEnqueued(span: EdgeSpan, messages: ChangeMessageInput[]): void {
  const one = <T>(values: T[]) => (new Set(values).size === 1 ? values[0] : undefined);
  span.set({
    changes: messages.length,
    correlationId: one(messages.map((m) => m.correlationId)),
    mailboxId: one(messages.map((m) => (m.source === 'exchange' ? m.mailboxId : undefined))),
    kind: one(messages.map((m) => (m.source === 'exchange' ? m.resource : m.source === 'dataverse' ? m.entity : 'subscription'))),
    exchangeId: messages.length === 1 && messages[0]!.source === 'exchange' ? messages[0]!.itemId : undefined,
    dataverseId: messages.length === 1 && messages[0]!.source === 'dataverse' ? messages[0]!.recordId : undefined,
  });
}

function answered(span: EdgeSpan, response: HttpResponseInit): HttpResponseInit {
  const status = response.status ?? 200;
  span.set({ 'http.response.status_code': status });
  // A 4xx is the caller's problem (a bad key, a hostile body) and shows as a failed request by its code; a 5xx is ours.
  if (status >= 500) span.fail(`Http${status}`);
  return response;
}

/** POST graph/notifications */
export async function graphNotifications(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return traceInvocation('graphNotifications', webhookTrace(context, 'graph/notifications', 'toDataverse'), async (span) => {
    const req = await toWebhookRequest(request);
    if ('status' in req) return answered(span, toHttpResponse(req));
    const runtime = getRuntime();
    if (req.query.get('validationToken') === null) await runtime.ready();
    const response = await handleGraphNotifications(req, {
      getSubscription: (id) => runtime.subscriptions.get(id),
      // A hint for logs and explain (the worker decides from the pair it reads): the pointer row alone, one read.
      pairedDataverseId: (mailboxId, exchangeId) => runtime.pairs.pointedDataverseId(mailboxId, exchangeId),
      enqueue: (messages) => {
        describeEnqueued(span, messages);
        return runtime.sender.send(messages);
      },
      log: contextLog(context),
      onSubscriptionProbe: (id, clientState, notification) => recordSubscriptionProbe(runtime, id, clientState, notification),
      now: () => runtime.now(),
    });
    return answered(span, toHttpResponse(response));
  });
}

/** POST dataverse/webhook */
export async function dataverseWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return traceInvocation('dataverseWebhook', webhookTrace(context, 'dataverse/webhook', 'toExchange'), async (span) => {
    const req = await toWebhookRequest(request);
    if ('status' in req) return answered(span, toHttpResponse(req));
    const runtime = getRuntime();
    const response = await handleDataverseWebhook(req, {
      webhookKey: runtime.settings.DATAVERSE_WEBHOOK_KEY,
      syncTag,
      applicationUserIds: () => runtime.applicationUserIds(),
      enqueue: (messages) => {
        describeEnqueued(span, messages);
        return runtime.sender.send(messages);
      },
      log: contextLog(context),
      now: () => runtime.now(),
      onProbe: (recordId, tagPresent) => recordProbe(runtime, recordId, tagPresent),
    });
    return answered(span, toHttpResponse(response));
  });
}
