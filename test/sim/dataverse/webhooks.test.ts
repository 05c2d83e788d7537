// Webhooks registered through the Web API as a setup tool would, delivered to a real local HTTP endpoint.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keysOf, sample, sampleJson, startHarness, WebhookReceiver, type Harness, type Loose } from './support.js';

const ALICE_OID = 'a11ce000-0000-4000-8000-000000000001';

interface Registration {
  endpointId: string;
  stepId: string;
}

/** What a setup tool does: look up the message and filter, create (or reuse) the endpoint, create the step and images. */
async function registerWebhook(
  h: Harness,
  o: { name: string; url: string; authtype: 4 | 5 | 6; authvalue: string; message: string; entity: string; filteringattributes?: string; images?: Array<{ alias: string; type: 0 | 1 | 2; attributes?: string }> },
): Promise<Registration> {
  const msg = await h.api(`sdkmessages?$filter=name eq '${o.message}'&$select=sdkmessageid`);
  const messageId = msg.json.value[0].sdkmessageid;
  const filter = await h.api(`sdkmessagefilters?$filter=primaryobjecttypecode eq '${o.entity}' and _sdkmessageid_value eq ${messageId}&$select=sdkmessagefilterid`);
  const filterId = filter.json.value[0].sdkmessagefilterid;
  const existing = await h.api(`serviceendpoints?$filter=contract eq 8 and name eq '${o.name}'&$select=serviceendpointid,name,authtype,url`);
  let endpointId: string;
  if (existing.json.value.length) {
    endpointId = existing.json.value[0].serviceendpointid;
    const patched = await h.api(`serviceendpoints(${endpointId})`, { method: 'PATCH', body: { url: o.url, authtype: o.authtype, authvalue: o.authvalue } });
    expect(patched.status).toBe(204);
  } else {
    const created = await h.api('serviceendpoints', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { name: o.name, contract: 8, url: o.url, authtype: o.authtype, authvalue: o.authvalue, messageformat: 2 } });
    expect(created.status).toBe(201);
    endpointId = created.json.serviceendpointid;
  }
  const step = await h.api('sdkmessageprocessingsteps', {
    method: 'POST',
    headers: { Prefer: 'return=representation' },
    body: {
      name: `${o.name}: ${o.message} of ${o.entity}`,
      mode: 1,
      stage: 40,
      rank: 1,
      asyncautodelete: false,
      ...(o.filteringattributes ? { filteringattributes: o.filteringattributes } : {}),
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpointId})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
    },
  });
  expect(step.status).toBe(201);
  const stepId = step.json.sdkmessageprocessingstepid;
  for (const image of o.images ?? []) {
    const res = await h.api('sdkmessageprocessingstepimages', {
      method: 'POST',
      body: {
        name: image.alias,
        entityalias: image.alias,
        imagetype: image.type,
        messagepropertyname: o.message === 'Create' ? 'Id' : 'Target',
        ...(image.attributes ? { attributes: image.attributes } : {}),
        'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
      },
    });
    expect(res.status).toBe(204);
  }
  return { endpointId, stepId };
}

const attrs = (entity: Loose): Record<string, unknown> => Object.fromEntries((entity.Attributes as Array<{ key: string; value: unknown }>).map((a) => [a.key, a.value]));
const param = (list: Loose[], key: string): Loose => (list as Array<{ key: string; value: unknown }>).find((p) => p.key === key)?.value;

describe('Dataverse simulator webhooks', () => {
  let h: Harness;
  let hook: WebhookReceiver;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    h = await startHarness();
    hook = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await hook.close();
    await h.close();
  });
  beforeEach(() => {
    h.reset();
    hook.clear();
    alice = h.sim.admin.seedUser({ fullname: 'Alice Adams', internalemailaddress: 'alice@contoso.test', azureactivedirectoryobjectid: ALICE_OID }).systemuserid;
    bob = h.sim.admin.seedUser({ fullname: 'Bob Brown', internalemailaddress: 'bob@contoso.test' }).systemuserid;
  });

  it('delivers a Create registered through the Web API with the documented body shape, headers and HttpHeader auth', async () => {
    const reg = await registerWebhook(h, {
      name: 'sync-hook',
      url: `${hook.url}/api/dataverse/webhook?route=a`,
      authtype: 5,
      authvalue: '<settings><setting name="x-sync-key" value="s3cret" /><setting name="x-other" value="two" /></settings>',
      message: 'Create',
      entity: 'appointment',
    });
    const created = await h.api('appointments?tag=sync-7', {
      method: 'POST',
      headers: { Prefer: 'return=representation', CallerObjectId: ALICE_OID },
      body: { subject: 'Planning', scheduledstart: '2030-03-01T09:00:00Z', scheduledend: '2030-03-01T10:00:00Z', appointment_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${bob})`, participationtypemask: 5 }] },
    });
    const id = created.json.activityid;
    const [delivery] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    expect(delivery!.state).toBe('delivered');
    expect(hook.received).toHaveLength(1);
    const got = hook.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/api/dataverse/webhook?route=a');
    expect(got.headers['x-sync-key']).toBe('s3cret');
    expect(got.headers['x-other']).toBe('two');
    expect(got.headers['content-type']).toMatch(/^application\/json/);
    // The documented header table (samples/dataverse-webhook-headers.txt).
    expect(got.headers['x-ms-dynamics-organization']).toBe('127.0.0.1');
    expect(got.headers['x-ms-dynamics-entity-name']).toBe('appointment');
    expect(got.headers['x-ms-dynamics-request-name']).toBe('Create');
    expect(got.headers['x-ms-dynamics-msg-size-exceeded']).toBeUndefined();
    // WCF JSON escapes "/" as in the documented body.
    expect(got.body).toContain('"\\/Date(');
    const body = JSON.parse(got.body);
    const documented = sampleJson('dataverse-webhook-remoteexecutioncontext.json');
    expect(keysOf(body)).toEqual(keysOf(documented));
    expect(keysOf(body.ParentContext)).toEqual(keysOf(documented.ParentContext));
    expect(got.headers['x-ms-correlation-request-id']).toBe(body.CorrelationId);
    expect(body).toMatchObject({ MessageName: 'Create', PrimaryEntityName: 'appointment', PrimaryEntityId: id, Stage: 40, Mode: 1, Depth: 1, SecondaryEntityName: 'none', RequestId: null });
    expect(body.OrganizationId).toBe(h.sim.organizationId);
    expect(body.BusinessUnitId).toBe(h.sim.businessUnitId);
    expect(body.OperationCreatedOn).toMatch(/^\/Date\(\d+\)\/$/);
    expect(body.OwningExtension).toEqual({ Id: reg.stepId, KeyAttributes: [], LogicalName: 'sdkmessageprocessingstep', Name: null, RowVersion: null });
    expect(body.ParentContext.Stage).toBe(30);
    expect(body.ParentContext.ParentContext).toBeNull();
    // Impersonated write: the operation runs as Alice.
    expect(body.UserId).toBe(alice);
    expect(body.InitiatingUserId).toBe(alice);
    // The tag reaches SharedVariables and ParentContext.SharedVariables.
    expect(param(body.SharedVariables, 'tag')).toBe('sync-7');
    expect(param(body.ParentContext.SharedVariables, 'tag')).toBe('sync-7');
    const target = param(body.InputParameters, 'Target');
    expect(keysOf(target)).toEqual(keysOf(param(documented.InputParameters, 'Target')));
    expect(target.__type).toBe('Entity:http://schemas.microsoft.com/xrm/2011/Contracts');
    const a = attrs(target);
    expect(a['subject']).toBe('Planning');
    expect(a['scheduledstart']).toBe(`/Date(${Date.UTC(2030, 2, 1, 9)})/`);
    expect(a['statecode']).toEqual({ __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts', Value: 0 });
    expect(a['ownerid']).toEqual({ __type: 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts', Id: alice, KeyAttributes: [], LogicalName: 'systemuser', Name: null, RowVersion: null });
    const required = a['requiredattendees'] as Loose;
    expect(required.__type).toBe('EntityCollection:http://schemas.microsoft.com/xrm/2011/Contracts');
    expect(attrs(required.Entities[0]).partyid).toMatchObject({ Id: bob, LogicalName: 'systemuser' });
    expect(param(body.OutputParameters, 'id')).toBe(id);
    const primaryName = param(body.PostEntityImages, 'AsynchronousStepPrimaryName');
    expect(attrs(primaryName)).toEqual({ subject: 'Planning', activityid: id });
    expect(keysOf(primaryName)).toEqual(keysOf(param(documented.PostEntityImages, 'AsynchronousStepPrimaryName')));
  });

  it('puts a WebhookKey in ?code= and HttpQueryString pairs in the query string', async () => {
    await registerWebhook(h, { name: 'k', url: `${hook.url}/k`, authtype: 4, authvalue: 'fn-key==', message: 'Create', entity: 'task' });
    await registerWebhook(h, { name: 'q', url: `${hook.url}/q?x=1`, authtype: 6, authvalue: '<settings><setting name="k1" value="v 1" /><setting name="k2" value="v2" /></settings>', message: 'Create', entity: 'task' });
    await h.api('tasks', { method: 'POST', body: { subject: 't' } });
    await h.sim.admin.waitForDeliveries({ count: 2 });
    const urls = hook.received.map((r) => r.url).sort();
    expect(urls).toEqual(['/k?code=fn-key%3D%3D', '/q?x=1&k1=v+1&k2=v2']);
    const bad = await h.api('serviceendpoints', { method: 'POST', body: { name: 'bad', contract: 8, url: `${hook.url}/b`, authtype: 5, authvalue: 'x-key: v' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('<settings>');
  });

  it('runs an Update step only when a filtering attribute was sent, with the sent columns in Target and the registered images', async () => {
    const reg = await registerWebhook(h, {
      name: 'u',
      url: `${hook.url}/u`,
      authtype: 4,
      authvalue: 'k',
      message: 'Update',
      entity: 'appointment',
      filteringattributes: 'subject,scheduledstart,requiredattendees',
      images: [{ alias: 'img', type: 2, attributes: 'subject,location' }],
    });
    const id = h.sim.admin.seedRecords('appointments', [{ subject: 'Old', location: 'Room 1' }])[0]!;
    await h.api(`appointments(${id})`, { method: 'PATCH', body: { location: 'Room 2' } });
    await h.api(`appointments(${id})`, { method: 'PATCH', body: { subject: 'New' } });
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    expect(h.sim.admin.deliveries()).toHaveLength(1);
    const body = JSON.parse(d!.body);
    expect(Object.keys(attrs(param(body.InputParameters, 'Target'))).sort()).toEqual(['activityid', 'modifiedby', 'modifiedon', 'modifiedonbehalfby', 'subject']);
    expect(attrs(param(body.PreEntityImages, 'img'))).toEqual({ subject: 'Old', location: 'Room 2' });
    expect(attrs(param(body.PostEntityImages, 'img'))).toEqual({ subject: 'New', location: 'Room 2' });
    // Replacing the party collection counts as sending the party-list columns.
    await h.api(`appointments(${id})`, { method: 'PATCH', body: { appointment_activity_parties: [{ addressused: 'z@z.test', participationtypemask: 5 }] } });
    const all = await h.sim.admin.waitForDeliveries({ count: 2, where: { stepId: reg.stepId } });
    const partyTarget = attrs(param(JSON.parse(all[1]!.body).InputParameters, 'Target'));
    expect(Object.keys(partyTarget)).toEqual(expect.arrayContaining(['requiredattendees', 'optionalattendees', 'organizer']));
  });

  it('splits an update of state and other columns into two Update events and raises SetState', async () => {
    const upd = await registerWebhook(h, { name: 'u', url: `${hook.url}/u`, authtype: 4, authvalue: 'k', message: 'Update', entity: 'task' });
    const set = await registerWebhook(h, { name: 's', url: `${hook.url}/s`, authtype: 4, authvalue: 'k', message: 'SetState', entity: 'task' });
    const id = h.sim.admin.seedRecords('tasks', [{ subject: 'Do it' }])[0]!;
    await h.api(`tasks(${id})`, { method: 'PATCH', body: { subject: 'Done it', statecode: 1, statuscode: 5 } });
    const updates = await h.sim.admin.waitForDeliveries({ count: 2, where: { stepId: upd.stepId } });
    const [setState] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: set.stepId } });
    const targets = updates.map((d) => Object.keys(attrs(param(JSON.parse(d.body).InputParameters, 'Target'))).filter((k) => !k.startsWith('modified')).sort());
    expect(targets).toEqual([['activityid', 'subject'], ['activityid', 'actualend', 'statecode', 'statuscode']]);
    expect(new Set(updates.map((d) => d.correlationId)).size).toBe(1);
    const body = JSON.parse(setState!.body);
    expect(body.MessageName).toBe('SetState');
    expect(param(body.InputParameters, 'EntityMoniker')).toMatchObject({ Id: id, LogicalName: 'task' });
    expect(param(body.InputParameters, 'State')).toEqual({ __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts', Value: 1 });
    expect(param(body.InputParameters, 'Status')).toMatchObject({ Value: 5 });
  });

  it('delivers a Delete with an EntityReference Target and the pre image', async () => {
    const reg = await registerWebhook(h, { name: 'd', url: `${hook.url}/d`, authtype: 4, authvalue: 'k', message: 'Delete', entity: 'contact', images: [{ alias: 'before', type: 0, attributes: 'fullname,emailaddress1' }] });
    const id = h.sim.admin.seedRecords('contacts', [{ firstname: 'Del', lastname: 'Me', emailaddress1: 'del@x.test' }])[0]!;
    expect((await h.api(`contacts(${id})`, { method: 'DELETE' })).status).toBe(204);
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    const body = JSON.parse(d!.body);
    expect(param(body.InputParameters, 'Target')).toEqual({ __type: 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts', Id: id, KeyAttributes: [], LogicalName: 'contact', Name: null, RowVersion: null });
    expect(attrs(param(body.PreEntityImages, 'before'))).toEqual({ fullname: 'Del Me', emailaddress1: 'del@x.test' });
    expect(body.PostEntityImages).toEqual([]);
  });

  it('retries once only on 502/503/504 (docs/reference/platform-facts.md section 5)', async () => {
    await registerWebhook(h, { name: 'r', url: `${hook.url}/r`, authtype: 4, authvalue: 'k', message: 'Create', entity: 'task' });
    const cases: Array<[number[], 'delivered' | 'failed', number]> = [
      [[503], 'delivered', 2],
      [[500], 'failed', 1],
      [[502, 504], 'failed', 2],
      [[404], 'failed', 1],
    ];
    for (const [statuses, state, attempts] of cases) {
      h.sim.admin.reset();
      h.sim.admin.seedApplicationUser({ clientId: '5a1e0c1d-0000-4000-8000-00000000a001' });
      await registerWebhook(h, { name: 'r', url: `${hook.url}/r`, authtype: 4, authvalue: 'k', message: 'Create', entity: 'task' });
      hook.clear();
      hook.statuses = [...statuses];
      await h.api('tasks', { method: 'POST', body: { subject: 'x' } });
      const [d] = await h.sim.admin.waitForDeliveries({ count: 1 });
      expect({ statuses, state: d!.state, attempts: d!.attempts.length }).toEqual({ statuses, state, attempts });
      expect(hook.received).toHaveLength(attempts);
    }
  });

  it('sends a body over 256 KB without ParentContext, InputParameters and images, with x-ms-dynamics-msg-size-exceeded', async () => {
    await registerWebhook(h, { name: 'big', url: `${hook.url}/big`, authtype: 4, authvalue: 'k', message: 'Create', entity: 'appointment' });
    await h.api('appointments', { method: 'POST', body: { subject: 'Big', description: 'x'.repeat(300 * 1024) } });
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1 });
    expect(d!.sizeExceeded).toBe(true);
    const got = hook.received[0]!;
    expect(got.headers['x-ms-dynamics-msg-size-exceeded']).toBeDefined();
    const body = JSON.parse(got.body);
    for (const k of ['ParentContext', 'InputParameters', 'PreEntityImages', 'PostEntityImages']) expect(body).not.toHaveProperty(k);
    expect(body.PrimaryEntityId).toBe(d!.recordId);
    expect(sample('dataverse-webhook-headers.txt')).toContain('x-ms-dynamics-msg-size-exceeded');
  });

  it('fires on a person acting in Dynamics 365 through the admin API, with that person as initiating user and no tag', async () => {
    const reg = await registerWebhook(h, { name: 'p', url: `${hook.url}/p`, authtype: 4, authvalue: 'k', message: 'Update', entity: 'appointment' });
    const person = h.sim.admin.as(bob);
    const created = person.create('appointments', { subject: 'Bob meets', scheduledstart: '2030-05-01T09:00:00Z', scheduledend: '2030-05-01T09:30:00Z' });
    person.complete('appointments', String(created['activityid']));
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    const body = JSON.parse(d!.body);
    expect(body.InitiatingUserId).toBe(bob);
    expect(body.UserId).toBe(bob);
    expect(body.SharedVariables).toEqual([]);
    expect(attrs(param(body.InputParameters, 'Target'))['statecode']).toMatchObject({ Value: 1 });
    expect(h.sim.admin.record('appointments', String(created['activityid']))!['statuscode']).toBe(3);
  });

  it('keeps registrations manageable with GET/PATCH/DELETE: authvalue is never read back, disabled or deleted steps stop firing', async () => {
    const reg = await registerWebhook(h, { name: 'm', url: `${hook.url}/m1`, authtype: 4, authvalue: 'secret', message: 'Create', entity: 'contact' });
    const endpoint = await h.api(`serviceendpoints(${reg.endpointId})`);
    expect(endpoint.json).not.toHaveProperty('authvalue');
    expect(endpoint.json.url).toBe(`${hook.url}/m1`);
    // Re-running the setup reuses the endpoint and repoints it.
    const again = await registerWebhook(h, { name: 'm', url: `${hook.url}/m2`, authtype: 4, authvalue: 'secret', message: 'Create', entity: 'contact' });
    expect(again.endpointId).toBe(reg.endpointId);
    expect((await h.api(`sdkmessageprocessingsteps(${reg.stepId})`, { method: 'PATCH', body: { statecode: 1, statuscode: 2 } })).status).toBe(204);
    expect((await h.api(`sdkmessageprocessingsteps(${again.stepId})`, { method: 'DELETE' })).status).toBe(204);
    const steps = await h.api(`sdkmessageprocessingsteps?$filter=_eventhandler_value eq ${reg.endpointId}&$select=name,statecode`);
    expect(steps.json.value).toEqual([expect.objectContaining({ statecode: 1 })]);
    h.sim.admin.seedRecords('contacts', [{ firstname: 'quiet' }]);
    await h.api('contacts', { method: 'POST', body: { firstname: 'Nobody listens' } });
    await h.sim.admin.flushWebhooks();
    expect(h.sim.admin.deliveries()).toEqual([]);
    const wrongMode = await h.api('sdkmessageprocessingsteps', { method: 'POST', body: { name: 'x', mode: 1, stage: 20, 'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${reg.endpointId})`, 'sdkmessageid@odata.bind': `/sdkmessages(${(await h.api(`sdkmessages?$filter=name eq 'Create'`)).json.value[0].sdkmessageid})` } });
    expect(wrongMode.status).toBe(400);
    expect(wrongMode.json.error.message).toContain('stage 40');
  });
});

describe('Dataverse simulator webhooks without the tag (webhookCarriesTag: false)', () => {
  let h: Harness;
  let hook: WebhookReceiver;
  beforeAll(async () => {
    h = await startHarness({ webhookCarriesTag: false });
    hook = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await hook.close();
    await h.close();
  });

  it('delivers a tagged write with no tag in SharedVariables or ParentContext.SharedVariables, the rest unchanged', async () => {
    h.sim.admin.seedUser({ fullname: 'Alice Adams', internalemailaddress: 'alice@contoso.test', azureactivedirectoryobjectid: ALICE_OID });
    const reg = await registerWebhook(h, { name: 'sync-hook', url: `${hook.url}/hook`, authtype: 5, authvalue: '<settings><setting name="x-k" value="v" /></settings>', message: 'Create', entity: 'task' });
    const created = await h.api('tasks?tag=sync-7', { method: 'POST', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'Untagged' } });
    expect(created.status).toBe(204);
    const [delivery] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    expect(delivery!.state).toBe('delivered');
    const body = JSON.parse(hook.received[0]!.body);
    expect(param(body.SharedVariables, 'tag')).toBeUndefined();
    expect(param(body.ParentContext.SharedVariables, 'tag')).toBeUndefined();
    expect(param(body.ParentContext.SharedVariables, 'ChangedEntityTypes')).toBeDefined();
    expect(body.MessageName).toBe('Create');
  });
});

// Microsoft documents one more attempt on 502/503/504 only; whether a failed webhook's system job runs again is not
// documented, so redelivery is an option of the simulator (README "Webhooks"), off by default (the test above).
describe('Dataverse simulator webhook redelivery (webhookRedelivery)', () => {
  let h: Harness;
  let hook: WebhookReceiver;
  beforeAll(async () => {
    h = await startHarness({ webhookRedelivery: { attempts: 2, afterMs: 20 } });
    hook = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await hook.close();
    await h.close();
  });

  it('sends a delivery the endpoint failed again, and it stays pending until one attempt is answered 2xx', async () => {
    const reg = await registerWebhook(h, { name: 'again', url: `${hook.url}/again`, authtype: 4, authvalue: 'k', message: 'Create', entity: 'task' });
    // 500 (not retried by the webhook service itself), then 503 and its documented one more attempt (504), then 200.
    hook.statuses = [500, 503, 504];
    await h.api('tasks', { method: 'POST', body: { subject: 'redelivered' } });
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    expect({ state: d!.state, redeliveries: d!.redeliveries, statuses: d!.attempts.map((a) => a.status) }).toEqual({ state: 'delivered', redeliveries: 2, statuses: [500, 503, 504, 200] });
    // Each attempt carries the same execution context: it is one system job run again, not a new event.
    const sent = hook.received.map((r) => `${String(r.headers['x-request-id'])} ${String((JSON.parse(r.body) as { OperationId: unknown }).OperationId)}`);
    expect(sent).toHaveLength(4);
    expect(sent[0]).toMatch(/^[0-9a-f-]{36} [0-9a-f-]{36}$/);
    expect(new Set(sent).size).toBe(1);
  });

  it('gives up after its redeliveries on an endpoint that is down (a killed host), and then counts as failed', async () => {
    // A port nothing listens on: every attempt is refused, as while the host is down.
    const down = await new WebhookReceiver().start();
    const url = `${down.url}/down`;
    await down.close();
    const reg = await registerWebhook(h, { name: 'down', url, authtype: 4, authvalue: 'k', message: 'Create', entity: 'task' });
    await h.api('tasks', { method: 'POST', body: { subject: 'never answered' } });
    const [d] = await h.sim.admin.waitForDeliveries({ count: 1, where: { stepId: reg.stepId } });
    expect({ state: d!.state, redeliveries: d!.redeliveries, attempts: d!.attempts.length, refused: d!.attempts.every((a) => a.error !== undefined) }).toEqual({ state: 'failed', redeliveries: 2, attempts: 3, refused: true });
  });
});
