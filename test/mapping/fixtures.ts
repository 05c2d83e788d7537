// Builders for Dataverse records and Graph items in the shapes the two APIs return, plus the helpers that turn a
// body the mapping wrote into the item the API would then return (for round trips).
import type { MappingContext } from '../../shared/mapping/index.js';

export const me = { address: 'dana@contoso.com', systemUserId: '11111111-2222-4333-8444-555555555555' };
export const otherUserId = '99999999-8888-4777-8666-555555555555';
/** Fixed seed for every property test in this folder (deterministic runs). */
export const seed = 20261126;

let counter = 0;
/** A fresh GUID-shaped id (deterministic sequence). */
export function guid(): string {
  counter += 1;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`;
}

/** A mapping context at `now` in `timeZone`. */
export function ctxAt(now: string, timeZone = 'Europe/Berlin'): MappingContext {
  return { now: new Date(now), mailbox: { ...me }, timeZone };
}

type Json = Record<string, unknown>;

/** A Dataverse appointment organized by the mailbox user, Scheduled/Busy, 10:00-11:00 UTC on 2024-07-01. */
export function appointment(overrides: Json = {}): Json {
  return {
    '@odata.etag': 'W/"1001"',
    activityid: guid(),
    subject: 'Quarterly review',
    description: 'Agenda attached',
    location: 'Room 1',
    scheduledstart: '2024-07-01T10:00:00Z',
    scheduledend: '2024-07-01T11:00:00Z',
    isalldayevent: false,
    prioritycode: 1,
    statecode: 3,
    statuscode: 5,
    _ownerid_value: me.systemUserId,
    globalobjectid: null,
    appointment_activity_parties: [
      { participationtypemask: 7, _partyid_value: me.systemUserId, addressused: me.address },
      { participationtypemask: 5, _partyid_value: guid(), addressused: 'alex@fabrikam.com' },
      { participationtypemask: 6, _partyid_value: guid(), addressused: 'sam@fabrikam.com' },
    ],
    ...overrides,
  };
}

/** A Dataverse activity of the given table that maps to a To Do task (Open, no due date). */
export function activity(entity: 'task' | 'phonecall' | 'letter' | 'fax', overrides: Json = {}): Json {
  const openStatus = entity === 'task' ? 2 : 1;
  return {
    '@odata.type': `#Microsoft.Dynamics.CRM.${entity}`,
    '@odata.etag': 'W/"2002"',
    activityid: guid(),
    subject: `A ${entity}`,
    description: null,
    scheduledstart: null,
    scheduledend: null,
    actualend: null,
    prioritycode: 1,
    statecode: 0,
    statuscode: openStatus,
    ...(entity === 'task' ? { percentcomplete: null } : {}),
    _ownerid_value: me.systemUserId,
    ...overrides,
  };
}

/** A Dataverse contact. */
export function contact(overrides: Json = {}): Json {
  return {
    '@odata.etag': 'W/"3003"',
    contactid: guid(),
    firstname: 'Alex',
    lastname: 'Wilber',
    fullname: 'Alex Wilber',
    emailaddress1: 'alex@fabrikam.com',
    telephone1: '+1 425 555 0100',
    ...overrides,
  };
}

/** A Graph event as GET returns it (in UTC unless overridden), organized by the mailbox. */
export function event(overrides: Json = {}): Json {
  return {
    '@odata.etag': 'W/"ZlnW4RIAV06KYYwlrfNZvQAALfZeRQ=="',
    id: 'AAMkAGI1AAAt9AHjAAA=',
    subject: 'Planning',
    body: { contentType: 'html', content: '<html><head></head><body><p>Hello</p></body></html>' },
    start: { dateTime: '2024-07-01T10:00:00.0000000', timeZone: 'UTC' },
    end: { dateTime: '2024-07-01T11:00:00.0000000', timeZone: 'UTC' },
    isAllDay: false,
    showAs: 'busy',
    isCancelled: false,
    isReminderOn: true,
    importance: 'normal',
    location: { displayName: "Harry's Bar" },
    attendees: [{ type: 'required', emailAddress: { address: 'samanthab@contoso.onmicrosoft.com', name: 'Samantha Booth' } }],
    organizer: { emailAddress: { address: me.address, name: 'Dana Swope' } },
    isOrganizer: true,
    iCalUId: '040000008200E00074C5B7101A82E00800000000DA2B357D94B5D201000000000000000010000000EC4597557F0CB34EA4CC2887EA7B17C3',
    categories: ['Tracked to Dynamics 365'],
    ...overrides,
  };
}

/** A Graph todoTask as GET returns it. */
export function todo(overrides: Json = {}): Json {
  return {
    '@odata.etag': 'W/"xzyPKP0BiUGgld+lMKXwbQAAnBoTIw=="',
    id: 'AlMKXwbQAAAJws6wcAAAA=',
    title: 'A new task',
    body: { content: '', contentType: 'text' },
    status: 'notStarted',
    importance: 'low',
    isReminderOn: false,
    categories: ['Tracked to Dynamics 365'],
    ...overrides,
  };
}

/** A Graph contact as GET returns it (null scalars, [] collections, {} addresses; samples/graph-contact.json). */
export function graphContact(overrides: Json = {}): Json {
  return {
    '@odata.etag': 'W/"EQAAABYAAAAiIsqMbYjsT5e/T7KzowPTAAAYc8Bf"',
    id: 'AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAiIsqMbYjsT5e-T7KzowPTAAAAAAEOAAAiIsqMbYjsT5e-T7KzowPTAAAYbuK-AAA=',
    categories: [],
    birthday: null,
    fileAs: '',
    displayName: 'Alex Wilber',
    givenName: 'Alex',
    initials: null,
    middleName: null,
    nickName: null,
    surname: 'Wilber',
    title: null,
    generation: null,
    imAddresses: [],
    jobTitle: null,
    companyName: null,
    department: null,
    officeLocation: null,
    businessHomePage: null,
    homePhones: [],
    mobilePhone: null,
    businessPhones: [],
    personalNotes: '',
    emailAddresses: [{ name: 'Alex@FineArtSchool.net', address: 'Alex@FineArtSchool.net' }],
    homeAddress: {},
    businessAddress: {},
    otherAddress: {},
    ...overrides,
  };
}

/** What Dataverse returns after creating `body` in `entity`: binds become lookups, the key and type are added. */
export function asDataverseRecord(body: Json, entity: 'appointment' | 'task' | 'contact'): Json {
  const record: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'ownerid@odata.bind') record['_ownerid_value'] = /\(([^)]+)\)/.exec(String(value))?.[1];
    else record[key] = value;
  }
  record[entity === 'contact' ? 'contactid' : 'activityid'] = guid();
  if (entity !== 'contact') record['@odata.type'] = `#Microsoft.Dynamics.CRM.${entity}`;
  if (entity === 'task' && record['statecode'] === undefined) Object.assign(record, { statecode: 0, statuscode: 2 });
  if (entity === 'appointment' && record['statecode'] === undefined) Object.assign(record, { statecode: 0, statuscode: 1 });
  return record;
}

/** What Graph returns after creating `body`: an id is added; the organizer is the mailbox unless told otherwise. */
export function asGraphItem(body: Json, extra: Json = {}): Json {
  return { id: `AAMk${guid()}`, ...body, ...extra };
}
