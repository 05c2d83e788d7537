// fast-check generators of valid Dataverse records and Graph items, in the shapes the two APIs return.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { findWindows } from 'windows-iana';
import type { MappingContext } from '../../shared/mapping/index.js';
import { guid, me } from './fixtures.js';

type Json = Record<string, unknown>;

export const zones = ['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/Sao_Paulo', 'Pacific/Auckland'] as const;

const minDate = new Date('2000-01-01T00:00:00Z');
const maxDate = new Date('2040-12-31T00:00:00Z');

/** An instant to the second, as Dataverse returns it ("2024-07-01T10:00:00Z"). */
export const instant = fc.date({ min: minDate, max: maxDate, noInvalidDate: true }).map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** A mapping context: a clock and a mailbox zone. */
export const context: fc.Arbitrary<MappingContext> = fc
  .record({ now: instant, timeZone: fc.constantFrom(...zones) })
  .map(({ now, timeZone }) => ({ now: new Date(now), timeZone, mailbox: { ...me } }));

/**
 * Text or null, up to `max` characters (the Dataverse column's MaxLength: longer Outlook text is cut by design),
 * including blanks, padding and CRLF line breaks.
 */
export function text(max: number): fc.Arbitrary<string | null> {
  const tricky = ['', '  ', 'line 1\r\nline 2', ' padded '].filter((t) => t.length <= max);
  return fc.option(fc.oneof(fc.string({ maxLength: max }), fc.constantFrom(...tricky)), { nil: null });
}

const email = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,10}$/), fc.constantFrom('contoso.com', 'fabrikam.com', 'example.org')).map(([l, d]) => `${l}@${d}`);
const mixedCaseEmail = fc.tuple(email, fc.boolean()).map(([e, upper]) => (upper ? e.toUpperCase() : e));
const priority = fc.constantFrom(0, 1, 2, null);

/** A Dataverse appointment (any valid state, all-day or timed, organized by the user or someone else). */
export const dataverseAppointment: fc.Arbitrary<Json> = fc
  .record({
    subject: text(200),
    description: text(400),
    location: text(200),
    start: instant,
    minutes: fc.integer({ min: 0, max: 4 * 24 * 60 }),
    allDay: fc.boolean(),
    prioritycode: priority,
    state: fc.constantFrom([0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [3, 6]),
    organizer: fc.constantFrom('me-by-id', 'me-by-address', 'owner', 'other'),
    attendees: fc.array(fc.record({ address: fc.option(mixedCaseEmail, { nil: null }), mask: fc.constantFrom(5, 6) }), { maxLength: 5 }),
    globalobjectid: fc.option(fc.stringMatching(/^[0-9A-F]{16,40}$/), { nil: null }),
  })
  .map((a) => {
    const end = DateTime.fromISO(a.start, { zone: 'UTC' }).plus({ minutes: a.minutes }).toISO({ suppressMilliseconds: true });
    const parties: Json[] = a.attendees.map((p) => ({ participationtypemask: p.mask, _partyid_value: guid(), addressused: p.address }));
    if (a.organizer === 'me-by-id') parties.push({ participationtypemask: 7, _partyid_value: me.systemUserId, addressused: null });
    if (a.organizer === 'me-by-address') parties.push({ participationtypemask: 7, _partyid_value: null, addressused: me.address.toUpperCase() });
    if (a.organizer === 'other') parties.push({ participationtypemask: 7, _partyid_value: guid(), addressused: 'boss@contoso.com' });
    return {
      activityid: guid(),
      subject: a.subject,
      description: a.description,
      location: a.location,
      scheduledstart: a.start,
      scheduledend: end?.replace('+00:00', 'Z'),
      isalldayevent: a.allDay,
      prioritycode: a.prioritycode,
      statecode: a.state[0],
      statuscode: a.state[1],
      _ownerid_value: me.systemUserId,
      globalobjectid: a.globalobjectid,
      appointment_activity_parties: parties,
    };
  });

const statesByEntity = {
  task: [[0, 2], [0, 3], [0, 4], [0, 7], [1, 5], [2, 6]],
  phonecall: [[0, 1], [1, 2], [1, 4], [2, 3]],
  letter: [[0, 1], [0, 2], [1, 3], [1, 4], [2, 5]],
  fax: [[0, 1], [1, 2], [1, 3], [1, 4], [2, 5]],
} as const;

/** A Dataverse task, phone call, letter or fax. */
export const dataverseActivity: fc.Arbitrary<Json> = fc
  .constantFrom('task', 'phonecall', 'letter', 'fax')
  .chain((entity) =>
    fc.record({
      entity: fc.constant(entity),
      subject: text(200),
      description: text(400),
      scheduledend: fc.option(instant, { nil: null }),
      actualend: fc.option(instant, { nil: null }),
      prioritycode: priority,
      state: fc.constantFrom(...statesByEntity[entity]),
      percentcomplete: entity === 'task' ? fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }) : fc.constant(null),
      typeBy: fc.constantFrom('@odata.type', 'activitytypecode'),
    }),
  )
  .map((a) => ({
    ...(a.typeBy === '@odata.type' ? { '@odata.type': `#Microsoft.Dynamics.CRM.${a.entity}` } : { activitytypecode: a.entity }),
    activityid: guid(),
    subject: a.subject,
    description: a.description,
    scheduledend: a.scheduledend,
    actualend: a.actualend,
    prioritycode: a.prioritycode,
    statecode: a.state[0],
    statuscode: a.state[1],
    ...(a.entity === 'task' ? { percentcomplete: a.percentcomplete } : {}),
  }));

const phone = fc.option(fc.stringMatching(/^\+?[0-9 ]{3,20}$/), { nil: null });
const dateOnly = fc.date({ min: new Date('1920-01-01T00:00:00Z'), max: new Date('2020-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

/** A Dataverse contact. */
export const dataverseContact: fc.Arbitrary<Json> = fc
  .record({
    firstname: text(50),
    middlename: text(50),
    lastname: text(50),
    salutation: text(100),
    suffix: text(10),
    nickname: text(100),
    fullname: text(160),
    emailaddress1: fc.option(email, { nil: null }),
    emailaddress2: fc.option(email, { nil: null }),
    emailaddress3: fc.option(email, { nil: null }),
    telephone1: phone,
    telephone2: phone,
    mobilephone: phone,
    address1_line1: text(250),
    address1_line2: text(250),
    address1_line3: text(250),
    address1_city: text(80),
    address1_stateorprovince: text(50),
    address1_postalcode: text(20),
    address1_country: text(80),
    address2_line1: text(250),
    address2_city: text(80),
    department: text(100),
    jobtitle: text(100),
    birthdate: fc.option(dateOnly, { nil: null }),
    description: text(2000),
    company: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: null }),
  })
  .map(({ company, ...c }) => ({
    contactid: guid(),
    ...c,
    ...(company === null ? {} : { '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': company, _parentcustomerid_value: guid() }),
  }));

/** A Graph dateTimeTimeZone for an instant, in one of the ways Graph may name a zone (Windows, IANA, UTC). */
function graphTime(iso: string, zoneChoice: string, ctxZone: string): Json {
  const wall = (zone: string): string => DateTime.fromISO(iso, { zone }).toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'0000'");
  if (zoneChoice === 'mailbox') {
    const windows = findWindows(ctxZone)[0];
    return windows === undefined ? { dateTime: wall('UTC'), timeZone: 'UTC' } : { dateTime: wall(ctxZone), timeZone: windows };
  }
  if (zoneChoice === 'America/Los_Angeles') return { dateTime: wall(zoneChoice), timeZone: 'Pacific Standard Time' };
  return { dateTime: wall(zoneChoice), timeZone: zoneChoice };
}

/** A Graph event for the mailbox of `ctx` (any zone naming, all-day or timed, organized by the user or not). */
export function graphEvent(ctx: MappingContext): fc.Arbitrary<Json> {
  return fc
    .record({
      subject: text(200),
      body: fc.oneof(
        text(300).map((t) => ({ contentType: 'text', content: t })),
        text(300).map((t) => ({ contentType: 'html', content: `<html><head><style>p{}</style></head><body><p>${t ?? ''}</p><br>&amp; more</body></html>` })),
      ),
      location: text(200),
      start: instant,
      minutes: fc.integer({ min: 0, max: 4 * 24 * 60 }),
      days: fc.integer({ min: 1, max: 5 }),
      zone: fc.constantFrom('mailbox', 'UTC', 'America/Los_Angeles', 'Asia/Tokyo'),
      isAllDay: fc.boolean(),
      showAs: fc.constantFrom('free', 'tentative', 'busy', 'oof', 'workingElsewhere', 'unknown', null),
      isCancelled: fc.boolean(),
      importance: fc.constantFrom('low', 'normal', 'high', null),
      attendees: fc.array(fc.record({ type: fc.constantFrom('required', 'optional', 'resource', null), address: mixedCaseEmail }), { maxLength: 5 }),
      organizerIsMe: fc.boolean(),
      isReminderOn: fc.boolean(),
    })
    .map((e) => {
      const startDate = e.start.slice(0, 10);
      const allDayEnd = DateTime.fromISO(startDate, { zone: 'UTC' }).plus({ days: e.days }).toISODate();
      const end = DateTime.fromISO(e.start, { zone: 'UTC' }).plus({ minutes: e.minutes }).toISO() ?? e.start;
      return {
        '@odata.type': '#microsoft.graph.event',
        id: `AAMk${guid()}`,
        subject: e.subject,
        body: e.body,
        location: { displayName: e.location },
        start: e.isAllDay ? { dateTime: `${startDate}T00:00:00.0000000`, timeZone: 'UTC' } : graphTime(e.start, e.zone, ctx.timeZone),
        end: e.isAllDay ? { dateTime: `${allDayEnd}T00:00:00.0000000`, timeZone: 'UTC' } : graphTime(end, e.zone, ctx.timeZone),
        isAllDay: e.isAllDay,
        showAs: e.showAs,
        isCancelled: e.isCancelled,
        importance: e.importance,
        attendees: e.attendees.map((a) => ({ type: a.type, emailAddress: { address: a.address, name: a.address } })),
        organizer: { emailAddress: { address: e.organizerIsMe ? me.address : 'boss@contoso.com' } },
        isReminderOn: e.isReminderOn,
        iCalUId: `040000008200E00074C5B7101A82E008${guid().replace(/-/g, '')}`,
        categories: ['Tracked to Dynamics 365'],
      };
    });
}

/** A Graph todoTask for the mailbox of `ctx`. */
export function graphTodoTask(ctx: MappingContext): fc.Arbitrary<Json> {
  const graphDate = fc.oneof(
    dateOnly.map((d) => ({ dateTime: `${d}T00:00:00.0000000`, timeZone: 'UTC' })),
    instant.map((i) => graphTime(i, 'mailbox', ctx.timeZone)),
  );
  return fc
    .record({
      title: text(200),
      body: text(300),
      status: fc.constantFrom('notStarted', 'inProgress', 'completed', 'waitingOnOthers', 'deferred'),
      importance: fc.constantFrom('low', 'normal', 'high'),
      due: fc.option(graphDate, { nil: null }),
      completed: fc.option(graphDate, { nil: null }),
      isReminderOn: fc.boolean(),
    })
    .map((t) => ({
      '@odata.etag': 'W/"x"',
      id: `AAMk${guid()}`,
      title: t.title,
      body: { contentType: 'text', content: t.body ?? '' },
      status: t.status,
      importance: t.importance,
      dueDateTime: t.due,
      completedDateTime: t.completed,
      isReminderOn: t.isReminderOn,
      categories: [],
    }));
}

const address = fc.option(
  fc.record({
    street: fc.option(fc.array(fc.string({ maxLength: 60 }), { maxLength: 5 }).map((l) => l.join('\n')), { nil: null }),
    city: text(80),
    state: text(50),
    postalCode: text(20),
    countryOrRegion: text(80),
  }),
  { nil: null },
);

/** A Graph contact (up to five addresses and several phone numbers; Dataverse keeps three and the first of each). */
export const graphContactArb: fc.Arbitrary<Json> = fc
  .record({
    givenName: text(50),
    middleName: text(50),
    surname: text(50),
    title: text(100),
    generation: text(10),
    nickName: text(100),
    displayName: text(100),
    emails: fc.array(email, { maxLength: 5 }),
    businessPhones: fc.array(fc.stringMatching(/^[0-9 +]{3,20}$/), { maxLength: 3 }),
    homePhones: fc.array(fc.stringMatching(/^[0-9 +]{3,20}$/), { maxLength: 2 }),
    mobilePhone: phone,
    businessAddress: address,
    homeAddress: address,
    companyName: text(60),
    department: text(100),
    jobTitle: text(100),
    birthday: fc.option(fc.oneof(dateOnly.map((d) => `${d}T11:59:00Z`), dateOnly.map((d) => `${d}T00:00:00Z`)), { nil: null }),
    personalNotes: text(2000),
  })
  .map(({ emails, businessAddress, homeAddress, ...c }) => ({
    id: `AAMk${guid()}`,
    ...c,
    emailAddresses: emails.map((address) => ({ address, name: address })),
    businessAddress: businessAddress ?? {},
    homeAddress: homeAddress ?? {},
  }));
