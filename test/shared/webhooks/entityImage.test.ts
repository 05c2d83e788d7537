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
});
