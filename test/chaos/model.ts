// What Dynamics 365 and each mailbox must hold, as people changed them, under the sync's rules (README "Sync scope
// and decisions"): the model is pure (an operation in, the expected state out) and knows nothing of how the sync
// gets there. Each item is named by a key carried in a field the sync copies as is (subject, or a contact's last
// name), so the check finds every copy of it on both sides and counts them.
export type Kind = 'appointment' | 'series' | 'task' | 'contact';
export const kinds: readonly Kind[] = ['appointment', 'series', 'task', 'contact'];
/**
 * A recurring series (README "Recurring series") is modelled as a meeting of its own kind: the series is the unit,
 * with its subject and location as an appointment's, and the same delete rules for a future series the user
 * organizes (every series of the run starts two or more days ahead and has no attendees). Its occurrences and
 * Dataverse's expanded instances are not items of the model: they carry the series' key and are left out of the
 * counts (world.ts snapshot).
 */
export const isMeeting = (kind: Kind): boolean => kind === 'appointment' || kind === 'series';
/**
 * The Dynamics 365 tables a task item may live in: server-side synchronization syncs tasks, phone calls, letters and
 * faxes as Outlook tasks (https://learn.microsoft.com/power-platform/admin/sync-logic),
 * and this sync does (shared/sync/kinds/task.ts `tables`). A task created in To Do becomes a Dynamics 365 task.
 */
export type TaskTable = 'task' | 'phonecall' | 'letter' | 'fax';
export const taskTables: readonly TaskTable[] = ['task', 'phonecall', 'letter', 'fax'];
export type UserKey = 'alice' | 'bob';
export const userKeys: readonly UserKey[] = ['alice', 'bob'];

/** The two synced text fields of each kind: appointment subject/location, task subject/-, contact jobtitle/department. */
export interface Fields {
  a: string;
  b: string;
}

export interface SideState {
  exists: boolean;
  fields: Fields;
  completed: boolean;
}

export interface CopyState extends SideState {
  mailbox: UserKey;
  /** owner: the owner's (organizer's) linked copy; attendee: a meeting copy by invitation (subject compared only); left: a copy the sync let go of, which must stay as it was. */
  role: 'owner' | 'attendee' | 'left';
  /** A meeting copy that a cancellation may have removed or marked cancelled (Exchange decides which). */
  cancelledOrGone: boolean;
  /**
   * Each field's earlier values. A copy a reassignment let go of (role left) may hold any of them: a Dynamics 365
   * edit whose webhook was dropped reaches the copy only by a reconciliation, which may come after the reassignment
   * unlinked it (seen in chaos seed 14: the copy kept the value before the last edit, correctly).
   */
  earlier: { a: string[]; b: string[] };
  /** A left copy that may never have been made (see reassigned). */
  maybeMissing?: boolean;
}

export interface ItemModel {
  key: string;
  kind: Kind;
  /** The Dynamics 365 table of a task item (the other kinds have one table each). */
  table?: TaskTable;
  owner: UserKey;
  d365: SideState;
  copies: CopyState[];
  /** The pair was undone (a delete rule kept the other copy, a reassignment left the old copy): no more operations. */
  frozen: boolean;
  /** Reassigned once (a second reassignment back would adopt the old copy: not modelled). */
  reassigned: boolean;
  /** Created in Outlook without the tracking category: Dynamics 365 must not get it until it is tracked. */
  tracked: boolean;
  attendee?: UserKey;
  /**
   * The latest edit of each field that the last settle did not show on both sides (its webhook or notification may
   * have been dropped, so only a reconciliation may carry it), with the side that made it.
   */
  unsynced: Partial<Record<keyof Fields, { from: 'd365' | 'outlook'; value: string }>>;
  /**
   * Values other than the model's a field may settle on, after both sides changed it before the sync saw either.
   * SYNC_CONFLICT_POLICY lastModifiedWins compares the Dynamics 365 record's `modifiedon` with the Outlook item's
   * `lastModifiedDateTime` (shared/sync/merge.ts `settle`): whole records, not fields, and both whole seconds for a
   * contact, where a tie goes to Dynamics 365. So the other side's unheard, earlier edit may win over the model's
   * later one: its record was modified later by an edit of another field (a hot edit), or in the same second
   * (chaos seed 39: a contact's department edited in Dynamics 365, its webhook dropped, then edited in Outlook in the
   * hot edit's second; the conflict log said both sides at 14:01:51Z, winner dataverse). Which value wins is the
   * sync's to choose; that both sides end on the same one is checked.
   */
  alternatives: Partial<Record<keyof Fields, string[]>>;
  /** Each field's earlier values in Dynamics 365, for a record an Outlook delete unlinked (d365Left). */
  d365Earlier: { a: string[]; b: string[] };
  /**
   * The record stays, unlinked, after its Outlook item was deleted (a contact or task): it may hold a field's earlier
   * value, as a left copy may, when an Outlook edit before the delete was never heard (its notification dropped or
   * the host down), which no reconciliation can carry once the item is gone.
   */
  d365Left?: boolean;
  /** Where a task was completed: one completed in Dynamics 365 reaches its To Do copy only when its webhook does. */
  completedIn?: 'd365' | 'outlook';
  /** A record an Outlook delete unlinked (d365Left) may still be open: the To Do completion never reached it. */
  d365CompletedUnsure?: boolean;
  /** A task the last settle showed completed in Dynamics 365 and in its owner's To Do copy (World.refresh). */
  closedOnBoth?: boolean;
  /**
   * A series' exceptions: the subject value (field a) each edited occurrence (by its place in the series, 0-2) must
   * hold on both sides. An edit of the series' own subject since drops them from the check: whether a change of the
   * whole series carries to an occurrence edited before is each side's own behaviour, not a sync rule.
   */
  occurrences?: Record<number, string>;
  /**
   * A series' cancelled occurrences (by their place in the series, 0-2): gone on both sides for good (a cancellation
   * in Outlook deletes the Dynamics 365 instance, a deleted instance cancels the occurrence: README "Recurring
   * series"), whatever the series' subject does later.
   */
  cancelled?: number[];
  /**
   * A series' moved occurrences: how many hours after its original start (by place, 0-2) each one moved starts, on
   * both sides (an exception of its times, README "Recurring series"). An occurrence not named here starts at its
   * original start. Kept through edits of the series' subject and location: neither side moves an exception back for
   * them. An occurrence is either renamed (occurrences) or moved, never both: the sync carries an exception whole,
   * and which side's whole exception wins when both changed is the rule "Exchange wins", not a merge of the two.
   */
  moved?: Record<number, number>;
  /**
   * An occurrence operation the last settle did not show on both sides as the model says (its notification or
   * webhook dropped, or still on its way): no other occurrence operation on the series until one does, since an
   * exception changed on both sides before the sync saw either is settled by "Exchange wins", whatever came later.
   */
  occurrencesUnsure?: boolean;
}

/**
 * A mail of the run (README "Email (opt-in per mailbox)"): copied once each way and never edited, so the model says
 * only how many activities and sent messages it makes. `in`: mail from outside received by `recipients`, each copy
 * with the same Message-ID; once any recipient tracks it (the category), Dynamics 365 holds one incoming activity
 * for it, linked to every tracked copy, and removing the category later would keep it. `out`: an email a person in
 * Dynamics 365 sent (Pending Send) from `from`: it goes out once from that mailbox and the activity ends Sent, even
 * when the answer to the send was lost or the host died around it.
 */
export interface MailModel {
  key: string;
  direction: 'in' | 'out';
  recipients: UserKey[];
  from?: UserKey;
  /** The recipients whose copy carries the tracking category. */
  trackedBy: UserKey[];
}

export interface Model {
  items: ItemModel[];
  mails: MailModel[];
  /** Items touched since the last settle: at most one person's operation per item between settles. */
  touched: Set<string>;
  crashes: number;
  maxCrashes: number;
  next: number;
}

export const other = (u: UserKey): UserKey => (u === 'alice' ? 'bob' : 'alice');

export function newModel(maxCrashes: number): Model {
  return { items: [], mails: [], touched: new Set(), crashes: 0, maxCrashes, next: 0 };
}

/** Mail received by `recipients`, tracked at once by those in `trackedBy`. */
export function mailReceived(key: string, recipients: UserKey[], trackedBy: UserKey[]): MailModel {
  return { key, direction: 'in', recipients: [...recipients], trackedBy: [...trackedBy] };
}

/** An email sent from Dynamics 365 by `from`. */
export function mailSent(key: string, from: UserKey): MailModel {
  return { key, direction: 'out', recipients: [], from, trackedBy: [] };
}

/** A recipient tracks their copy. */
export function mailTracked(mail: MailModel, by: UserKey): void {
  if (!mail.trackedBy.includes(by)) mail.trackedBy.push(by);
}

/** The recipients of an incoming mail who have not tracked their copy. */
export const untrackedRecipients = (mail: MailModel): UserKey[] => mail.recipients.filter((u) => !mail.trackedBy.includes(u));

/** Items an operation may pick: alive, not frozen, not touched since the last settle, of the kinds given. */
export function candidates(model: Readonly<Model>, kinds: readonly Kind[], extra: (i: ItemModel) => boolean = () => true): ItemModel[] {
  return model.items.filter((i) => kinds.includes(i.kind) && !i.frozen && !model.touched.has(i.key) && extra(i));
}

export function pick<T>(list: readonly T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length];
}

const side = (fields: Fields, completed = false): SideState => ({ exists: true, fields: { ...fields }, completed });
const copy = (mailbox: UserKey, fields: Fields, role: CopyState['role'] = 'owner'): CopyState => ({ mailbox, role, exists: true, fields: { ...fields }, completed: false, cancelledOrGone: false, earlier: { a: [], b: [] } });

export const ownerCopy = (item: ItemModel): CopyState => item.copies.find((c) => c.role === 'owner')!;
const attendeeCopy = (item: ItemModel): CopyState | undefined => item.copies.find((c) => c.role === 'attendee');

/** A new item created in Dynamics 365 (owned, for an appointment organized, by `owner`). */
/** What a new item has seen of unsynced edits and conflicts: nothing yet. */
const noHistory = () => ({ unsynced: {}, alternatives: {}, d365Earlier: { a: [], b: [] } });

export function createdInDynamics(key: string, kind: Kind, owner: UserKey, fields: Fields, attendee?: UserKey, table?: TaskTable): ItemModel {
  const copies = [copy(owner, fields)];
  if (attendee) copies.push(copy(attendee, fields, 'attendee'));
  return { key, kind, ...(kind === 'task' ? { table: table ?? 'task' } : {}), owner, d365: side(fields), copies, frozen: false, reassigned: false, tracked: true, ...(attendee ? { attendee } : {}), ...noHistory() };
}

/** A new item created in the owner's mailbox, tracked or not. */
export function createdInOutlook(key: string, kind: Kind, owner: UserKey, fields: Fields, tracked: boolean): ItemModel {
  return { key, kind, ...(kind === 'task' ? { table: 'task' as const } : {}), owner, d365: tracked ? side(fields) : { exists: false, fields: { ...fields }, completed: false }, copies: [copy(owner, fields)], frozen: false, reassigned: false, tracked, ...noHistory() };
}

/**
 * A field edited on one side: the later edit of a field wins (SYNC_CONFLICT_POLICY lastModifiedWins, the default),
 * or, when the other side's edit of it is not known to be synced, possibly that one (see ItemModel.alternatives).
 */
export function edited(item: ItemModel, field: keyof Fields, value: string, from: 'd365' | 'outlook'): void {
  const linked = item.tracked;
  if (item.kind === 'series' && field === 'a') delete item.occurrences;
  if (linked) {
    const before = item.unsynced[field];
    if (before && before.from !== from && before.value !== value) item.alternatives[field] = [...new Set([...(item.alternatives[field] ?? []), before.value])];
    item.unsynced[field] = { from, value };
  }
  if (from === 'd365' || linked) {
    item.d365Earlier[field].push(item.d365.fields[field]);
    item.d365.fields[field] = value;
  }
  if (from === 'outlook' || linked) {
    const own = ownerCopy(item);
    own.earlier[field].push(own.fields[field]);
    own.fields[field] = value;
  }
  // Exchange carries the organizer's change to the attendee's copy (only the subject is compared there).
  const att = attendeeCopy(item);
  if (att && field === 'a' && linked) att.fields.a = value;
}

/**
 * A To Do edit of a task completed on both sides: a completed activity is read-only in Dataverse
 * (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/task, StateCode), so the edit
 * stays in To Do (README "All items: Creating records and closed activities", test/e2e/closedTaskEdit.test.ts); no
 * operation of the run reopens a task.
 */
export function editedClosedInOutlook(item: ItemModel, value: string): void {
  const own = ownerCopy(item);
  own.earlier.a.push(own.fields.a);
  own.fields.a = value;
}

/**
 * One occurrence of a tracked series edited on either side (its subject): an exception, which the sync carries to
 * the other side's occurrence or instance of the same original start (README "Recurring series").
 */
export function occurrenceEdited(item: ItemModel, index: number, value: string): void {
  item.occurrences = { ...item.occurrences, [index]: value };
  item.occurrencesUnsure = true;
}

/** One occurrence of a tracked series moved on either side: it starts `hours` after its original start. */
export function occurrenceMoved(item: ItemModel, index: number, hours: number): void {
  item.moved = { ...item.moved, [index]: hours };
  item.occurrencesUnsure = true;
}

/** Whether a live series has occurrences of its own for the check: an edited one or a cancelled one, on both sides. */
export function hasOccurrenceFacts(item: ItemModel): boolean {
  const facts = Object.keys(item.occurrences ?? {}).length > 0 || Object.keys(item.moved ?? {}).length > 0 || (item.cancelled?.length ?? 0) > 0;
  return item.kind === 'series' && facts && item.d365.exists && ownerCopy(item).exists;
}

/** One occurrence of a tracked series cancelled on either side (an Outlook delete, or a Dynamics 365 instance deleted). */
export function occurrenceCancelled(item: ItemModel, index: number): void {
  item.cancelled = [...new Set([...(item.cancelled ?? []), index])].sort((x, y) => x - y);
  item.occurrencesUnsure = true;
  if (item.occurrences) {
    const rest = { ...item.occurrences };
    delete rest[index];
    item.occurrences = rest;
  }
  // A moved occurrence cancelled is gone as any other: its move goes with it.
  if (item.moved) {
    const rest = { ...item.moved };
    delete rest[index];
    item.moved = rest;
  }
}

/**
 * What a settle showed of a linked item's field: Dynamics 365 and the owner's copy holding the same value the model
 * allows means the sync saw both edits, so an unheard edit can no longer win later; when the sides settled on an
 * alternative (the other side's edit won the conflict), that value is the model's from now on.
 */
export function observed(item: ItemModel, field: keyof Fields, d365: string | undefined, ownerCopyValue: string | undefined): void {
  if (!item.tracked || d365 === undefined || d365 !== ownerCopyValue) return;
  const current = item.d365.fields[field];
  if (d365 !== current) {
    if (!(item.alternatives[field] ?? []).includes(d365)) return;
    item.d365.fields[field] = d365;
    const own = ownerCopy(item);
    own.earlier[field].push(own.fields[field]);
    own.fields[field] = d365;
    const att = attendeeCopy(item);
    if (att && field === 'a') att.fields.a = d365;
  }
  delete item.unsynced[field];
  delete item.alternatives[field];
}

export function tracked(item: ItemModel): void {
  item.tracked = true;
  item.d365 = side(ownerCopy(item).fields);
}

export function completed(item: ItemModel, from: 'd365' | 'outlook'): void {
  item.completedIn = from;
  item.d365.completed = true;
  ownerCopy(item).completed = true;
}

/**
 * Deleted in Dynamics 365 (README "Dynamics 365 deletes"): the organizer's future event goes, and Exchange cancels
 * the attendee's copy; a task's To Do copy goes unless it is completed there; the owner's contact copy stays
 * (unlinked). A copy not seen at the last settle may never have been made: the record's create may not have reached
 * the mailbox before the delete (its webhook dropped, repaired only by a reconciliation, which then finds no record;
 * seen in chaos seed 9 x 200 with a contact). A copy that stays is let go of (role left): a Dynamics 365 edit before
 * the delete whose webhook was lost (dropped, or sent while the host was down) never reaches it, so it may hold a
 * field's earlier value (chaos seed 37 x 1000: a contact's department edited just before a host kill, then the
 * record deleted; the copy kept the value before the edit, correctly).
 */
export function deletedInDynamics(item: ItemModel, ownerCopySeen = true, ownerCopyCompletedSeen = true): void {
  item.d365.exists = false;
  item.frozen = true;
  const own = ownerCopy(item);
  if (!ownerCopySeen) own.maybeMissing = true;
  // A reassignment whose webhook was lost (the new owner's copy not seen at the last settle) reaches the sync only
  // with this delete, while the old owner's pair is still linked: the delete rule, applied to a record that user no
  // longer owns, may remove their copy (chaos seed 45 x 1000: a contact reassigned, edited and deleted).
  if (item.reassigned && !ownerCopySeen) for (const c of item.copies) if (c.role === 'left') c.maybeMissing = true;
  if (isMeeting(item.kind)) {
    own.exists = false;
    const att = attendeeCopy(item);
    if (att) att.cancelledOrGone = true;
  } else if (item.kind === 'task' && !own.completed) {
    own.exists = false;
  } else {
    own.role = 'left';
    // A completion made in Dynamics 365 that the last settle did not show in To Do may never have got there (its
    // webhook dropped, repaired only by a reconciliation): the delete then finds the To Do task open and deletes
    // it, as the rule says (chaos seed 42 x 1000).
    if (item.kind === 'task' && item.completedIn === 'd365' && !ownerCopyCompletedSeen) own.maybeMissing = true;
  }
}

/**
 * Deleted in Outlook (README "Exchange deletes"): a future open appointment the user organizes is deleted in
 * Dynamics 365 (and Exchange cancels the attendee's copy); contacts and tasks are only unlinked, and their record
 * may hold earlier values (d365Left).
 */
export function deletedInOutlook(item: ItemModel, recordCompletedSeen = true): void {
  ownerCopy(item).exists = false;
  item.frozen = true;
  if (item.tracked && isMeeting(item.kind) && !item.d365.completed) {
    item.d365.exists = false;
    const att = attendeeCopy(item);
    if (att) att.cancelledOrGone = true;
  } else if (item.tracked) {
    item.d365Left = true;
    // A To Do completion the last settle did not show in Dynamics 365 (its poll throttled) is gone with the deleted
    // task: the record may stay open (chaos seed 54 x 1000).
    if (item.completedIn === 'outlook' && !recordCompletedSeen) item.d365CompletedUnsure = true;
  }
}

/** Reassigned in Dynamics 365: the old owner's copy falls out of scope and stays, unlinked; the new owner gets one. */
export function reassigned(item: ItemModel, ownerCopySeen = true): void {
  const own = ownerCopy(item);
  own.role = 'left';
  // The old owner's copy was not seen at the last settle: the create may not have reached that mailbox before the
  // reassignment (its webhook lost to a host kill or a drop, repaired only by a reconciliation, which then finds the
  // record another user's), so the copy may never exist (seen in chaos seed 13).
  if (!ownerCopySeen) own.maybeMissing = true;
  item.reassigned = true;
  item.owner = other(item.owner);
  const fresh = copy(item.owner, item.d365.fields);
  fresh.completed = item.d365.completed;
  item.copies.push(fresh);
}

/** The organizer invites the other user in Outlook: the invitation makes their copy, which the sync links. */
export function attendeeAdded(item: ItemModel, who: UserKey): void {
  item.attendee = who;
  item.copies.push(copy(who, ownerCopy(item).fields, 'attendee'));
}

/** The organizer removes the attendee in Outlook: Exchange cancels their copy. */
export function attendeeRemoved(item: ItemModel): void {
  const att = attendeeCopy(item)!;
  att.cancelledOrGone = true;
  att.role = 'left';
  delete item.attendee;
}
