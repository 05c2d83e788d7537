// Server-side synchronization's allowed-directions matrix (https://learn.microsoft.com/power-platform/admin/what-fields-synchronized-outlook)
// as the product offers it.
import { describe, expect, it } from 'vitest';
import { allowedDirections, bothDirectionFields, fieldTables, isSettableField, type EntityKind } from '../../shared/mapping/index.js';

const kinds: EntityKind[] = ['appointment', 'task', 'contact'];

describe('allowed directions', () => {
  it.each([
    ['appointment', 'subject', ['Both', 'ToExchange', 'ToDataverse', 'None']],
    ['appointment', 'body', ['Both', 'ToExchange', 'ToDataverse', 'None']],
    ['appointment', 'location', ['Both', 'ToExchange', 'ToDataverse', 'None']],
    ['appointment', 'time', ['Both']],
    ['appointment', 'attendees', ['Both']],
    ['appointment', 'showAs', ['Both']],
    ['appointment', 'organizer', ['ToDataverse']],
    ['appointment', 'reminder', ['ToExchange', 'None']],
    ['task', 'status', ['Both']],
    ['task', 'due', ['Both', 'ToExchange', 'ToDataverse', 'None']],
    // Settable, but the mapping leaves it alone: it stays not synced.
    ['task', 'start', ['None']],
    ['contact', 'displayName', ['ToExchange']],
    ['contact', 'jobTitle', ['Both', 'ToExchange', 'ToDataverse', 'None']],
  ] as const)('%s %s allows %j', (kind, field, expected) => {
    expect(allowedDirections(kind, field)).toEqual(expected);
  });

  it('every settable name is a field of its table, and every field allows its table direction first', () => {
    for (const kind of kinds) {
      for (const row of fieldTables[kind]) expect(allowedDirections(kind, row.name)?.[0]).toBe(row.direction);
    }
    const settableUnknown = kinds.flatMap((kind) => ['subject', 'title', 'body', 'location', 'reminder', 'due', 'start', 'completed', 'firstName', 'notes'].filter((f) => isSettableField(kind, f) && !fieldTables[kind].some((r) => r.name === f)));
    expect(settableUnknown).toEqual([]);
    expect(allowedDirections('appointment', 'nothing')).toBeUndefined();
  });

  // The round-trip property test (roundtrip.property.test.ts) compares only these fields, so a list that came back
  // short or empty would let that test pass without comparing anything.
  it('the fields that round-trip are exactly the Both rows, in table order', () => {
    expect(bothDirectionFields('task')).toEqual(['title', 'body', 'due', 'importance', 'status', 'completed']);
    expect(bothDirectionFields('appointment')).toEqual(['subject', 'body', 'location', 'time', 'importance', 'showAs', 'attendees', 'recurrence']);
    const contact = bothDirectionFields('contact');
    expect(contact).toEqual(expect.arrayContaining(['firstName', 'emailAddresses', 'businessPhone', 'homeAddress', 'birthday', 'notes']));
    // One-way rows (fullname and the company go to Exchange only) and unsynced ones are not round-tripped.
    for (const oneWay of ['displayName', 'companyName', 'state', 'owner']) expect(contact).not.toContain(oneWay);
    expect(contact).toHaveLength(16);
    // Email is tracked and sent, never merged field by field.
    expect(bothDirectionFields('email')).toEqual([]);
  });
});
