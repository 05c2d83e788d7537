// The planner's details that the decision table in plan.test.ts does not look at: the fields and bases an Update
// carries, the flags an Await or Link carries, the base and drift helpers field by field, the scope filter's id
// comparison, and how a create body loses the columns of a field turned off. Each case here was a surviving
// mutant of shared/sync/plan.ts (docs/mutation.md): a rule the executor relies on that no test checked.
import { describe, expect, it } from 'vitest';
import type { DataverseRecord } from '../../../shared/dataverse/client.js';
import { defaultConfig, effectiveConfig, type ScopeFilter } from '../../../shared/settings/index.js';
import type { Mailbox } from '../../../shared/storage/mailboxStore.js';
import type { Pair } from '../../../shared/storage/pairStore.js';
import { kindNamed, type GraphItem, type SyncKind } from '../../../shared/sync/kinds/index.js';
import type { Direction } from '../../../shared/sync/merge.js';
import {
  baseAfterWrite,
  driftToExchange,
  isNotificationEcho,
  isPlainDataverseEcho,
  isPlainEcho,
  matchingFilter,
  planLink,
  planDataverseDelete,
  planMerge,
  planToDataverse,
  planToExchange,
  scopeColumns,
  withoutTurnedOffFields,
  type Action,
  type PlanSettings,
  type ToDataverseState,
} from '../../../shared/sync/plan.js';
import { appointment, ctxAt, event, me, otherUserId } from '../../mapping/fixtures.js';

const ctx = ctxAt('2024-06-01T08:00:00Z');
const settings: PlanSettings = { SYNC_CONFLICT_POLICY: 'lastModifiedWins', SYNC_PROPAGATE_CANCELLATIONS: false, config: defaultConfig };
const mailbox: Mailbox = { id: 'mbx-dana', userPrincipalName: me.address, address: me.address, systemUserId: me.systemUserId, timeZone: 'Europe/Berlin', entities: ['appointment', 'task', 'contact'], state: 'active' };
const appointmentKind = kindNamed('appointment');
type Update = Extract<Action, { type: 'Update' }>;

function pairOf(overrides: Partial<Pair> = {}): Pair {
  return { mailboxId: mailbox.id, kind: 'appointment', dataverseEntity: 'appointment', dataverseId: 'dv-1', exchangeId: 'ex-1', base: {}, status: 'linked', dataverseEtag: 'W/"1"', exchangeEtag: 'W/"ex1"', ...overrides };
}

/** The base an appointment pair holds after a sync of this record (both sides agreeing). */
const baseOf = (record: Record<string, unknown>) => {
  const snap = appointmentKind.snapshotFromDataverse(record, ctx);
  return baseAfterWrite(appointmentKind.directions, snap, snap);
};

describe('baseAfterWrite and driftToExchange, field by field', () => {
  const directions: Record<string, Direction> = { a: 'Both', b: 'ToExchange', c: 'ToDataverse', d: 'None', e: 'Both' };
  const dv = { a: 'dv-a', b: 'dv-b', c: 'dv-c', d: 'dv-d', e: 'dv-e' };
  const ex = { a: 'ex-a', b: 'ex-b', c: 'ex-c', d: 'ex-d', e: 'ex-e' };

  it("takes each field from the side it flows from, and leaves out fields that do not flow or were not written", () => {
    expect(baseAfterWrite(directions, dv, ex, ['e'])).toEqual({ a: 'dv-a', b: 'dv-b', c: 'ex-c' });
    expect(baseAfterWrite(directions, dv, ex)).toEqual({ a: 'dv-a', b: 'dv-b', c: 'ex-c', e: 'dv-e' });
  });

  it('drift holds the Dataverse value of every field flowing to Exchange that Exchange does not hold', () => {
    expect(driftToExchange(directions, dv, ex, ['e'])).toEqual({ a: 'dv-a', b: 'dv-b' });
    expect(driftToExchange(directions, dv, { ...ex, a: 'dv-a' })).toEqual({ b: 'dv-b', e: 'dv-e' });
    // A value against nothing is drift; nothing against nothing (undefined or null) is not.
    expect(driftToExchange({ a: 'Both', b: 'Both' }, { a: 'x', b: null }, { b: undefined })).toEqual({ a: 'x' });
    expect(driftToExchange({ a: 'Both' }, { a: undefined }, { a: 'y' })).toEqual({ a: undefined });
  });
});

describe('planToExchange: what an update carries', () => {
  it('writes the changed fields to Exchange and records them in the base over the old one', () => {
    const old = appointment({ subject: 'Old', location: 'Room 1' });
    const pair = pairOf({ base: baseOf(old) });
    const [update] = planToExchange({ kind: appointmentKind, table: 'appointment', record: { ...old, '@odata.etag': 'W/"2"', subject: 'New' }, pair, mailbox, syncedSystemUsers: new Set([me.systemUserId]), ctx, settings });
    expect(update).toMatchObject({ type: 'Update', side: 'exchange', fields: { subject: 'New' } });
    expect(Object.keys((update as Update).fields)).toEqual(['subject']);
    expect((update as Update).base).toEqual({ ...pair.base, subject: 'New' });
  });

  it("an attendee's record waits for the organizer's invitation without asking to be looked at again", () => {
    const attendeeCopy = appointment({
      _ownerid_value: otherUserId,
      appointment_activity_parties: [{ participationtypemask: 7, _partyid_value: otherUserId }, { participationtypemask: 5, _partyid_value: me.systemUserId, addressused: me.address }],
    });
    const actions = planToExchange({ kind: appointmentKind, table: 'appointment', record: attendeeCopy, pair: undefined, mailbox, syncedSystemUsers: new Set([me.systemUserId, otherUserId]), ctx, settings });
    expect(actions).toEqual([{ type: 'Await', reason: "the organizer's invitation brings the meeting", retry: false }]);
  });
});

describe('planToDataverse: what its actions carry', () => {
  const state = (item: Record<string, unknown> | undefined, extra: Partial<ToDataverseState> = {}): ToDataverseState => ({
    kind: appointmentKind,
    mailbox,
    change: { changeType: 'updated', attempt: 1, itemId: 'ex-1' },
    pair: undefined,
    item: item,
    link: undefined,
    organizerSynced: false,
    record: undefined,
    ctx,
    settings,
    ...extra,
  });
  const open = appointment() as DataverseRecord;

  it('an echo needs both a pair and an etag', () => {
    expect(isNotificationEcho(pairOf(), 'W/"ex1"')).toBe(true);
    expect(isNotificationEcho(undefined, 'W/"ex1"')).toBe(false);
    expect(isNotificationEcho(pairOf(), undefined)).toBe(false);
    expect(isNotificationEcho(pairOf({ exchangeEtag: undefined }), undefined)).toBe(false);
  });

  it('a delete notification follows the delete rule even when the item was read (a stale read must not update)', () => {
    const actions = planToDataverse(state(event({ '@odata.etag': 'W/"new"' }), { pair: pairOf(), record: open, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }));
    expect(actions.map((a) => a.type)).not.toContain('Update');
    expect(actions).toHaveLength(1);
    expect(['Delete', 'Unlink']).toContain(actions[0]?.type);
  });

  it('an unlinking delete rule says which copy stays and that a delete left it (the cause the remembered copy is judged by)', () => {
    const exchangeDelete = planToDataverse(state(undefined, { pair: pairOf({ isOrganizer: false }), record: open, change: { changeType: 'deleted', attempt: 1, itemId: 'ex-1' } }));
    expect(exchangeDelete).toEqual([{ type: 'Unlink', reason: 'deleted by a non-organizer', remains: 'dataverse', cause: 'deleted' }]);
    const dataverseDelete = planDataverseDelete({ kind: appointmentKind, pair: pairOf({ isOrganizer: false }), mailbox, ownerId: undefined, now: ctx.now, exchangeItem: undefined });
    expect(dataverseDelete).toEqual([{ type: 'Unlink', reason: 'past or not the organizer', remains: 'exchange', cause: 'deleted' }]);
  });

  it("the sync's own create still being recorded is looked at again", () => {
    // Claimed 10 s ago: the wait doubles the claim's age (shared/sync/claim.ts, test/shared/sync/claim.test.ts), and it is a
    // wait behind a claim (claim: true), which costs the change no attempt.
    const claimed = new Date(ctx.now.getTime() - 10_000).toISOString();
    const actions = planToDataverse(state(event(), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: pairOf({ status: 'pending', updatedOn: claimed }), record: undefined } }));
    expect(actions).toEqual([{ type: 'Await', reason: "the sync's own create of this item is still being recorded", retry: true, claim: true, retryAfterMs: 10_000 }]);
  });

  it('an unpaired copy whose record no longer reaches the user (reassigned: another owner, the user no party) is not linked again', () => {
    const reassigned = { ...open, _ownerid_value: otherUserId, appointment_activity_parties: [{ participationtypemask: 7, _partyid_value: otherUserId }] } as DataverseRecord;
    const actions = planToDataverse(state(event({ id: 'ex-1' }), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: undefined, record: reassigned } }));
    expect(actions).toEqual([{ type: 'Ignore', reason: 'out of scope: the record it belongs to does not reach this user (owner, party or sync filter); the copy stays unlinked' }]);
    // The user's own record is linked as before.
    const mine = planToDataverse(state(event({ id: 'ex-1' }), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: undefined, record: open } }));
    expect(mine[0]?.type).toBe('Link');
  });

  it("a record's pair already holding this item updates Dataverse from it; one holding another item does not", () => {
    const existing = pairOf({ base: baseOf(appointment({ subject: 'Planning' })) });
    const same = planToDataverse(state(event({ id: 'ex-1', subject: 'Renamed' }), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: existing, record: open } }));
    expect(same).toHaveLength(1);
    expect(same[0]).toMatchObject({ type: 'Update', side: 'dataverse', fields: { subject: 'Renamed' } });
    const other = planToDataverse(state(event({ id: 'ex-2', subject: 'Renamed' }), { link: { dataverseId: 'dv-1', table: 'appointment', viaMeeting: false, existingPair: existing, record: open } }));
    expect(other.map((a) => a.type)).toEqual(['Create']);
  });

  it('an update to Dataverse carries the changed fields and the base with them', () => {
    const pair = pairOf({ base: baseOf(appointment({ subject: 'Planning' })) });
    const [update] = planToDataverse(state(event({ subject: 'Renamed' }), { pair }));
    expect(update).toMatchObject({ type: 'Update', side: 'dataverse', fields: { subject: 'Renamed' } });
    expect(Object.keys((update as Update).base)).toEqual(expect.arrayContaining(Object.keys(pair.base)));
    expect((update as Update).base.subject).toBe('Renamed');
  });

  it("an attendee's copy waits a second and asks to be looked at again, for its first three attempts", () => {
    const attendee = event({ isOrganizer: false, organizer: { emailAddress: { address: 'other@contoso.com' } } });
    expect(planToDataverse(state(attendee, { organizerSynced: true, change: { changeType: 'updated', attempt: 2, itemId: 'x' } }))).toEqual([
      { type: 'Await', reason: "attendee copy of a meeting whose organizer's copy is not paired yet", retry: true, retryAfterMs: 1_000 },
    ]);
    // Without an iCalUId nothing can pair it with the organizer's copy: it is judged at once.
    expect(planToDataverse(state({ ...attendee, iCalUId: undefined }, { organizerSynced: true })).map((a) => a.type)).toEqual(['Create']);
  });

  it("a stamped item linked to its record is a pair of its own, not a mirror: the user's edits flow to Dataverse", () => {
    const link = { dataverseId: 'dv-1', table: 'appointment' as const, viaMeeting: false, existingPair: undefined, record: open };
    const actions = planToDataverse(state(event({ subject: 'Edited in Outlook', isOrganizer: false, organizer: { emailAddress: { address: 'other@contoso.com' } } }), { link, organizerSynced: true }));
    expect(actions.map((a) => a.type)).toEqual(['Link', 'Update']);
    expect(actions[0]).toMatchObject({ mirror: false });
    expect(actions[1]).toMatchObject({ side: 'dataverse', fields: { subject: 'Edited in Outlook' } });
  });
});

describe('planLink: the pair it records', () => {
  const item = (overrides: Record<string, unknown>) => event(overrides) as GraphItem;
  const attendee = { isOrganizer: false, organizer: { emailAddress: { address: 'other@contoso.com' } } };
  const link = (viaMeeting: boolean) => ({ dataverseId: 'dv-1', table: 'appointment' as const, viaMeeting });
  const linkOf = (actions: Action[]) => actions[0] as Extract<Action, { type: 'Link' }>;
  const s = (organizerSynced: boolean) => ({ kind: appointmentKind, organizerSynced, ctx, settings });
  const record = appointment() as DataverseRecord;

  it("mirrors only an attendee's copy found by the meeting whose organizer syncs", () => {
    expect(linkOf(planLink(s(true), link(true), record, item(attendee))).mirror).toBe(true);
    expect(linkOf(planLink(s(false), link(true), record, item(attendee))).mirror).toBe(false);
    expect(linkOf(planLink(s(true), link(false), record, item(attendee))).mirror).toBe(false);
    expect(linkOf(planLink(s(true), link(true), record, item({ isOrganizer: true }))).mirror).toBe(false);
  });

  it('records the iCalUId, and whether the mailbox organizes only when found by the meeting', () => {
    const viaMeeting = linkOf(planLink(s(false), link(true), record, item({ isOrganizer: true })));
    expect(viaMeeting).toMatchObject({ iCalUId: event().iCalUId, isOrganizer: true });
    const viaStamp = linkOf(planLink(s(false), link(false), record, item({ isOrganizer: true })));
    expect(viaStamp.iCalUId).toBe(event().iCalUId);
    expect(viaStamp).not.toHaveProperty('isOrganizer');
    expect(linkOf(planLink(s(false), link(false), record, item({ iCalUId: undefined })))).not.toHaveProperty('iCalUId');
  });

  it("a mirrored copy already holding Dynamics 365's personal fields needs no write", () => {
    // The record is Busy with a 15-minute reminder; so is the copy.
    const copy = item({ ...attendee, showAs: 'busy', isReminderOn: true, reminderMinutesBeforeStart: 15 });
    const record15 = appointment({ _ownerid_value: otherUserId }) as DataverseRecord;
    const dvSnap = appointmentKind.snapshotFromDataverse(record15, ctx);
    const exSnap = appointmentKind.snapshotFromExchange(copy, ctx);
    const drift = driftToExchange(appointmentKind.directionsFor({ mirror: true }), dvSnap, exSnap);
    const actions = planLink(s(true), link(true), record15, copy);
    expect(actions.map((a) => a.type)).toEqual(Object.keys(drift).length === 0 ? ['Link'] : ['Link', 'Update']);
    const aligned = item({ ...attendee, showAs: dvSnap.showAs, isReminderOn: dvSnap.reminder !== null && dvSnap.reminder !== undefined, reminderMinutesBeforeStart: dvSnap.reminder ?? 15 });
    const alignedDrift = driftToExchange(appointmentKind.directionsFor({ mirror: true }), dvSnap, appointmentKind.snapshotFromExchange(aligned, ctx));
    expect(alignedDrift).toEqual({});
    expect(planLink(s(true), link(true), record15, aligned).map((a) => a.type)).toEqual(['Link']);
  });
});

describe('planMerge without a conflict', () => {
  it('reports no conflict when each side changed a different field', () => {
    const old = appointment({ subject: 'Old', location: 'Room 1' });
    const pair = pairOf({ base: baseOf(old) });
    const record = { ...old, location: 'Room 2' } as DataverseRecord;
    const item = event({ subject: 'New', location: { displayName: 'Room 1' }, body: { contentType: 'text', content: 'Agenda attached' } }) as GraphItem;
    const actions = planMerge({ kind: appointmentKind, pair, record, item, ctx, policy: 'lastModifiedWins', config: defaultConfig });
    expect(actions.map((a) => a.type)).toEqual(['Update', 'Update']);
  });

  it("the Exchange write that goes first records Exchange's own changes as not synced yet: the old base for them and the item's version kept (a failed Dataverse write after it hid them)", () => {
    const old = appointment({ subject: 'Old', location: 'Room 1' });
    const pair = pairOf({ base: baseOf(old) });
    const record = { ...old, location: 'Room 2' } as DataverseRecord;
    const item = event({ subject: 'New', location: { displayName: 'Room 1' } }) as GraphItem;
    const [first, second] = planMerge({ kind: appointmentKind, pair, record, item, ctx, policy: 'lastModifiedWins', config: defaultConfig }) as Extract<Action, { type: 'Update' }>[];
    expect(first).toMatchObject({ side: 'exchange', fields: { location: 'Room 2' }, unsyncedVersion: true });
    expect(first!.base.subject).toBe(pair.base.subject);
    expect(first!.base.location).toBe('Room 2');
    expect(second).toMatchObject({ side: 'dataverse', fields: { subject: 'New' } });
    expect(second!.unsyncedVersion).toBeUndefined();
    expect(second!.base).toMatchObject({ subject: 'New', location: 'Room 2' });
  });
});

describe('scope filters: columns and ids', () => {
  it('scopeColumns lists each column the filters read, once', () => {
    const filters: ScopeFilter[] = [
      { name: 'A', who: 'owner', where: [{ column: 'new_sync', op: 'eq', value: true }, { column: 'prioritycode', op: 'ne', value: 2 }] },
      { name: 'B', who: 'ownerOrParty', where: [{ column: 'new_sync', op: 'eq', value: true }] },
    ];
    expect(scopeColumns(filters)).toEqual(['new_sync', 'prioritycode']);
    expect(scopeColumns([])).toEqual([]);
  });

  it('compares system user ids without regard to case (Dataverse GUIDs come in either case)', () => {
    const upper = me.systemUserId.toUpperCase();
    const owner: ScopeFilter[] = [{ name: 'Mine', who: 'owner', where: [] }];
    expect(matchingFilter(owner, { _ownerid_value: upper }, me.systemUserId, [])?.name).toBe('Mine');
    expect(matchingFilter(owner, { _ownerid_value: me.systemUserId }, upper, [])?.name).toBe('Mine');
    const party: ScopeFilter[] = [{ name: 'Party', who: 'ownerOrParty', where: [] }];
    expect(matchingFilter(party, {}, upper, [me.systemUserId])?.name).toBe('Party');
  });

  it('a missing column is null: it equals a null condition and differs from a value', () => {
    const isNull: ScopeFilter[] = [{ name: 'Unset', who: 'owner', where: [{ column: 'new_sync', op: 'eq', value: null }] }];
    const record = { _ownerid_value: me.systemUserId } as DataverseRecord;
    expect(matchingFilter(isNull, record, me.systemUserId, [])?.name).toBe('Unset');
    const notTrue: ScopeFilter[] = [{ name: 'Not flagged', who: 'owner', where: [{ column: 'new_sync', op: 'ne', value: true }] }];
    expect(matchingFilter(notTrue, record, me.systemUserId, [])?.name).toBe('Not flagged');
    expect(matchingFilter(notTrue, { ...record, new_sync: true }, me.systemUserId, [])).toBeUndefined();
  });
});

describe('withoutTurnedOffFields: the names a field table entry stands for', () => {
  // A kind reduced to what the function reads: its name and its field table. The real tables hold no numbered range
  // past 9 (address lines 1..3), so the general rule is shown on one made for it.
  const kind = (fields: { name: string; direction: Direction; graph: string[]; dataverse: string[] }[]) => ({ name: 'contact', fields }) as unknown as SyncKind;
  const config = (directions: Record<string, string>) => effectiveConfig(1, Object.fromEntries(Object.entries(directions).map(([field, d]) => [`fields.contact.${field}.direction`, d])));

  it('a numbered range expands to every number in it, including numbers of two digits', () => {
    const k = kind([{ name: 'businessAddress', direction: 'Both', graph: ['businessAddress.street'], dataverse: ['address1_line9..11', 'address1_city'] }]);
    const body = { address1_line9: 'a', address1_line10: 'b', address1_line11: 'c', address1_line12: 'd', address1_city: 'e', xaddress1_line10: 'f' };
    expect(withoutTurnedOffFields(body, k, config({ businessAddress: 'toExchange' }), 'dataverse')).toEqual({ address1_line12: 'd', xaddress1_line10: 'f' });
  });

  it('keeps a column another field still writes, and drops only what the table would have written', () => {
    const k = kind([
      { name: 'businessAddress', direction: 'Both', graph: ['businessAddress'], dataverse: ['address1_city'] },
      { name: 'homeAddress', direction: 'Both', graph: ['homeAddress'], dataverse: ['address1_city', 'address2_city'] },
      { name: 'companyName', direction: 'ToExchange', graph: ['companyName'], dataverse: ['_parentcustomerid_value'] },
    ]);
    const body = { address1_city: 'x', address2_city: 'y', _parentcustomerid_value: 'z' };
    expect(withoutTurnedOffFields(body, k, config({ businessAddress: 'none' }), 'dataverse')).toBe(body);
    expect(withoutTurnedOffFields(body, k, config({ homeAddress: 'toExchange' }), 'dataverse')).toEqual({ address1_city: 'x', _parentcustomerid_value: 'z' });
    // Exchange side: a field flowing to Dataverse only no longer writes Exchange.
    const exBody = { businessAddress: {}, homeAddress: {}, companyName: 'c' };
    expect(withoutTurnedOffFields(exBody, k, config({ homeAddress: 'toDataverse' }), 'exchange')).toEqual({ businessAddress: {}, companyName: 'c' });
    expect(withoutTurnedOffFields(exBody, k, config({ homeAddress: 'toExchange' }), 'exchange')).toBe(exBody);
  });
});

describe('the echoes decided before the mailbox is read again', () => {
  const record = appointment({ '@odata.etag': 'W/"7"' }) as DataverseRecord;
  const plain = { viaPart: false, deletedPart: false };

  it("isPlainDataverseEcho: a linked pair's recorded version (or an older one) of a supported record whose parts are not compared", () => {
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"7"' }), plain)).toBe(true);
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"8"' }), plain)).toBe(true);
    // A later version is a change; a pending pair or none has synced nothing.
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"6"' }), plain)).toBe(false);
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"7"', status: 'pending' }), plain)).toBe(false);
    expect(isPlainDataverseEcho(appointmentKind, record, undefined, plain)).toBe(false);
    // A part's change carried to the record, or a deleted part, compares the parts: more than the echo.
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"7"' }), { viaPart: true, deletedPart: false })).toBe(false);
    expect(isPlainDataverseEcho(appointmentKind, record, pairOf({ dataverseEtag: 'W/"7"' }), { viaPart: false, deletedPart: true })).toBe(false);
    // A record the kind does not sync (a series instance: its series carries it) is ignored, not an echo.
    expect(isPlainDataverseEcho(appointmentKind, { ...record, instancetypecode: 3 }, pairOf({ dataverseEtag: 'W/"7"' }), plain)).toBe(false);
  });

  it("isPlainEcho: the notification's etag is the recorded one, and the pair's table has no parts to compare", () => {
    expect(isPlainEcho(appointmentKind, pairOf(), 'W/"ex1"')).toBe(true);
    expect(isPlainEcho(appointmentKind, pairOf({ dataverseEntity: undefined }), 'W/"ex1"')).toBe(true);
    expect(isPlainEcho(appointmentKind, pairOf(), 'W/"ex2"')).toBe(false);
    expect(isPlainEcho(appointmentKind, undefined, 'W/"ex1"')).toBe(false);
    // A series pair compares its occurrences on every change, its master's echo included.
    expect(isPlainEcho(appointmentKind, pairOf({ dataverseEntity: 'recurringappointmentmaster' }), 'W/"ex1"')).toBe(false);
    // isNotificationEcho itself: another etag is another version.
    expect(isNotificationEcho(pairOf(), 'W/"ex2"')).toBe(false);
  });

  it("a part the platform deleted (the series' deleted list as the base has it) is an echo of the series; a delete the list shows is compared", () => {
    const series = appointment({ '@odata.etag': 'W/"9"', deletedexceptionslist: '' }) as DataverseRecord;
    const pair = pairOf({ dataverseEntity: 'recurringappointmentmaster', base: baseOf(series) });
    const state = { kind: appointmentKind, table: 'recurringappointmentmaster' as const, record: series, pair, mailbox, syncedSystemUsers: new Set([me.systemUserId]), ctx, settings };
    const platform = [{ type: 'Echo', reason: 'a part deleted by the platform: the carrier records no delete' }];
    expect(planToExchange({ ...state, deletedPart: true })).toEqual(platform);
    // Not a deleted part, or the deleted list not read (no mark of it): planned as any change of the series.
    expect(planToExchange(state)).not.toEqual(platform);
    const { deletedexceptionslist: _unread, ...withoutList } = series;
    expect(planToExchange({ ...state, record: withoutList, deletedPart: true })).not.toEqual(platform);
    // An unpaired series is created whatever its parts.
    expect(planToExchange({ ...state, pair: { ...pair, status: 'pending' }, deletedPart: true }).map((a) => a.type)).not.toContain('Echo');
  });
});

describe('planToDataverse and planMerge: the remaining flags', () => {
  it("the organizer's own copy of a meeting is created at once, even while other copies wait for it", () => {
    const organizerCopy = event({ isOrganizer: true });
    const actions = planToDataverse({ kind: appointmentKind, mailbox, change: { changeType: 'updated', attempt: 1, itemId: 'x' }, pair: undefined, item: organizerCopy, link: undefined, organizerSynced: true, record: undefined, ctx, settings });
    expect(actions.map((a) => a.type)).toEqual(['Create']);
  });

  it('a merge whose Exchange side changed nothing records the first write as synced (no unsyncedVersion)', () => {
    // The base is what the item holds: only Dataverse changed (its location).
    const item = event({ location: { displayName: 'Room 1' } }) as GraphItem;
    const pair = pairOf({ base: appointmentKind.snapshotFromExchange(item, ctx) });
    const record = appointment({ location: 'Room 2' }) as DataverseRecord;
    const [first, second] = planMerge({ kind: appointmentKind, pair, record, item, ctx, policy: 'lastModifiedWins', config: defaultConfig }) as Update[];
    expect(first).toMatchObject({ side: 'exchange', fields: { location: 'Room 2' } });
    expect(first).not.toHaveProperty('unsyncedVersion');
    expect(second).toEqual({ type: 'Update', side: 'dataverse', fields: {}, base: first!.base });
  });
});

describe('withoutTurnedOffFields: a numbered range from two digits', () => {
  it('a range that starts at a number of two digits expands from that number', () => {
    const k = { name: 'contact', fields: [{ name: 'businessAddress', direction: 'Both', graph: ['businessAddress.street'], dataverse: ['x_line10..12'] }] } as unknown as SyncKind;
    const config = effectiveConfig(1, { 'fields.contact.businessAddress.direction': 'toExchange' });
    const body = { x_line1: 'a', x_line9: 'b', x_line10: 'c', x_line11: 'd', x_line12: 'e', x_line13: 'f' };
    expect(withoutTurnedOffFields(body, k, config, 'dataverse')).toEqual({ x_line1: 'a', x_line9: 'b', x_line13: 'f' });
  });
});
