// The planner's decision table, row by row: state in, actions out, no I/O. Every delete rule, scope, tracking,
// invitation, attendee-copy and recurring-series rule has a row; the end-to-end suite proves the same rules against
// the simulators.
import { describe, expect, it } from 'vitest';
import { defaultConfig, defaultScope, effectiveConfig, type ScopeFilter } from '../../../shared/settings/index.js';
import type { DataverseRecord } from '../../../shared/dataverse/client.js';
import type { Mailbox } from '../../../shared/storage/mailboxStore.js';
import type { Pair, UnlinkedCopy } from '../../../shared/storage/pairStore.js';
import { kindNamed, type GraphItem } from '../../../shared/sync/kinds/index.js';
import {
  baseAfterWrite,
  matchingFilter,
  planDataverseDelete,
  planMerge,
  planToDataverse,
  planToExchange,
  scopeOf,
  type Action,
  type PlanSettings,
  type ToDataverseState,
  type ToExchangeState,
  withoutTurnedOffFields,
} from '../../../shared/sync/plan.js';
import { activity, appointment, contact, ctxAt, event, graphContact, me, otherUserId, todo } from '../../mapping/fixtures.js';
import type { SeriesPattern } from '../../../shared/mapping/recurrence.js';
import { patternEndedBefore } from '../../../shared/sync/kinds/series.js';

const now = '2024-06-01T08:00:00Z';
const ctx = ctxAt(now);
const settings: PlanSettings = { SYNC_CONFLICT_POLICY: 'lastModifiedWins', SYNC_PROPAGATE_CANCELLATIONS: false, config: defaultConfig };
const mailbox: Mailbox = { id: 'mbx-dana', userPrincipalName: me.address, address: me.address, systemUserId: me.systemUserId, timeZone: 'Europe/Berlin', entities: ['appointment', 'task', 'contact'], state: 'active' };
const other: Mailbox = { ...mailbox, id: 'mbx-other', address: 'other@contoso.com', userPrincipalName: 'other@contoso.com', systemUserId: otherUserId };
const future = { time: { allDay: false, start: '2024-07-01T10:00:00Z', end: '2024-07-01T11:00:00Z' } };
const past = { time: { allDay: false, start: '2024-05-01T10:00:00Z', end: '2024-05-01T11:00:00Z' } };
const types = (actions: Action[]) => actions.map((a) => (a.type === 'Ignore' || a.type === 'Unlink' || a.type === 'Await' || a.type === 'Delete' || a.type === 'Echo' || a.type === 'Convert' ? `${a.type}: ${a.reason}` : a.type === 'Create' || a.type === 'Update' ? `${a.type} ${a.side}` : a.type));

function pairOf(kind: 'appointment' | 'task' | 'contact', overrides: Partial<Pair> = {}): Pair {
  return { mailboxId: mailbox.id, kind, dataverseEntity: kind, dataverseId: 'dv-1', exchangeId: 'ex-1', base: {}, status: 'linked', dataverseEtag: 'W/"1"', exchangeEtag: 'W/"ex1"', ...overrides };
}

const leftDv: UnlinkedCopy = { mailboxId: mailbox.id, remains: 'dataverse', id: 'dv-1', version: 'W/"7"', reason: 'deleted in Outlook', cause: 'deleted', at: now };
const leftEx: UnlinkedCopy = { mailboxId: mailbox.id, remains: 'exchange', id: 'ex-1', version: 'W/"kept"', reason: 'completed in Exchange (kept)', cause: 'deleted', at: now };

/** A weekly series master from Dataverse (pattern columns, first occurrence as scheduledstart). */
const seriesRecord = appointment({
  instancetypecode: 1,
  recurrencepatterntype: 1,
  interval: 1,
  daysofweekmask: 2,
  patternstartdate: '2024-06-30T22:00:00Z',
  patternendtype: 2,
  occurrences: 4,
  utcconversiontimezonecode: 110,
});
/** A tracked weekly series master from Graph. */
const seriesEvent = (range: Record<string, unknown> = { range: { type: 'numbered', startDate: '2024-07-01', numberOfOccurrences: 4 } }) =>
  event({ type: 'seriesMaster', recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] }, ...range } });

describe('planToExchange: a Dataverse change for one mailbox', () => {
  const state = (record: Record<string, unknown>, pair: Pair | undefined, extra: Partial<ToExchangeState> = {}): ToExchangeState => ({
    kind: kindNamed(String(pair?.kind ?? 'appointment')),
    table: 'appointment',
    record: record,
    pair,
    mailbox,
    syncedSystemUsers: new Set([me.systemUserId]),
    ctx,
    settings,
    ...extra,
  });
  const attendeeCopy = appointment({ _ownerid_value: otherUserId, appointment_activity_parties: [{ participationtypemask: 7, _partyid_value: otherUserId }, { participationtypemask: 5, _partyid_value: me.systemUserId, addressused: me.address }] });

  it.each<[string, () => ToExchangeState, string[]]>([
    ['a new record is created in Exchange', () => state(appointment(), undefined), ['Create exchange']],
    ['a pending pair (an attempt whose answer may be lost) creates again, finding what it wrote', () => state(appointment(), pairOf('appointment', { status: 'pending', exchangeId: undefined })), ['Create exchange']],
    ['the version already synced is an echo', () => state(appointment({ '@odata.etag': 'W/"1"' }), pairOf('appointment')), ['Echo: version already synced']],
    ['an older version is an echo too', () => state(appointment({ '@odata.etag': 'W/"0"' }), pairOf('appointment', { dataverseEtag: 'W/"5"' })), ['Echo: version already synced']],
    [
      "invitation rule: an attendee whose organizer's mailbox syncs waits for the invitation",
      () => state(attendeeCopy, undefined, { syncedSystemUsers: new Set([me.systemUserId, otherUserId]) }),
      ["Await: the organizer's invitation brings the meeting"],
    ],
    ["invitation rule: an attendee whose organizer does not sync gets a copy created", () => state(attendeeCopy, undefined), ['Create exchange']],
    ['a linked pair with a new version updates Exchange', () => state(appointment({ '@odata.etag': 'W/"2"' }), pairOf('appointment', { base: future })), ['Update exchange']],
    ['a canceled future meeting is only updated while cancellations do not propagate', () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), pairOf('appointment', { base: future })), ['Update exchange']],
    [
      'with SYNC_PROPAGATE_CANCELLATIONS the organizer\'s canceled future meeting is cancelled in Exchange',
      () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), pairOf('appointment', { base: future }), { settings: { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true } }),
      ['Delete: cancellation propagated'],
    ],
    [
      'a propagated cancellation spares a past meeting',
      () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), pairOf('appointment', { base: past }), { settings: { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true } }),
      ['Update exchange'],
    ],
    [
      "a propagated cancellation spares an attendee's copy",
      () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), pairOf('appointment', { base: future, isOrganizer: false }), { settings: { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true } }),
      ['Update exchange'],
    ],
    [
      'with SYNC_PROPAGATE_CANCELLATIONS a canceled appointment with no pair is not created in Exchange',
      () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), undefined, { settings: { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true } }),
      ['Ignore: canceled, and cancellations are propagated (SYNC_PROPAGATE_CANCELLATIONS): not created in Exchange'],
    ],
    ['without it, a canceled appointment with no pair is created as any record', () => state(appointment({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4 }), undefined), ['Create exchange']],
    ['with it, an open appointment with no pair is created', () => state(appointment(), undefined, { settings: { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true } }), ['Create exchange']],
    ['series: a series master makes one Exchange series, then its occurrences are compared', () => state(seriesRecord, undefined, { table: 'recurringappointmentmaster' }), ['Create exchange', 'SyncParts']],
    ['series: an instance (instancetypecode 2) is carried by its series, never synced by itself', () => state(appointment({ instancetypecode: 2, seriesid: 'a1' }), undefined), ['Ignore: series instance: its series carries it']],
    ['series: an exception (instancetypecode 3) too, even when paired', () => state(appointment({ instancetypecode: 3 }), pairOf('appointment')), ['Ignore: series instance: its series carries it']],
    [
      'series: the ended part of a split series is left out (Exchange keeps one series)',
      () => state({ ...seriesRecord, _groupid_value: '00000000-0000-0000-0000-0000000000aa' }, undefined, { table: 'recurringappointmentmaster' }),
      ['Ignore: the ended part of a split series: its history stays in the one Exchange series'],
    ],
    [
      'series: a synced version reached through one of its instances still compares the occurrences',
      () => state({ ...seriesRecord, '@odata.etag': 'W/"1"' }, pairOf('appointment', { dataverseEntity: 'recurringappointmentmaster' }), { table: 'recurringappointmentmaster', viaPart: true }),
      ['Echo: version already synced', 'SyncParts'],
    ],
    ['a non-recurring appointment (instancetypecode 0) syncs', () => state(appointment({ instancetypecode: 0 }), undefined), ['Create exchange']],
    // A copy an unlinking delete in Exchange left behind (https://learn.microsoft.com/power-platform/admin/sync-logic).
    ['left by a delete in Exchange: the version it had then is not created again', () => state(appointment({ '@odata.etag': 'W/"7"' }), undefined, { unlinked: leftDv }), ['Ignore: unlinked after a delete in Exchange (deleted in Outlook); not changed since']],
    ['left by a delete in Exchange: an older version (a replay) neither', () => state(appointment({ '@odata.etag': 'W/"6"' }), undefined, { unlinked: leftDv }), ['Ignore: unlinked after a delete in Exchange (deleted in Outlook); not changed since']],
    ['left by a delete in Exchange: changed again, it is synced as any unpaired record', () => state(appointment({ '@odata.etag': 'W/"8"' }), undefined, { unlinked: leftDv }), ['Create exchange']],
  ])('%s', (_rule, build, expected) => {
    expect(types(planToExchange(build()))).toEqual(expected);
  });

  it('an update writes only the fields that changed since the base', () => {
    const record = appointment({ '@odata.etag': 'W/"2"' });
    const kind = kindNamed('appointment');
    const base = baseAfterWrite(kind.directions, kind.snapshotFromDataverse(record, ctx), kind.snapshotFromDataverse(record, ctx));
    const [update] = planToExchange(state({ ...record, subject: 'Renamed' }, pairOf('appointment', { base })));
    expect(update).toMatchObject({ type: 'Update', side: 'exchange', fields: { subject: 'Renamed' } });
    expect(Object.keys((update as Extract<Action, { type: 'Update' }>).fields)).toEqual(['subject']);
  });
});

describe('scope: the mailboxes a record reaches', () => {
  const bySystemUser = new Map([
    [me.systemUserId, mailbox],
    [otherUserId, other],
  ]);
  it.each<[string, string, Record<string, unknown>, string[]]>([
    ['an appointment reaches its owner and its parties', 'appointment', appointment({ appointment_activity_parties: [{ participationtypemask: 5, _partyid_value: otherUserId }] }), [mailbox.id, other.id]],
    ['a phone call reaches its owner and the parties of its from/to', 'phonecall', activity('phonecall', { phonecall_activity_parties: [{ participationtypemask: 2, _partyid_value: otherUserId }] }), [mailbox.id, other.id]],
    ['a contact reaches its owner only ("My Contacts")', 'contact', contact({ _ownerid_value: otherUserId }), [other.id]],
    ['a record of a user with no mailbox reaches none', 'task', activity('task', { _ownerid_value: '12345678-1234-4234-8234-123456789012' }), []],
  ])('%s', (_rule, table, record, expected) => {
    const kind = kindNamed(table === 'phonecall' ? 'task' : table);
    expect(scopeOf(kind, table as never, record as DataverseRecord, bySystemUser).map((m) => m.id)).toEqual(expected);
  });
  it("a mailbox that does not sync the kind is out of the record's scope", () => {
    const noContacts = new Map([[me.systemUserId, { ...mailbox, entities: ['appointment' as const] }]]);
    expect(scopeOf(kindNamed('contact'), 'contact', contact() as DataverseRecord, noContacts)).toEqual([]);
  });
});

describe('planDataverseDelete: server-side sync delete rules, per kind', () => {
  it.each<[string, Pair, Partial<{ ownerId: string; exchangeItem: Record<string, unknown>; mailbox: Mailbox | undefined }>, string]>([
    ["appointment: the organizer's future meeting is deleted in Exchange", pairOf('appointment', { base: future }), {}, 'Delete: organizer, future'],
    ['appointment: a past meeting is only unlinked', pairOf('appointment', { base: past }), {}, 'Unlink: past or not the organizer'],
    ["appointment: an attendee's copy is only unlinked", pairOf('appointment', { base: future, isOrganizer: false }), {}, 'Unlink: past or not the organizer'],
    ['task: a To Do task not completed is deleted', pairOf('task'), { exchangeItem: todo({ status: 'inProgress' }) }, 'Delete: not completed in Exchange'],
    ['task: a To Do task completed in To Do is kept', pairOf('task'), { exchangeItem: todo({ status: 'completed' }) }, 'Unlink: completed in Exchange (kept)'],
    ['task: a To Do task already gone is only unlinked', pairOf('task'), {}, 'Unlink: completed in Exchange (kept)'],
    ['contact: the owner keeps the Exchange copy', pairOf('contact'), { ownerId: me.systemUserId.toUpperCase() }, 'Unlink: owner keeps the Exchange copy'],
    ['contact: a user who is not the owner loses the copy', pairOf('contact'), { ownerId: otherUserId }, 'Delete: syncing user is not the owner'],
    ['contact: no owner in the pre image keeps the copy', pairOf('contact'), {}, 'Unlink: owner keeps the Exchange copy'],
    ['a pair whose create never finished is only unlinked', pairOf('appointment', { exchangeId: undefined }), {}, 'Unlink: not linked'],
    ['a disabled mailbox is not written to', pairOf('appointment', { base: future }), { mailbox: { ...mailbox, state: 'disabled' } }, 'Ignore: mailbox not enabled'],
    ['a mailbox no longer registered is only unlinked', pairOf('appointment', { base: future }), { mailbox: undefined }, 'Unlink: not linked'],
  ])('%s', (_rule, pair, facts, expected) => {
    const actions = planDataverseDelete({
      kind: kindNamed(pair.kind),
      pair,
      mailbox: 'mailbox' in facts ? facts.mailbox : mailbox,
      ownerId: facts.ownerId,
      now: new Date(now),
      exchangeItem: facts.exchangeItem,
    });
    expect(types(actions)).toEqual([expected]);
  });
});

describe('planToDataverse: an Exchange change in its mailbox', () => {
  const state = (kind: 'appointment' | 'task' | 'contact', item: Record<string, unknown> | undefined, extra: Partial<ToDataverseState> = {}): ToDataverseState => ({
    kind: kindNamed(kind),
    mailbox,
    change: { changeType: 'updated', attempt: 1, itemId: typeof item?.id === 'string' ? item.id : 'ex-1' },
    pair: undefined,
    item: item,
    link: undefined,
    organizerSynced: false,
    record: undefined,
    ctx,
    settings,
    ...extra,
  });
  const attendeeEvent = event({ isOrganizer: false, organizer: { emailAddress: { address: 'other@contoso.com' } } });
  const closed = appointment({ statecode: 1, statuscode: 3 }) as DataverseRecord;
  const open = appointment() as DataverseRecord;

  it.each<[string, () => ToDataverseState, string[]]>([
    ['tracking: an untracked event stays in Outlook', () => state('appointment', event({ categories: [] })), ['Ignore: not tracked']],
    ['tracking: a tracked event is created in Dataverse', () => state('appointment', event()), ['Create dataverse']],
    ['tracking: an untracked contact stays in Outlook', () => state('contact', graphContact({ categories: [] })), ['Ignore: not tracked']],
    ['tracking: a tracked To Do task is created in Dataverse', () => state('task', todo()), ['Create dataverse']],
    ['a kind the mailbox does not sync is ignored', () => state('contact', graphContact(), { mailbox: { ...mailbox, entities: ['appointment'] } }), ['Ignore: contact not synced for this mailbox']],
    ["the notification's etag already synced is an echo, with no read", () => state('appointment', undefined, { pair: pairOf('appointment'), change: { changeType: 'updated', attempt: 1, itemId: 'ex-1', etag: 'W/"ex1"' } }), ['Echo: etag of the notification already synced']],
    ["the item's etag already synced is an echo", () => state('appointment', event({ '@odata.etag': 'W/"ex1"' }), { pair: pairOf('appointment') }), ['Echo: etag already synced']],
    ['a paired item with a new etag updates Dataverse', () => state('appointment', event(), { pair: pairOf('appointment') }), ['Update dataverse']],
    [
      "attendee copy: an attendee's copy of a meeting a synced mailbox organizes waits for the organizer's copy",
      () => state('appointment', attendeeEvent, { organizerSynced: true }),
      ["Await: attendee copy of a meeting whose organizer's copy is not paired yet"],
    ],
    ['attendee copy: after three attempts the copy is judged on its own', () => state('appointment', attendeeEvent, { organizerSynced: true, change: { changeType: 'updated', attempt: 3, itemId: 'x' } }), ['Create dataverse']],
    [
      'attendee copy: a copy of a meeting whose appointment exists is linked as a mirror, personal fields brought up to Dynamics 365',
      () => state('appointment', event({ isOrganizer: false, showAs: 'tentative', organizer: { emailAddress: { address: 'other@contoso.com' } } }), { organizerSynced: true, link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: true, existingPair: undefined, record: open } }),
      ['Link', 'Update exchange'],
    ],
    [
      "an item stamped with a record's id (a lost pair) is linked, and what differs flows to Dataverse",
      () => state('appointment', event(), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: undefined, record: open } }),
      ['Link', 'Update dataverse'],
    ],
    [
      "the sync's own create still in flight is looked at again",
      () => state('appointment', event(), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: pairOf('appointment', { status: 'pending' }), record: undefined } }),
      ["Await: the sync's own create of this item is still being recorded"],
    ],
    ['series: a tracked series master makes one Dataverse series, then its occurrences are compared', () => state('appointment', seriesEvent()), ['Create dataverse', 'SyncParts']],
    [
      'series: a pattern Dataverse cannot hold is left out with the reason',
      () => state('appointment', seriesEvent({ range: { type: 'numbered', startDate: '2024-07-01', numberOfOccurrences: 4, recurrenceTimeZone: 'Arabian Standard Time' } })),
      ["Ignore: recurring series not synced: the series' time zone Arabian Standard Time has no Dataverse time zone code this version knows"],
    ],
    [
      'series: a numbered range above 999 occurrences is created (as the end date of its last occurrence)',
      () => state('appointment', seriesEvent({ range: { type: 'numbered', startDate: '2024-07-01', numberOfOccurrences: 1200 } })),
      ['Create dataverse', 'SyncParts'],
    ],
    [
      "series: a notification echo of the master still compares the occurrences (Graph announces an occurrence's change on its master)",
      () => state('appointment', undefined, { pair: pairOf('appointment', { dataverseEntity: 'recurringappointmentmaster' }), change: { changeType: 'updated', attempt: 1, itemId: 'ex-1', etag: 'W/"ex1"' } }),
      ['Echo: etag of the notification already synced', 'SyncParts'],
    ],
    [
      "series: the organizer's single event turned into a series in Outlook converts the appointment (AddRecurrence)",
      () => state('appointment', seriesEvent(), { pair: pairOf('appointment', { exchangeEtag: 'W/"old"' }) }),
      ['Convert: the item became a recurringappointmentmaster'],
    ],
    [
      "series: an attendee's copy of a single meeting turned into a series is left to the organizer's pair",
      () => state('appointment', seriesEvent(), { pair: pairOf('appointment', { exchangeEtag: 'W/"old"', isOrganizer: false }) }),
      ["Ignore: recurring series not synced: an attendee's copy of a single meeting became a series (the organizer's pair converts it)"],
    ],
    ['series: an occurrence the engine could not route to its master is left out', () => state('appointment', event({ type: 'occurrence' })), ['Ignore: recurring series not synced: an occurrence whose series is not readable']],
    ['a single instance syncs', () => state('appointment', event({ type: 'singleInstance' })), ['Create dataverse']],
    ['left by a delete in Dynamics 365: the version it had then is not created again', () => state('task', todo({ '@odata.etag': 'W/"kept"' }), { unlinked: leftEx }), ['Ignore: unlinked after a delete in Dynamics 365 (completed in Exchange (kept)); not changed since']],
    ['left by a delete in Dynamics 365: changed again, it is synced as any unpaired item', () => state('task', todo({ '@odata.etag': 'W/"edited"' }), { unlinked: leftEx }), ['Create dataverse']],
    [
      'left as out of scope (a reassignment), its record deleted since: the version it had then is not created again',
      () => state('task', todo({ '@odata.etag': 'W/"kept"' }), { unlinked: { ...leftEx, reason: 'out of scope: the user is no longer its owner or a party', cause: 'outOfScope' } }),
      ['Ignore: unlinked as out of scope: the user is no longer its owner or a party, its record since deleted in Dynamics 365; not changed since'],
    ],
    // The cause decides, not the reason's words (a reason is for people and may be reworded).
    [
      'left as out of scope is told by its cause, whatever its reason says',
      () => state('task', todo({ '@odata.etag': 'W/"kept"' }), { unlinked: { ...leftEx, reason: 'no sync filter matches (Work)', cause: 'outOfScope' } }),
      ['Ignore: unlinked as no sync filter matches (Work), its record since deleted in Dynamics 365; not changed since'],
    ],
    [
      'left by a delete rule is told by its cause, even when its reason begins like an out-of-scope one',
      () => state('task', todo({ '@odata.etag': 'W/"kept"' }), { unlinked: { ...leftEx, reason: 'out of scope of the delete rule: kept', cause: 'deleted' } }),
      ['Ignore: unlinked after a delete in Dynamics 365 (out of scope of the delete rule: kept); not changed since'],
    ],
    // Exchange delete rules (https://learn.microsoft.com/power-platform/admin/sync-logic).
    ['delete: an unpaired item is ignored', () => state('appointment', undefined, { change: { changeType: 'deleted', attempt: 1, itemId: 'x' } }), ['Ignore: not paired']],
    ["delete: the organizer's future meeting deletes the appointment", () => state('appointment', undefined, { pair: pairOf('appointment', { base: future }), record: open, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Delete: organizer deleted a future meeting']],
    ["delete: an attendee's delete is only unlinked", () => state('appointment', undefined, { pair: pairOf('appointment', { base: future, isOrganizer: false }), record: open, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: deleted by a non-organizer']],
    ['delete: a completed or canceled appointment is only unlinked', () => state('appointment', undefined, { pair: pairOf('appointment', { base: future }), record: closed, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: completed or canceled']],
    ['delete: a past meeting is only unlinked', () => state('appointment', undefined, { pair: pairOf('appointment', { base: past }), record: open, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: in the past']],
    ['delete: an appointment already gone is only unlinked', () => state('appointment', undefined, { pair: pairOf('appointment', { base: future }), change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: already gone in Dataverse']],
    ['delete: a To Do task deleted in To Do is only unlinked', () => state('task', undefined, { pair: pairOf('task'), change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: contacts and tasks deleted in Exchange are only unlinked']],
    ['delete: a contact deleted in Outlook is only unlinked', () => state('contact', undefined, { pair: pairOf('contact'), change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }), ['Unlink: contacts and tasks deleted in Exchange are only unlinked']],
    ['an item that is gone when read follows the delete rule', () => state('contact', undefined, { pair: pairOf('contact') }), ['Unlink: contacts and tasks deleted in Exchange are only unlinked']],
  ])('%s', (_rule, build, expected) => {
    expect(types(planToDataverse(build()))).toEqual(expected);
  });

  it('attendee copy: a mirrored copy takes only personal fields from Dynamics 365 and gives nothing back', () => {
    const kind = kindNamed('appointment');
    const directions = kind.directionsFor({ mirror: true });
    const synced = Object.entries(directions).filter(([, d]) => d !== 'None');
    expect(synced.map(([field]) => field).sort()).toEqual(['reminder', 'showAs']);
    expect(new Set(synced.map(([, d]) => d))).toEqual(new Set(['ToExchange']));
    const [link, update] = planToDataverse(
      state('appointment', event({ isOrganizer: false, showAs: 'tentative', subject: 'Changed by the attendee', organizer: { emailAddress: { address: 'other@contoso.com' } } }), {
        organizerSynced: true,
        link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: true, existingPair: undefined, record: open },
      }),
    );
    expect(link).toMatchObject({ type: 'Link', mirror: true, isOrganizer: false });
    expect(update).toMatchObject({ type: 'Update', side: 'exchange', fields: { showAs: 'busy' }, keepOnConflict: true });
    expect(Object.keys((update as Extract<Action, { type: 'Update' }>).fields)).not.toContain('subject');
  });
});

describe('planMerge: both sides changed', () => {
  it('returns the conflict as data, and writes each side what the other changed', () => {
    const kind = kindNamed('appointment');
    const record = appointment({ subject: 'Dataverse subject', location: 'Room 2', modifiedon: '2024-06-01T07:00:00Z' }) as DataverseRecord;
    const base = baseAfterWrite(kind.directions, kind.snapshotFromDataverse(appointment({ subject: 'Old', location: 'Room 1' }), ctx), kind.snapshotFromDataverse(appointment({ subject: 'Old' }), ctx));
    const item = event({ subject: 'Exchange subject', location: { displayName: 'Room 1' }, lastModifiedDateTime: '2024-06-01T07:30:00Z' }) as GraphItem;
    const actions = planMerge({ kind, pair: pairOf('appointment', { base }), record, item, ctx, policy: settings.SYNC_CONFLICT_POLICY, config: defaultConfig });
    expect(actions.map((a) => a.type)).toEqual(['ResolveConflict', 'Update', 'Update']);
    const conflict = actions[0] as Extract<Action, { type: 'ResolveConflict' }>;
    expect(conflict.conflicts.map((c) => [c.field, c.winner])).toContainEqual(['subject', 'exchange']);
    expect((actions[1] as Extract<Action, { type: 'Update' }>).fields).toMatchObject({ location: 'Room 2' });
  });
});

describe('configured directions and scope filters (issue 16)', () => {
  const configured = (entries: Record<string, string | unknown[]>) => ({ ...settings, config: effectiveConfig(1, entries as never) });

  it('a field set to toDataverse is not written to Exchange by a Dataverse change, and its base keeps the old value', () => {
    const kind = kindNamed('appointment');
    const base = baseAfterWrite(kind.directions, kind.snapshotFromDataverse(appointment({ subject: 'Old', location: 'Room 1' }), ctx), kind.snapshotFromDataverse(appointment({ subject: 'Old', location: 'Room 1' }), ctx));
    const pair = pairOf('appointment', { base });
    const record = appointment({ '@odata.etag': 'W/"2"', subject: 'New', location: 'Room 2' });
    const s = { kind, table: 'appointment' as const, record, pair, mailbox, syncedSystemUsers: new Set([me.systemUserId]), ctx };
    const both = planToExchange({ ...s, settings });
    expect(both[0]).toMatchObject({ type: 'Update', fields: { subject: 'New', location: 'Room 2' } });
    const oneWay = planToExchange({ ...s, settings: configured({ 'fields.appointment.location.direction': 'toDataverse' }) });
    expect(oneWay[0]).toMatchObject({ type: 'Update', fields: { subject: 'New' } });
    expect(Object.keys((oneWay[0] as Extract<Action, { type: 'Update' }>).fields)).not.toContain('location');
  });

  it('a field set to none or toExchange is left out of a Dataverse create body; one still flowing stays', () => {
    const kind = kindNamed('appointment');
    const body = { subject: 'S', location: 'L', description: 'D', scheduledstart: 'x' };
    expect(withoutTurnedOffFields(body, kind, configured({ 'fields.appointment.location.direction': 'none' }).config, 'dataverse')).toEqual({ subject: 'S', description: 'D', scheduledstart: 'x' });
    expect(withoutTurnedOffFields(body, kind, configured({ 'fields.appointment.location.direction': 'toDataverse' }).config, 'dataverse')).toEqual(body);
    const contactKind = kindNamed('contact');
    const address = { address1_line1: 'a', address1_line2: 'b', address1_line3: 'c', address1_city: 'd', jobtitle: 'j' };
    expect(withoutTurnedOffFields(address, contactKind, configured({ 'fields.contact.businessAddress.direction': 'toExchange' }).config, 'dataverse')).toEqual({ jobtitle: 'j' });
    expect(withoutTurnedOffFields({ businessPhones: ['1'], givenName: 'g' }, contactKind, configured({ 'fields.contact.businessPhone.direction': 'toDataverse' }).config, 'exchange')).toEqual({ givenName: 'g' });
  });

  it.each<[string, Record<string, unknown>, ScopeFilter[], string | undefined]>([
    ['the default "My Activities" takes a party', { _ownerid_value: otherUserId }, defaultScope.appointment as ScopeFilter[], 'My Activities'],
    ['an owner-only filter refuses a party', { _ownerid_value: otherUserId }, [{ name: 'Mine', who: 'owner', where: [] }], undefined],
    ['a column condition must hold', { _ownerid_value: me.systemUserId, new_sync: false }, [{ name: 'Flagged', who: 'owner', where: [{ column: 'new_sync', op: 'eq', value: true }] }], undefined],
    [
      'filters are a union: the second one matching is enough',
      { _ownerid_value: me.systemUserId, new_sync: false },
      [
        { name: 'Flagged', who: 'owner', where: [{ column: 'new_sync', op: 'eq', value: true }] },
        { name: 'Not high', who: 'owner', where: [{ column: 'prioritycode', op: 'ne', value: 2 }] },
      ],
      'Not high',
    ],
  ])('%s', (_name, record, filters, expected) => {
    expect(matchingFilter(filters, record as DataverseRecord, me.systemUserId, [String(record._ownerid_value), me.systemUserId.toLowerCase()])?.name).toBe(expected);
  });
});

// A cancelled Dynamics 365 series with SYNC_PROPAGATE_CANCELLATIONS on: the single-appointment rule for the whole
// series, its past kept (shared/sync/kinds/series.ts seriesEnding). A daily series of six at 11:00 Berlin (09:00Z)
// from 30 May; `now` is 1 June 08:00Z, so 30 and 31 May are past and 1-4 June future.
describe('planToExchange: a cancelled series ends in Exchange, its past kept', () => {
  const kind = kindNamed('appointment');
  const propagate: PlanSettings = { ...settings, SYNC_PROPAGATE_CANCELLATIONS: true };
  const daily = (overrides: Record<string, unknown> = {}) =>
    appointment({
      '@odata.etag': 'W/"1"',
      instancetypecode: 1,
      recurrencepatterntype: 0,
      interval: 1,
      starttime: '2024-05-30T09:00:00Z',
      endtime: '2024-05-30T09:30:00Z',
      scheduledstart: '2024-05-30T09:00:00Z',
      scheduledend: '2024-05-30T09:30:00Z',
      patternstartdate: '2024-05-29T22:00:00Z',
      patternendtype: 2,
      occurrences: 6,
      utcconversiontimezonecode: 110,
      ...overrides,
    });
  /** The pair as it was when the series was synced: its base is the record's snapshot before the cancel. */
  const synced = (overrides: Record<string, unknown> = {}, pair: Partial<Pair> = {}) => pairOf('appointment', { dataverseEntity: 'recurringappointmentmaster', base: kind.snapshotFromDataverse(daily(overrides), ctx), ...pair });
  const cancelled = (overrides: Record<string, unknown> = {}) => daily({ '@odata.etag': 'W/"2"', statecode: 2, statuscode: 4, modifiedon: '2024-06-01T07:30:00Z', ...overrides });
  const plan = (record: Record<string, unknown>, pair: Pair, s: PlanSettings = propagate) =>
    planToExchange({ kind, table: 'recurringappointmentmaster', record, pair, mailbox, syncedSystemUsers: new Set([me.systemUserId]), ctx, settings: s });
  const update = (actions: Action[]) => {
    const found = actions.find((a): a is Extract<Action, { type: 'Update' }> => a.type === 'Update');
    expect(found, JSON.stringify(actions)).toBeDefined();
    return found!;
  };
  const rangeOf = (fields: Record<string, unknown>) => (fields.recurrence as { range?: unknown } | undefined)?.range;

  it('a plain cancel of a series with past occurrences ends it at the last one before the cancel: never a cancel of the master', () => {
    const actions = plan(cancelled(), synced());
    expect(types(actions)).toEqual(['Update exchange', 'SyncParts']);
    const written = update(actions);
    expect(written.fields.recurrence).toMatchObject({ range: 'endDate', endDate: '2024-05-31', numberOfOccurrences: null, startDate: '2024-05-30' });
    expect(written.base.seriesEnded).toBe('2024-06-01T07:30:00.000Z');
  });

  it('the next pass of the cancelled series reads it the same way: nothing written, not cancelled, not extended', () => {
    const first = update(plan(cancelled(), synced()));
    const pair = synced({}, { base: first.base, dataverseEtag: 'W/"2"' });
    // A later change (the clock has moved on a day) writes nothing to the pattern.
    const later = planToExchange({ kind, table: 'recurringappointmentmaster', record: cancelled({ '@odata.etag': 'W/"3"' }), pair, mailbox, syncedSystemUsers: new Set([me.systemUserId]), ctx: ctxAt('2024-06-02T12:00:00Z'), settings: propagate });
    expect(types(later)).toEqual(['Update exchange', 'SyncParts']);
    expect(update(later).fields.recurrence).toBeUndefined();
  });

  it('a plain cancel of a series all in the future cancels the Exchange series, as a single future meeting is', () => {
    const future = { starttime: '2024-06-03T09:00:00Z', endtime: '2024-06-03T09:30:00Z', scheduledstart: '2024-06-03T09:00:00Z', scheduledend: '2024-06-03T09:30:00Z', patternstartdate: '2024-06-02T22:00:00Z' };
    expect(types(plan(cancelled(future), synced(future)))).toEqual(['Delete: cancellation propagated']);
  });

  it('DeleteOpenInstances (the pattern ended with the cancel) is an end: the ended pattern is written, kept future occurrences included', () => {
    // Ended on 2 June: 30 May - 2 June kept (2 June is future), 3 and 4 June deleted.
    const ended = cancelled({ patternendtype: 3, patternenddate: '2024-06-01T22:00:00Z', occurrences: null });
    const actions = plan(ended, synced());
    expect(types(actions)).toEqual(['Update exchange', 'SyncParts']);
    const written = update(actions);
    expect(written.fields.recurrence).toMatchObject({ range: 'endDate', endDate: '2024-06-02' });
    expect(written.base.seriesEnded).toBe('pattern');
    // Planned again (an instance's change carried to it), it is still no cancel and writes nothing new.
    const again = plan({ ...ended, '@odata.etag': 'W/"3"' }, synced({}, { base: written.base, dataverseEtag: 'W/"2"' }));
    expect(types(again)).toEqual(['Update exchange', 'SyncParts']);
    expect(update(again).fields.recurrence).toBeUndefined();
  });

  it('DeleteOpenInstances of a future series kept nothing of: cancelled as a whole', () => {
    const future = { starttime: '2024-06-03T09:00:00Z', endtime: '2024-06-03T09:30:00Z', scheduledstart: '2024-06-03T09:00:00Z', scheduledend: '2024-06-03T09:30:00Z', patternstartdate: '2024-06-02T22:00:00Z' };
    const none = cancelled({ ...future, patternendtype: 3, patternenddate: '2024-06-01T22:00:00Z', effectivestartdate: '2024-06-02T22:00:00Z', occurrences: null });
    expect(types(plan(none, synced(future)))).toEqual(['Delete: cancellation propagated']);
  });

  it('cancellations not propagated, or an attendee\'s copy: the pattern is left as it is', () => {
    expect(rangeOf(update(plan(cancelled(), synced(), settings)).fields)).toBeUndefined();
    expect(rangeOf(update(plan(cancelled(), synced({}, { isOrganizer: false }))).fields)).toBeUndefined();
  });
});

describe('patternEndedBefore: a series ended at its last occurrence before an instant', () => {
  const p: SeriesPattern = { type: 'weekly', interval: 1, daysOfWeek: ['monday', 'thursday'], firstDayOfWeek: 'sunday', index: null, dayOfMonth: null, month: null, range: 'noEnd', startDate: '2024-05-02', endDate: null, numberOfOccurrences: null, timeZone: 'W. Europe Standard Time' };
  const at = { hour: 11, minute: 0, second: 0 };
  it.each<[string, SeriesPattern, string, { endDate: string } | 'none' | 'same']>([
    ['an open series ends on its last past occurrence', p, '2024-05-13T08:00:00Z', { endDate: '2024-05-09' }],
    ['an occurrence that has begun counts as past', p, '2024-05-13T09:30:00Z', { endDate: '2024-05-13' }],
    ['nothing past: no end (the caller cancels the whole series)', p, '2024-05-02T08:59:00Z', 'none'],
    ['a numbered series wholly past is left as it is', { ...p, range: 'numbered', numberOfOccurrences: 3 }, '2024-06-01T00:00:00Z', 'same'],
    ['an end-dated series wholly past is left as it is', { ...p, range: 'endDate', endDate: '2024-05-10' }, '2024-06-01T00:00:00Z', 'same'],
  ])('%s', (_rule, pattern, cut, expected) => {
    const ended = patternEndedBefore(pattern, at, Date.parse(cut));
    if (expected === 'none') expect(ended).toBeUndefined();
    else if (expected === 'same') expect(ended).toEqual(pattern);
    else expect(ended).toEqual({ ...pattern, range: 'endDate', endDate: expected.endDate, numberOfOccurrences: null });
  });
});
