// The kind-generic surface the sync engine's three-way merge uses: field tables by kind, canonical snapshots of
// either side, and bodies for just the fields that changed.
import type { GraphContact, GraphEvent, GraphTodoTask } from '../wire/graph.js';
import {
  appointmentDataverseBody,
  appointmentExchangeBody,
  appointmentFields,
  appointmentSnapshotFromDataverse,
  appointmentSnapshotFromExchange,
  type AppointmentSnapshot,
  type DataverseAppointmentBody,
} from './appointment.js';
import {
  contactDataverseBody,
  contactExchangeBody,
  contactFields,
  contactSnapshotFromDataverse,
  contactSnapshotFromExchange,
  type ContactSnapshot,
  type DataverseContactBody,
} from './contact.js';
import type { MappingContext } from './context.js';
import type { UnsyncedRow } from './fieldTable.js';
import type { EntityKind } from './kinds.js';
import { emailFields } from './email.js';

/** The kinds synced field by field (email is tracked once and sent, never merged: shared/mapping/email.ts). */
export type FieldSyncedKind = Exclude<EntityKind, 'email'>;
import {
  taskDataverseBody,
  taskExchangeBody,
  taskSnapshotFromDataverse,
  taskSnapshotFromExchange,
  todoTaskFields,
  type DataverseTaskBody,
  type TaskSnapshot,
} from './task.js';

/** The canonical snapshot type of each kind. */
export type SnapshotByKind = { appointment: AppointmentSnapshot; task: TaskSnapshot; contact: ContactSnapshot };
/** The Graph body type of each kind. */
export type ExchangeBodyByKind = { appointment: GraphEvent; task: GraphTodoTask; contact: GraphContact };
/** The Dataverse body type of each kind. */
export type DataverseBodyByKind = { appointment: DataverseAppointmentBody; task: DataverseTaskBody; contact: DataverseContactBody };

/** A field table row as the engine sees it: name, columns, properties, direction and conversion text. */
export type FieldDescription = Pick<UnsyncedRow, 'name' | 'dataverse' | 'graph' | 'conversion'> & {
  direction: UnsyncedRow['direction'] | 'ToExchange' | 'ToDataverse' | 'Both';
};

/** The field tables by kind. */
export const fieldTables: { readonly [K in EntityKind]: readonly FieldDescription[] } = {
  appointment: appointmentFields,
  task: todoTaskFields,
  contact: contactFields,
  email: emailFields,
};

/**
 * The canonical snapshot of a Dataverse record of `kind` (JSON; instants ISO UTC, dates YYYY-MM-DD, null for
 * absent). ToExchange rule fields (the reminders) are evaluated at ctx.now, so they can change with time alone:
 * server-side sync applies those rules "during sync" too.
 */
export function snapshotFromDataverse<K extends FieldSyncedKind>(kind: K, record: unknown, ctx: MappingContext): SnapshotByKind[K] {
  const read: { [P in FieldSyncedKind]: (r: unknown, c: MappingContext) => SnapshotByKind[P] } = {
    appointment: appointmentSnapshotFromDataverse,
    task: taskSnapshotFromDataverse,
    contact: contactSnapshotFromDataverse,
  };
  return read[kind](record, ctx);
}

/** The canonical snapshot of a Graph item of `kind`, comparable with `snapshotFromDataverse`'s. */
export function snapshotFromExchange<K extends FieldSyncedKind>(kind: K, item: unknown, ctx: MappingContext): SnapshotByKind[K] {
  const read: { [P in FieldSyncedKind]: (r: unknown, c: MappingContext) => SnapshotByKind[P] } = {
    appointment: appointmentSnapshotFromExchange,
    task: taskSnapshotFromExchange,
    contact: contactSnapshotFromExchange,
  };
  return read[kind](item, ctx);
}

/**
 * A Graph PATCH/POST body for only the given fields. Fields whose direction does not write to Exchange are
 * ignored. `current`, the item as it is in Exchange now, keeps what a field does not own (resource attendees,
 * further phone numbers) and drops fields Exchange already holds.
 */
export function exchangeBodyFromSnapshot<K extends FieldSyncedKind>(
  kind: K,
  fields: Partial<SnapshotByKind[K]>,
  ctx: MappingContext,
  current?: unknown,
): ExchangeBodyByKind[K] {
  const write: { [P in FieldSyncedKind]: (f: Partial<SnapshotByKind[P]>, c: MappingContext, cur?: unknown) => ExchangeBodyByKind[P] } = {
    appointment: appointmentExchangeBody,
    task: taskExchangeBody,
    contact: contactExchangeBody,
  };
  return write[kind](fields, ctx, current);
}

/**
 * A Dataverse PATCH/POST body for only the given fields. Fields whose direction does not write to Dataverse are
 * ignored. `current`, the record as it is in Dataverse now, is needed for tasks to fit phone calls, letters and
 * faxes, and for appointments to keep the party list's other half (the list is replaced as a whole).
 */
export function dataverseBodyFromSnapshot<K extends FieldSyncedKind>(
  kind: K,
  fields: Partial<SnapshotByKind[K]>,
  ctx: MappingContext,
  current?: unknown,
): DataverseBodyByKind[K] {
  const write: { [P in FieldSyncedKind]: (f: Partial<SnapshotByKind[P]>, c: MappingContext, cur?: unknown) => DataverseBodyByKind[P] } = {
    appointment: appointmentDataverseBody,
    task: taskDataverseBody,
    contact: contactDataverseBody,
  };
  return write[kind](fields, ctx, current);
}

/** Names of the fields of `kind` that sync in both directions (what the round trip keeps). */
export function bothDirectionFields(kind: EntityKind): string[] {
  return fieldTables[kind].filter((row) => row.direction === 'Both').map((row) => row.name);
}
