// Subscriptions: GET|POST /subscriptions, GET|PATCH|DELETE /subscriptions/{id}, POST .../reauthorize. Not mailbox
// requests: they are outside the per-mailbox throttle, and SubscriptionManager checks the subscribed resource's
// permission itself.
import { json, ok204, type Responses } from './resources/responses.js';
import type { RouteRegistrar } from './routing.js';
import type { SubscriptionManager } from './subscriptions.js';

export function registerSubscriptionRoutes(r: RouteRegistrar, res: Responses, subscriptions: SubscriptionManager): void {
  r.add('GET', 'subscriptions', 'subscriptions', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#subscriptions`, value: subscriptions.list(ctx.req.app).map((s) => stripContext(subscriptions.render(s, res.base))) }), false);
  r.add('POST', 'subscriptions', 'subscriptions', 'write', async (ctx) => json(201, subscriptions.render(await subscriptions.create(ctx.req.body, ctx.req.app), res.base)), false);
  r.add('GET', 'subscriptions/{id}', 'subscriptions', 'read', (ctx) => json(200, subscriptions.render(subscriptions.get(ctx.params.id as string, ctx.req.app), res.base)), false);
  r.add('PATCH', 'subscriptions/{id}', 'subscriptions', 'write', async (ctx) => json(200, subscriptions.render(await subscriptions.update(ctx.params.id as string, ctx.req.body, ctx.req.app), res.base)), false);
  r.add(
    'DELETE',
    'subscriptions/{id}',
    'subscriptions',
    'write',
    (ctx) => {
      subscriptions.delete(ctx.params.id as string, ctx.req.app);
      return ok204();
    },
    false,
  );
  r.add(
    'POST',
    'subscriptions/{id}/reauthorize',
    'subscriptions',
    'write',
    (ctx) => {
      subscriptions.reauthorize(ctx.params.id as string, ctx.req.app);
      return ok204();
    },
    false,
  );
}

function stripContext(o: Record<string, unknown>): Record<string, unknown> {
  const { ['@odata.context']: _ignored, ...rest } = o;
  return rest;
}
