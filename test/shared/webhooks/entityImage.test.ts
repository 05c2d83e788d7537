import { describe, expect, it } from 'vitest';
import { imageToRecord } from '../../../shared/webhooks/entityImage.js';

const contracts = 'http://schemas.microsoft.com/xrm/2011/Contracts';
const ref = (logicalName: string, id: string) => ({ __type: `EntityReference:${contracts}`, Id: id, KeyAttributes: [], LogicalName: logicalName, Name: null, RowVersion: null });
const option = (value: number) => ({ __type: `OptionSetValue:${contracts}`, Value: value });
const party = (mask: number, partyId: string | null, address: string) => ({
  Attributes: [
    ...(partyId ? [{ key: 'partyid', value: ref('systemuser', partyId) }] : []),
    { key: 'participationtypemask', value: option(mask) },
    { key: 'addressused', value: address },
  ],
  Id: '00000000-0000-4000-8000-0000000000aa',
  LogicalName: 'activityparty',
});

describe('post image -> Web API record', () => {
  const columns = ['subject', 'description', 'scheduledstart', 'scheduledend', 'prioritycode', 'statecode', 'statuscode', 'ownerid', 'organizer', 'requiredattendees', 'optionalattendees', 'versionnumber'];

  it('converts WCF dates, option sets, lookups and party lists, and names the etag from versionnumber', () => {
    const record = imageToRecord(
      'appointment',
      {
        Id: 'A1B2C3D4-0000-4000-8000-000000000001',
        RowVersion: null,
        Attributes: [
          { key: 'subject', value: 'Review' },
          { key: 'scheduledstart', value: '/Date(1798362000000)/' },
          { key: 'scheduledend', value: '/Date(1798365600000-0700)/' },
          { key: 'prioritycode', value: option(2) },
          { key: 'statecode', value: option(3) },
          { key: 'statuscode', value: option(5) },
          { key: 'ownerid', value: ref('systemuser', 'FEEA85E7-1878-46D4-B3C0-56F1BA0ECE1D') },
          { key: 'organizer', value: { __type: `EntityCollection:${contracts}`, Entities: [party(7, 'feea85e7-1878-46d4-b3c0-56f1ba0ece1d', 'alice@contoso.example')] } },
          { key: 'requiredattendees', value: { __type: `EntityCollection:${contracts}`, Entities: [party(5, null, 'carla@fabrikam.example')] } },
          { key: 'versionnumber', value: 912345 },
        ],
      },
      columns,
    );
    expect(record).toEqual({
      '@odata.type': '#Microsoft.Dynamics.CRM.appointment',
      '@odata.etag': 'W/"912345"',
      activityid: 'a1b2c3d4-0000-4000-8000-000000000001',
      subject: 'Review',
      description: null,
      scheduledstart: '2026-12-27T09:00:00Z',
      scheduledend: '2026-12-27T10:00:00Z',
      prioritycode: 2,
      statecode: 3,
      statuscode: 5,
      _ownerid_value: 'feea85e7-1878-46d4-b3c0-56f1ba0ece1d',
      versionnumber: 912345,
      appointment_activity_parties: [
        { participationtypemask: 7, _partyid_value: 'feea85e7-1878-46d4-b3c0-56f1ba0ece1d', addressused: 'alice@contoso.example' },
        { participationtypemask: 5, _partyid_value: null, addressused: 'carla@fabrikam.example' },
      ],
    });
  });

  it('gives up (undefined) on an image without the record id or its version, so the worker reads the record', () => {
    expect(imageToRecord('contact', { Id: 'a1b2c3d4-0000-4000-8000-000000000002', Attributes: [{ key: 'firstname', value: 'Dana' }] }, ['firstname'])).toBeUndefined();
    expect(imageToRecord('contact', { Attributes: [{ key: 'versionnumber', value: 1 }] }, ['firstname'])).toBeUndefined();
  });

  it('keeps a date-only column as a date', () => {
    const record = imageToRecord('contact', { Id: 'a1b2c3d4-0000-4000-8000-000000000003', Attributes: [{ key: 'birthdate', value: '/Date(631152000000)/' }, { key: 'versionnumber', value: 7 }] }, ['birthdate']);
    expect(record?.birthdate).toBe('1990-01-01');
  });

  it('reads only a whole /Date(ms)/ value as a date: negative and offset forms; any other text stays as it is', () => {
    const text = (value: string, column = 'description') =>
      imageToRecord('appointment', { Id: 'a1b2c3d4-0000-4000-8000-000000000004', Attributes: [{ key: column, value }, { key: 'versionnumber', value: 1 }] }, [column])?.[column];
    expect(text('/Date(-86400000)/', 'scheduledstart')).toBe('1969-12-31T00:00:00Z');
    expect(text('/Date(1798362000000+0100)/', 'scheduledstart')).toBe('2026-12-27T09:00:00Z');
    // Milliseconds other than .000 are kept (only the zero fraction is dropped, as the Web API writes it).
    expect(text('/Date(1798362000123)/', 'scheduledstart')).toBe('2026-12-27T09:00:00.123Z');
    // A subject or description that happens to hold the form is text, not a date.
    expect(text('see /Date(1798362000000)/')).toBe('see /Date(1798362000000)/');
    expect(text('/Date(1798362000000)/ was the start')).toBe('/Date(1798362000000)/ was the start');
    expect(text('/Date(1798362000000)/x')).toBe('/Date(1798362000000)/x');
    expect(text('/Date()/')).toBe('/Date()/');
  });

  it('takes the version from RowVersion when versionnumber is not among the attributes, as text or number', () => {
    const id = 'a1b2c3d4-0000-4000-8000-000000000005';
    expect(imageToRecord('contact', { Id: id, RowVersion: '4711', Attributes: [] }, [])).toEqual({ '@odata.type': '#Microsoft.Dynamics.CRM.contact', '@odata.etag': 'W/"4711"', contactid: id });
    expect(imageToRecord('contact', { Id: id, RowVersion: null, Attributes: [{ key: 'versionnumber', value: '4712' }] }, [])?.['@odata.etag']).toBe('W/"4712"');
    // A version that is neither (an object, a boolean) is no version: the worker reads the record.
    expect(imageToRecord('contact', { Id: id, Attributes: [{ key: 'versionnumber', value: { Value: 1 } }] }, [])).toBeUndefined();
    expect(imageToRecord('contact', { Id: id, Attributes: [{ key: 'versionnumber', value: true }] }, [])).toBeUndefined();
  });

  it("a Delete's pre image (versionless) gives the record without an etag; without its id it still gives up", () => {
    const record = imageToRecord('contact', { Id: 'A1B2C3D4-0000-4000-8000-000000000006', Attributes: [{ key: 'firstname', value: 'Dana' }] }, ['firstname'], { versionless: true });
    expect(record).toEqual({ '@odata.type': '#Microsoft.Dynamics.CRM.contact', contactid: 'a1b2c3d4-0000-4000-8000-000000000006', firstname: 'Dana' });
    expect(imageToRecord('contact', { Attributes: [{ key: 'firstname', value: 'Dana' }] }, ['firstname'], { versionless: true })).toBeUndefined();
    // A versionless image that carries a version keeps it.
    expect(imageToRecord('contact', { Id: 'a1b2c3d4-0000-4000-8000-000000000006', Attributes: [{ key: 'versionnumber', value: 3 }] }, [], { versionless: true })?.['@odata.etag']).toBe('W/"3"');
  });

  it('writes a lookup as _column_value (any EntityReference, and the known lookup columns even when absent or null)', () => {
    const record = imageToRecord(
      'contact',
      {
        Id: 'a1b2c3d4-0000-4000-8000-000000000007',
        Attributes: [
          { key: 'versionnumber', value: 1 },
          { key: 'transactioncurrencyid', value: ref('transactioncurrency', 'C0FFEE00-0000-4000-8000-000000000001') },
          { key: 'ownerid', value: null },
        ],
      },
      ['transactioncurrencyid', 'ownerid', 'parentcustomerid', 'regardingobjectid', 'jobtitle'],
    );
    expect(record).toEqual({
      '@odata.type': '#Microsoft.Dynamics.CRM.contact',
      '@odata.etag': 'W/"1"',
      contactid: 'a1b2c3d4-0000-4000-8000-000000000007',
      _transactioncurrencyid_value: 'c0ffee00-0000-4000-8000-000000000001',
      _ownerid_value: null,
      _parentcustomerid_value: null,
      _regardingobjectid_value: null,
      jobtitle: null,
    });
  });

  it('keeps a null attribute null, a string option value as it is, and an object that is no reference nor option as it is', () => {
    const odd = { __type: 'Money', Amount: 5 };
    const record = imageToRecord(
      'contact',
      {
        Id: 'a1b2c3d4-0000-4000-8000-000000000008',
        Attributes: [
          { key: 'versionnumber', value: 1 },
          { key: 'firstname', value: null },
          { key: 'gendercode', value: { Value: '2' } },
          { key: 'nickname', value: { LogicalName: 'x' } },
          { key: 'spousesname', value: { Id: 'ABC' } },
          { key: 'creditlimit', value: odd },
          { key: 'numberofchildren', value: 0 },
          { key: 'donotemail', value: false },
        ],
      },
      ['firstname', 'gendercode', 'nickname', 'spousesname', 'creditlimit', 'numberofchildren', 'donotemail'],
    );
    expect(record).toMatchObject({ firstname: null, gendercode: '2', nickname: { LogicalName: 'x' }, spousesname: 'abc', creditlimit: odd, numberofchildren: 0, donotemail: false });
  });

  it('puts the party list only on tables that have party columns, and reads each party defensively', () => {
    // A contact has no party list, nor does a To Do task (it has the navigation, but no party column).
    expect(imageToRecord('contact', { Id: 'a1b2c3d4-0000-4000-8000-000000000009', Attributes: [{ key: 'versionnumber', value: 1 }] }, [])).not.toHaveProperty('contact_activity_parties');
    expect(imageToRecord('task', { Id: 'a1b2c3d4-0000-4000-8000-000000000009', Attributes: [{ key: 'versionnumber', value: 1 }] }, ['subject'])).not.toHaveProperty('task_activity_parties');
    // A phone call has party columns: the list is there even when the image holds none of them.
    expect(imageToRecord('phonecall', { Id: 'a1b2c3d4-0000-4000-8000-000000000009', Attributes: [{ key: 'versionnumber', value: 1 }] }, ['from', 'to'])).toEqual({
      '@odata.type': '#Microsoft.Dynamics.CRM.phonecall',
      '@odata.etag': 'W/"1"',
      activityid: 'a1b2c3d4-0000-4000-8000-000000000009',
      phonecall_activity_parties: [],
    });
    const record = imageToRecord(
      'email',
      {
        Id: 'a1b2c3d4-0000-4000-8000-00000000000a',
        Attributes: [
          { key: 'versionnumber', value: 1 },
          // A party without attributes, one whose address is not text, one whose partyid is an option (not an id).
          { key: 'to', value: { Entities: [{ Id: 'x' }, { Attributes: [{ key: 'addressused', value: 5 }, { key: 'partyid', value: option(3) }] }] } },
          // Not an entity collection: no parties.
          { key: 'cc', value: { Entities: 'none' } },
          { key: 'bcc', value: [party(4, null, 'dana@fabrikam.example')] },
        ],
      },
      ['to', 'cc', 'bcc'],
    );
    expect(record).toEqual({
      '@odata.type': '#Microsoft.Dynamics.CRM.email',
      '@odata.etag': 'W/"1"',
      activityid: 'a1b2c3d4-0000-4000-8000-00000000000a',
      email_activity_parties: [
        { participationtypemask: 2, _partyid_value: null, addressused: null },
        { participationtypemask: 2, _partyid_value: null, addressused: null },
      ],
    });
  });
});

