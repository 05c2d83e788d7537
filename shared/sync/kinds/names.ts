// The plain name lists of the kinds, as literal tuples: the message schema, the mailbox registry, the pair store and
// the subscription store build their zod enums and types from them (a list mapped from the kind objects would be
// only `string[]` to the type checker). A leaf with no imports, so the lists are ready whatever module loads first.
// index.ts re-exports them and is the only import surface; test/shared/sync/kinds.test.ts proves each list equals
// what the kinds themselves declare.
// A new kind adds its name, its tables and its Graph resource here, beside its own file.

/** The synced kinds. */
export const kindNames = ['appointment', 'task', 'contact', 'email'] as const;
export type KindName = (typeof kindNames)[number];

/** Every Dataverse table a kind maps. */
export const tableNames = ['appointment', 'recurringappointmentmaster', 'task', 'phonecall', 'letter', 'fax', 'contact', 'email'] as const;
export type TableName = (typeof tableNames)[number];

/** Every Graph resource a kind maps (the changes queue's `resource`). */
export const resourceNames = ['event', 'todoTask', 'contact', 'message'] as const;
export type ResourceName = (typeof resourceNames)[number];

/** Graph subscription resource kinds the sync creates (the subscription store's `resourceKind`). */
export const subscriptionKindNames = ['events', 'contacts', 'messages'] as const;
export type SubscriptionKindName = (typeof subscriptionKindNames)[number];
