// The Web API surface: auth, WhoAmI, CRUD, conditional requests, state/status rules, parties, impersonation and tag.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keysOf, sampleJson, startHarness, type Harness, type Loose, pluck } from './support.js';
import { defaultPrivileges, privilegeId } from '../../../dev/sim/dataverse/privileges.js';

const ALICE_OID = 'a11ce000-0000-4000-8000-000000000001';

describe('Dataverse simulator Web API', () => {
  let h: Harness;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.reset();
    alice = h.sim.admin.seedUser({ fullname: 'Alice Adams', internalemailaddress: 'alice@contoso.test', azureactivedirectoryobjectid: ALICE_OID }).systemuserid;
    bob = h.sim.admin.seedUser({ fullname: 'Bob Brown', internalemailaddress: 'bob@contoso.test' }).systemuserid;
  });

  describe('authentication', () => {
    it('answers 401 in the documented error shape without a valid token for the org audience', async () => {
      const res = await fetch(`${h.sim.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${h.idp.issueToken('x', 'https://graph.microsoft.com')}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer authorization_uri=/);
      const body = (await res.json()) as Loose;
      expect(keysOf(body)).toEqual(keysOf(sampleJson('dataverse-error-body.json')));
      expect(keysOf(body.error)).toEqual(['code', 'message']);
      expect(body.error.message).toContain('audience');
    });

    it('refuses a valid token whose app has no application user (403, user not in organization)', async () => {
      h.idp.registerApp({ clientId: 'b0b0b0b0-0000-4000-8000-000000000000', clientSecret: 'x' });
      const token = h.idp.issueToken('b0b0b0b0-0000-4000-8000-000000000000', h.sim.url);
      const res = await fetch(`${h.sim.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as Loose).error.code).toBe('0x80072560');
    });

    it('WhoAmI returns the application user with the keys of the documented sample', async () => {
      const res = await h.api('WhoAmI');
      expect(res.status).toBe(200);
      expect(keysOf(res.json)).toEqual(keysOf(sampleJson('dataverse-whoami.json')));
      expect(res.json['@odata.context']).toBe(`${h.sim.url}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`);
      expect(res.json.OrganizationId).toBe(h.sim.organizationId);
      expect(res.json.BusinessUnitId).toBe(h.sim.businessUnitId);
      const appUser = h.sim.admin.records('systemusers', `applicationid eq 5a1e0c1d-0000-4000-8000-00000000a001`)[0]!;
      expect(res.json.UserId).toBe(appUser['systemuserid']);
    });

    it('WhoAmI under CallerObjectId impersonation returns the impersonated user', async () => {
      const res = await h.api('WhoAmI', { headers: { CallerObjectId: ALICE_OID } });
      expect(res.json.UserId).toBe(alice);
      const missing = await h.api('WhoAmI', { headers: { CallerObjectId: 'dead0000-0000-4000-8000-000000000000' } });
      expect(missing.status).toBe(404);
      expect(missing.json.error.code).toBe('0x80040217');
    });
  });

  describe('privilege enforcement (option enforcePrivileges / admin API)', () => {
    const without = (name: string) => defaultPrivileges.filter((p) => p.name !== name);
    it('off (the default), a user lacking a privilege still writes; on, the write answers 403 0x80040220 naming the privilege', async () => {
      h.sim.admin.setUserPrivileges(alice, without('prvCreateActivity'));
      const off = await h.api('tasks', { method: 'POST', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'Allowed while not enforced' } });
      expect(off.status).toBe(204);
      h.sim.admin.setPrivilegeEnforcement(true);
      const denied = await h.api('tasks', { method: 'POST', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'Denied' } });
      expect(denied.status).toBe(403);
      expect(denied.json.error).toEqual({ code: '0x80040220', message: `Principal user (Id=${alice}, type=8) is missing prvCreateActivity privilege (Id=${privilegeId('prvCreateActivity')})` });
      // Another user, and another privilege of the same user, are not affected; contacts need prvCreateContact.
      expect((await h.api('tasks', { method: 'POST', body: { subject: 'As the app user' } })).status).toBe(204);
      expect((await h.api('contacts', { method: 'POST', headers: { CallerObjectId: ALICE_OID }, body: { lastname: 'Allowed' } })).status).toBe(204);
    });

    it('checks Write on an update of an existing record, Create on an upsert that creates, Delete on a delete', async () => {
      const id = '0a000000-0000-4000-8000-0000000000e1';
      expect((await h.api('tasks', { method: 'POST', body: { activityid: id, subject: 'Existing' } })).status).toBe(204);
      h.sim.admin.setPrivilegeEnforcement(true);
      h.sim.admin.setUserPrivileges(alice, without('prvWriteActivity').filter((p) => p.name !== 'prvDeleteActivity'));
      const update = await h.api(`tasks(${id})`, { method: 'PATCH', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'Changed' } });
      expect(update.json.error.message).toContain('is missing prvWriteActivity privilege');
      const upsert = await h.api('tasks(0a000000-0000-4000-8000-0000000000e2)', { method: 'PATCH', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'New' } });
      expect(upsert.status).toBe(204);
      const remove = await h.api(`tasks(${id})`, { method: 'DELETE', headers: { CallerObjectId: ALICE_OID } });
      expect(remove.status).toBe(403);
      expect(remove.json.error.message).toContain('is missing prvDeleteActivity privilege');
    });

    it('an application user acting as another user needs prvActOnBehalfOfAnotherUser; reset turns enforcement off again', async () => {
      h.sim.admin.setPrivilegeEnforcement(true);
      const app = (await h.api('WhoAmI')).json.UserId as string;
      h.sim.admin.setUserPrivileges(app, without('prvActOnBehalfOfAnotherUser'));
      const denied = await h.api('tasks', { method: 'POST', headers: { CallerObjectId: ALICE_OID }, body: { subject: 'Impersonated' } });
      expect(denied.json.error.message).toBe(`Principal user (Id=${app}, type=8) is missing prvActOnBehalfOfAnotherUser privilege (Id=${privilegeId('prvActOnBehalfOfAnotherUser')})`);
      h.reset();
      expect((await h.api('tasks', { method: 'POST', body: { subject: 'After reset' } })).status).toBe(204);
    });
  });

  describe('create, read, update, delete', () => {
    it('creates with a client-supplied id: 204 with OData-EntityId, or 201 with the row under return=representation', async () => {
      const id = '0a000000-0000-4000-8000-000000000001';
      const created = await h.api('tasks', { method: 'POST', body: { activityid: id, subject: 'Call back' } });
      expect(created.status).toBe(204);
      expect(created.headers.get('odata-entityid')).toBe(`${h.sim.apiUrl}/tasks(${id})`);
      const rep = await h.api('tasks?$select=subject,statecode', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 'Second' } });
      expect(rep.status).toBe(201);
      expect(rep.headers.get('preference-applied')).toContain('return=representation');
      expect(keysOf(rep.json)).toEqual(['@odata.context', '@odata.etag', 'activityid', 'statecode', 'subject']);
      expect(rep.json.statecode).toBe(0);
      const again = await h.api('tasks', { method: 'POST', body: { activityid: id, subject: 'dup' } });
      expect(again.status).toBe(412);
      expect(again.json.error.code).toBe('0x80040237');
    });

    it('returns columns as the documented task sample does: etag first, selected columns plus the key, ISO UTC datetimes', async () => {
      const id = h.sim.admin.seedRecords('tasks', [{ subject: 'Sample Task 1', scheduledstart: '2016-04-11T15:00:00.000Z' }])[0]!;
      const res = await h.api(`tasks(${id})?$select=subject,scheduledstart`);
      const documented = sampleJson('dataverse-task.json').Account_Tasks[0];
      expect(keysOf(res.json).filter((k) => k !== '@odata.context')).toEqual(keysOf(documented));
      expect(res.json.scheduledstart).toBe('2016-04-11T15:00:00Z');
      expect(res.json['@odata.etag']).toMatch(/^W\/"\d+"$/);
      expect(res.json['@odata.context']).toBe(`${h.sim.apiUrl}/$metadata#tasks(subject,scheduledstart)/$entity`);
    });

    it('changes versionnumber and @odata.etag on every write, and If-Match with a stale etag is 412', async () => {
      const id = h.sim.admin.seedRecords('contacts', [{ firstname: 'Ann', lastname: 'Lee' }])[0]!;
      const first = await h.api(`contacts(${id})?$select=fullname,versionnumber`);
      expect(first.json.fullname).toBe('Ann Lee');
      const etag = first.json['@odata.etag'];
      expect(etag).toBe(`W/"${first.json.versionnumber}"`);
      const patched = await h.api(`contacts(${id})?$select=fullname,versionnumber`, { method: 'PATCH', headers: { 'If-Match': etag, Prefer: 'return=representation' }, body: { lastname: 'Lin' } });
      expect(patched.status).toBe(200);
      expect(patched.json.fullname).toBe('Ann Lin');
      expect(patched.json.versionnumber).toBeGreaterThan(first.json.versionnumber);
      const same = await h.api(`contacts(${id})`, { method: 'PATCH', body: { lastname: 'Lin' } });
      expect(same.status).toBe(204);
      const after = await h.api(`contacts(${id})?$select=versionnumber`);
      expect(after.json.versionnumber).toBeGreaterThan(patched.json.versionnumber);
      const stale = await h.api(`contacts(${id})`, { method: 'PATCH', headers: { 'If-Match': etag }, body: { lastname: 'X' } });
      expect(stale.status).toBe(412);
      expect(stale.json.error.code).toBe('0x80060882');
      const staleDelete = await h.api(`contacts(${id})`, { method: 'DELETE', headers: { 'If-Match': etag } });
      expect(staleDelete.status).toBe(412);
    });

    it('PATCH is an upsert; If-Match: * only updates (404 when missing); If-None-Match: * only creates (412 when present)', async () => {
      const id = '0b000000-0000-4000-8000-000000000002';
      const updateOnly = await h.api(`appointments(${id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { subject: 'x' } });
      expect(updateOnly.status).toBe(404);
      expect(updateOnly.json.error.code).toBe('0x80040217');
      expect(updateOnly.json.error.message).toBe(`Entity 'appointment' With Id = ${id} Does Not Exist`);
      const upsert = await h.api(`appointments(${id})`, { method: 'PATCH', body: { subject: 'Created by upsert', scheduledstart: '2030-01-01T09:00:00Z', scheduledend: '2030-01-01T09:30:00Z' } });
      expect(upsert.status).toBe(204);
      expect((await h.api(`appointments(${id})?$select=subject`)).json.subject).toBe('Created by upsert');
      const createOnly = await h.api(`appointments(${id})`, { method: 'PATCH', headers: { 'If-None-Match': '*' }, body: { subject: 'y' } });
      expect(createOnly.status).toBe(412);
      const updated = await h.api(`appointments(${id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { subject: 'Updated' } });
      expect(updated.status).toBe(204);
    });

    it('DELETE answers 204, then 404 once the record is gone', async () => {
      const id = h.sim.admin.seedRecords('phonecalls', [{ subject: 'Ring' }])[0]!;
      expect((await h.api(`phonecalls(${id})`, { method: 'DELETE' })).status).toBe(204);
      const again = await h.api(`phonecalls(${id})`, { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect(again.json.error.code).toBe('0x80040217');
    });

    it('rejects unknown properties, read-only columns, over-long strings and bad binds with 400s naming the problem', async () => {
      const unknown = await h.api('contacts', { method: 'POST', body: { firstname: 'A', nosuchcolumn: 1 } });
      expect(unknown.status).toBe(400);
      expect(unknown.json.error.message).toContain("'nosuchcolumn'");
      const readOnly = await h.api('contacts', { method: 'POST', body: { fullname: 'X' } });
      expect(readOnly.status).toBe(400);
      expect(readOnly.json.error.message).toContain("'fullname'");
      const long = await h.api('appointments', { method: 'POST', body: { subject: 'x'.repeat(201) } });
      expect(long.status).toBe(400);
      expect(long.json.error.message).toContain("maximum allowed length of '200'");
      const bind = await h.api('tasks', { method: 'POST', body: { subject: 'x', 'ownerid@odata.bind': '/systemusers(99999999-0000-4000-8000-000000000000)' } });
      expect(bind.status).toBe(404);
      const date = await h.api('contacts', { method: 'POST', body: { birthdate: '1990-02-30T00:00:00Z' } });
      expect(date.status).toBe(400);
      expect(date.json.error.message).toContain('birthdate');
    });

    it('keeps birthdate as a Date-only value and binds parentcustomerid to an account', async () => {
      const account = h.sim.admin.seedRecords('accounts', [{ name: 'Contoso' }])[0]!;
      const res = await h.api('contacts?$select=birthdate,_parentcustomerid_value', {
        method: 'POST',
        headers: { Prefer: 'return=representation,odata.include-annotations="*"' },
        body: { firstname: 'Cy', birthdate: '1990-02-28', 'parentcustomerid_account@odata.bind': `/accounts(${account})` },
      });
      expect(res.status).toBe(201);
      expect(res.json.birthdate).toBe('1990-02-28');
      expect(res.json._parentcustomerid_value).toBe(account);
      expect(res.json['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('account');
      expect(res.json['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']).toBe('Contoso');
    });
  });

  describe('statecode/statuscode pairs (docs/reference/platform-facts.md section 6; letter.md and fax.md)', () => {
    const valid: Record<string, Array<[number, number]>> = {
      appointments: [[0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [3, 6]],
      tasks: [[0, 2], [0, 3], [0, 4], [0, 7], [1, 5], [2, 6]],
      phonecalls: [[0, 1], [1, 2], [1, 4], [2, 3]],
      letters: [[0, 1], [0, 2], [1, 3], [1, 4], [2, 5]],
      faxes: [[0, 1], [1, 2], [1, 3], [1, 4], [2, 5]],
    };
    for (const [set, pairs] of Object.entries(valid)) {
      it(`${set}: accepts exactly the documented pairs`, async () => {
        const allStatuses = [...new Set(pairs.map(([, s]) => s))];
        const states = [...new Set(pairs.map(([st]) => st))];
        for (const state of states) {
          for (const status of allStatuses) {
            const id = h.sim.admin.seedRecords(set, [{ subject: 's' }])[0]!;
            const res = await h.api(`${set}(${id})`, { method: 'PATCH', body: { statecode: state, statuscode: status } });
            const ok = pairs.some(([a, b]) => a === state && b === status);
            expect({ set, state, status, code: res.status }).toEqual({ set, state, status, code: ok ? 204 : 400 });
            if (!ok) expect(res.json.error.code).toBe('0x80048408');
          }
        }
      });
    }

    it('statecode alone takes the default status; the message names the state like the platform does', async () => {
      const id = h.sim.admin.seedRecords('tasks', [{ subject: 't' }])[0]!;
      await h.api(`tasks(${id})`, { method: 'PATCH', body: { statecode: 1 } });
      expect((await h.api(`tasks(${id})?$select=statecode,statuscode`)).json).toMatchObject({ statecode: 1, statuscode: 5 });
      const bad = await h.api(`tasks(${id})`, { method: 'PATCH', body: { statecode: 0, statuscode: 6 } });
      expect(bad.json.error.message).toBe(`6 is not a valid status code for state code TaskState.Open on task with Id ${id}.`);
    });

    it('tasks are created Open whatever statecode says (statecode is not valid for create); the status must fit Open', async () => {
      const res = await h.api('tasks?$select=statecode,statuscode', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { subject: 't', statecode: 1 } });
      expect(res.json).toMatchObject({ statecode: 0, statuscode: 2 });
      const bad = await h.api('tasks', { method: 'POST', body: { subject: 't', statuscode: 5 } });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('0x80048408');
    });

    it('a completed activity is read-only until reopened; completing sets actualend', async () => {
      const id = h.sim.admin.seedRecords('appointments', [{ subject: 'Meet', scheduledstart: '2030-01-01T09:00:00Z', scheduledend: '2030-01-01T10:00:00Z' }])[0]!;
      expect((await h.api(`appointments(${id})`, { method: 'PATCH', body: { statecode: 1, statuscode: 3 } })).status).toBe(204);
      const completed = await h.api(`appointments(${id})?$select=actualend`);
      expect(completed.json.actualend).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const edit = await h.api(`appointments(${id})`, { method: 'PATCH', body: { subject: 'Changed' } });
      expect(edit.status).toBe(400);
      expect(edit.json.error.code).toBe('0x8004022e');
      expect((await h.api(`appointments(${id})`, { method: 'PATCH', body: { statecode: 3, statuscode: 5 } })).status).toBe(204);
      expect((await h.api(`appointments(${id})`, { method: 'PATCH', body: { subject: 'Changed' } })).status).toBe(204);
    });
  });

  describe('activity parties', () => {
    it('creates parties inline, defaults the organizer to the owner, and adds the owner party', async () => {
      const contact = h.sim.admin.seedRecords('contacts', [{ firstname: 'Cat', emailaddress1: 'cat@example.test' }])[0]!;
      const res = await h.api('appointments', {
        method: 'POST',
        headers: { Prefer: 'return=representation' },
        body: {
          subject: 'Review',
          scheduledstart: '2030-02-01T09:00:00Z',
          scheduledend: '2030-02-01T10:00:00Z',
          'ownerid@odata.bind': `/systemusers(${alice})`,
          appointment_activity_parties: [
            { 'partyid_contact@odata.bind': `/contacts(${contact})`, participationtypemask: 5 },
            { 'partyid_systemuser@odata.bind': `/systemusers(${bob})`, participationtypemask: 6 },
            { addressused: 'guest@elsewhere.test', participationtypemask: 5 },
          ],
        },
      });
      expect(res.status).toBe(201);
      const id = res.json.activityid;
      const parties = await h.api(`appointments(${id})?$select=subject&$expand=appointment_activity_parties($select=_partyid_value,participationtypemask,addressused)`, {
        headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' },
      });
      const list = parties.json.appointment_activity_parties as Loose[];
      const summary = (list as Array<Record<string, unknown>>).map((p) => [p['participationtypemask'], p['_partyid_value'], p['_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname'] ?? null, p['addressused']]);
      expect(summary).toEqual(
        expect.arrayContaining([
          [5, contact, 'contact', 'cat@example.test'],
          [6, bob, 'systemuser', 'bob@contoso.test'],
          [5, null, null, 'guest@elsewhere.test'],
          [7, alice, 'systemuser', 'alice@contoso.test'],
          [9, alice, 'systemuser', 'alice@contoso.test'],
        ]),
      );
      expect(list).toHaveLength(5);
      for (const p of list) expect(keysOf(p)).toEqual(keysOf({ '@odata.etag': 1, activitypartyid: 1, _partyid_value: 1, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 1, participationtypemask: 1, addressused: 1 }).filter((k) => p._partyid_value !== null || !k.includes('@Microsoft')));
    });

    it('replaces the party collection as a whole on update, and filters by party with any()', async () => {
      const created = await h.api('appointments', {
        method: 'POST',
        headers: { Prefer: 'return=representation' },
        body: { subject: 'A', appointment_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${bob})`, participationtypemask: 5 }] },
      });
      const id = created.json.activityid;
      const withBob = await h.api(`appointments?$select=subject&$filter=appointment_activity_parties/any(p: p/_partyid_value eq ${bob} and p/participationtypemask eq 5)`);
      expect(pluck(withBob.json, 'activityid')).toEqual([id]);
      await h.api(`appointments(${id})`, { method: 'PATCH', body: { appointment_activity_parties: [{ addressused: 'x@y.test', participationtypemask: 6 }] } });
      const parties = (await h.api(`appointments(${id})/appointment_activity_parties?$select=participationtypemask,addressused`)).json.value as Loose[];
      expect((parties as Array<{ participationtypemask: number }>).map((p) => p.participationtypemask).sort()).toEqual([6, 9]);
      const after = await h.api(`appointments?$select=subject&$filter=appointment_activity_parties/any(p: p/_partyid_value eq ${bob})`);
      expect(after.json.value).toEqual([]);
      const partyRows = await h.api(`activityparties?$filter=_activityid_value eq ${id} and participationtypemask eq 6&$select=addressused`);
      expect(pluck(partyRows.json, 'addressused')).toEqual(['x@y.test']);
    });

    it('refuses two organizers or an organizer that is not a systemuser', async () => {
      const two = await h.api('appointments', {
        method: 'POST',
        body: {
          subject: 'x',
          appointment_activity_parties: [
            { 'partyid_systemuser@odata.bind': `/systemusers(${alice})`, participationtypemask: 7 },
            { 'partyid_systemuser@odata.bind': `/systemusers(${bob})`, participationtypemask: 7 },
          ],
        },
      });
      expect(two.status).toBe(400);
      const external = await h.api('appointments', { method: 'POST', body: { subject: 'x', appointment_activity_parties: [{ addressused: 'o@x.test', participationtypemask: 7 }] } });
      expect(external.status).toBe(400);
      expect(external.json.error.message).toContain('organizer');
    });
  });

  describe('queries', () => {
    it('filters with comparison, logical and null operators, lookups, strings case-insensitively; orders and tops', async () => {
      const rows = Array.from({ length: 30 }, (_, i) => ({
        subject: `Item ${String(i).padStart(2, '0')}`,
        prioritycode: i % 3,
        scheduledstart: new Date(Date.UTC(2030, 0, 1 + i)).toISOString(),
        ...(i % 5 === 0 ? {} : { description: `d${i}` }),
        'ownerid@odata.bind': `/systemusers(${i % 2 ? alice : bob})`,
      }));
      h.sim.admin.seedRecords('tasks', rows);
      const q = async (query: string) => pluck((await h.api(`tasks?$select=subject&${query}`)).json, 'subject');
      expect(await q(`$filter=prioritycode eq 2 and scheduledstart ge 2030-01-10T00:00:00Z&$orderby=subject desc&$top=3`)).toEqual(['Item 29', 'Item 26', 'Item 23']);
      expect(await q(`$filter=description eq null&$orderby=subject`)).toEqual(['Item 00', 'Item 05', 'Item 10', 'Item 15', 'Item 20', 'Item 25']);
      expect(await q(`$filter=(_ownerid_value eq ${bob} or prioritycode eq 1) and scheduledstart lt 2030-01-06T00:00:00Z&$orderby=subject`)).toEqual(['Item 00', 'Item 01', 'Item 02', 'Item 04']);
      expect(await q(`$filter=subject eq 'ITEM 07'`)).toEqual(['Item 07']);
      expect(await q(`$filter=contains(subject,'2') and not (prioritycode ne 0)&$orderby=subject`)).toEqual(['Item 12', 'Item 21', 'Item 24', 'Item 27']);
      const bad = await h.api('tasks?$filter=nosuch eq 1');
      expect(bad.status).toBe(400);
      expect(bad.json.error.message).toContain("'nosuch'");
    });

    it('pages with Prefer: odata.maxpagesize and absolute @odata.nextLink until every row was seen once', async () => {
      h.sim.admin.seedRecords('contacts', Array.from({ length: 23 }, (_, i) => ({ firstname: `P${i}` })));
      const seen: string[] = [];
      let url: string | undefined = 'contacts?$select=firstname&$orderby=firstname';
      let pages = 0;
      while (url) {
        const res = await h.api(url.replace(`${h.sim.apiUrl}/`, ''), { headers: { Prefer: 'odata.maxpagesize=10' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('preference-applied')).toContain('odata.maxpagesize=10');
        pages++;
        seen.push(...(pluck(res.json, 'firstname') as string[]));
        url = res.json['@odata.nextLink'];
        if (url) expect(url.startsWith(`${h.sim.apiUrl}/contacts?`)).toBe(true);
      }
      expect(pages).toBe(3);
      expect(seen).toHaveLength(23);
      expect(new Set(seen).size).toBe(23);
    });

    it('answers the registration look-ups a setup tool needs', async () => {
      const msg = await h.api(`sdkmessages?$filter=name eq 'Update'&$select=sdkmessageid,name`);
      expect(msg.json.value).toHaveLength(1);
      const id = msg.json.value[0].sdkmessageid;
      const filter = await h.api(`sdkmessagefilters?$filter=primaryobjecttypecode eq 'appointment' and _sdkmessageid_value eq ${id}&$select=sdkmessagefilterid,primaryobjecttypecode`);
      expect(filter.json.value).toHaveLength(1);
      expect(filter.json.value[0].primaryobjecttypecode).toBe('appointment');
    });
  });

  describe('impersonation and tag', () => {
    it('CallerObjectId and MSCRMCallerID make the impersonated user the creator, modifier and default owner; the app is on-behalf-of', async () => {
      const appUser = (await h.api('WhoAmI')).json.UserId;
      const res = await h.api('tasks?tag=sync-123&$select=_createdby_value,_ownerid_value,_createdonbehalfby_value', {
        method: 'POST',
        headers: { Prefer: 'return=representation', CallerObjectId: ALICE_OID },
        body: { subject: 'Impersonated' },
      });
      expect(res.json).toMatchObject({ _createdby_value: alice, _ownerid_value: alice, _createdonbehalfby_value: appUser });
      const upd = await h.api(`tasks(${res.json.activityid})?$select=_modifiedby_value,_modifiedonbehalfby_value`, {
        method: 'PATCH',
        headers: { Prefer: 'return=representation', MSCRMCallerID: bob },
        body: { subject: 'By Bob' },
      });
      expect(upd.json).toMatchObject({ _modifiedby_value: bob, _modifiedonbehalfby_value: appUser });
      const plain = await h.api(`tasks(${res.json.activityid})?$select=_modifiedby_value,_modifiedonbehalfby_value`, { method: 'PATCH', headers: { Prefer: 'return=representation' }, body: { subject: 'By app' } });
      expect(plain.json).toMatchObject({ _modifiedby_value: appUser, _modifiedonbehalfby_value: null });
    });

    it('counts requests per user and per route', async () => {
      await h.api('WhoAmI');
      await h.api('tasks?$top=1');
      await h.api('tasks?$top=1');
      const counts = h.sim.admin.requestCounts();
      expect(counts.byRoute['GET WhoAmI']).toBe(1);
      expect(counts.byRoute['GET tasks']).toBe(2);
      expect(Object.values(counts.byUser)).toEqual([3]);
    });
  });
});
