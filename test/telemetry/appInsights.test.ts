// Telemetry end to end: the real Azure Monitor distribution and exporter, pointed by the connection string at the
// local ingestion endpoint (dev/sim/appinsights), while the local stack syncs one change each way. The recorded
// envelopes must hold the requests, dependencies, log records and metrics an operator queries (README
// "Operations"), one operation id from the webhook to the worker's write, and nothing of the secrets or the items.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { startAppInsightsSimulator, type AppInsightsSimulator, type Envelope } from '../../dev/sim/appinsights/index.js';
import { MailboxStore } from '../../shared/storage/mailboxStore.js';
import { flushTelemetry, recordBreakerHold } from '../../shared/telemetry/index.js';
import { countTableRequests, readsWholeRegistry } from '../support/tableRequests.js';
import { createAppointment, daysFromNow, tracked } from '../support/e2e.js';

const content = {
  appointmentSubject: 'Telemetry probe Ocelot merger',
  appointmentBody: 'Confidential: the Ocelot price is eleven',
  eventSubject: 'Telemetry probe Heron interview',
  eventBody: 'Bring the Heron folder',
  eventLocation: 'Room Marmoset',
  externalAttendee: 'pangolin.outside@fabrikam.example',
  retriedSubject: 'Telemetry probe Caracal offsite',
  quotedSubject: 'Telemetry probe codename Tapir',
};

const props = (e: Envelope) => e.data.baseData.properties ?? {};
const op = (e: Envelope) => e.tags?.['ai.operation.id'];
const is = (type: string) => (e: Envelope) => e.data.baseType === `${type}Data`;
const metricNamed = (name: string) => (e: Envelope) => is('Metric')(e) && (e.data.baseData.metrics ?? []).some((m) => m.name === name);

describe('telemetry through the Azure Monitor distribution', () => {
  let ai: AppInsightsSimulator;
  let stack: Stack;
  beforeAll(async () => {
    ai = await startAppInsightsSimulator();
    stack = await startStack({ seed: 83, env: { APPLICATIONINSIGHTS_CONNECTION_STRING: ai.connectionString }, telemetry: { exportIntervalMs: 250 } });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await ai?.close();
  });

  it('a change each way is one operation from webhook to write, with mailbox, kind, direction and outcome, and no secret or content is exported', async () => {
    const alice = stack.users.alice!;
    const bob = stack.users.bob!;

    // Dynamics 365 -> Exchange.
    const appointment = createAppointment(stack, 'alice', content.appointmentSubject, daysFromNow(3));
    stack.dataverse.admin.as(alice.systemUserId).update('appointments', String(appointment.activityid), { description: content.appointmentBody });
    await stack.settled();
    const [toExchange] = await ai.waitFor((e) => is('Request')(e) && props(e).functionName === 'syncWorker' && props(e).direction === 'toExchange' && props(e).outcome === 'created');
    expect(props(toExchange!)).toMatchObject({ kind: 'appointment', mailboxId: alice.graph.id, dataverseId: String(appointment.activityid), correlationId: expect.any(String) });
    expect(props(toExchange!).exchangeId).toBeTruthy();
    const d2eOperation = op(toExchange!);
    expect(d2eOperation).toMatch(/^[0-9a-f]{32}$/);
    // The webhook's request and the Service Bus send are in the same operation, the worker a child of the send.
    const [webhook] = await ai.waitFor((e) => is('Request')(e) && props(e).functionName === 'dataverseWebhook' && op(e) === d2eOperation);
    expect(props(webhook!)).toMatchObject({ direction: 'toExchange', kind: 'appointment', dataverseId: String(appointment.activityid) });
    expect(webhook!.data.baseData.responseCode).toMatch(/^2\d\d$/);
    expect(webhook!.data.baseData.name).toBe('POST dataverse/webhook');
    expect(toExchange!.data.baseData.name).toBe('syncWorker');
    const [send] = await ai.waitFor((e) => is('RemoteDependency')(e) && e.data.baseData.type === 'Queue Message' && op(e) === d2eOperation);
    expect(toExchange!.tags?.['ai.operation.parentId']).toBe(send!.data.baseData.id);
    expect(send!.tags?.['ai.operation.parentId']).toBe(webhook!.data.baseData.id);
    // The worker's log record, in the same operation, with its properties as dimensions.
    const [applied] = await ai.waitFor((e) => is('Message')(e) && e.data.baseData.message === 'change applied' && op(e) === d2eOperation);
    expect(props(applied!)).toMatchObject({ direction: 'toExchange', kind: 'appointment', correlationId: props(toExchange!).correlationId, latencyMs: expect.any(String) });

    // The worker's write to Graph is a dependency of its request, named by path template (no item id, no UPN, no
    // query), with the host as the target and the HTTP status as the result code.
    const [graphCreate] = await ai.waitFor((e) => is('RemoteDependency')(e) && op(e) === d2eOperation && e.data.baseData.name === 'POST /v1.0/users/{id}/events');
    expect(graphCreate!.tags?.['ai.operation.parentId']).toBe(toExchange!.data.baseData.id);
    expect(graphCreate!.data.baseData).toMatchObject({ type: 'Http', target: '127.0.0.1', resultCode: '201', success: true });
    // The update that followed the create is in Outlook (carried by the create, which read the record fresh).
    const [event] = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => e.item.subject === content.appointmentSubject);
    expect(JSON.stringify(event?.item.body)).toContain(content.appointmentBody);

    // Exchange -> Dynamics 365: a tracked event in Bob's calendar.
    const start = daysFromNow(4);
    await stack.graph.admin.createEvent(bob.graph.id, {
      subject: content.eventSubject,
      body: { contentType: 'text', content: content.eventBody },
      location: { displayName: content.eventLocation },
      start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      attendees: [{ emailAddress: { address: content.externalAttendee }, type: 'required' }],
      categories: [tracked],
    });
    await stack.settled();
    const [toDataverse] = await ai.waitFor((e) => is('Request')(e) && props(e).functionName === 'syncWorker' && props(e).direction === 'toDataverse' && props(e).outcome === 'created');
    expect(props(toDataverse!)).toMatchObject({ kind: 'event', mailboxId: bob.graph.id, exchangeId: expect.any(String), dataverseId: expect.any(String) });
    const [notification] = await ai.waitFor((e) => is('Request')(e) && props(e).functionName === 'graphNotifications' && op(e) === op(toDataverse!));
    expect(props(notification!)).toMatchObject({ direction: 'toDataverse', mailboxId: bob.graph.id, kind: 'event' });
    expect(op(toDataverse!)).not.toBe(d2eOperation);
    const [dataverseCreate] = await ai.waitFor((e) => is('RemoteDependency')(e) && op(e) === op(toDataverse!) && e.data.baseData.name === 'PATCH /api/data/v9.2/appointments({id})');
    expect(dataverseCreate!.tags?.['ai.operation.parentId']).toBe(toDataverse!.data.baseData.id);
    expect(dataverseCreate!.data.baseData).toMatchObject({ type: 'Http', target: '127.0.0.1', success: true });

    // A retry (a 503 quoting the item) and a dead letter (a 400 quoting the item): counted by code and reason,
    // and the quoted text goes nowhere.
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 503, code: 'ServiceUnavailable', message: `Could not save '${content.retriedSubject}'.`, times: 3 });
    createAppointment(stack, 'alice', content.retriedSubject, daysFromNow(5));
    await stack.settled();
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 400, code: 'ErrorInvalidRequest', message: `The event '${content.quotedSubject}' for ${content.externalAttendee} is invalid.` });
    createAppointment(stack, 'alice', content.quotedSubject, daysFromNow(6));
    await stack.settled();
    const [dead] = await ai.waitFor((e) => is('Request')(e) && props(e).functionName === 'syncWorker' && props(e).outcome === 'dead-lettered');
    expect(dead!.data.baseData.success).toBe(false);
    expect(props(dead!)).toMatchObject({ direction: 'toExchange', kind: 'appointment', reason: expect.any(String), errorCode: expect.any(String) });

    // Metrics, per direction, kind, outcome and mailbox.
    await flushTelemetry();
    const metric = (name: string, match: Record<string, string>) =>
      ai.waitFor((e) => metricNamed(name)(e) && Object.entries(match).every(([k, v]) => props(e)[k] === v));
    await metric('sync.outcomes', { direction: 'toExchange', kind: 'appointment', outcome: 'created', mailboxId: alice.graph.id });
    await metric('sync.outcomes', { direction: 'toDataverse', kind: 'event', outcome: 'created', mailboxId: bob.graph.id });
    const [latency] = await metric('sync.latency', { direction: 'toExchange', outcome: 'created' });
    expect(latency!.data.baseData.metrics![0]!.count).toBeGreaterThanOrEqual(1);
    await metric('sync.latency', { direction: 'toDataverse', outcome: 'created' });
    await metric('sync.queue_time', { direction: 'toDataverse' });
    const [retry] = await metric('sync.retries', { direction: 'toExchange', kind: 'appointment' });
    expect(props(retry!).errorCode).toMatch(/^[A-Za-z]+$/);
    await metric('sync.dead_letters', { direction: 'toExchange', kind: 'appointment', reason: String(props(dead!).reason) });

    // Every Graph and Dataverse call so far (onboarding's GET /users/<UPN> too) is named by its template alone. (The
    // appointment's create and its update arrive together; the create is decided from a fresh read of the record, so
    // it already carries the description and the update is an echo: no PATCH of the event.)
    const allHttp = ai.envelopes().filter((e) => is('RemoteDependency')(e) && e.data.baseData.type === 'Http');
    expect(allHttp.map((e) => e.data.baseData.name)).toEqual(expect.arrayContaining(['GET /v1.0/users/{id}', 'POST /v1.0/subscriptions', 'GET /v1.0/users/{id}/events/{id}', 'PATCH /api/data/v9.2/appointments({id})']));
    for (const d of allHttp) {
      expect(String(d.data.baseData.name)).toMatch(/^(GET|POST|PATCH|DELETE|PUT) \/[A-Za-z0-9.$/{}()]*$/);
      expect(JSON.stringify(d.data.baseData.data ?? '')).not.toMatch(/[?@]/);
      expect(String(d.data.baseData.resultCode)).toMatch(/^\d{3}$/);
    }
    // The refused creates (503, 400) are failed dependencies with their status.
    const failedCreates = allHttp.filter((e) => e.data.baseData.name === 'POST /v1.0/users/{id}/events' && e.data.baseData.success === false);
    expect(failedCreates.map((e) => e.data.baseData.resultCode)).toEqual(expect.arrayContaining(['503', '400']));

    // Breaker holds, as the mass-delete breaker reports them (recordBreakerHold), by scope, trigger and action.
    recordBreakerHold({ mailboxId: bob.graph.id, kind: 'appointment', direction: 'toExchange', trigger: 'hardCap', action: 'delete' }, 3);
    recordBreakerHold({ mailboxId: bob.graph.id, kind: 'appointment', direction: 'toExchange', trigger: 'hardCap', action: 'delete' });
    // The attention gauge: 1 for a mailbox that stopped syncing, 0 otherwise. A state change is a sample where it is
    // made (the runtime's mailbox store), and the To Do poll's timer starts a paged pass that records 1 for each
    // mailbox needing attention, never reading the whole registry (issue 19). Bob is degraded by another process (a
    // store without this runtime's listener, as the CLI is): only the pass can say so.
    const mailboxesTable = stack.runtime.tables.client('mailboxes');
    await new MailboxStore(mailboxesTable).patch(bob.graph.id, { state: 'degraded', stateReason: 'subscription could not be renewed' });
    const attentionOf = (mailboxId: string, state: string) => (e: Envelope) => metricNamed('sync.mailbox.attention')(e) && props(e).mailboxId === mailboxId && props(e).state === state;
    await flushTelemetry();
    const aliceSamples = ai.envelopes().filter(attentionOf(alice.graph.id, 'active')).length;
    const registry = countTableRequests(mailboxesTable);
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    registry.stop();
    expect(registry.requests.filter((r) => readsWholeRegistry(r.url))).toEqual([]);
    expect(registry.requests.some((r) => r.url.includes("state eq 'degraded'"))).toBe(true);
    await flushTelemetry();
    const holds = (await metric('sync.breaker.holds', { mailboxId: bob.graph.id, kind: 'appointment', direction: 'toExchange', trigger: 'hardCap', action: 'delete' }))[0]!;
    expect(holds.data.baseData.metrics![0]!.value).toBe(4);
    const [bobAttention] = await metric('sync.mailbox.attention', { mailboxId: bob.graph.id, state: 'degraded' });
    expect(bobAttention!.data.baseData.metrics![0]!.value).toBe(1);
    // Alice's 0 is the sample of her registration (a new row is a state change); the pass recorded no healthy mailbox.
    const [aliceAttention] = await metric('sync.mailbox.attention', { mailboxId: alice.graph.id, state: 'active' });
    expect(aliceAttention!.data.baseData.metrics![0]!.value).toBe(0);
    expect(ai.envelopes().filter(attentionOf(alice.graph.id, 'active'))).toHaveLength(aliceSamples);
    // Bob syncs again (through the runtime's store): that change is a 0 at once, before any pass.
    const bobActive = ai.envelopes().filter(attentionOf(bob.graph.id, 'active')).length;
    await stack.runtime.mailboxes.patch(bob.graph.id, { state: 'active', stateReason: undefined });
    await flushTelemetry();
    await expect.poll(() => ai.envelopes().filter(attentionOf(bob.graph.id, 'active')).length).toBeGreaterThan(bobActive);
    expect(ai.envelopes().filter(attentionOf(bob.graph.id, 'active')).at(-1)!.data.baseData.metrics![0]!.value).toBe(0);

    // Everything went through the track API (the exporter compresses only for Microsoft's ingestion domains).
    expect(ai.requests().length).toBeGreaterThan(0);

    // Nothing secret and nothing of the items in anything that arrived.
    const secrets = {
      clientSecret: stack.env.SYNC_CLIENT_SECRET!,
      webhookKey: stack.env.DATAVERSE_WEBHOOK_KEY!,
      functionKey: stack.functionKey,
      ...Object.fromEntries((await stack.runtime.subscriptions.list()).map((s, i) => [`clientState${i}`, s.clientState])),
    };
    const everything = ai.rawBodies().join('\n');
    for (const [what, value] of Object.entries({ ...content, ...secrets, alice: alice.userPrincipalName, bob: bob.userPrincipalName })) {
      expect(everything, `${what} in the exported telemetry`).not.toContain(value);
    }
    expect(everything, 'a bearer token in the exported telemetry').not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  }, 120_000);
});
