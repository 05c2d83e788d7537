// What an attacker (or a misconfigured caller) can send the notification endpoint: nothing gets a 5xx, nothing is
// enqueued; and authentic notifications for what the sync does not handle are accepted and dropped.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';

describe('hostile and unhandled Graph notifications', () => {
  let stack: Stack;
  let enqueued = 0;
  beforeAll(async () => {
    stack = await startStack({ seed: 43 });
    stack.serviceBus.events.on('enqueued', (e: { queue: string }) => {
      if (e.queue === changesQueue.name) enqueued += 1;
    });
  }, 60_000);
  afterAll(async () => stack?.close());

  const graphUrl = () => `${stack.host.origin}/api/graph/notifications?code=${stack.functionKey}`;
  const batch = (subscriptionId: string, clientState: string, resource = 'Users/x/Events/AAMkAFake=') => ({
    value: [
      {
        subscriptionId,
        clientState,
        changeType: 'updated',
        resource,
        tenantId: stack.identity.tenantId,
        resourceData: { '@odata.type': '#Microsoft.Graph.Event', '@odata.id': resource, '@odata.etag': 'W/"x"', id: 'AAMkAFake=' },
      },
    ],
  });
  const post = (body: unknown) => fetch(graphUrl(), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it.each([
    ['a "/"', 'a0b1c2d3/../0000-4000-8000-000000000000'],
    ['a "\\"', 'a0b1c2d3\\0000'],
    ['a "#" and a "?"', 'sub#1?x=1'],
    ['a control character', 'sub\u0001id'],
    ['a lone surrogate', 'sub\ud800id'],
    ['over 12 KB', 's'.repeat(12_500)],
  ])('defect 11: a notification whose subscriptionId has %s is answered 4xx and enqueues nothing', async (_what, subscriptionId) => {
    const before = enqueued;
    const res = await post(batch(subscriptionId, 'not-the-client-state'));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    await stack.settled();
    expect(enqueued).toBe(before);
  });

  it('defect 11: the local host answers 4xx, not 500, to a malformed request target such as "//"', async () => {
    for (const path of ['//', '//api/graph/notifications', '/api/%']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: stack.host.port, method: 'GET', path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, path).toBeGreaterThanOrEqual(400);
      expect(status, path).toBeLessThan(500);
    }
  });

  it('defect 12: an authentic notification for a resource the sync does not handle is accepted (202) and dropped', async () => {
    const alice = stack.users.alice!;
    // Subscriptions of kinds this version does not sync, as another version could have stored them: Teams chat
    // messages, and a name that is also an object prototype key.
    for (const [i, resourceKind] of ['chatMessages', 'constructor'].entries()) {
      const id = `3f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6${i}`;
      const clientState = randomBytes(24).toString('base64url');
      const now = new Date();
      await stack.runtime.subscriptions.put({
        id,
        mailboxId: alice.graph.id,
        resourceKind,
        resource: `users/${alice.graph.id}/messages`,
        clientState,
        expirationDateTime: new Date(now.getTime() + 3 * 86400_000).toISOString(),
        createdOn: now.toISOString(),
      });
      const before = enqueued;
      const res = await post(batch(id, clientState, `Users/${alice.graph.id}/Messages/AAMkAMessage=`));
      expect(res.status, resourceKind).toBe(202);
      await stack.settled();
      expect(enqueued, resourceKind).toBe(before);
    }
  });
});
