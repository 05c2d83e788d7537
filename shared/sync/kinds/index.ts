// The registry of synced kinds: the only export surface of shared/sync/kinds/. Every module that needs a per-kind
// fact (tables, primary key, parties, Graph resource, subscription path, rules, adapters) asks here.
import { invalidInput } from '../../errors.js';
import type { DataverseEntity } from '../../servicebus/messages.js';
import { appointmentKind } from './appointment.js';
import { contactKind } from './contact.js';
import { emailKind } from './email.js';
import { taskKind } from './task.js';
import type { KindName } from './names.js';
import type { ExchangeResource, SyncKind } from './types.js';

export type { KindFlow } from './types.js';
export { emailActivityId } from './email.js';
export type { BackfillAdapter, BackfillMatch, DataverseDeleteFacts, DeleteDecision, DeltaAdapter, DeltaItem, DeltaRoundContext, ExchangeCreate, ExchangeDeleteFacts, ExchangeResource, FoundItem, GraphItem, ItemCandidate, ItemFacts, ItemParts, PartDelete, PartStep, RecordCandidate, SubscriptionKind, SyncKind } from './types.js';
export { recurringReason } from './series.js';
export { kindNames, resourceNames, subscriptionKindNames, tableNames, type KindName, type ResourceName, type SubscriptionKindName, type TableName } from './names.js';

/** Every kind, in the order the CLI and status list them. */
export const kinds: readonly SyncKind[] = [appointmentKind, taskKind, contactKind, emailKind];

/** The table `doctor` writes its probe record to (shared/doctor/): a plain activity with no parties and no Graph side effect. */
export const probeTable: DataverseEntity = taskKind.tables[0]!;

/** Every Dataverse table the sync maps. */
export const allTables: readonly DataverseEntity[] = kinds.flatMap((k) => k.tables);
/** Every Graph resource the sync maps. */
export const allResources: readonly ExchangeResource[] = kinds.map((k) => k.resource);

const byName = new Map<string, SyncKind>(kinds.map((k) => [k.name, k]));
const byTable = new Map<string, SyncKind>(kinds.flatMap((k) => k.tables.map((t) => [t, k] as const)));
const byResource = new Map<string, SyncKind>(kinds.map((k) => [k.resource, k]));
const bySubscription = new Map<string, SyncKind>(kinds.flatMap((k) => (k.subscription ? [[k.subscription.kind, k] as const] : [])));

/** The kind by its name. */
export function kindNamed(name: string): SyncKind {
  const kind = byName.get(name);
  if (!kind) throw invalidInput('kind', name, 'is not a kind the sync maps');
  return kind;
}

/** The kind of a Dataverse table; throws for a table no kind maps (never a default). */
export function kindOfTable(table: string): SyncKind {
  const kind = byTable.get(table.toLowerCase());
  if (!kind) throw invalidInput('entity', table, 'is not a table the sync maps');
  return kind;
}

/** The kind of a Graph resource (event, todoTask, contact). */
export function kindOfResource(resource: string): SyncKind {
  const kind = byResource.get(resource);
  if (!kind) throw invalidInput('resource', resource, 'is not a Graph resource the sync maps');
  return kind;
}

/** The kind behind a Graph subscription's resource kind, or undefined (mail: no kind yet). */
export function kindOfSubscription(resourceKind: string): SyncKind | undefined {
  return bySubscription.get(resourceKind);
}

/** Opt-in kinds that take the mailbox's email over from server-side sync (`mailbox enable --email`). */
export const emailKinds: readonly SyncKind[] = kinds.filter((k) => k.optIn === true);
/** Whether a mailbox syncing these kinds handles its email instead of server-side sync. */
export const handlesEmail = (entities: readonly string[]) => emailKinds.some((k) => entities.includes(k.name));
/**
 * What a mailbox syncs when enabling names nothing: every kind but the opt-in ones. Taking a mailbox's email over
 * from server-side synchronization switches off the Dynamics 365 App for Outlook there
 * (https://learn.microsoft.com/dynamics365/outlook-app/deploy-dynamics-365-app-for-outlook, Requirements).
 */
export const defaultKindNames: readonly KindName[] = kinds.filter((k) => k.optIn !== true).map((k) => k.name);

/** Kinds with a Graph change-notification subscription (the others are polled). */
export const subscribedKinds: readonly SyncKind[] = kinds.filter((k) => k.subscription !== undefined);
