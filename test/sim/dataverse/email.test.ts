// The email activity, SendEmail, attachments with the organization's upload limit, mailbox rows, and the webhooks
// they raise, through the Web API as a client would call them.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataverseAdminClient } from '../../../dev/sim/dataverse/index.js';
import { pluck, rowsOf, startHarness, WebhookReceiver, type Harness, type Loose } from './support.js';

const param = (list: Loose[], key: string): Loose => (list as Array<{ key: string; value: unknown }>).find((p) => p.key === key)?.value;
const attrs = (entity: Loose): Record<string, unknown> => Object.fromEntries((entity.Attributes as Array<{ key: string; value: unknown }>).map((a) => [a.key, a.value]));

interface People {
  alice: string;
  bob: string;
  contact: string;
  lead: string;
}

function seedPeople(h: Harness): People {
  const alice = h.sim.admin.seedUser({ fullname: 'Alice Adams', internalemailaddress: 'alice@contoso.test' }).systemuserid;
  const bob = h.sim.admin.seedUser({ fullname: 'Bob Brown', internalemailaddress: 'bob@contoso.test' }).systemuserid;
  const [contact] = h.sim.admin.seedRecords('contacts', [{ firstname: 'Carla', lastname: 'Customer', emailaddress1: 'carla@fabrikam.test' }]);
  const [lead] = h.sim.admin.seedRecords('leads', [{ firstname: 'Lee', lastname: 'Lead', emailaddress1: 'lee@northwind.test', subject: 'Interested' }]);
  return { alice, bob, contact: contact!, lead: lead! };
}

async function draft(h: Harness, p: People, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await h.api('emails', {
    method: 'POST',
    headers: { Prefer: 'return=representation' },
    body: {
      subject: 'Quote',
      description: '<p>Hello</p>',
      email_activity_parties: [
        { 'partyid_systemuser@odata.bind': `/systemusers(${p.alice})`, participationtypemask: 1 },
        { 'partyid_contact@odata.bind': `/contacts(${p.contact})`, participationtypemask: 2 },
        { 'partyid_lead@odata.bind': `/leads(${p.lead})`, participationtypemask: 3 },
        { addressused: 'someone@elsewhere.test', participationtypemask: 4 },
      ],
      ...extra,
    },
  });
  expect(res.status, res.text).toBe(201);
  return res.json.activityid as string;
}

async function registerStep(h: Harness, url: string, message: string, entity: string, filteringattributes?: string): Promise<string> {
  const msg = await h.api(`sdkmessages?$filter=name eq '${message}'&$select=sdkmessageid`);
  const messageId = msg.json.value[0].sdkmessageid;
  const filter = await h.api(`sdkmessagefilters?$filter=primaryobjecttypecode eq '${entity}' and _sdkmessageid_value eq ${messageId}&$select=sdkmessagefilterid`);
  expect(filter.json.value, `${message} filter for ${entity}`).toHaveLength(1);
  const existing = await h.api(`serviceendpoints?$filter=name eq 'email-hook'&$select=serviceendpointid`);
  let endpointId: string = existing.json.value[0]?.serviceendpointid;
  if (!endpointId) {
    const ep = await h.api('serviceendpoints', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { name: 'email-hook', contract: 8, url, authtype: 4, authvalue: 'k' } });
    endpointId = ep.json.serviceendpointid;
  }
  const step = await h.api('sdkmessageprocessingsteps', {
    method: 'POST',
    headers: { Prefer: 'return=representation' },
    body: {
      name: `${message} of ${entity}`,
      mode: 1,
      stage: 40,
      ...(filteringattributes ? { filteringattributes } : {}),
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpointId})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filter.json.value[0].sdkmessagefilterid})`,
    },
  });
  expect(step.status, step.text).toBe(201);
  return step.json.sdkmessageprocessingstepid as string;
}

describe('Dataverse simulator email', () => {
  let h: Harness;
  let p: People;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.reset();
    p = seedPeople(h);
  });

  describe('the email table', () => {
    it('creates a Draft outgoing email with its four kinds of parties, and computes sender, torecipients and emailsender', async () => {
      const id = await draft(h, p, { messageid: '<abc@contoso.test>' });
      const got = await h.api(`emails(${id})?$expand=email_activity_parties($select=participationtypemask,addressused,_partyid_value)`, { headers: { Prefer: 'odata.include-annotations="*"' } });
      expect(got.status).toBe(200);
      expect(got.json).toMatchObject({ statecode: 0, statuscode: 1, directioncode: true, messageid: '<abc@contoso.test>', activitytypecode: 'email', sender: 'alice@contoso.test', torecipients: 'carla@fabrikam.test', _emailsender_value: p.alice, attachmentcount: 0 });
      expect(got.json['statuscode@OData.Community.Display.V1.FormattedValue']).toBe('Draft');
      const masks = (got.json.email_activity_parties as Array<{ participationtypemask: number; addressused: string; _partyid_value: string | null }>).map((x) => [x.participationtypemask, x.addressused, x._partyid_value]);
      expect(masks).toEqual(
        expect.arrayContaining([
          [1, 'alice@contoso.test', p.alice],
          [2, 'carla@fabrikam.test', p.contact],
          [3, 'lee@northwind.test', p.lead],
          [4, 'someone@elsewhere.test', null],
        ]),
      );
      const byMessageId = await h.api(`emails?$filter=messageid eq '<abc@contoso.test>' and directioncode eq true&$select=activityid`);
      expect(pluck(byMessageId.json, 'activityid')).toEqual([id]);
    });

    it('uses the documented state/status pairs: Failed belongs to Open, Pending Send and Sending to Completed', async () => {
      const id = await draft(h, p);
      expect((await h.api(`emails(${id})`, { method: 'PATCH', body: { statuscode: 8 } })).status).toBe(204);
      expect((await h.api(`emails(${id})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 0, statuscode: 8 });
      const wrong = await h.api(`emails(${id})`, { method: 'PATCH', body: { statecode: 0, statuscode: 6 } });
      expect(wrong.status).toBe(400);
      expect(wrong.json.error.code).toBe('0x80048408');
      expect(wrong.json.error.message).toContain('EmailState.Open');
      for (const status of [6, 7, 3, 4, 2]) {
        const ok = await h.api(`emails(${id})`, { method: 'PATCH', body: { statecode: 1, statuscode: status } });
        expect(ok.status, `Completed/${status}: ${ok.text}`).toBe(204);
      }
      expect((await h.api(`emails(${id})`, { method: 'PATCH', body: { statecode: 2 } })).status).toBe(204);
      expect((await h.api(`emails(${id})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 2, statuscode: 5 });
    });

    it('creates an email Open whatever statecode is given, refuses read-only correlation columns, and makes a Completed email read-only', async () => {
      const created = await h.api('emails', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'In', directioncode: false, statecode: 1, statuscode: 1 } });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ statecode: 0, statuscode: 1, directioncode: false });
      for (const column of ['inreplyto', 'conversationindex', 'senton']) {
        const res = await h.api('emails', { method: 'POST', body: { subject: 'x', [column]: column === 'senton' ? '2030-01-01T00:00:00Z' : 'v' } });
        expect(res.status, column).toBe(400);
        expect(res.json.error.message).toContain(column);
      }
      const id = created.json.activityid;
      expect((await h.api(`emails(${id})`, { method: 'PATCH', body: { statecode: 1, statuscode: 4 } })).status).toBe(204);
      const locked = await h.api(`emails(${id})`, { method: 'PATCH', body: { messageid: '<late@x>' } });
      expect(locked.status).toBe(400);
      expect(locked.json.error.code).toBe('0x8004022e');
    });

    it('refuses a second sender, a subject over 800 characters and an unknown party table', async () => {
      const two = await h.api('emails', {
        method: 'POST',
        body: { email_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${p.alice})`, participationtypemask: 1 }, { 'partyid_systemuser@odata.bind': `/systemusers(${p.bob})`, participationtypemask: 1 }] },
      });
      expect(two.status).toBe(400);
      expect(two.json.error.message).toContain('only one sender');
      expect((await h.api('emails', { method: 'POST', body: { subject: 'x'.repeat(800) } })).status).toBe(204);
      const long = await h.api('emails', { method: 'POST', body: { subject: 'x'.repeat(801) } });
      expect(long.status).toBe(400);
      expect(long.json.error.code).toBe('0x80044331');
      const bad = await h.api('emails', { method: 'POST', body: { email_activity_parties: [{ 'partyid_queue@odata.bind': `/queues(${p.alice})`, participationtypemask: 2 }] } });
      expect(bad.status).toBe(400);
      expect(h.sim.admin.records('emails')).toHaveLength(1);
    });

    it('binds regarding to a lead, a contact or an account', async () => {
      const id = await draft(h, p, { 'regardingobjectid_lead_email@odata.bind': `/leads(${p.lead})` });
      const got = await h.api(`emails(${id})?$select=_regardingobjectid_value`, { headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' } });
      expect(got.json._regardingobjectid_value).toBe(p.lead);
      expect(got.json['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('lead');
    });
  });

  describe('SendEmail', () => {
    it('IssueSend true moves a Draft to Completed / Pending Send, adds a tracking token to the subject and answers SendEmailResponse', async () => {
      const id = await draft(h, p);
      const res = await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true, TrackingToken: '' } });
      expect(res.status, res.text).toBe(200);
      expect(res.json['@odata.context']).toMatch(/\$metadata#Microsoft\.Dynamics\.CRM\.SendEmailResponse$/);
      expect(res.json.Subject).toBe('Quote CRM:0000001');
      const mailbox = h.sim.admin.mailbox(p.alice);
      const got = await h.api(`emails(${id})?$select=statecode,statuscode,subject,trackingtoken,senton,_sendermailboxid_value`);
      expect(got.json).toMatchObject({ statecode: 1, statuscode: 6, subject: 'Quote CRM:0000001', trackingtoken: 'CRM:0000001', senton: null, _sendermailboxid_value: mailbox['mailboxid'] });
    });

    it('IssueSend false marks the email as sent (Completed / Sent, senton set), with the caller\'s tracking token', async () => {
      const id = await draft(h, p);
      const res = await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: false, TrackingToken: 'TKN:42' } });
      expect(res.status, res.text).toBe(200);
      expect(res.json.Subject).toBe('Quote TKN:42');
      const got = await h.api(`emails(${id})?$select=statecode,statuscode,trackingtoken,senton`);
      expect(got.json).toMatchObject({ statecode: 1, statuscode: 3, trackingtoken: 'TKN:42' });
      expect(typeof got.json.senton).toBe('string');
    });

    it('a Failed email can be sent again; a Pending Send, Sent or Canceled one cannot', async () => {
      const id = await draft(h, p);
      await h.api(`emails(${id})`, { method: 'PATCH', body: { statuscode: 8 } });
      expect((await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true } })).status).toBe(200);
      const again = await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true } });
      expect(again.status).toBe(400);
      expect(again.json.error.message).toContain('Pending Send');
      expect((await h.api(`emails(${id})?$select=subject`)).json.subject).toBe('Quote CRM:0000001');
    });

    it('refuses an email without sender, with a contact as sender, or without recipients, and bad parameters, leaving it a Draft', async () => {
      const noSender = (await h.api('emails', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'a', email_activity_parties: [{ addressused: 'x@y.test', participationtypemask: 2 }] } })).json.activityid;
      const contactSender = (await h.api('emails', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'b', email_activity_parties: [{ 'partyid_contact@odata.bind': `/contacts(${p.contact})`, participationtypemask: 1 }, { addressused: 'x@y.test', participationtypemask: 2 }] } })).json.activityid;
      const noRecipient = (await h.api('emails', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'c', email_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${p.alice})`, participationtypemask: 1 }] } })).json.activityid;
      const cases: Array<[string, unknown, string]> = [
        [noSender, { IssueSend: true }, 'no sender'],
        [contactSender, { IssueSend: true }, 'must be a system user'],
        [noRecipient, { IssueSend: true }, 'no recipient'],
        [noRecipient, {}, 'IssueSend'],
        [noRecipient, { IssueSend: 'yes' }, 'IssueSend'],
        [noRecipient, { IssueSend: true, Extra: 1 }, "no parameter 'Extra'"],
      ];
      for (const [id, body, text] of cases) {
        const res = await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body });
        expect(res.status, text).toBe(400);
        expect(res.json.error.message).toContain(text);
      }
      for (const id of [noSender, contactSender, noRecipient]) expect((await h.api(`emails(${id})?$select=statuscode`)).json.statuscode).toBe(1);
      const missing = await h.api(`emails(00000000-0000-4000-8000-000000000001)/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true } });
      expect(missing.status).toBe(404);
      expect((await h.api(`emails(${noSender})/Microsoft.Dynamics.CRM.SendEmail`)).status).toBe(405);
    });
  });

  describe('activitymimeattachment', () => {
    const b64 = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');

    it('attaches through objectid_email or objectid_activitypointer, computes filesize and keeps attachmentcount; deleting the email deletes them', async () => {
      const id = await draft(h, p);
      const one = await h.api('activitymimeattachments', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { 'objectid_email@odata.bind': `/emails(${id})`, objecttypecode: 'email', filename: 'a.txt', mimetype: 'text/plain', body: b64(10) } });
      expect(one.status, one.text).toBe(201);
      expect(one.json).toMatchObject({ filename: 'a.txt', filesize: 10, objecttypecode: 'email', _objectid_value: id, _activityid_value: id, attachmentnumber: 0 });
      const two = await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_activitypointer@odata.bind': `/activitypointers(${id})`, filename: 'b.bin', mimetype: 'application/octet-stream', body: b64(3) } });
      expect(two.status, two.text).toBe(204);
      expect((await h.api(`emails(${id})?$select=attachmentcount`)).json.attachmentcount).toBe(2);
      const list = await h.api(`activitymimeattachments?$filter=_objectid_value eq ${id}&$select=filename,filesize,attachmentnumber`);
      expect(rowsOf(list.json).map((r) => [r['filename'], r['filesize'], r['attachmentnumber']])).toEqual([
        ['a.txt', 10, 0],
        ['b.bin', 3, 1],
      ]);
      expect((await h.api(`activitymimeattachments(${one.json.activitymimeattachmentid})`, { method: 'DELETE' })).status).toBe(204);
      expect((await h.api(`emails(${id})?$select=attachmentcount`)).json.attachmentcount).toBe(1);
      expect((await h.api(`emails(${id})`, { method: 'DELETE' })).status).toBe(204);
      expect((await h.api('activitymimeattachments')).json.value).toEqual([]);
    });

    it('refuses a file over organization.maxuploadfilesize (5 MB by default) with 0x80044a02, and follows a changed limit', async () => {
      const id = await draft(h, p);
      const org = await h.api('organizations?$select=maxuploadfilesize');
      expect(org.json.value[0].maxuploadfilesize).toBe(5_242_880);
      const at = await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, filename: 'max.bin', body: b64(5_242_880) } });
      expect(at.status, at.text).toBe(204);
      const over = await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, filename: 'big.bin', body: b64(5_242_881) } });
      expect(over.status).toBe(400);
      expect(over.json.error.code).toBe('0x80044a02');
      expect(over.json.error.message).toContain('Attachment file size is too big');
      const client = new DataverseAdminClient(h.sim.url);
      expect(await client.setMaxUploadFileSize(1000)).toBe(1000);
      expect(await client.maxUploadFileSize()).toBe(1000);
      expect((await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, body: b64(1001) } })).status).toBe(400);
      expect((await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, body: b64(1000) } })).status).toBe(204);
      expect((await h.api(`emails(${id})?$select=attachmentcount`)).json.attachmentcount).toBe(2);
    });

    it('refuses a body that is not Base64, a missing objectid and a mismatched objecttypecode', async () => {
      const id = await draft(h, p);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ 'objectid_email@odata.bind': `/emails(${id})`, body: 'not base64!' }, 'Base64'],
        [{ filename: 'x', body: b64(1) }, 'objectid'],
        [{ 'objectid_email@odata.bind': `/emails(${id})`, objecttypecode: 'task', body: b64(1) }, 'objecttypecode'],
      ];
      for (const [body, text] of cases) {
        const res = await h.api('activitymimeattachments', { method: 'POST', body });
        expect(res.status, text).toBe(400);
        expect(res.json.error.message).toContain(text);
      }
      expect((await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_activitypointer@odata.bind': '/activitypointers(00000000-0000-4000-8000-000000000009)', body: b64(1) } })).status).toBe(404);
    });
  });

  describe('mailbox', () => {
    it('every system user has one mailbox row, readable and updatable through the Web API, and set quietly by the admin API', async () => {
      const list = await h.api(`mailboxes?$filter=_regardingobjectid_value eq ${p.alice}&$select=emailaddress,incomingemaildeliverymethod,outgoingemaildeliverymethod,actdeliverymethod,_ownerid_value,_regardingobjectid_value`);
      expect(list.json.value).toHaveLength(1);
      const mailbox = list.json.value[0];
      expect(mailbox).toMatchObject({ emailaddress: 'alice@contoso.test', incomingemaildeliverymethod: 2, outgoingemaildeliverymethod: 2, actdeliverymethod: 1, _ownerid_value: p.alice, _regardingobjectid_value: p.alice });
      const patched = await h.api(`mailboxes(${mailbox.mailboxid})`, { method: 'PATCH', headers: { Prefer: 'return=representation' }, body: { incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0 } });
      expect(patched.status).toBe(200);
      expect(patched.json).toMatchObject({ incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0 });
      expect((await h.api(`mailboxes(${mailbox.mailboxid})`, { method: 'PATCH', body: { outgoingemaildeliverymethod: 3 } })).status).toBe(400);
      expect((await h.api(`mailboxes(${mailbox.mailboxid})`, { method: 'PATCH', body: { 'regardingobjectid@odata.bind': `/systemusers(${p.bob})` } })).status).toBe(400);
      expect((await h.api(`mailboxes(${mailbox.mailboxid})`, { method: 'PATCH', body: { incomingemaildeliverymethod: 3 } })).status).toBe(204);
      const client = new DataverseAdminClient(h.sim.url);
      const set = await client.setMailbox(p.bob, { actdeliverymethod: 2, outgoingemaildeliverymethod: 0 });
      expect(set).toMatchObject({ actdeliverymethod: 2, outgoingemaildeliverymethod: 0, incomingemaildeliverymethod: 2 });
      expect(await client.mailbox(p.bob)).toMatchObject({ actdeliverymethod: 2 });
      await expect(client.setMailbox(p.bob, { outgoingemaildeliverymethod: 3 } as never)).rejects.toThrow(/400/);
      h.sim.admin.as(p.alice).update('systemusers', p.alice, { internalemailaddress: 'alice@new.test' });
      expect(h.sim.admin.mailbox(p.alice)['emailaddress']).toBe('alice@new.test');
    });
  });
});

describe('Dataverse simulator email webhooks and options', () => {
  let h: Harness;
  let hook: WebhookReceiver;
  let p: People;

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
    p = seedPeople(h);
  });

  it('raises Create, Update (statuscode), SetState, SendEmail and Delete on email, and Create on activitymimeattachment and Update on mailbox', async () => {
    const steps = {
      create: await registerStep(h, hook.url, 'Create', 'email'),
      update: await registerStep(h, hook.url, 'Update', 'email', 'statuscode'),
      setState: await registerStep(h, hook.url, 'SetState', 'email'),
      send: await registerStep(h, hook.url, 'SendEmail', 'email'),
      remove: await registerStep(h, hook.url, 'Delete', 'email'),
      attach: await registerStep(h, hook.url, 'Create', 'activitymimeattachment'),
      mailbox: await registerStep(h, hook.url, 'Update', 'mailbox', 'outgoingemaildeliverymethod'),
    };
    const id = await draft(h, p);
    await h.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, filename: 'a.txt', body: 'aGk=' } });
    await h.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true } });
    const mailboxId = String(h.sim.admin.mailbox(p.alice)['mailboxid']);
    await h.api(`mailboxes(${mailboxId})`, { method: 'PATCH', body: { outgoingemaildeliverymethod: 0 } });
    await h.api(`emails(${id})`, { method: 'DELETE' });
    await h.sim.admin.flushWebhooks();
    const by = (stepId: string) => h.sim.admin.deliveries({ stepId });
    expect(by(steps.create)).toHaveLength(1);
    const created = JSON.parse(by(steps.create)[0]!.body);
    const target = attrs(param(created.InputParameters, 'Target'));
    expect(target['subject']).toBe('Quote');
    expect((target['from'] as Loose).Entities).toHaveLength(1);
    expect((target['bcc'] as Loose).Entities[0].Attributes.find((a: Loose) => a.key === 'addressused').value).toBe('someone@elsewhere.test');
    expect(by(steps.attach)).toHaveLength(1);
    expect(by(steps.attach)[0]!.entity).toBe('activitymimeattachment');
    expect(by(steps.update)).toHaveLength(1);
    expect(by(steps.setState)).toHaveLength(1);
    const setState = JSON.parse(by(steps.setState)[0]!.body);
    expect(param(setState.InputParameters, 'Status').Value).toBe(6);
    const [send] = by(steps.send);
    expect(send!.message).toBe('SendEmail');
    expect(send!.headers['x-ms-dynamics-request-name']).toBe('SendEmail');
    const body = JSON.parse(send!.body);
    expect(body.PrimaryEntityName).toBe('email');
    expect(body.PrimaryEntityId).toBe(id);
    expect(param(body.InputParameters, 'EmailId')).toBe(id);
    expect(param(body.InputParameters, 'IssueSend')).toBe(true);
    expect(param(body.InputParameters, 'TrackingToken')).toBe('CRM:0000001');
    expect(param(body.InputParameters, 'Target')).toBeUndefined();
    expect(param(body.OutputParameters, 'Subject')).toBe('Quote CRM:0000001');
    expect(by(steps.mailbox)).toHaveLength(1);
    expect(by(steps.remove)).toHaveLength(1);
  });

  it("with sendEmailSteps 'sendemail-only', SendEmail raises no Update or SetState on email", async () => {
    const quiet = await startHarness({ email: { sendEmailSteps: 'sendemail-only', trackingToken: 'off' } });
    try {
      const q = seedPeople(quiet);
      const update = await registerStep(quiet, hook.url, 'Update', 'email', 'statuscode');
      const setState = await registerStep(quiet, hook.url, 'SetState', 'email');
      const send = await registerStep(quiet, hook.url, 'SendEmail', 'email');
      const id = await draft(quiet, q);
      const res = await quiet.api(`emails(${id})/Microsoft.Dynamics.CRM.SendEmail`, { method: 'POST', body: { IssueSend: true } });
      expect(res.json.Subject).toBe('Quote');
      await quiet.api(`emails(${id})`, { method: 'PATCH', body: { statuscode: 7 } });
      await quiet.sim.admin.flushWebhooks();
      expect(quiet.sim.admin.deliveries({ stepId: send })).toHaveLength(1);
      // Only the caller's own PATCH to Sending reaches the Update and SetState steps.
      expect(quiet.sim.admin.deliveries({ stepId: update })).toHaveLength(1);
      expect(quiet.sim.admin.deliveries({ stepId: setState })).toHaveLength(1);
      expect(param(JSON.parse(quiet.sim.admin.deliveries({ stepId: setState })[0]!.body).InputParameters, 'Status').Value).toBe(7);
    } finally {
      await quiet.close();
    }
  });

  it("with attachmentSizeMeasure 'base64', the Base64 length is what the limit is compared with", async () => {
    const strict = await startHarness({ email: { attachmentSizeMeasure: 'base64', maxUploadFileSize: 8 } });
    try {
      const q = seedPeople(strict);
      const id = await draft(strict, q);
      // 6 bytes encode to 8 Base64 characters (fits); 7 bytes to 12 (over), though 7 bytes are under the limit.
      expect((await strict.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, body: Buffer.alloc(6).toString('base64') } })).status).toBe(204);
      const over = await strict.api('activitymimeattachments', { method: 'POST', body: { 'objectid_email@odata.bind': `/emails(${id})`, body: Buffer.alloc(7).toString('base64') } });
      expect(over.status).toBe(400);
      expect(over.json.error.code).toBe('0x80044a02');
    } finally {
      await strict.close();
    }
  });
});
