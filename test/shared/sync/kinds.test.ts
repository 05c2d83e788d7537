// The kind registry and each kind's pure rules, row by row (no I/O).
import { describe, expect, it } from 'vitest';
import { kindOfDataverseEntity } from '../../../shared/mapping/index.js';
import type { Pair } from '../../../shared/storage/pairStore.js';
import { allResources, allTables, kindNames, kindNamed, kindOfResource, kindOfSubscription, kindOfTable, kinds, resourceNames, subscriptionKindNames, tableNames, type GraphItem } from '../../../shared/sync/kinds/index.js';
import { event, graphContact, todo as todoItem } from '../../mapping/fixtures.js';

describe('the registry', () => {
  it('the name lists the message schema, the mailbox registry and the stores accept are what the kinds declare', () => {
    expect([...allTables].sort()).toEqual([...tableNames].sort());
    expect([...allResources].sort()).toEqual([...resourceNames].sort());
    expect(kinds.map((k) => k.name).sort()).toEqual([...kindNames].sort());
    expect(kinds.flatMap((k) => (k.subscription ? [k.subscription.kind] : [])).sort()).toEqual([...subscriptionKindNames].sort());
  });

  it.each([
    ['appointment', 'appointment'],
    ['task', 'task'],
    ['phonecall', 'task'],
    ['letter', 'task'],
    ['fax', 'task'],
    ['contact', 'contact'],
    ['email', 'email'],
  ])('the table %s is of kind %s', (table, kind) => {
    expect(kindOfTable(table).name).toBe(kind);
  });

  it('throws for a table no kind maps instead of treating it as a task', () => {
    expect(() => kindOfTable('socialactivity')).toThrow(/socialactivity.*not a table the sync maps/);
    // A series master is the appointment kind's second table.
    expect(kindOfTable('recurringappointmentmaster').name).toBe('appointment');
    expect(() => kindOfResource('chatMessage')).toThrow(/not a Graph resource/);
    // The mapping's own lookup refuses it too (it used to fall through to task).
    expect(() => kindOfDataverseEntity('socialactivity' as never)).toThrow(/not a table the sync maps/);
  });

  it('subscribes to events, contacts and messages (every folder); To Do is polled', () => {
    expect(kindOfSubscription('events')?.name).toBe('appointment');
    expect(kindOfSubscription('contacts')?.name).toBe('contact');
    expect(kindOfSubscription('messages')?.name).toBe('email');
    expect(kindNamed('email').subscription?.path('u1')).toBe('/users/u1/messages');
    expect(kindOfSubscription('chats')).toBeUndefined();
    expect(kindNamed('task').subscription).toBeUndefined();
    expect(kindNamed('appointment').subscription?.path('u1')).toBe('/users/u1/events');
  });
});

describe('what a Dataverse write needs besides the changed fields', () => {
  it.each<[string, string, string[], boolean]>([
    ['appointment', 'appointment', ['subject'], false],
    ['appointment', 'appointment', ['attendees'], true],
    ['appointment', 'appointment', ['organizer'], true],
    ['appointment', 'appointment', ['showAs'], true],
    ['appointment', 'appointment', ['cancelled'], true],
    ['task', 'task', ['subject'], false],
    ['task', 'task', ['status'], true],
    ['task', 'phonecall', ['subject'], true],
    ['task', 'fax', ['subject'], true],
    ['contact', 'contact', ['emailAddresses'], false],
  ])('%s (%s) writing %j reads the record: %s', (kind, table, fields, expected) => {
    expect(kindNamed(kind).writeNeedsRecord(table as never, fields)).toBe(expected);
  });
});

describe('invitation shaping of an Exchange patch', () => {
  const pair = (overrides: Partial<Pair>): Pair => ({ mailboxId: 'm', kind: 'appointment', dataverseEntity: 'appointment', dataverseId: 'd', base: {}, status: 'linked', ...overrides });
  const patch = { subject: 'S', attendees: [{ emailAddress: { address: 'a@b.c' }, type: 'required' }] } as GraphItem;
  const now = new Date('2024-06-01T00:00:00Z');
  it.each<[string, Partial<Pair>, boolean]>([
    ['the organizer of a future meeting writes attendees (Exchange sends the invitations)', { isOrganizer: true, base: { time: { start: '2024-07-01T10:00:00Z' } } }, true],
    ['an attendee never writes attendees', { isOrganizer: false, base: { time: { start: '2024-07-01T10:00:00Z' } } }, false],
    ['nobody writes attendees to a past meeting', { isOrganizer: true, base: { time: { start: '2024-05-01T10:00:00Z' } } }, false],
  ])('%s', (_rule, facts, keeps) => {
    const shaped = kindNamed('appointment').shapeExchangePatch(patch, pair(facts), now) as { attendees?: unknown; subject?: string };
    expect(shaped.subject).toBe('S');
    expect(shaped.attendees !== undefined).toBe(keeps);
  });
});

describe('item facts the pair keeps', () => {
  it("keeps a meeting's iCalUId, the user's role and, for an attendee, the organizer's address", () => {
    expect(kindNamed('appointment').itemFacts(event({ isOrganizer: false, organizer: { emailAddress: { address: 'o@contoso.com' } } }) as GraphItem)).toMatchObject({ isOrganizer: false, organizerAddress: 'o@contoso.com' });
    expect(kindNamed('appointment').itemFacts(event() as GraphItem)).toMatchObject({ isOrganizer: true });
    expect(kindNamed('contact').itemFacts(graphContact() as GraphItem)).toEqual({});
  });
  it('names the record created for a meeting by its iCalUId, so every copy finds the same one', () => {
    const kind = kindNamed('appointment');
    const a = kind.recordIdFor('mailbox-a', event({ id: 'x1' }));
    const b = kind.recordIdFor('mailbox-b', event({ id: 'x2' }));
    expect(a).toBe(b);
    expect(kindNamed('task').recordIdFor('mailbox-a', todoItem({ id: 'x1' }) as GraphItem)).not.toBe(kindNamed('task').recordIdFor('mailbox-b', todoItem({ id: 'x1' }) as GraphItem));
  });
});
