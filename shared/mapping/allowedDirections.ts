// Which directions an administrator may give each synced field: server-side synchronization's allowed-directions
// matrix (https://learn.microsoft.com/power-platform/admin/what-fields-synchronized-outlook). A "settable" field
// may be two-way, to Exchange only, to Dynamics 365 only, or not synced; a "fixed" field keeps the direction the
// field table gives it. Only appointment Subject, Body (Description) and Location are settable; for tasks Subject,
// Notes, Due Date, Start Date and Date Completed; for contacts every mapped field but Full Name.
//
// The product can only offer what its mapping can write: a settable field whose table direction is one-way (a
// rule field the product adds, such as the reminders, or a computed value) may be that direction or none, and a
// field the mapping leaves alone (None) stays none.
import type { Direction } from './fieldTable.js';
import type { EntityKind } from './kinds.js';
import { fieldTables } from './snapshot.js';

/**
 * Settable fields by kind (the field table's names). Appointment `reminder` and task `reminder` are the product's
 * own rows (no row in server-side sync's table); they are settable within their one direction, so an admin can
 * switch the reminder rule off. Everything else is fixed.
 */
const settable: { readonly [K in EntityKind]: readonly string[] } = {
  appointment: ['subject', 'body', 'location', 'reminder'],
  task: ['title', 'body', 'due', 'start', 'completed', 'reminder'],
  contact: [
    'firstName',
    'middleName',
    'lastName',
    'salutation',
    'suffix',
    'nickName',
    'emailAddresses',
    'businessPhone',
    'homePhone',
    'mobilePhone',
    'businessAddress',
    'homeAddress',
    'companyName',
    'department',
    'jobTitle',
    'birthday',
    'notes',
  ],
};

const all: readonly Direction[] = ['Both', 'ToExchange', 'ToDataverse', 'None'];

/** Whether the field's direction can be changed at all (server-side sync's "settable"). */
export function isSettableField(kind: EntityKind, field: string): boolean {
  return settable[kind].includes(field);
}

/** The directions a field may take; undefined when the kind has no such field. The table direction comes first. */
export function allowedDirections(kind: EntityKind, field: string): readonly Direction[] | undefined {
  const row = fieldTables[kind].find((r) => r.name === field);
  if (!row) return undefined;
  if (!isSettableField(kind, field) || row.direction === 'None') return [row.direction];
  if (row.direction === 'Both') return all;
  return [row.direction, 'None'];
}
