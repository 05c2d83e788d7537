// The sync engine: one change in, the other side brought up to date. It decides from current state, never from the
// notification: load the pair, read what changed, apply the mapping rules, write the other side, record the pair.
// Writes are conditional on the etag the sync last saw, so a concurrent edit is merged instead of overwritten, and
// every create is idempotent (derived Dataverse ids, Graph transactionId, the Dataverse id stamped on the item).
import type { Contact, Event, TodoTask } from '@microsoft/microsoft-graph-types';
import { SyncError, isSyncError } from '../errors.js';
import { dataverseIdOfTodoTask, dataverseIdProperty } from '../graph/client.js';
import type { DataverseRecord, EntityName } from '../dataverse/client.js';
import {
  activityToTodoTask,
  appointmentToEvent,
  attendeeCopyFields,
  contactToGraphContact,
  dataverseBodyFromSnapshot,
  eventToAppointment,
  graphContactToContact,
  exchangeBodyFromSnapshot,
  fieldTables,
  isClosedActivity,
  isTrackedInExchange,
  separateStateChange,
  shouldDeleteTodoTask,
  snapshotFromDataverse,
  snapshotFromExchange,
  todoTaskToTask,
  type EntityKind,
  type MappingContext,
} from '../mapping/index.js';
import type { Runtime } from '../runtime.js';
import type { DataverseChange, DataverseEntity, ExchangeChange } from '../servicebus/messages.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { Pair, StoredPair } from '../storage/pairStore.js';
import { appointmentIdForMeeting, recordIdForExchangeItem, transactionIdFor } from './ids.js';
import { mergeSnapshots, type Direction, type Snapshot } from './merge.js';
import { resolveParties } from './parties.js';
import { isSyncedVersion } from './versions.js';

export type OutcomeKind = 'created' | 'updated' | 'unchanged' | 'echo' | 'ignored' | 'linked' | 'unlinked' | 'deleted' | 'awaiting-invitation';

export interface Outcome {
  kind: OutcomeKind;
  mailboxId?: string;
  dataverseId?: string;
  exchangeId?: string;
  detail?: string;
}

type GraphItem = (Event | TodoTask | Contact) & { '@odata.etag'?: string; id?: string };

const kindOfEntity = (entity: DataverseEntity): EntityKind => (entity === 'appointment' ? 'appointment' : entity === 'contact' ? 'contact' : 'task');
const kindOfResource = { event: 'appointment', todoTask: 'task', contact: 'contact' } as const;
const partiesNav = (entity: DataverseEntity) => `${entity}_activity_parties`;

/**
 * Fields whose Dataverse write depends on the record as it is now (dataverseBodyFromSnapshot's `current`): the
 * party list of an appointment is replaced as a whole, a closed appointment keeps its state ("a closed appointment
 * is not reopened", README mapping), and a task's status codes depend on its table and its percentage.
 */
const fieldsWrittenAgainstRecord: Record<EntityKind, readonly string[]> = {
  appointment: ['attendees', 'organizer', 'showAs', 'cancelled'],
  task: ['status'],
  contact: [],
};

/** The merge directions of a kind, from the mapping's field table. */
function directionsOf(kind: EntityKind): Record<string, Direction> {
  const out: Record<string, Direction> = {};
  for (const row of fieldTables[kind]) out[row.name] = row.direction;
  return out;
}

export function mappingContext(mailbox: Mailbox, now: Date): MappingContext {
  return { now, mailbox: { address: mailbox.address, systemUserId: mailbox.systemUserId }, timeZone: mailbox.timeZone };
}

/** Reads a Dataverse record with what the mapping needs (activity parties expanded). */
export async function readRecord(rt: Runtime, entity: DataverseEntity, id: string): Promise<DataverseRecord | undefined> {
  const expand = entity === 'contact' ? undefined : `${partiesNav(entity)}($select=_partyid_value,participationtypemask,addressused)`;
  return rt.dataverse.get(entity, id, expand ? { expand } : {});
}

// ------------------------------------------------------------------------------------------------------------
// Dataverse -> Exchange
// ------------------------------------------------------------------------------------------------------------

/** Applies a Dataverse change to every mailbox in its scope. */
export async function applyDataverseChange(rt: Runtime, change: DataverseChange): Promise<Outcome[]> {
  if (change.message === 'Delete') return applyDataverseDelete(rt, change.entity, change.recordId, change.ownerId);
  // The webhook's post image holds every mapped column as of that change (a later change comes in its own message,
  // in this same session); without one, read the record.
  const record = (change.image) ?? (await readRecord(rt, change.entity, change.recordId));
  if (!record) return applyDataverseDelete(rt, change.entity, change.recordId, change.ownerId);
  const kind = kindOfEntity(change.entity);
  const bySystemUser = await rt.mailboxes.enabledBySystemUser();
  const scope = scopeOf(change.entity, record, bySystemUser).filter((m) => m.entities.includes(kind));
  const outcomes: Outcome[] = [];
  // A record that no longer reaches a mailbox is unlinked there, never deleted (docs/reference/platform-facts.md section 7, KB 4345686).
  for (const mailboxId of await rt.pairs.mailboxesOf(change.recordId)) {
    if (scope.some((m) => m.id.toLowerCase() === mailboxId)) continue;
    const mailbox = await rt.mailboxes.get(mailboxId);
    // A disabled mailbox keeps its pairs (docs/operations.md): the record left no scope, the mailbox only paused.
    if (mailbox?.state === 'disabled') continue;
    const pair = await rt.pairs.get(mailbox?.id ?? mailboxId, change.recordId);
    if (pair) {
      await rt.pairs.remove(pair);
      outcomes.push({ kind: 'unlinked', mailboxId, dataverseId: change.recordId, detail: 'out of scope' });
    }
  }
  for (const cached of scope) {
    const mailbox = await stillEnabled(rt, cached);
    if (!mailbox) {
      outcomes.push({ kind: 'ignored', mailboxId: cached.id, dataverseId: change.recordId, detail: 'mailbox not enabled' });
      continue;
    }
    outcomes.push(await syncRecordToMailbox(rt, change.entity, record, mailbox, bySystemUser));
  }
  return outcomes;
}

/**
 * The mailbox's registry row as it is now, or undefined when it is disabled or gone. The registry list is cached
 * (shared/storage/mailboxStore.ts) and another process (the CLI) may have disabled the mailbox since: the state is
 * read again where a write to or from the mailbox is decided, so a disable takes effect for every later change.
 */
async function stillEnabled(rt: Runtime, cached: Mailbox): Promise<Mailbox | undefined> {
  const current = await rt.mailboxes.get(cached.id);
  return current && current.state !== 'disabled' ? current : undefined;
}

/** Mailboxes a record reaches, as server-side sync's "My Activities" / "My Contacts": owner and, for activities, parties. */
export function scopeOf(entity: DataverseEntity, record: DataverseRecord, bySystemUser: Map<string, Mailbox>): Mailbox[] {
  const ids = new Set<string>();
  const owner = record._ownerid_value;
  if (typeof owner === 'string') ids.add(owner.toLowerCase());
  if (entity !== 'contact') {
    const parties = record[partiesNav(entity)];
    if (Array.isArray(parties)) {
      for (const p of parties as { _partyid_value?: string | null }[]) if (p._partyid_value) ids.add(p._partyid_value.toLowerCase());
    }
  }
  return [...ids].map((id) => bySystemUser.get(id)).filter((m): m is Mailbox => m !== undefined);
}

async function syncRecordToMailbox(rt: Runtime, entity: DataverseEntity, record: DataverseRecord, mailbox: Mailbox, bySystemUser: Map<string, Mailbox>): Promise<Outcome> {
  const kind = kindOfEntity(entity);
  const id = String(record[entity === 'contact' ? 'contactid' : 'activityid']).toLowerCase();
  const ctx = mappingContext(mailbox, rt.now());
  const log = rt.log.with({ mailboxId: mailbox.id, dataverseId: id, entity });
  const pair = await rt.pairs.get(mailbox.id, id);
  const etag = record['@odata.etag'];
  // The version check, not only the webhook's tag, stops echoes: shared/sync/versions.ts says why.
  if (pair?.status === 'linked' && isSyncedVersion(etag, pair.dataverseEtag)) return { kind: 'echo', mailboxId: mailbox.id, dataverseId: id, detail: 'version already synced' };
  if (!pair || pair.status === 'pending') {
    if (kind === 'appointment') {
      const decision = appointmentToEvent(record, ctx);
      if (decision.mode === 'attendeeCopy') {
        const organizer = organizerOf(entity, record);
        // The organizer's own mailbox syncs: its invitation puts the meeting into this user's calendar, and that
        // copy is linked when it arrives (by iCalUId). Creating one here would duplicate the meeting.
        if (organizer && bySystemUser.has(organizer) && organizer !== mailbox.systemUserId.toLowerCase()) {
          log.info('appointment waits for the organizer\'s invitation', { reason: decision.reason });
          return { kind: 'awaiting-invitation', mailboxId: mailbox.id, dataverseId: id };
        }
      }
    }
    return createInExchange(rt, kind, entity, id, record, mailbox, ctx, pair);
  }
  return updateExchange(rt, kind, entity, record, mailbox, ctx, pair);
}

function organizerOf(entity: DataverseEntity, record: DataverseRecord): string | undefined {
  const parties = record[partiesNav(entity)];
  if (Array.isArray(parties)) {
    const organizer = (parties as { _partyid_value?: string | null; participationtypemask?: number }[]).find((p) => p.participationtypemask === 7);
    if (organizer?._partyid_value) return organizer._partyid_value.toLowerCase();
  }
  return typeof record._ownerid_value === 'string' ? record._ownerid_value.toLowerCase() : undefined;
}

async function createInExchange(
  rt: Runtime,
  kind: EntityKind,
  entity: DataverseEntity,
  id: string,
  record: DataverseRecord,
  mailbox: Mailbox,
  ctx: MappingContext,
  existing: StoredPair | undefined,
): Promise<Outcome> {
  const transactionId = existing?.transactionId ?? transactionIdFor(mailbox.id, id);
  // Record the intent first: a crash after the Graph write leaves a pending pair whose retry finds the item
  // again (transactionId for events, the stamped id for contacts, the linked resource for tasks).
  let pending: StoredPair =
    existing ??
    (await rt.pairs.create({ mailboxId: mailbox.id, kind, dataverseEntity: entity, dataverseId: id, base: {}, status: 'pending', transactionId }).catch(async (error: unknown) => {
      if (isSyncError(error, 'AlreadyExists')) {
        const again = await rt.pairs.get(mailbox.id, id);
        if (again) return again;
      }
      throw error;
    }));
  if (pending.status === 'linked') return updateExchange(rt, kind, entity, record, mailbox, ctx, pending);
  const stamp = [{ id: dataverseIdProperty, value: id }];
  // The create bodies come from the mapping's create functions (appointmentToEvent, contactToGraphContact,
  // activityToTodoTask), which apply every rule of a new item, the tracked category included; the engine only
  // adds what identifies the record (the stamp, the linked resource, the transactionId).
  // A pending pair that already existed is an earlier attempt whose answer may have been lost: what it wrote is
  // looked for before anything is created again.
  const retrying = existing !== undefined;
  let created: GraphItem;
  let isOrganizer: boolean | undefined;
  let listId: string | undefined;
  let unsynced: readonly string[] = [];
  if (kind === 'appointment') {
    const result = appointmentToEvent(record, ctx);
    isOrganizer = result.mode !== 'attendeeCopy';
    unsynced = result.unsyncedFields;
    // Match before creating: an event of this meeting (globalobjectid = iCalUId) or stamped with this record's id
    // that no pair claims yet is linked, never duplicated.
    const existingEvent = await findUnpairedEvent(rt, mailbox, id, typeof record.globalobjectid === 'string' ? record.globalobjectid : undefined, retrying);
    if (existingEvent) {
      await rt.pairs.remove(pending);
      const linked = await linkExisting(rt, kind, mailbox, existingEvent, undefined);
      if (linked && linked !== 'in-flight') return updateExchange(rt, kind, entity, record, mailbox, ctx, linked);
      throw new SyncError('Transient', 'an existing event of this appointment could not be linked yet');
    }
    created = await rt.graph.createEvent(mailbox.id, { ...result.event, singleValueExtendedProperties: stamp }, transactionId);
  } else if (kind === 'contact') {
    const body = contactToGraphContact(record, ctx);
    // Match before creating: the stamp of an earlier attempt, else a contact with the same e-mail address that
    // no other record claims (backfill of a mailbox whose contacts already exist on both sides).
    let found: GraphItem | undefined = retrying ? (await rt.graph.findByDataverseId(mailbox.id, 'contacts', id))[0] : undefined;
    const email = snapshotFromDataverse('contact', record, ctx).emailAddresses[0];
    if (!found && email) {
      for (const candidate of await rt.graph.findContactsByEmail(mailbox.id, email)) {
        if (candidate.id && !(await rt.pairs.getByExchangeId(mailbox.id, candidate.id))) {
          found = candidate;
          break;
        }
      }
    }
    created = found ?? (await rt.graph.createContact(mailbox.id, body, id));
  } else {
    listId = await defaultTodoList(rt, mailbox);
    const found = retrying ? await rt.graph.findTodoTask(mailbox.id, listId, id) : undefined;
    created =
      found ??
      (await rt.graph.createTodoTask(mailbox.id, listId, activityToTodoTask(record, ctx), id, typeof record.subject === 'string' ? record.subject : 'Dynamics 365 activity'));
  }
  const exchangeId = created.id;
  if (!exchangeId) throw new SyncError('Internal', 'Graph returned no id for the created item');
  const dvSnap = snapshotFromDataverse(kind, record, ctx) as Snapshot;
  let exSnap = snapshotFromExchange(kind, created, ctx) as Snapshot;
  // Graph may hand back an item made earlier (the transactionId of a create whose pair was lost, a contact found by
  // its stamp): bring what it holds up to the record. A fresh create holds it already, and costs nothing more here.
  const drift: Snapshot = {};
  for (const [field, direction] of Object.entries(directionsOf(kind))) {
    if ((direction === 'Both' || direction === 'ToExchange') && !unsynced.includes(field) && JSON.stringify(dvSnap[field] ?? null) !== JSON.stringify(exSnap[field] ?? null)) {
      drift[field] = dvSnap[field];
    }
  }
  if (Object.keys(drift).length > 0) {
    created = await writeExchange(rt, kind, mailbox, { ...pending, exchangeId, exchangeListId: listId, isOrganizer }, drift, ctx, created['@odata.etag'], created);
    exSnap = snapshotFromExchange(kind, created, ctx);
  }
  const base = baseAfterWrite(kind, dvSnap, exSnap, unsynced);
  pending = await rt.pairs.update(pending, {
    ...pending,
    status: 'linked',
    exchangeId,
    exchangeEtag: created['@odata.etag'],
    exchangeListId: listId,
    dataverseEtag: record['@odata.etag'],
    iCalUId: (created as Event).iCalUId ?? undefined,
    isOrganizer,
    transactionId: undefined,
    base,
  });
  if (pending.iCalUId) await rt.cursors.set('meeting', pending.iCalUId, { dataverseId: id });
  rt.log.info('created in Exchange', { mailboxId: mailbox.id, dataverseId: id, exchangeId, kind });
  return { kind: 'created', mailboxId: mailbox.id, dataverseId: id, exchangeId };
}

/**
 * An event in the mailbox for this record (its iCalUId, or, when an earlier attempt may have created it, the stamp)
 * that is not paired yet.
 */
async function findUnpairedEvent(rt: Runtime, mailbox: Mailbox, dataverseId: string, iCalUId: string | undefined, retrying: boolean): Promise<GraphItem | undefined> {
  const candidates = iCalUId ? await rt.graph.findEventsByICalUId(mailbox.id, iCalUId) : [];
  if (retrying) candidates.push(...((await rt.graph.findByDataverseId(mailbox.id, 'events', dataverseId)) as GraphItem[]));
  for (const event of candidates) {
    if (event.id && !(await rt.pairs.getByExchangeId(mailbox.id, event.id))) return event;
  }
  return undefined;
}

/** The base after a write: what each side holds now, field by field, in the direction each field flows. */
function baseAfterWrite(kind: EntityKind, dvSnap: Snapshot, exSnap: Snapshot, unsynced: readonly string[] = []): Snapshot {
  const base: Snapshot = {};
  for (const [field, direction] of Object.entries(directionsOf(kind))) {
    if (direction === 'None' || unsynced.includes(field)) continue;
    base[field] = direction === 'ToDataverse' ? exSnap[field] : dvSnap[field];
  }
  return base;
}

async function updateExchange(rt: Runtime, kind: EntityKind, entity: DataverseEntity, record: DataverseRecord, mailbox: Mailbox, ctx: MappingContext, pair: StoredPair): Promise<Outcome> {
  if (kind === 'appointment' && shouldPropagateCancellation(rt, record, pair)) {
    // SSSPropagateAppointmentCancellationsToExchange (docs/reference/platform-facts.md section 7), off by default: the organizer's future
    // meeting is cancelled in Exchange, which notifies the attendees; the pair ends with the event.
    await rt.graph.cancelEvent(mailbox.id, pair.exchangeId!, 'Canceled in Dynamics 365.');
    await rt.pairs.remove(pair);
    rt.log.info('cancellation propagated to Exchange', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId });
    return { kind: 'deleted', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, detail: 'cancellation propagated' };
  }
  const dvSnap = snapshotFromDataverse(kind, record, ctx) as Snapshot;
  const directions = restrictDirections(kind, pair);
  // Optimistic: assume Exchange still holds the base; a 412 on the conditional write says otherwise.
  const plan = mergeSnapshots({ directions, base: pair.base, dataverse: dvSnap, exchange: { ...pair.base }, policy: rt.settings.SYNC_CONFLICT_POLICY });
  if (Object.keys(plan.toExchange).length === 0) {
    await rt.pairs.update(pair, { ...pair, dataverseEtag: record['@odata.etag'], base: { ...pair.base, ...plan.merged } });
    return { kind: 'unchanged', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId };
  }
  try {
    const updated = await writeExchange(rt, kind, mailbox, pair, plan.toExchange, ctx, pair.exchangeEtag);
    await rt.pairs.update(pair, { ...pair, dataverseEtag: record['@odata.etag'], exchangeEtag: updated['@odata.etag'], base: { ...pair.base, ...plan.merged } });
    rt.log.info('updated in Exchange', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, fields: Object.keys(plan.toExchange) });
    return { kind: 'updated', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, detail: Object.keys(plan.toExchange).join(',') };
  } catch (error) {
    if (isSyncError(error, 'PreconditionFailed')) return fullMerge(rt, kind, entity, mailbox, ctx, pair, record, undefined);
    if (isSyncError(error, 'NotFound')) {
      await rt.pairs.remove(pair);
      rt.log.warn('Exchange item is gone; pair unlinked', { kind, direction: 'toExchange', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId });
      return { kind: 'unlinked', mailboxId: mailbox.id, dataverseId: pair.dataverseId, detail: 'Exchange item missing' };
    }
    throw error;
  }
}

/** A canceled appointment whose cancellation the settings propagate: the organizer's linked future meeting only. */
function shouldPropagateCancellation(rt: Runtime, record: DataverseRecord, pair: StoredPair): boolean {
  return (
    rt.settings.SYNC_PROPAGATE_CANCELLATIONS &&
    record.statecode === 2 &&
    pair.isOrganizer !== false &&
    pair.exchangeId !== undefined &&
    !isPastFromBase(pair.base, rt.now())
  );
}

/**
 * Fields that sync for this pair. An attendee's copy of a meeting another synced mailbox organizes is a mirror: only the
 * attendee's personal fields (reminder, free/busy) are written to it, and nothing flows back from it (the
 * organizer's own pair carries the meeting to Dataverse; docs/reference/platform-facts.md section 8).
 */
function restrictDirections(kind: EntityKind, pair: Pair): Record<string, Direction> {
  const directions = directionsOf(kind);
  if (kind !== 'appointment' || !pair.mirror) return directions;
  for (const field of Object.keys(directions)) {
    const personal = (attendeeCopyFields as readonly string[]).includes(field);
    const writesExchange = directions[field] === 'Both' || directions[field] === 'ToExchange';
    directions[field] = personal && writesExchange ? 'ToExchange' : 'None';
  }
  return directions;
}

async function writeExchange(rt: Runtime, kind: EntityKind, mailbox: Mailbox, pair: Pair, fields: Snapshot, ctx: MappingContext, ifMatch: string | undefined, current?: unknown): Promise<GraphItem> {
  const exchangeId = pair.exchangeId!;
  if (kind === 'appointment') {
    const patch: Event = exchangeBodyFromSnapshot('appointment', fields as never, ctx, current);
    // Writing attendees to a meeting sends invitations; the rule allows it only for the organizer of a future meeting.
    if (pair.isOrganizer === false || isPastFromBase(pair.base, rt.now())) delete patch.attendees;
    return rt.graph.updateEvent(mailbox.id, exchangeId, patch, ifMatch);
  }
  if (kind === 'contact') return rt.graph.updateContact(mailbox.id, exchangeId, exchangeBodyFromSnapshot('contact', fields as never, ctx, current), ifMatch);
  const listId = pair.exchangeListId ?? (await defaultTodoList(rt, mailbox));
  return rt.graph.updateTodoTask(mailbox.id, listId, exchangeId, exchangeBodyFromSnapshot('task', fields as never, ctx, current), ifMatch);
}

function isPastFromBase(base: Snapshot, now: Date): boolean {
  const time = base.time as { start?: string; allDay?: boolean } | undefined;
  if (!time?.start) return false;
  return Date.parse(time.start) < now.getTime();
}

/** Both sides changed since the last sync (a conditional write failed): read both, merge field by field, write both. */
async function fullMerge(
  rt: Runtime,
  kind: EntityKind,
  entity: DataverseEntity,
  mailbox: Mailbox,
  ctx: MappingContext,
  pair: StoredPair,
  record: DataverseRecord | undefined,
  item: GraphItem | undefined,
): Promise<Outcome> {
  const freshRecord = record ?? (await readRecord(rt, entity, pair.dataverseId));
  const freshItem = item ?? (await readExchangeItem(rt, kind, mailbox, pair.exchangeId!, pair.exchangeListId));
  if (!freshRecord || !freshItem) throw new SyncError('PreconditionFailed', 'an item vanished during the merge; retrying decides again');
  const dvSnap = snapshotFromDataverse(kind, freshRecord, ctx) as Snapshot;
  const exSnap = snapshotFromExchange(kind, freshItem, ctx) as Snapshot;
  const plan = mergeSnapshots({
    directions: restrictDirections(kind, pair),
    base: pair.base,
    dataverse: dvSnap,
    exchange: exSnap,
    policy: rt.settings.SYNC_CONFLICT_POLICY,
    dataverseModifiedOn: typeof freshRecord.modifiedon === 'string' ? freshRecord.modifiedon : undefined,
    exchangeModifiedOn: (freshItem as { lastModifiedDateTime?: string }).lastModifiedDateTime,
  });
  for (const conflict of plan.conflicts) {
    rt.log.warn('conflict: the same field changed on both sides', {
      kind,
      mailboxId: mailbox.id,
      dataverseId: pair.dataverseId,
      exchangeId: pair.exchangeId,
      field: conflict.field,
      winner: conflict.winner,
      dataverseModifiedOn: conflict.dataverseModifiedOn,
      exchangeModifiedOn: conflict.exchangeModifiedOn,
      policy: rt.settings.SYNC_CONFLICT_POLICY,
    });
  }
  let exchangeEtag = freshItem['@odata.etag'];
  let dataverseEtag = freshRecord['@odata.etag'];
  if (Object.keys(plan.toExchange).length > 0) {
    exchangeEtag = (await writeExchange(rt, kind, mailbox, pair, plan.toExchange, ctx, exchangeEtag, freshItem))['@odata.etag'];
  }
  if (Object.keys(plan.toDataverse).length > 0) {
    dataverseEtag = (await writeDataverse(rt, kind, entity, pair.dataverseId, mailbox, plan.toDataverse, ctx, dataverseEtag, freshRecord))['@odata.etag'];
  }
  await rt.pairs.update(pair, { ...pair, exchangeEtag, dataverseEtag, base: plan.merged });
  return { kind: 'updated', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, detail: `merged; conflicts: ${plan.conflicts.length}` };
}

async function readExchangeItem(rt: Runtime, kind: EntityKind, mailbox: Mailbox, exchangeId: string, listId: string | undefined): Promise<GraphItem | undefined> {
  try {
    if (kind === 'appointment') return await rt.graph.getEvent(mailbox.id, exchangeId);
    if (kind === 'contact') return await rt.graph.getContact(mailbox.id, exchangeId);
    return await rt.graph.getTodoTask(mailbox.id, listId ?? (await defaultTodoList(rt, mailbox)), exchangeId);
  } catch (error) {
    if (isSyncError(error, 'NotFound')) return undefined;
    throw error;
  }
}

/** The mailbox's default To Do list ("Tasks"), remembered in the registry. */
async function defaultTodoList(rt: Runtime, mailbox: Mailbox): Promise<string> {
  if (mailbox.defaultTodoListId) return mailbox.defaultTodoListId;
  const lists = await rt.graph.listTodoLists(mailbox.id);
  const list = lists.find((l) => l.wellknownListName === 'defaultList') ?? lists[0];
  if (!list?.id) throw new SyncError('NotFound', `mailbox ${mailbox.id} has no To Do list`);
  // Only this field: the row may have changed since `mailbox` was read (state, backfill progress).
  await rt.mailboxes.patch(mailbox.id, { defaultTodoListId: list.id });
  mailbox.defaultTodoListId = list.id;
  return list.id;
}

/** Dataverse delete: server-side sync's rules per kind (docs/reference/platform-facts.md section 7). */
async function applyDataverseDelete(rt: Runtime, entity: DataverseEntity, recordId: string, ownerId: string | undefined): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const kind = kindOfEntity(entity);
  for (const mailboxId of await rt.pairs.mailboxesOf(recordId)) {
    const mailbox = await rt.mailboxes.get(mailboxId);
    // Nothing is written to a disabled mailbox; its pair stays, and the first change of the item after enabling
    // finds the record gone and unlinks it.
    if (mailbox?.state === 'disabled') {
      outcomes.push({ kind: 'ignored', mailboxId, dataverseId: recordId, detail: 'mailbox not enabled' });
      continue;
    }
    const pair = await rt.pairs.get(mailbox?.id ?? mailboxId, recordId);
    if (!pair) continue;
    let deleteInExchange = false;
    let reason: string;
    if (!pair.exchangeId || !mailbox) {
      reason = 'not linked';
    } else if (kind === 'appointment') {
      // Only the organizer's linked future meeting is deleted; otherwise the Exchange item is left and unlinked.
      deleteInExchange = pair.isOrganizer !== false && !isPastFromBase(pair.base, rt.now());
      reason = deleteInExchange ? 'organizer, future' : 'past or not the organizer';
    } else if (kind === 'task') {
      const todo = (await readExchangeItem(rt, 'task', mailbox, pair.exchangeId, pair.exchangeListId)) as TodoTask | undefined;
      deleteInExchange = todo !== undefined && shouldDeleteTodoTask(todo);
      reason = deleteInExchange ? 'not completed in Exchange' : 'completed in Exchange (kept)';
    } else {
      // Server-side sync removes the Exchange copy of a deleted contact only when the syncing user is not its owner.
      deleteInExchange = ownerId !== undefined && ownerId.toLowerCase() !== mailbox.systemUserId.toLowerCase();
      reason = deleteInExchange ? 'syncing user is not the owner' : 'owner keeps the Exchange copy';
    }
    if (deleteInExchange && mailbox && pair.exchangeId) {
      if (kind === 'appointment') await rt.graph.deleteEvent(mailbox.id, pair.exchangeId);
      else if (kind === 'contact') await rt.graph.deleteContact(mailbox.id, pair.exchangeId);
      else await rt.graph.deleteTodoTask(mailbox.id, pair.exchangeListId ?? (await defaultTodoList(rt, mailbox)), pair.exchangeId);
    }
    await rt.pairs.remove(pair);
    rt.log.info(deleteInExchange ? 'deleted in Exchange' : 'unlinked after Dataverse delete', { mailboxId, dataverseId: recordId, exchangeId: pair.exchangeId, reason });
    outcomes.push({ kind: deleteInExchange ? 'deleted' : 'unlinked', mailboxId, dataverseId: recordId, ...(pair.exchangeId ? { exchangeId: pair.exchangeId } : {}), detail: reason });
  }
  return outcomes;
}

// ------------------------------------------------------------------------------------------------------------
// Exchange -> Dataverse
// ------------------------------------------------------------------------------------------------------------

/** Applies an Exchange change of one mailbox. */
export async function applyExchangeChange(rt: Runtime, change: ExchangeChange): Promise<Outcome[]> {
  const cached = await rt.mailboxes.findEnabled(change.mailboxId);
  const mailbox = cached && (await stillEnabled(rt, cached));
  if (!mailbox) return [{ kind: 'ignored', mailboxId: change.mailboxId, exchangeId: change.itemId, detail: 'mailbox not enabled' }];
  const kind = kindOfResource[change.resource];
  if (!mailbox.entities.includes(kind)) return [{ kind: 'ignored', mailboxId: mailbox.id, exchangeId: change.itemId, detail: `${kind} not synced for this mailbox` }];
  let pair = await rt.pairs.getByExchangeId(mailbox.id, change.itemId);
  if (change.changeType === 'deleted') return [await applyExchangeDelete(rt, kind, mailbox, pair, change.itemId)];
  // The sync's own write coming back: the etag it recorded is the one the notification carries. No API call.
  if (pair && change.etag && pair.exchangeEtag === change.etag) return [{ kind: 'echo', mailboxId: mailbox.id, exchangeId: change.itemId, dataverseId: pair.dataverseId }];
  const listId = change.listId ?? pair?.exchangeListId;
  const item = kind === 'task' && !listId ? undefined : await readExchangeItem(rt, kind, mailbox, change.itemId, listId);
  if (!item) return [await applyExchangeDelete(rt, kind, mailbox, pair, change.itemId)];
  if (pair && item['@odata.etag'] && pair.exchangeEtag === item['@odata.etag']) return [{ kind: 'echo', mailboxId: mailbox.id, exchangeId: change.itemId, dataverseId: pair.dataverseId }];
  const ctx = mappingContext(mailbox, rt.now());
  if (!pair) {
    const linked = await linkExisting(rt, kind, mailbox, item, listId);
    if (linked === 'in-flight') throw new SyncError('Transient', 'the sync\'s own create of this item is still being recorded');
    pair = linked;
    // A linked attendee copy takes nothing to Dataverse (restrictDirections); linking already wrote what it takes.
    if (pair?.mirror) return [{ kind: 'linked', mailboxId: mailbox.id, exchangeId: change.itemId, dataverseId: pair.dataverseId }];
    if (!pair) {
      if (await awaitingOrganizerCopy(rt, item, change.attempt)) {
        // Both copies of a meeting arrive at once; the organizer's may be being recorded right now in its own
        // session. Look again shortly instead of dropping the attendee's copy.
        throw new SyncError('Transient', 'attendee copy of a meeting whose organizer copy is not paired yet', { retryAfterMs: 1_000 });
      }
      if (!isTrackedInExchange(item, false)) {
        return [{ kind: 'ignored', mailboxId: mailbox.id, exchangeId: change.itemId, detail: 'not tracked' }];
      }
      return [await createInDataverse(rt, kind, mailbox, ctx, item, listId)];
    }
  }
  return [await updateDataverse(rt, kind, mailbox, ctx, pair, item)];
}

/** An attendee's copy of a meeting organized by another synced mailbox, seen before the organizer's copy was paired. */
async function awaitingOrganizerCopy(rt: Runtime, item: GraphItem, attempt: number): Promise<boolean> {
  const event = item as Event;
  if (attempt >= 3 || event.isOrganizer !== false || !event.iCalUId) return false;
  const organizer = event.organizer?.emailAddress?.address;
  return organizer !== undefined && organizer !== null && (await rt.mailboxes.findEnabled(organizer)) !== undefined;
}

/**
 * Finds the Dataverse record an unpaired Exchange item already belongs to: the id the sync stamped on it (a lost
 * pair), or, for a meeting, the appointment with its iCalUId (another attendee's or the organizer's copy).
 */
async function linkExisting(rt: Runtime, kind: EntityKind, mailbox: Mailbox, item: GraphItem, listId: string | undefined): Promise<StoredPair | undefined | 'in-flight'> {
  const props = (item as { singleValueExtendedProperties?: { id?: string; value?: string }[] }).singleValueExtendedProperties ?? [];
  let dataverseId = props.find((p) => p.id?.toLowerCase() === dataverseIdProperty.toLowerCase())?.value ?? dataverseIdOfTodoTask(item as TodoTask);
  let isOrganizer: boolean | undefined;
  const iCalUId = (item as Event).iCalUId ?? undefined;
  if (!dataverseId && kind === 'appointment' && iCalUId) {
    dataverseId = (await rt.cursors.get<{ dataverseId: string }>('meeting', iCalUId))?.dataverseId;
    if (!dataverseId) {
      const found = await rt.dataverse.query('appointment', { filter: `globalobjectid eq '${iCalUId.replace(/'/g, "''")}'`, select: ['activityid'], top: 1 });
      dataverseId = typeof found[0]?.activityid === 'string' ? found[0].activityid : undefined;
    }
    isOrganizer = (item as Event).isOrganizer ?? undefined;
  }
  if (!dataverseId) return undefined;
  // An attendee's copy of a meeting organized by another synced mailbox mirrors that mailbox's pair.
  const organizerAddress = (item as Event).organizer?.emailAddress?.address;
  const mirror = isOrganizer === false && typeof organizerAddress === 'string' && (await rt.mailboxes.findEnabled(organizerAddress)) !== undefined;
  const existing = await rt.pairs.get(mailbox.id, dataverseId);
  if (existing) return existing.status === 'pending' ? 'in-flight' : existing.exchangeId === item.id ? existing : undefined;
  const entity: DataverseEntity = kind === 'appointment' ? 'appointment' : kind === 'contact' ? 'contact' : 'task';
  const record = await readRecord(rt, entity, dataverseId);
  if (!record) return undefined;
  const ctx = mappingContext(mailbox, rt.now());
  const dvSnap = snapshotFromDataverse(kind, record, ctx) as Snapshot;
  const exSnap = snapshotFromExchange(kind, item, ctx) as Snapshot;
  // Link with the Dataverse side as base, so what differs in Exchange flows to Dataverse as a change.
  const pair = await rt.pairs.create({
    mailboxId: mailbox.id,
    kind,
    dataverseEntity: entity,
    dataverseId,
    exchangeId: item.id,
    exchangeListId: listId,
    iCalUId,
    isOrganizer,
    mirror,
    dataverseEtag: record['@odata.etag'],
    exchangeEtag: undefined,
    base: baseAfterWrite(kind, dvSnap, exSnap),
    status: 'linked',
  });
  rt.log.info('linked an existing Exchange item to its Dataverse record', { mailboxId: mailbox.id, dataverseId, exchangeId: item.id });
  return mirror ? bringMirrorUpToRecord(rt, kind, mailbox, pair, dvSnap, exSnap, item, ctx) : pair;
}

/**
 * An attendee's copy takes its personal fields (free/busy, reminder) from Dynamics 365, as the README's sync
 * scope says, and nothing flows back from it: Exchange's own values on the copy (tentative for an invitation not
 * answered yet) are replaced once, when the copy is linked. The user's response to the invitation is not touched.
 */
async function bringMirrorUpToRecord(
  rt: Runtime,
  kind: EntityKind,
  mailbox: Mailbox,
  pair: StoredPair,
  dvSnap: Snapshot,
  exSnap: Snapshot,
  item: GraphItem,
  ctx: MappingContext,
): Promise<StoredPair> {
  const drift: Snapshot = {};
  for (const [field, direction] of Object.entries(restrictDirections(kind, pair))) {
    if ((direction === 'Both' || direction === 'ToExchange') && JSON.stringify(dvSnap[field] ?? null) !== JSON.stringify(exSnap[field] ?? null)) drift[field] = dvSnap[field];
  }
  if (Object.keys(drift).length === 0) return pair;
  try {
    const updated = await writeExchange(rt, kind, mailbox, pair, drift, ctx, item['@odata.etag'], item);
    rt.log.info('attendee copy brought up to Dynamics 365', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, fields: Object.keys(drift) });
    return rt.pairs.update(pair, { ...pair, exchangeEtag: updated['@odata.etag'] });
  } catch (error) {
    // The user changed the copy meanwhile: their change stands; the next change in Dynamics 365 writes again.
    if (isSyncError(error, 'PreconditionFailed')) return pair;
    throw error;
  }
}

async function createInDataverse(rt: Runtime, kind: EntityKind, mailbox: Mailbox, ctx: MappingContext, item: GraphItem, listId: string | undefined): Promise<Outcome> {
  const iCalUId = (item as Event).iCalUId ?? undefined;
  const entity: EntityName = kind === 'appointment' ? 'appointment' : kind === 'contact' ? 'contact' : 'task';
  const id = kind === 'appointment' && iCalUId ? appointmentIdForMeeting(iCalUId) : recordIdForExchangeItem(mailbox.id, item.id!);
  const exSnap = snapshotFromExchange(kind, item, ctx) as Snapshot;
  if (kind === 'contact') {
    // Match before creating: a Dataverse contact of this user with the same e-mail address and no pair here.
    const email = (exSnap.emailAddresses as string[] | undefined)?.[0];
    if (email) {
      const matches = await rt.dataverse.query('contact', {
        filter: `emailaddress1 eq '${email.replace(/'/g, "''")}' and _ownerid_value eq ${mailbox.systemUserId}`,
        select: ['contactid'],
        top: 5,
      });
      for (const match of matches) {
        const contactId = typeof match.contactid === 'string' ? match.contactid : undefined;
        if (contactId && !(await rt.pairs.get(mailbox.id, contactId))) {
          const record = await readRecord(rt, 'contact', contactId);
          if (!record) continue;
          const pair = await rt.pairs.create({
            mailboxId: mailbox.id,
            kind,
            dataverseEntity: 'contact',
            dataverseId: contactId,
            exchangeId: item.id,
            dataverseEtag: record['@odata.etag'],
            base: baseAfterWrite(kind, snapshotFromDataverse(kind, record, ctx), exSnap),
            status: 'linked',
          });
          rt.log.info('linked an Exchange contact to the Dataverse contact with its e-mail address', { mailboxId: mailbox.id, dataverseId: contactId, exchangeId: item.id });
          return updateDataverse(rt, kind, mailbox, ctx, pair, item);
        }
      }
    }
  }
  // The mapping's create functions build the body (owner, globalobjectid, parties as addresses to resolve).
  const createBody = kind === 'appointment' ? eventToAppointment(item, ctx) : kind === 'contact' ? graphContactToContact(item, ctx) : todoTaskToTask(item as TodoTask, ctx);
  const fullBody = (await resolveParties(rt, mailbox, createBody)) as { statecode?: number; statuscode?: number };
  const { fields, state } = separateStateChange(fullBody);
  const body: Record<string, unknown> = fields;
  let record: DataverseRecord;
  let existed = false;
  try {
    // Create-only upsert on a derived id: a retry, or a second attendee's copy of the same meeting, finds the record.
    record = await rt.dataverse.update(entity, id, body, { createOnly: true, callerObjectId: mailbox.id });
    if (state) record = await rt.dataverse.update(entity, id, state, { callerObjectId: mailbox.id });
  } catch (error) {
    if (!isSyncError(error, 'AlreadyExists')) throw error;
    const existing = await readRecord(rt, entity, id);
    if (!existing) throw error;
    record = existing;
    existed = true;
  }
  const dvSnap = snapshotFromDataverse(kind, record, ctx) as Snapshot;
  const pair = await rt.pairs.create({
    mailboxId: mailbox.id,
    kind,
    dataverseEntity: entity,
    dataverseId: id,
    exchangeId: item.id,
    exchangeListId: listId,
    iCalUId,
    isOrganizer: kind === 'appointment' ? ((item as Event).isOrganizer ?? true) : undefined,
    dataverseEtag: record['@odata.etag'],
    exchangeEtag: existed ? undefined : item['@odata.etag'],
    // The record existed (a retry after a lost pair, another copy of the meeting): take its values as the base, so
    // what the item changed since flows to Dataverse now.
    base: existed ? baseAfterWrite(kind, dvSnap, dvSnap) : baseAfterWrite(kind, dvSnap, exSnap),
    status: 'linked',
  });
  if (iCalUId) await rt.cursors.set('meeting', iCalUId, { dataverseId: id });
  if (existed) {
    rt.log.info('linked an Exchange item to the Dataverse record its id names', { mailboxId: mailbox.id, dataverseId: id, exchangeId: item.id, kind });
    return updateDataverse(rt, kind, mailbox, ctx, pair, item);
  }
  rt.log.info('created in Dataverse', { mailboxId: mailbox.id, dataverseId: id, exchangeId: item.id, kind });
  return { kind: 'created', mailboxId: mailbox.id, dataverseId: id, ...(item.id ? { exchangeId: item.id } : {}) };
}

async function updateDataverse(rt: Runtime, kind: EntityKind, mailbox: Mailbox, ctx: MappingContext, pair: StoredPair, item: GraphItem): Promise<Outcome> {
  const exSnap = snapshotFromExchange(kind, item, ctx) as Snapshot;
  const plan = mergeSnapshots({ directions: restrictDirections(kind, pair), base: pair.base, dataverse: { ...pair.base }, exchange: exSnap, policy: rt.settings.SYNC_CONFLICT_POLICY });
  if (Object.keys(plan.toDataverse).length === 0) {
    await rt.pairs.update(pair, { ...pair, exchangeEtag: item['@odata.etag'], base: { ...pair.base, ...plan.merged } });
    return { kind: 'unchanged', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId };
  }
  const entity = pair.dataverseEntity as DataverseEntity;
  try {
    // Some fields are written against the record as it is now: the party list is replaced as a whole (the half
    // that did not change is kept from the record), and a closed activity's state is read-only. Read it for those
    // only; a record that changed since the last sync is a concurrent edit, merged field by field.
    let current: DataverseRecord | undefined;
    if (Object.keys(plan.toDataverse).some((field) => fieldsWrittenAgainstRecord[kind].includes(field))) {
      current = await readRecord(rt, entity, pair.dataverseId);
      if (!current) throw new SyncError('NotFound', 'the Dataverse record is gone');
      if (pair.dataverseEtag && current['@odata.etag'] !== pair.dataverseEtag) return fullMerge(rt, kind, entity, mailbox, ctx, pair, current, item);
    }
    const record = await writeDataverse(rt, kind, entity, pair.dataverseId, mailbox, plan.toDataverse, ctx, pair.dataverseEtag, current);
    await rt.pairs.update(pair, { ...pair, exchangeEtag: item['@odata.etag'], dataverseEtag: record['@odata.etag'], base: { ...pair.base, ...plan.merged } });
    rt.log.info('updated in Dataverse', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, fields: Object.keys(plan.toDataverse) });
    return { kind: 'updated', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId: pair.exchangeId, detail: Object.keys(plan.toDataverse).join(',') };
  } catch (error) {
    if (isSyncError(error, 'PreconditionFailed')) return fullMerge(rt, kind, entity, mailbox, ctx, pair, undefined, item);
    if (isSyncError(error, 'NotFound')) {
      await rt.pairs.remove(pair);
      return { kind: 'unlinked', mailboxId: mailbox.id, dataverseId: pair.dataverseId, detail: 'Dataverse record missing' };
    }
    throw error;
  }
}

/**
 * Writes changed fields to Dataverse. A closed activity is read-only, so a reopening state change goes first and a
 * closing one last (shared/mapping/state.ts). Each PATCH is conditional on the etag the previous one returned.
 */
async function writeDataverse(
  rt: Runtime,
  kind: EntityKind,
  entity: DataverseEntity,
  id: string,
  mailbox: Mailbox,
  fields: Snapshot,
  ctx: MappingContext,
  ifMatch: string | undefined,
  current: DataverseRecord | undefined,
): Promise<DataverseRecord> {
  const currentRecord = current ?? (entity !== 'task' && entity !== 'appointment' && entity !== 'contact' ? await readRecord(rt, entity, id) : undefined);
  const raw = dataverseBodyFromSnapshot(kind, fields as never, ctx, currentRecord) as Record<string, unknown>;
  const body = await resolveParties(rt, mailbox, raw);
  const { fields: plain, state } = separateStateChange(body as { statecode?: number; statuscode?: number });
  const options = { callerObjectId: mailbox.id };
  const closed = currentRecord ? isClosedActivity(currentRecord as { statecode?: number }) : false;
  const hasFields = Object.keys(plain).length > 0;
  let etag = ifMatch;
  let record: DataverseRecord | undefined;
  const patch = async (b: Record<string, unknown>) => {
    record = await rt.dataverse.update(entity, id, b, { ...options, ...(etag ? { ifMatch: etag } : {}) });
    etag = record['@odata.etag'];
  };
  if (state && (closed || state.statecode === 0 || state.statecode === 3)) {
    await patch(state);
    if (hasFields) await patch(plain);
  } else {
    if (hasFields) await patch(plain);
    if (state) await patch(state);
  }
  if (!record) {
    // Nothing to write: the only change was one the record does not take (free/busy of a closed appointment).
    if (currentRecord) return currentRecord;
    throw new SyncError('Internal', 'nothing was written to Dataverse');
  }
  return record;
}

/** Exchange delete: ignored for completed, canceled or past items, or by a non-organizer (docs/reference/platform-facts.md section 7). */
async function applyExchangeDelete(rt: Runtime, kind: EntityKind, mailbox: Mailbox, pair: StoredPair | undefined, exchangeId: string): Promise<Outcome> {
  if (!pair) return { kind: 'ignored', mailboxId: mailbox.id, exchangeId, detail: 'not paired' };
  let deleteInDataverse = false;
  let reason = 'contacts and tasks deleted in Exchange are only unlinked';
  if (kind === 'appointment') {
    const record = await readRecord(rt, 'appointment', pair.dataverseId);
    if (!record) reason = 'already gone in Dataverse';
    else if (pair.isOrganizer === false) reason = 'deleted by a non-organizer';
    else if (isClosedActivity(record as { statecode?: number })) reason = 'completed or canceled';
    else if (isPastFromBase(pair.base, rt.now())) reason = 'in the past';
    else {
      deleteInDataverse = true;
      reason = 'organizer deleted a future meeting';
    }
  }
  if (deleteInDataverse) await rt.dataverse.delete('appointment', pair.dataverseId, { callerObjectId: mailbox.id });
  await rt.pairs.remove(pair);
  if (deleteInDataverse) {
    // Other attendees' copies are cancelled by Exchange itself; their pairs only need unlinking.
    for (const other of await rt.pairs.mailboxesOf(pair.dataverseId)) {
      const otherPair = await rt.pairs.get(other, pair.dataverseId);
      if (otherPair) await rt.pairs.remove(otherPair);
    }
  }
  rt.log.info(deleteInDataverse ? 'deleted in Dataverse' : 'unlinked after Exchange delete', { mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId, reason });
  return { kind: deleteInDataverse ? 'deleted' : 'unlinked', mailboxId: mailbox.id, dataverseId: pair.dataverseId, exchangeId, detail: reason };
}
