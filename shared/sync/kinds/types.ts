// What one kind of synced item is, in one place: its tables and Graph resource, its mapping, its narrow adapters
// on each side and its pure rules. The engine, the planner and the executor know kinds only through this
// interface (shared/sync/kinds/index.ts is the registry), so a new kind is one file here plus its mapping.
import type { Contact, Event, Message, TodoTask } from '@microsoft/microsoft-graph-types';
import type { Settings } from '../../config.js';
import type { DataverseRecord } from '../../dataverse/client.js';
import type { Direction, EntityKind, FieldDescription, MappingContext } from '../../mapping/index.js';
import type { Runtime } from '../../runtime.js';
import type { DataverseChange, DataverseEntity, ExchangeChange } from '../../servicebus/messages.js';
import type { Outcome } from '../execute.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import type { Pair } from '../../storage/pairStore.js';
import type { DeltaPage } from '../../graph/client.js';
import type { Snapshot } from '../merge.js';
import type { ResourceName, SubscriptionKindName } from './names.js';
import type { SyncWindow } from '../window.js';

/** A Graph item as the sync handles it: an event, a To Do task or a contact, with its etag. */

/**
 * How a Dataverse change ends its Exchange item. `cancel`: the item is cancelled (its attendees notified) and the
 * pair forgotten. `end`: only part of it ends (a series with past occurrences keeps them): the record is read with
 * `snapshot` over its own values (what Exchange keeps), merged as an update, and `mark` is recorded in the pair's
 * base so later passes read the record the same way.
 */
export type ExchangeEnding = { type: 'cancel' } | { type: 'end'; snapshot: Snapshot; mark: Record<string, unknown> };
export type GraphItem = (Event | TodoTask | Contact | Message) & { '@odata.etag'?: string; id?: string };

export type ExchangeResource = ResourceName;
/** Graph subscription resource kinds (the subscription store's `resourceKind`). */
export type SubscriptionKind = SubscriptionKindName;

/** A decision to delete the other side's copy or only unlink it, with the rule's reason (logged and reported). */
export interface DeleteDecision {
  delete: boolean;
  reason: string;
}

/** What the Dataverse-side delete rule reads. */
export interface DataverseDeleteFacts {
  pair: Pair;
  mailbox: Mailbox;
  /** The owner from the delete's pre image. */
  ownerId: string | undefined;
  now: Date;
  /** The Exchange item as it is now, when the kind's rule needs it (`dataverseDeleteReads`). */
  exchangeItem: GraphItem | undefined;
}

/** What the Exchange-side delete rule reads. */
export interface ExchangeDeleteFacts {
  pair: Pair;
  /** The Dataverse record as it is now, when the kind's rule needs it (`exchangeDeleteReads`); undefined when gone. */
  record: DataverseRecord | undefined;
  now: Date;
}

/** The Exchange body of a new item, from the mapping's create function, and what the pair keeps of it. */
export interface ExchangeCreate {
  body: GraphItem;
  /** Snapshot fields this item does not carry (not compared, not written back). */
  unsyncedFields: readonly string[];
  /** For a meeting: whether the syncing user organizes it. */
  isOrganizer?: boolean;
  /**
   * The user is an attendee of a meeting another synced mailbox organizes: the organizer's invitation brings the
   * copy, so nothing is created (invitation rule, https://learn.microsoft.com/power-platform/admin/sync-logic).
   */
  awaitInvitationFrom?: string;
  reason?: string;
}

/** An existing item found before a create: adopt it as if created, or link it through the link path (a meeting's copy). */
export interface FoundItem {
  item: GraphItem;
  how: 'adopt' | 'link';
  /** To Do list of a found task. */
  listId?: string;
}

/** Narrow adapter over rt.graph for one kind. */
export interface ExchangeAdapter {
  get(rt: Runtime, mailbox: Mailbox, id: string, listId: string | undefined): Promise<GraphItem | undefined>;
  create(rt: Runtime, mailbox: Mailbox, create: ExchangeCreate, record: DataverseRecord, dataverseId: string, transactionId: string): Promise<{ item: GraphItem; listId?: string }>;
  update(rt: Runtime, mailbox: Mailbox, pair: Pair, patch: GraphItem, ifMatch: string | undefined): Promise<GraphItem>;
  /** Deletes the item; `cancel` sends the attendees a cancellation where the kind knows one. */
  remove(rt: Runtime, mailbox: Mailbox, pair: Pair, how: 'delete' | 'cancel'): Promise<void>;
  /** An unpaired item for this record made before (a lost answer, the same meeting, the same address). */
  findExisting(rt: Runtime, mailbox: Mailbox, record: DataverseRecord, dataverseId: string, ctx: MappingContext, retrying: boolean): Promise<FoundItem | undefined>;
  /** The Dataverse id the sync stamped on the item. */
  stampOf(item: GraphItem): string | undefined;
}

/** Narrow adapter over rt.dataverse for one kind. */
export interface DataverseAdapter {
  /** The record with what the mapping reads (activity parties expanded). */
  get(rt: Runtime, table: DataverseEntity, id: string): Promise<DataverseRecord | undefined>;
  /** The id the record converted from `from` gets (known before the write, so the pair can move first). */
  convertedId?(from: { table: DataverseEntity; id: string }): string;
  /** Makes the record `from` the record `to` with `body`, the new table's create body (AddRecurrence for a series). */
  convert?(rt: Runtime, mailbox: Mailbox, from: { table: DataverseEntity; id: string }, to: { table: DataverseEntity; id: string }, body: Record<string, unknown>): Promise<void>;
  /**
   * The record a deleted paired record became, when its delete is a conversion (Dynamics 365 AddRecurrence deletes
   * the appointment it makes a series of): the pair moves to it instead of the delete rule running.
   */
  successorOf?(rt: Runtime, pair: Pair): Promise<{ table: DataverseEntity; id: string } | undefined>;
  /** A webhook image completed with what `get` adds to a read (a series' zone); absent: the image as it is. */
  completeImage?(rt: Runtime, table: DataverseEntity, image: DataverseRecord): Promise<DataverseRecord>;
  /** The record an unpaired item belongs to without a stamp (a meeting's iCalUId). */
  findLinkTarget(rt: Runtime, item: GraphItem): Promise<string | undefined>;
  /** A record of this user an unpaired item matches before one is created (a contact's e-mail address). */
  findExisting(rt: Runtime, mailbox: Mailbox, exSnap: Snapshot): Promise<string[]>;
}

/** Facts the pair keeps of an Exchange item (a meeting's iCalUId and the user's role in it). */
export interface ItemFacts {
  iCalUId?: string;
  isOrganizer?: boolean;
  /** Address of the meeting's organizer, when the user is not it. */
  organizerAddress?: string;
}

/**
 * A kind whose items are not kept in step field by field runs its own flow instead of the generic plan (email: a
 * tracked message becomes an activity once, and an email sent from Dynamics 365 is written to Exchange once; its
 * rules are decision tables in shared/sync/kinds/emailPlan.ts). The engine hands such a kind its changes.
 */
export interface KindFlow {
  applyExchangeChange(rt: Runtime, mailbox: Mailbox, change: ExchangeChange): Promise<Outcome[]>;
  applyDataverseChange(rt: Runtime, change: DataverseChange): Promise<Outcome[]>;
}

/** One step of an item's parts, as the kind's decision table gave it. */
export interface PartStep {
  type: string;
  /** The part's key (a series occurrence's original start). */
  key: string;
}

/**
 * A part's destructive write (a series occurrence deleted on one side): the mass-delete breaker judges it as a delete
 * of that side, and a held one waits in the quarantine with these ids (the instance or the occurrence, never the
 * pair's own, so releasing it deletes only the part).
 */
export interface PartDelete {
  side: 'exchange' | 'dataverse';
  dataverseEntity: DataverseEntity;
  dataverseId?: string;
  exchangeId?: string;
  reason: string;
  /** What the pair records for the part when an operator discards the held delete (both sides stay as they are). */
  onDiscard: string;
}

/**
 * Parts of an item synced under its pair, by key (a series' exceptions and cancelled occurrences): the kind reads
 * both sides' parts, decides with a pure table, and writes; the pair's base records what was synced.
 */
export interface ItemParts {
  /** Whether items of this table have parts. */
  appliesTo(table: DataverseEntity): boolean;
  read(rt: Runtime, mailbox: Mailbox, pair: Pair, now: Date, window: { start: Date; end: Date }): Promise<unknown>;
  decide(facts: unknown): { steps: PartStep[]; state: Record<string, string> };
  apply(rt: Runtime, mailbox: Mailbox, pair: Pair, step: PartStep, ctx: MappingContext): Promise<void>;
  /**
   * Whether the carrier record shows a part deleted since the pair's last pass (a series' deletedexceptionslist
   * changed): a delete the platform made (re-expansion) shows none and needs no pass.
   */
  deleteSeen(record: DataverseRecord, base: Record<string, unknown>): boolean;
  /** The step's destructive write, for the breaker; undefined for a step that deletes nothing. */
  deletes(step: PartStep): PartDelete | undefined;
  /** The pair's base with the recorded parts replaced. */
  baseWith(base: Record<string, unknown>, state: Record<string, string>): Record<string, unknown>;
  /** The recorded parts in the pair's base, as `decide` returns them. */
  recordedOf(base: Record<string, unknown>): Record<string, string>;
}

/** A Dataverse record as backfill matches it: ids and a match key, no contents. */
export interface RecordCandidate {
  entity: DataverseEntity;
  id: string;
  etag?: string | undefined;
  /** What the kind's match rule compares (a meeting's globalobjectid, a contact's e-mail address in lower case). */
  matchKey?: string | undefined;
}

/** An Exchange item as backfill matches it. */
export interface ItemCandidate {
  resource: ExchangeResource;
  id: string;
  etag?: string | undefined;
  listId?: string | undefined;
  /** The Dataverse id the sync stamped on it (extended property, or linked resource on a To Do task). */
  stampedId?: string | undefined;
  /** What the kind's match rule compares with a record's matchKey (a meeting's iCalUId, a contact's addresses). */
  matchKeys: string[];
  /** Carries the "Tracked to Dynamics 365" category. */
  tracked: boolean;
}

/** An unstamped item a record belongs with, and which side's message carries the link to the worker. */
export interface BackfillMatch {
  item: ItemCandidate;
  reason: string;
  carriedBy: 'dataverse' | 'exchange';
}

/** What backfill reads and matches for one kind; shared/onboarding/backfill.ts is generic over it. */
export interface BackfillAdapter {
  /** Records of a table of this kind in the mailbox's scope (and the window, where the kind is windowed). */
  listRecords(rt: Runtime, mailbox: Mailbox, table: DataverseEntity, window: SyncWindow): Promise<RecordCandidate[]>;
  /** The mailbox's items of this kind (in the window, where the kind is windowed). */
  listItems(rt: Runtime, mailbox: Mailbox, window: SyncWindow): Promise<ItemCandidate[]>;
  /**
   * Pure: after the stamp, the free item of this kind a record belongs with (the same meeting, the same address),
   * in the engine's matching order, so backfill links instead of creating a duplicate.
   */
  match(record: RecordCandidate, free: readonly ItemCandidate[]): BackfillMatch | undefined;
  /** Records what the worker will need of the mailbox before backfill enqueues (the default To Do list). */
  prepare?(rt: Runtime, mailbox: Mailbox): Promise<void>;
}

/** An item of a delta round: the item, or its `@removed` marker. */
export type DeltaItem = { id?: string | null; '@odata.etag'?: string; '@removed'?: { reason: string }; categories?: string[] | null };

/** What reconciliation gives a kind's delta round: the token-restart rule and the queue. */
export interface DeltaRoundContext {
  /**
   * The page from the stored link, or a fresh round when there is none or the token was evicted (counted).
   * `full`: the round listed everything from scratch, so what it lacks is missing, not unchanged; `resynced`: it
   * started over because the token was lost.
   */
  fromLink<T>(link: string | undefined, fetch: (link: string | undefined) => Promise<DeltaPage<T>>): Promise<DeltaPage<T> & { full: boolean; resynced: boolean }>;
  /** Enqueues what changed as the webhook's messages (skipping the sync's own versions and untracked unpaired items); `resync` for a full round's items. */
  enqueue(items: readonly DeltaItem[], listId: string | undefined, origin?: 'listing' | 'resync'): Promise<void>;
  /** After a full round: tells the mass-delete breaker what was listed and enqueues the pairs the round did not list. */
  afterFullRound(items: readonly DeltaItem[], listId: string | undefined): Promise<void>;
  /** Counts items the kind's own filter left out before `enqueue` (the round's `skipped`). */
  skip(count: number): void;
  /** Enqueues 'deleted' for paired items whose collection is gone (a removed To Do list); returns how many. */
  enqueueDeleted(pairs: readonly Pair[]): Promise<number>;
}

/** The kind's repair path: one delta round over its Exchange collection(s), from the cursors it keeps. */
export interface DeltaAdapter {
  /** Name of the collection in errors and logs. */
  readonly collection: string;
  round(rt: Runtime, mailbox: Mailbox, window: SyncWindow, ctx: DeltaRoundContext): Promise<void>;
}

export interface SyncKind<K extends EntityKind = EntityKind> {
  readonly name: K;
  /** Dataverse tables of this kind; the first is where items from Exchange are created. */
  readonly tables: readonly DataverseEntity[];
  readonly primaryKey: 'activityid' | 'contactid';
  /** Navigation property of the activity parties of a table, or undefined (contacts have none). */
  partyNavigation(table: DataverseEntity): string | undefined;
  /** Party-list columns of a table and the participation type each holds (images, filtering attributes, scope). */
  partyColumns(table: DataverseEntity): Readonly<Record<string, number>>;
  readonly resource: ExchangeResource;
  /** The change-notification subscription, or undefined when the resource is polled (To Do has no webhooks on it). */
  readonly subscription: { kind: SubscriptionKind; path: (mailboxId: string) => string } | undefined;
  /** Whether a column the kind's mapping reads exists on this table of the kind (only task has percentcomplete). */
  hasColumn(table: DataverseEntity, column: string): boolean;
  /** Columns read besides the mapped ones (a rule reads them: the series type of an appointment). */
  readonly extraColumns: readonly string[];
  /**
   * Columns the Delete step's pre image carries besides the owner: what recordCarrierOf reads, so the delete of a
   * part (an instance of a series) reaches its carrier once the record is gone.
   */
  readonly deleteImageColumns?: readonly string[];

  // --- mapping (the mapping's tested create builders and field bodies are the only body builders) ---
  /** The mapping's field table (which columns and properties each field reads, and its direction). */
  readonly fields: readonly FieldDescription[];
  readonly directions: Readonly<Record<string, Direction>>;
  snapshotFromDataverse(record: DataverseRecord, ctx: MappingContext): Snapshot;
  snapshotFromExchange(item: GraphItem, ctx: MappingContext): Snapshot;
  exchangeCreate(record: DataverseRecord, ctx: MappingContext): ExchangeCreate;
  dataverseCreate(item: GraphItem, ctx: MappingContext): Record<string, unknown>;
  exchangeBody(fields: Snapshot, ctx: MappingContext, current: unknown): GraphItem;
  /** `table`: the pair's table, for a kind whose tables take different columns (a series master). */
  dataverseBody(fields: Snapshot, ctx: MappingContext, current: DataverseRecord | undefined, table?: DataverseEntity): Record<string, unknown>;
  /** The table an Exchange item is created in; the first of `tables` when the kind does not say. */
  tableFor?(item: GraphItem): DataverseEntity;
  /**
   * The item that carries this one's changes, when it is not the item itself (an occurrence of a series: its
   * master). The engine applies the change to that item instead.
   */
  carrierOf?(item: GraphItem): string | undefined;
  /** The record that carries this one's changes (an exception instance: its series master), or undefined. */
  recordCarrierOf?(record: DataverseRecord): { table: DataverseEntity; id: string } | undefined;
  /** Parts synced under the item's pair (a series' exceptions and cancellations). */
  readonly parts?: ItemParts;
  /** Why a change of a paired item is left out (it turned into another type of item), or undefined. */
  unsupportedChange?(pair: Pair, item: GraphItem): string | undefined;
  /**
   * The table the pair's record must become for this change of the item (a single event made a series in Outlook:
   * the appointment becomes a recurringappointmentmaster), or undefined. Performed by `dataverse.convert`.
   */
  convertsTo?(pair: Pair, item: GraphItem): DataverseEntity | undefined;

  // --- adapters ---
  readonly exchange: ExchangeAdapter;
  readonly dataverse: DataverseAdapter;
  readonly backfill: BackfillAdapter;
  readonly delta: DeltaAdapter;

  // --- pure rules ---
  /** System users a record reaches (server-side sync's "My Activities" / "My Contacts"). */
  scopeOf(table: DataverseEntity, record: DataverseRecord): string[];
  /** Whether an unpaired Exchange item is tracked (synced to Dynamics 365). */
  isTracked(item: GraphItem): boolean;
  /**
   * Fields that sync for this pair, from the configured directions (default: the field table's own); an
   * attendee's mirrored copy syncs only personal fields.
   */
  directionsFor(pair: Pick<Pair, 'mirror'>, configured?: Readonly<Record<string, Direction>>): Record<string, Direction>;
  /** Whether writing these fields to Dataverse needs the record as it is now (besides the fields). */
  writeNeedsRecord(table: DataverseEntity, fields: readonly string[]): boolean;
  /** Shapes an Exchange patch by the invitation rule (attendees only by the organizer of a future meeting). */
  shapeExchangePatch(patch: GraphItem, pair: Pair, now: Date): GraphItem;
  /** What the Dataverse-side delete rule needs read first. */
  readonly dataverseDeleteReads: 'nothing' | 'exchangeItem';
  onDataverseDelete(facts: DataverseDeleteFacts): DeleteDecision;
  /** What the Exchange-side delete rule needs read first. */
  readonly exchangeDeleteReads: 'nothing' | 'record';
  onExchangeDelete(facts: ExchangeDeleteFacts): DeleteDecision;
  /**
   * A Dataverse change that ends the Exchange item instead of only updating it (a propagated cancellation): cancelled
   * as a whole, or ended with its past kept (ExchangeEnding); undefined when the change is an ordinary update.
   */
  endsExchangeItem(record: DataverseRecord, pair: Pair, settings: Pick<Settings, 'SYNC_PROPAGATE_CANCELLATIONS'>, ctx: MappingContext): ExchangeEnding | undefined;
  /**
   * Why a record with no pair in the mailbox is not created there (a canceled meeting whose cancellation the sync
   * propagates: it was removed from Exchange, and a create would put it back), or undefined: created as usual.
   */
  keptOutOfExchange?(record: DataverseRecord, settings: Pick<Settings, 'SYNC_PROPAGATE_CANCELLATIONS'>): string | undefined;
  /** Why an item is not synced yet (recurring series), or undefined. */
  unsupportedRecord(record: DataverseRecord): string | undefined;
  unsupportedItem(item: GraphItem): string | undefined;
  /** Facts the pair keeps of an item. */
  itemFacts(item: GraphItem): ItemFacts;
  /** Id of the Dataverse record created for an Exchange item (derived, so a retry finds it). */
  recordIdFor(mailboxId: string, item: GraphItem): string;
  /** The kind's own flow, when it is not synced field by field (see KindFlow). */
  readonly flow?: KindFlow;
  /**
   * Opt-in, and taking over server-side synchronization's email workload of the mailbox: enabling it is refused
   * while server-side sync handles the mailbox's email (`mailbox enable --email`, shared/onboarding/mailbox.ts).
   */
  readonly optIn?: boolean;
}
