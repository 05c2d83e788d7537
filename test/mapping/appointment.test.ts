import { describe, expect, it } from 'vitest';
import {
  appointmentToEvent,
  dataverseBodyFromSnapshot,
  eventToAppointment,
  exchangeBodyFromSnapshot,
  snapshotFromDataverse,
  snapshotFromExchange,
  trackedCategory,
  type AppointmentSnapshot,
} from '../../shared/mapping/index.js';
import { appointment, ctxAt, event, me, otherUserId } from './fixtures.js';

const july = ctxAt('2024-06-01T00:00:00Z');

describe('appointment -> event: showAs from state and status', () => {
  it.each([
    [0, 1, 'free', 'Free (Open) -> free'],
    [0, 2, 'tentative', 'Tentative -> tentative'],
    [1, 3, 'free', 'Completed -> free'],
    [2, 4, 'free', 'Canceled -> free'],
    [3, 5, 'busy', 'Busy -> busy'],
    [3, 6, 'oof', 'Out of Office -> oof'],
  ])('state %i status %i gives showAs %s (%s)', (statecode, statuscode, showAs) => {
    expect(appointmentToEvent(appointment({ statecode, statuscode }), july).event.showAs).toBe(showAs);
  });
});

describe('appointment -> event: reminder off when more than 7 days in the past or Free (Open), else on', () => {
  const start = '2024-07-01T10:00:00Z';
  it.each([
    ['2024-06-30T10:00:00Z', 5, true, 'future appointment'],
    ['2024-07-08T10:00:00Z', 5, true, 'exactly 7 days after the start'],
    ['2024-07-08T10:00:01Z', 5, false, '7 days and 1 second after the start'],
    ['2024-07-05T10:00:00Z', 5, true, '4 days after the start'],
    ['2024-06-30T10:00:00Z', 1, false, 'status Free (Open), even in the future'],
    ['2024-06-30T10:00:00Z', 2, true, 'status Tentative (Open): only Free turns it off'],
  ])('now %s, status %i -> isReminderOn %s (%s)', (now, statuscode, on) => {
    const state = statuscode === 1 || statuscode === 2 ? 0 : 3;
    const result = appointmentToEvent(appointment({ scheduledstart: start, statecode: state, statuscode }), ctxAt(now));
    expect(result.event.isReminderOn).toBe(on);
  });
});

describe('appointment -> event: invitations only for a future appointment with attendees organized by the syncing user', () => {
  it('organizer, future, attendees: a meeting with attendees, and creating it sends invitations', () => {
    const result = appointmentToEvent(appointment(), july);
    expect(result).toMatchObject({ mode: 'meeting', sendInvitations: true, unsyncedFields: [], linkToICalUId: null });
    expect(result.event.attendees).toEqual([
      { type: 'required', emailAddress: { address: 'alex@fabrikam.com' } },
      { type: 'optional', emailAddress: { address: 'sam@fabrikam.com' } },
    ]);
  });

  it('a start exactly at the sync time is not in the past: invitations are sent', () => {
    const result = appointmentToEvent(appointment({ scheduledstart: '2024-06-01T00:00:00Z', scheduledend: '2024-06-01T01:00:00Z' }), july);
    expect(result.sendInvitations).toBe(true);
  });

  it('in the past (by one second): written without attendees, no invitation, attendees not compared', () => {
    const result = appointmentToEvent(appointment(), ctxAt('2024-07-01T10:00:01Z'));
    expect(result).toMatchObject({ mode: 'withoutAttendees', sendInvitations: false, unsyncedFields: ['attendees'] });
    expect(result.reason).toContain('past');
    expect(result.event.attendees).toEqual([]);
  });

  it('no attendees: no invitation, nothing dropped', () => {
    const parties = [{ participationtypemask: 7, _partyid_value: me.systemUserId, addressused: me.address }];
    const result = appointmentToEvent(appointment({ appointment_activity_parties: parties }), july);
    expect(result).toMatchObject({ mode: 'withoutAttendees', sendInvitations: false, unsyncedFields: [] });
  });

  it('a party without an address cannot be invited: it alone counts as no attendees', () => {
    const parties = [{ participationtypemask: 5, _partyid_value: otherUserId, addressused: null }];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: parties }), july).sendInvitations).toBe(false);
  });

  it('syncing user not the organizer: link to the organizer invitation by iCalUId, no invitation', () => {
    const parties = [
      { participationtypemask: 7, _partyid_value: otherUserId, addressused: 'boss@contoso.com' },
      { participationtypemask: 5, _partyid_value: me.systemUserId, addressused: me.address },
    ];
    const result = appointmentToEvent(appointment({ appointment_activity_parties: parties, globalobjectid: 'ABC123' }), july);
    expect(result).toMatchObject({ mode: 'attendeeCopy', sendInvitations: false, linkToICalUId: 'ABC123', unsyncedFields: ['attendees'] });
    expect(result.event.attendees).toEqual([]);
  });

  it('organizer recognised by address when the party has no id; by owner when there is no organizer party', () => {
    const byAddress = [{ participationtypemask: 7, _partyid_value: null, addressused: 'DANA@contoso.com' }, { participationtypemask: 5, addressused: 'x@y.com' }];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: byAddress }), july).mode).toBe('meeting');
    const noOrganizer = [{ participationtypemask: 5, addressused: 'x@y.com' }];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: noOrganizer }), july).mode).toBe('meeting');
    expect(appointmentToEvent(appointment({ appointment_activity_parties: noOrganizer, _ownerid_value: otherUserId }), july).mode).toBe('attendeeCopy');
  });
});

describe('appointment -> event: fields', () => {
  it('maps subject, description to a text body, location, importance, and tags the tracked category', () => {
    const { event: e } = appointmentToEvent(appointment({ prioritycode: 2 }), july);
    expect(e).toMatchObject({
      subject: 'Quarterly review',
      body: { contentType: 'text', content: 'Agenda attached' },
      location: { displayName: 'Room 1' },
      importance: 'high',
      categories: [trackedCategory],
    });
  });

  it.each([
    [0, 'low'],
    [1, 'normal'],
    [2, 'high'],
    [null, 'normal'],
  ])('prioritycode %s <-> importance %s', (prioritycode, importance) => {
    expect(appointmentToEvent(appointment({ prioritycode }), july).event.importance).toBe(importance);
    const back = eventToAppointment(event({ importance }), july);
    expect(back.prioritycode).toBe(prioritycode ?? 1);
  });

  it('tolerates missing optional columns (no subject, description, location, priority, parties)', () => {
    const bare = { activityid: '12345678-1234-4234-8234-123456789012', scheduledstart: '2024-07-01T10:00:00Z', scheduledend: '2024-07-01T10:30:00Z', statecode: 0, statuscode: 1 };
    const result = appointmentToEvent(bare, july);
    expect(result.event).toMatchObject({ subject: '', body: { content: '' }, importance: 'normal', showAs: 'free', isReminderOn: false });
    expect(result.sendInvitations).toBe(false);
  });
});

describe('appointment -> event: UTC start/end become local times in the mailbox zone', () => {
  it.each([
    ['Europe/Berlin', '2024-01-15T09:00:00Z', '2024-01-15T10:00:00', 'W. Europe Standard Time', 'winter (CET, +1)'],
    ['Europe/Berlin', '2024-07-15T09:00:00Z', '2024-07-15T11:00:00', 'W. Europe Standard Time', 'summer (CEST, +2)'],
    ['Europe/Berlin', '2024-03-31T00:30:00Z', '2024-03-31T01:30:00', 'W. Europe Standard Time', 'just before the March change'],
    ['Europe/Berlin', '2024-03-31T01:30:00Z', '2024-03-31T03:30:00', 'W. Europe Standard Time', 'just after the March change'],
    ['Europe/Berlin', '2024-10-27T02:30:00Z', '2024-10-27T03:30:00', 'W. Europe Standard Time', 'after the October change (CET)'],
    ['America/New_York', '2024-03-10T06:59:00Z', '2024-03-10T01:59:00', 'Eastern Standard Time', 'a minute before the March change'],
    ['America/New_York', '2024-03-10T07:00:00Z', '2024-03-10T03:00:00', 'Eastern Standard Time', 'the March change: 02:00 does not exist'],
  ])('%s: %s -> %s %s (%s)', (timeZone, start, local, zoneName) => {
    const ctx = ctxAt('2024-01-01T00:00:00Z', timeZone);
    const { event: e } = appointmentToEvent(appointment({ scheduledstart: start, scheduledend: start }), ctx);
    expect(e.start).toEqual({ dateTime: local, timeZone: zoneName });
  });

  it.each([
    ['America/New_York', '2024-11-03T05:30:00Z', 'the first 01:30 (EDT) of the November change'],
    ['America/New_York', '2024-11-03T06:30:00Z', 'the second 01:30 (EST) of the November change'],
    ['Europe/Berlin', '2024-10-27T00:30:00Z', 'the first 02:30 (CEST) of the October change'],
    ['Europe/Berlin', '2024-10-27T01:30:00Z', 'the second 02:30 (CET) of the October change'],
  ])('%s: a repeated wall time (%s, %s) is written in UTC and keeps its instant', (timeZone, start) => {
    const ctx = ctxAt('2024-01-01T00:00:00Z', timeZone);
    const { event: e } = appointmentToEvent(appointment({ scheduledstart: start, scheduledend: start }), ctx);
    expect(e.start).toEqual({ dateTime: start.slice(0, 19), timeZone: 'UTC' });
    expect(eventToAppointment(e, ctx).scheduledstart).toBe(start);
  });
});

describe('appointment -> event: all-day appointments become all-day events at local midnight', () => {
  it('an all-day appointment on the March change day (a 23-hour day in Berlin)', () => {
    const a = appointment({ isalldayevent: true, scheduledstart: '2024-03-30T23:00:00Z', scheduledend: '2024-03-31T22:00:00Z' });
    const { event: e } = appointmentToEvent(a, july);
    expect(e).toMatchObject({
      isAllDay: true,
      start: { dateTime: '2024-03-31T00:00:00', timeZone: 'W. Europe Standard Time' },
      end: { dateTime: '2024-04-01T00:00:00', timeZone: 'W. Europe Standard Time' },
    });
  });

  it('an all-day end that is not at local midnight is rounded up to the next day', () => {
    const a = appointment({ isalldayevent: true, scheduledstart: '2024-05-01T22:00:00Z', scheduledend: '2024-05-02T10:00:00Z' });
    expect(snapshotFromDataverse('appointment', a, july).time).toEqual({ allDay: true, start: '2024-05-02', end: '2024-05-03' });
    // Also when the end is days after the start: the end's day is kept, and the next midnight closes it.
    const threeDays = appointment({ isalldayevent: true, scheduledstart: '2024-05-01T22:00:00Z', scheduledend: '2024-05-04T10:00:00Z' });
    expect(snapshotFromDataverse('appointment', threeDays, july).time).toEqual({ allDay: true, start: '2024-05-02', end: '2024-05-05' });
  });

  it('an all-day event on the October change day (25 hours in Berlin) comes back as local midnights in UTC', () => {
    const e = event({ isAllDay: true, start: { dateTime: '2024-10-27T00:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2024-10-28T00:00:00.0000000', timeZone: 'UTC' } });
    expect(eventToAppointment(e, july)).toMatchObject({ isalldayevent: true, scheduledstart: '2024-10-26T22:00:00Z', scheduledend: '2024-10-27T23:00:00Z' });
  });

  it('in New York, the all-day November change day starts at 04:00Z and ends at 05:00Z the next day', () => {
    const ctx = ctxAt('2024-01-01T00:00:00Z', 'America/New_York');
    const e = event({ isAllDay: true, start: { dateTime: '2024-11-03T00:00:00', timeZone: 'Eastern Standard Time' }, end: { dateTime: '2024-11-04T00:00:00', timeZone: 'Eastern Standard Time' } });
    expect(eventToAppointment(e, ctx)).toMatchObject({ scheduledstart: '2024-11-03T04:00:00Z', scheduledend: '2024-11-04T05:00:00Z' });
  });
});

describe('event -> appointment: status from showAs and isCancelled', () => {
  it.each([
    ['free', false, 0, 1],
    ['tentative', false, 0, 2],
    ['busy', false, 3, 5],
    ['oof', false, 3, 6],
    ['workingElsewhere', false, 3, 5],
    ['unknown', false, 3, 5],
    ['busy', true, 2, 4],
  ])('showAs %s, isCancelled %s -> statecode %i, statuscode %i', (showAs, isCancelled, statecode, statuscode) => {
    expect(eventToAppointment(event({ showAs, isCancelled }), july)).toMatchObject({ statecode, statuscode });
  });

  it('a closed appointment is not reopened by a free/busy change in Exchange', () => {
    const completed = appointment({ statecode: 1, statuscode: 3 });
    expect(dataverseBodyFromSnapshot('appointment', { showAs: 'busy' }, july, completed)).toEqual({});
    const open = appointment({ statecode: 0, statuscode: 1 });
    expect(dataverseBodyFromSnapshot('appointment', { showAs: 'busy' }, july, open)).toEqual({ statecode: 3, statuscode: 5 });
  });
});

describe('event -> appointment: fields', () => {
  it('maps subject, HTML body to text, location, times (Windows zone) and owner', () => {
    const e = event({ start: { dateTime: '2017-04-15T11:00:00.0000000', timeZone: 'Pacific Standard Time' }, end: { dateTime: '2017-04-15T12:00:00.0000000', timeZone: 'Pacific Standard Time' } });
    expect(eventToAppointment(e, july)).toMatchObject({
      subject: 'Planning',
      description: 'Hello',
      location: "Harry's Bar",
      isalldayevent: false,
      scheduledstart: '2017-04-15T18:00:00Z',
      scheduledend: '2017-04-15T19:00:00Z',
      'ownerid@odata.bind': `/systemusers(${me.systemUserId})`,
    });
  });

  it('accepts an IANA zone name in dateTimeTimeZone', () => {
    const e = event({ start: { dateTime: '2024-07-01T12:00:00', timeZone: 'Europe/Berlin' }, end: { dateTime: '2024-07-01T13:00:00', timeZone: 'Europe/Berlin' } });
    expect(eventToAppointment(e, july).scheduledstart).toBe('2024-07-01T10:00:00Z');
  });

  it('attendees come back as parties with addressused for the engine to resolve; resources stay in Exchange', () => {
    const e = event({
      attendees: [
        { type: 'required', emailAddress: { address: 'Sam@Fabrikam.com' } },
        { type: 'optional', emailAddress: { address: 'lee@fabrikam.com' } },
        { type: 'resource', emailAddress: { address: 'room1@contoso.com' } },
      ],
      organizer: { emailAddress: { address: 'boss@contoso.com' } },
    });
    expect(eventToAppointment(e, july).appointment_activity_parties).toEqual([
      { participationtypemask: 7, addressused: 'boss@contoso.com' },
      { participationtypemask: 6, addressused: 'lee@fabrikam.com' },
      { participationtypemask: 5, addressused: 'sam@fabrikam.com' },
    ]);
  });

  it('writing only the attendees keeps the current organizer party, bound as it is', () => {
    const current = appointment({
      appointment_activity_parties: [
        { participationtypemask: 7, _partyid_value: me.systemUserId, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser', addressused: me.address },
      ],
    });
    const body = dataverseBodyFromSnapshot('appointment', { attendees: [{ address: 'new@fabrikam.com', type: 'required' }] }, july, current);
    expect(body.appointment_activity_parties).toEqual([
      { participationtypemask: 7, 'partyid_systemuser@odata.bind': `/systemusers(${me.systemUserId})` },
      { participationtypemask: 5, addressused: 'new@fabrikam.com' },
    ]);
  });

  it('rewriting attendees in Exchange keeps the rooms already booked, and only them', () => {
    const current = event({
      attendees: [
        { type: 'required', emailAddress: { address: 'gone@fabrikam.com' } },
        { type: 'resource', emailAddress: { address: 'room1@contoso.com' } },
      ],
    });
    const body = exchangeBodyFromSnapshot('appointment', { attendees: [{ address: 'a@b.com', type: 'optional' }] }, july, current);
    expect(body.attendees).toEqual([
      { type: 'optional', emailAddress: { address: 'a@b.com' } },
      { type: 'resource', emailAddress: { address: 'room1@contoso.com' } },
    ]);
  });

  it('a partial body carries only the given fields, and none Exchange already holds', () => {
    expect(exchangeBodyFromSnapshot('appointment', { subject: 'New', cancelled: true }, july)).toEqual({ subject: 'New' });
    expect(exchangeBodyFromSnapshot('appointment', { subject: 'Planning', location: 'Elsewhere' }, july, event())).toEqual({ location: { displayName: 'Elsewhere' } });
  });

  it('the snapshot of the sample event is JSON with ISO UTC instants and sorted attendees', () => {
    const snap = snapshotFromExchange('appointment', event(), july);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.time).toEqual({ allDay: false, start: '2024-07-01T10:00:00Z', end: '2024-07-01T11:00:00Z' });
    expect(snap.organizer).toBe(me.address);
  });
});

describe('appointment -> event: who organizes it, and the invitation decision with its reason', () => {
  const attendee = { participationtypemask: 5, addressused: 'x@y.com' };

  // The fixture ids are digits only, which no change of case alters: these tests need an id with letters.
  const userId = 'abcdef12-3456-4789-8abc-def123456789';
  const lowerCaseMailbox = { ...july, mailbox: { ...me, systemUserId: userId } };
  const upperCaseMailbox = { ...july, mailbox: { ...me, systemUserId: userId.toUpperCase() } };

  it('recognises the syncing user as organizer by id in either case, when the party has another address or none', () => {
    const byId = [{ participationtypemask: 7, _partyid_value: userId, addressused: null }, attendee];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: byId, _ownerid_value: userId }), upperCaseMailbox).mode).toBe('meeting');
    const otherAddress = [{ participationtypemask: 7, _partyid_value: userId.toUpperCase(), addressused: 'dana.alias@contoso.com' }, attendee];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: otherAddress, _ownerid_value: userId }), lowerCaseMailbox).mode).toBe('meeting');
  });

  it("recognises the syncing user as owner (no organizer party) by id in either case, and takes an ownerless appointment as the user's own", () => {
    expect(appointmentToEvent(appointment({ appointment_activity_parties: [attendee], _ownerid_value: userId }), upperCaseMailbox).mode).toBe('meeting');
    expect(appointmentToEvent(appointment({ appointment_activity_parties: [attendee], _ownerid_value: userId.toUpperCase() }), lowerCaseMailbox).mode).toBe('meeting');
    expect(appointmentToEvent(appointment({ appointment_activity_parties: [attendee], _ownerid_value: null }), july).mode).toBe('meeting');
  });

  it("the Dataverse organizer is the user's own address for a party or owner of the user's id in another case", () => {
    const party = [{ participationtypemask: 7, _partyid_value: userId.toUpperCase(), addressused: null }];
    expect(snapshotFromDataverse('appointment', appointment({ appointment_activity_parties: party, _ownerid_value: null }), lowerCaseMailbox).organizer).toBe(me.address);
    expect(snapshotFromDataverse('appointment', appointment({ appointment_activity_parties: [], _ownerid_value: userId }), upperCaseMailbox).organizer).toBe(me.address);
  });

  it('an organizer party that is someone else, by id and by address, makes the user an attendee', () => {
    const other = [{ participationtypemask: 7, _partyid_value: otherUserId, addressused: 'boss@contoso.com' }, attendee];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: other }), july).mode).toBe('attendeeCopy');
    const neither = [{ participationtypemask: 7, _partyid_value: null, addressused: null }, attendee];
    expect(appointmentToEvent(appointment({ appointment_activity_parties: neither }), july).mode).toBe('attendeeCopy');
  });

  it.each([
    ['not the organizer', { _ownerid_value: otherUserId, appointment_activity_parties: [attendee] }, july, 'attendeeCopy', 'the syncing user is not the organizer'],
    ['no attendees', { appointment_activity_parties: [] }, july, 'withoutAttendees', 'the appointment has no attendees'],
    ['in the past', {}, ctxAt('2024-07-02T00:00:00Z'), 'withoutAttendees', 'the appointment is in the past'],
    ['a future meeting', {}, july, 'meeting', 'the syncing user organizes a future appointment with attendees'],
  ])('%s: mode %s with its reason', (_name, overrides, ctx, mode, reason) => {
    expect(appointmentToEvent(appointment(overrides), ctx)).toMatchObject({ mode, reason });
  });
});

describe('appointment <-> event: attendees and organizer in the snapshot', () => {
  it('keeps one attendee per address, required over optional, sorted by address, and leaves out blank addresses and other parties', () => {
    const parties = [
      { participationtypemask: 6, addressused: 'Zoe@fabrikam.com' },
      { participationtypemask: 6, addressused: 'alex@fabrikam.com' },
      { participationtypemask: 5, addressused: 'ALEX@fabrikam.com' },
      { participationtypemask: 6, addressused: 'alex@fabrikam.com' },
      { participationtypemask: 5, addressused: 'mo@fabrikam.com' },
      { participationtypemask: 5, addressused: '   ' },
      { participationtypemask: 8, addressused: 'regarding@fabrikam.com' },
    ];
    expect(snapshotFromDataverse('appointment', appointment({ appointment_activity_parties: parties }), july).attendees).toEqual([
      { address: 'alex@fabrikam.com', type: 'required' },
      { address: 'mo@fabrikam.com', type: 'required' },
      { address: 'zoe@fabrikam.com', type: 'optional' },
    ]);
  });

  it('reads Exchange attendees the same way: blank addresses and rooms left out, optional kept optional', () => {
    const e = event({
      attendees: [
        { type: 'optional', emailAddress: { address: 'b@fabrikam.com' } },
        { type: 'required', emailAddress: { address: ' ' } },
        { type: 'required', emailAddress: {} },
        { type: 'resource', emailAddress: { address: 'room@contoso.com' } },
        { type: 'required', emailAddress: { address: 'A@fabrikam.com' } },
      ],
    });
    expect(snapshotFromExchange('appointment', e, july).attendees).toEqual([
      { address: 'a@fabrikam.com', type: 'required' },
      { address: 'b@fabrikam.com', type: 'optional' },
    ]);
  });

  it.each([
    ["the organizer party's address", [{ participationtypemask: 7, _partyid_value: otherUserId, addressused: 'Boss@Contoso.com' }], otherUserId, 'boss@contoso.com'],
    ["the user's own address for an organizer party of the user without one", [{ participationtypemask: 7, _partyid_value: me.systemUserId, addressused: ' ' }], otherUserId, me.address],
    ['nothing for an organizer party of someone else without an address', [{ participationtypemask: 7, _partyid_value: otherUserId, addressused: null }], me.systemUserId, null],
    ["the user's own address when the user owns it and no party organizes it", [], me.systemUserId, me.address],
    ['nothing when someone else owns it and no party organizes it', [], otherUserId, null],
    ['the organizer party among the others, not the first party', [{ participationtypemask: 5, addressused: 'alex@fabrikam.com' }, { participationtypemask: 7, _partyid_value: otherUserId, addressused: 'boss@contoso.com' }], me.systemUserId, 'boss@contoso.com'],
  ])('the Dataverse organizer is %s', (_name, parties, owner, organizer) => {
    expect(snapshotFromDataverse('appointment', appointment({ appointment_activity_parties: parties, _ownerid_value: owner }), july).organizer).toBe(organizer);
  });

  it('an event without an organizer address has no organizer, and its appointment no organizer party', () => {
    const e = event({ organizer: { emailAddress: { name: 'Nobody' } } });
    expect(snapshotFromExchange('appointment', e, july).organizer).toBeNull();
    expect(eventToAppointment(e, july).appointment_activity_parties).toEqual([{ participationtypemask: 5, addressused: 'samanthab@contoso.onmicrosoft.com' }]);
  });
});

describe('event -> appointment: the party list of an update', () => {
  const current = appointment({
    appointment_activity_parties: [
      { participationtypemask: 7, _partyid_value: me.systemUserId, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser', addressused: me.address },
      { participationtypemask: 5, _partyid_value: otherUserId, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact', addressused: 'alex@fabrikam.com' },
      { participationtypemask: 6, _partyid_value: null, addressused: 'Unresolved@fabrikam.com' },
      { participationtypemask: 5, _partyid_value: null, addressused: ' ' },
      { participationtypemask: 8, _partyid_value: otherUserId, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account' },
    ],
  });

  it('writing only the organizer keeps the attendees: resolved ones bound, unresolved ones by address, none without either', () => {
    const body = dataverseBodyFromSnapshot('appointment', { organizer: 'boss@contoso.com' }, july, current);
    expect(body.appointment_activity_parties).toEqual([
      { participationtypemask: 7, addressused: 'boss@contoso.com' },
      { participationtypemask: 5, 'partyid_contact@odata.bind': `/contacts(${otherUserId})` },
      { participationtypemask: 6, addressused: 'Unresolved@fabrikam.com' },
    ]);
  });

  it('an organizer written as none leaves the organizer party out', () => {
    const body = dataverseBodyFromSnapshot('appointment', { organizer: null, attendees: [] }, july, current);
    expect(body.appointment_activity_parties).toEqual([]);
  });

  it('binds a kept party of a table without a known entity set by the plural the Web API uses', () => {
    const withQueue = appointment({
      appointment_activity_parties: [{ participationtypemask: 5, _partyid_value: otherUserId, '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'queue' }],
    });
    const body = dataverseBodyFromSnapshot('appointment', { organizer: 'boss@contoso.com' }, july, withQueue);
    expect(body.appointment_activity_parties).toContainEqual({ participationtypemask: 5, 'partyid_queue@odata.bind': `/queues(${otherUserId})` });
  });
});

describe('appointment <-> event: times that cannot be, and empty all-day spans', () => {
  it('refuses an appointment that ends before it starts, and an event likewise', () => {
    expect(() => snapshotFromDataverse('appointment', appointment({ scheduledend: '2024-07-01T09:59:59Z' }), july)).toThrow(
      'scheduledend "2024-07-01T09:59:59Z" is before scheduledstart',
    );
    const e = event({ end: { dateTime: '2024-07-01T09:00:00.0000000', timeZone: 'UTC' } });
    expect(() => snapshotFromExchange('appointment', e, july)).toThrow('end (object) is before start');
  });

  it('an appointment that ends when it starts is a zero-length time, not an error', () => {
    const time = snapshotFromDataverse('appointment', appointment({ scheduledend: '2024-07-01T10:00:00Z' }), july).time;
    expect(time).toEqual({ allDay: false, start: '2024-07-01T10:00:00Z', end: '2024-07-01T10:00:00Z' });
  });

  it('an all-day appointment or event that ends on the day it starts lasts that one day', () => {
    const a = appointment({ isalldayevent: true, scheduledstart: '2024-05-01T22:00:00Z', scheduledend: '2024-05-01T22:00:00Z' });
    expect(snapshotFromDataverse('appointment', a, july).time).toEqual({ allDay: true, start: '2024-05-02', end: '2024-05-03' });
    const e = event({ isAllDay: true, start: { dateTime: '2024-05-02T00:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2024-05-02T00:00:00.0000000', timeZone: 'UTC' } });
    expect(snapshotFromExchange('appointment', e, july).time).toEqual({ allDay: true, start: '2024-05-02', end: '2024-05-03' });
  });
});

describe('appointment <-> event: the series pattern of a series master', () => {
  const weeklyColumns = { recurrencepatterntype: 1, interval: 1, daysofweekmask: 2, patternstartdate: '2024-06-30T22:00:00Z', patternendtype: 1, utcconversiontimezonecode: 110 };
  const weekly = { type: 'weekly', interval: 1, daysOfWeek: ['monday'], firstDayOfWeek: 'sunday', index: null, dayOfMonth: null, month: null, range: 'noEnd', startDate: '2024-07-01', endDate: null, numberOfOccurrences: null, timeZone: 'W. Europe Standard Time' } as const;
  const seriesEvent = (overrides: Record<string, unknown>) =>
    event({ type: 'seriesMaster', recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] }, range: { type: 'noEnd', startDate: '2024-07-01' } }, ...overrides });

  it('a Dataverse record has a pattern only when it is a series master (it has a pattern type)', () => {
    expect(snapshotFromDataverse('appointment', appointment(weeklyColumns), july).recurrence).toEqual(weekly);
    expect(snapshotFromDataverse('appointment', appointment(), july).recurrence).toBeNull();
  });

  it.each([
    ['its start zone', 'Tokyo Standard Time', 'Tokyo Standard Time'],
    ["the mailbox's zone for a custom start zone", 'tzone://Microsoft/Custom', 'W. Europe Standard Time'],
    ["the mailbox's zone without a start zone", null, 'W. Europe Standard Time'],
  ])('an Exchange series whose range names no zone is read in %s', (_name, originalStartTimeZone, timeZone) => {
    expect(snapshotFromExchange('appointment', seriesEvent({ originalStartTimeZone }), july).recurrence).toEqual({ ...weekly, timeZone });
  });

  it('an event without a recurrence has no pattern, and an Exchange count above 999 reads as the end date Dataverse holds', () => {
    expect(snapshotFromExchange('appointment', event({ recurrence: null }), july).recurrence).toBeNull();
    const numbered = seriesEvent({ recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2024-07-01', numberOfOccurrences: 1000 } } });
    expect(snapshotFromExchange('appointment', numbered, july).recurrence).toMatchObject({ range: 'endDate', endDate: '2027-03-27', numberOfOccurrences: null });
  });

  it('writes the pattern to Exchange as a patternedRecurrence, and no pattern as nothing', () => {
    expect(exchangeBodyFromSnapshot('appointment', { recurrence: weekly }, july)).toEqual({
      recurrence: {
        pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'], firstDayOfWeek: 'sunday' },
        range: { type: 'noEnd', startDate: '2024-07-01', recurrenceTimeZone: 'W. Europe Standard Time' },
      },
    });
    expect(exchangeBodyFromSnapshot('appointment', { recurrence: null }, july)).toEqual({});
  });

  it('writes the pattern columns to Dataverse, firstdayofweek only when the series is created, and no pattern as nothing', () => {
    const created = dataverseBodyFromSnapshot('appointment', { recurrence: { ...weekly, firstDayOfWeek: 'monday' } }, july);
    expect(created).toMatchObject({ recurrencepatterntype: 1, daysofweekmask: 2, patternendtype: 1, utcconversiontimezonecode: 110, firstdayofweek: 1 });
    const updated = dataverseBodyFromSnapshot('appointment', { recurrence: { ...weekly, firstDayOfWeek: 'monday' } }, july, appointment(weeklyColumns));
    expect(updated).toMatchObject({ recurrencepatterntype: 1, daysofweekmask: 2 });
    expect(updated).not.toHaveProperty('firstdayofweek');
    expect(dataverseBodyFromSnapshot('appointment', { recurrence: null }, july)).toEqual({});
  });
});

describe('event -> appointment: location and status writes', () => {
  it('writes no location to Exchange as an empty display name, and cuts a long one to the 200 characters of the column', () => {
    expect(exchangeBodyFromSnapshot('appointment', { location: null }, july)).toEqual({ location: { displayName: '' } });
    expect(dataverseBodyFromSnapshot('appointment', { location: 'x'.repeat(201) }, july)).toEqual({ location: 'x'.repeat(200) });
  });

  it('a cancellation wins over free/busy whichever field comes first', () => {
    expect(dataverseBodyFromSnapshot('appointment', { cancelled: true, showAs: 'busy' }, july)).toEqual({ statecode: 2, statuscode: 4 });
    expect(dataverseBodyFromSnapshot('appointment', { cancelled: false, showAs: 'tentative' }, july)).toEqual({ statecode: 0, statuscode: 2 });
  });

  it('a canceled appointment is not reopened by a free/busy change either', () => {
    expect(dataverseBodyFromSnapshot('appointment', { showAs: 'busy' }, july, appointment({ statecode: 2, statuscode: 4 }))).toEqual({});
  });

  it('a cancelled event is free time in the snapshot, whatever its showAs', () => {
    expect(snapshotFromExchange('appointment', event({ isCancelled: true, showAs: 'oof' }), july)).toMatchObject({ showAs: 'free', cancelled: true });
  });
});

describe('appointment <-> event: the single-direction fields and the link', () => {
  it('reads the reminder of an event as it is, off included', () => {
    expect(snapshotFromExchange('appointment', event({ isReminderOn: false }), july).reminder).toBe(false);
    expect(snapshotFromExchange('appointment', event({ isReminderOn: true }), july).reminder).toBe(true);
  });

  it('reads a Canceled appointment as cancelled, and any other state as not', () => {
    expect(snapshotFromDataverse('appointment', appointment({ statecode: 2, statuscode: 4 }), july).cancelled).toBe(true);
    expect(snapshotFromDataverse('appointment', appointment({ statecode: 3, statuscode: 5 }), july).cancelled).toBe(false);
  });

  it("copies the event's iCalUId to the appointment's globalobjectid, so attendee copies can be linked", () => {
    expect(eventToAppointment(event({ iCalUId: 'UID-42' }), july).globalobjectid).toBe('UID-42');
  });

  it('links to an invitation only for an attendee copy: a meeting the user organizes keeps its own event', () => {
    expect(appointmentToEvent(appointment({ globalobjectid: 'ABC123' }), july)).toMatchObject({ mode: 'meeting', linkToICalUId: null });
  });

  it('refuses a field the table does not have, naming the table, on both sides', () => {
    const fields = { nickname: 'x' } as unknown as Partial<AppointmentSnapshot>;
    expect(() => exchangeBodyFromSnapshot('appointment', fields, july)).toThrow('appointmentFields has no field "nickname"');
    expect(() => dataverseBodyFromSnapshot('appointment', fields, july)).toThrow('appointmentFields has no field "nickname"');
  });

  it('refuses to write a time that is no instant, naming the end that is wrong', () => {
    expect(() => exchangeBodyFromSnapshot('appointment', { time: { allDay: false, start: 'soon', end: '2024-07-01T11:00:00Z' } }, july)).toThrow('start "soon" is not a valid date-time');
    expect(() => exchangeBodyFromSnapshot('appointment', { time: { allDay: false, start: '2024-07-01T10:00:00Z', end: 'later' } }, july)).toThrow('end "later" is not a valid date-time');
  });
});
