// The webhook endpoints reject what is not authentic or not well-formed, and enqueue nothing for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { webhookKeyHeader } from '../../shared/webhooks/dataverseWebhook.js';

describe('webhook endpoints', () => {
  let stack: Stack;
  let enqueued = 0;
  beforeAll(async () => {
    stack = await startStack({ seed: 3 });
    stack.serviceBus.events.on('enqueued', (e: { queue: string }) => {
      if (e.queue === changesQueue.name) enqueued += 1;
    });
  }, 60_000);
  afterAll(async () => stack?.close());

  const graphUrl = () => `${stack.host.origin}/api/graph/notifications?code=${stack.functionKey}`;
  const dataverseUrl = () => `${stack.host.origin}/api/dataverse/webhook?code=${stack.functionKey}`;
  const notification = async (clientState: string, subscriptionId?: string) => {
    const sub = (await stack.runtime.subscriptions.list())[0]!;
    return {
      value: [
        {
          subscriptionId: subscriptionId ?? sub.id,
          clientState,
          changeType: 'updated',
          resource: `Users/${sub.mailboxId}/Events/AAMkAFake=`,
          tenantId: stack.identity.tenantId,
          subscriptionExpirationDateTime: sub.expirationDateTime,
          resourceData: { '@odata.type': '#Microsoft.Graph.Event', '@odata.id': `Users/${sub.mailboxId}/Events/AAMkAFake=`, '@odata.etag': 'W/"x"', id: 'AAMkAFake=' },
        },
      ],
    };
  };
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('answers the Graph validation handshake with the decoded token as plain text', async () => {
    const res = await post(`${graphUrl()}&validationToken=${encodeURIComponent('Validation: Token <a&b>')}`, '');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('Validation: Token <a&b>');
  });

  it('rejects a request without the function key (401), as the Functions host does', async () => {
    const res = await post(`${stack.host.origin}/api/graph/notifications`, JSON.stringify(await notification('x')));
    expect(res.status).toBe(401);
  });

  it('drops a Graph notification with a wrong clientState (401) and enqueues nothing', async () => {
    const before = enqueued;
    const res = await post(graphUrl(), JSON.stringify(await notification('not-the-client-state')));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NotAuthentic');
    expect(enqueued).toBe(before);
  });

  it('drops a Graph notification for an unknown subscription (401)', async () => {
    const sub = (await stack.runtime.subscriptions.list())[0]!;
    const res = await post(graphUrl(), JSON.stringify(await notification(sub.clientState, 'a0b1c2d3-0000-4000-8000-000000000000')));
    expect(res.status).toBe(401);
  });

  it('accepts an authentic Graph notification (202) and enqueues one message for it', async () => {
    const sub = (await stack.runtime.subscriptions.list())[0]!;
    const before = enqueued;
    const res = await post(graphUrl(), JSON.stringify(await notification(sub.clientState)));
    expect(res.status).toBe(202);
    await stack.settled();
    expect(enqueued).toBe(before + 1);
  });

  it('rejects malformed JSON (400) and a batch that is not a notification batch (400 naming the path)', async () => {
    const malformed = await post(graphUrl(), '{"value": [');
    expect(malformed.status).toBe(400);
    const wrong = await post(graphUrl(), JSON.stringify({ value: [{ subscriptionId: 's', changeType: 'touched' }] }));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/value\.0/);
  });

  it('answers 413 to a body over 1 MB that declares no length (chunked), once it is read', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 17) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(graphUrl(), { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PayloadTooLarge');
  });

  it('answers 413 to a body over 1 MB, before parsing it', async () => {
    const res = await post(graphUrl(), JSON.stringify({ value: [], pad: 'x'.repeat(1024 * 1024 + 10) }));
    expect(res.status).toBe(413);
  });

  it('rejects a Dataverse delivery without the endpoint key (401) or with a wrong one', async () => {
    const body = JSON.stringify({ MessageName: 'Update' });
    expect((await post(dataverseUrl(), body)).status).toBe(401);
    expect((await post(dataverseUrl(), body, { [webhookKeyHeader]: 'wrong' })).status).toBe(401);
  });

  it('rejects a Dataverse delivery that is not a RemoteExecutionContext (400 naming the failing path)', async () => {
    const res = await post(dataverseUrl(), JSON.stringify({ MessageName: 'Update', PrimaryEntityName: 'appointment', PrimaryEntityId: 'not-a-guid' }), {
      [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY!,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/PrimaryEntityId|InitiatingUserId/);
  });

  it('drops the echo of the sync\'s own Dataverse write (tag in SharedVariables) without enqueueing', async () => {
    const before = enqueued;
    const id = '1d2c3b4a-0000-4000-8000-000000000001';
    const res = await post(
      dataverseUrl(),
      JSON.stringify({
        MessageName: 'Update',
        PrimaryEntityName: 'appointment',
        PrimaryEntityId: id,
        InitiatingUserId: stack.users.alice!.systemUserId,
        UserId: stack.users.alice!.systemUserId,
        SharedVariables: [],
        ParentContext: { SharedVariables: [{ key: 'tag', value: 'dataverse-exchange-sync' }] },
      }),
      { [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY! },
    );
    expect(res.status).toBe(200);
    expect(enqueued).toBe(before);
  });

  it('a SetState or SetStateDynamicEntity delivery (a step registered by hand) is answered 200 and not enqueued: the Update step carries state changes', async () => {
    for (const MessageName of ['SetState', 'SetStateDynamicEntity']) {
      const before = enqueued;
      const res = await post(
        dataverseUrl(),
        JSON.stringify({
          MessageName,
          PrimaryEntityName: 'task',
          PrimaryEntityId: '1d2c3b4a-0000-4000-8000-000000000002',
          InitiatingUserId: stack.users.alice!.systemUserId,
          UserId: stack.users.alice!.systemUserId,
          SharedVariables: [],
        }),
        { [webhookKeyHeader]: stack.env.DATAVERSE_WEBHOOK_KEY! },
      );
      expect(res.status, MessageName).toBe(200);
      await stack.settled();
      expect(enqueued, MessageName).toBe(before);
    }
    // What register-webhooks sets up: Create, Update and Delete steps only, the Update step filtering on the state.
    const steps = stack.dataverse.admin.records('sdkmessageprocessingsteps').map((step) => String(step.name));
    expect(steps.filter((name) => /SetState/.test(name))).toEqual([]);
    const taskUpdate = stack.dataverse.admin.records('sdkmessageprocessingsteps').find((step) => step.name === 'dataverse-exchange-sync: Update of task');
    expect(String(taskUpdate?.filteringattributes).split(',')).toEqual(expect.arrayContaining(['statecode', 'statuscode']));
  });
});
