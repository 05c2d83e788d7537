// The two webhook functions: thin glue from the Functions trigger to the handlers in shared/webhooks/.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { syncTag } from '../dataverse/client.js';
import { getRuntime } from '../runtime.js';
import { handleDataverseWebhook } from '../webhooks/dataverseWebhook.js';
import { handleGraphNotifications } from '../webhooks/graphNotifications.js';
import { contextLog, toHttpResponse, toWebhookRequest } from './http.js';

/** POST graph/notifications */
export async function graphNotifications(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const req = await toWebhookRequest(request);
  if ('status' in req) return toHttpResponse(req);
  const runtime = getRuntime();
  if (req.query.get('validationToken') === null) await runtime.ready();
  const response = await handleGraphNotifications(req, {
    getSubscription: (id) => runtime.subscriptions.get(id),
    pairedDataverseId: async (mailboxId, exchangeId) => (await runtime.pairs.getByExchangeId(mailboxId, exchangeId))?.dataverseId,
    enqueue: (messages) => runtime.sender.send(messages),
    log: contextLog(context),
    now: () => runtime.now(),
  });
  return toHttpResponse(response);
}

/** POST dataverse/webhook */
export async function dataverseWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const req = await toWebhookRequest(request);
  if ('status' in req) return toHttpResponse(req);
  const runtime = getRuntime();
  const response = await handleDataverseWebhook(req, {
    webhookKey: runtime.settings.DATAVERSE_WEBHOOK_KEY,
    syncTag,
    applicationUserId: () => runtime.applicationUserId(),
    enqueue: (messages) => runtime.sender.send(messages),
    log: contextLog(context),
    now: () => runtime.now(),
  });
  return toHttpResponse(response);
}
