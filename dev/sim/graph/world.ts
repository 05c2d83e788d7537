// The simulated tenant: users and their mailboxes, every item, ids and change keys, and the change feed that
// subscriptions, delta rounds and invitations follow. Resource modules (resources/*.ts) hold the per-kind rules.
import type { TimeSource } from './clock.js';
import { GraphError } from './graphError.js';
import type { Prng } from './prng.js';
import { Collection, MultiIndex, type ItemKind, type ItemRecord, type Mailbox, type SimUser } from './store.js';
import { resolveTimeZone, UTC_ZONE } from './timeZones.js';

/** Who made a change: the app through the API (app-only token) or a person in Outlook (admin API). */
export type Actor = { kind: 'app'; appId: string } | { kind: 'person'; userId: string };

/** One change, as subscriptions and the inspection log see it. */
export interface ChangeNotice {
  userId: string;
  kind: ItemKind;
  id: string;
  changeType: 'created' | 'updated' | 'deleted';
  collectionKey: string;
  parentId: string;
  changeKey: string;
  actor: Actor;
}

/** Input for seeding a user (timeZone may be a Windows or an IANA name). */
export interface SeedUserInput {
  id?: string;
  userPrincipalName: string;
  mail?: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  timeZone?: string;
}

export const WELL_KNOWN_MAIL_FOLDERS = ['inbox', 'drafts', 'sentitems', 'deleteditems', 'outbox', 'junkemail', 'archive'] as const;
const MAIL_FOLDER_NAMES: Record<string, string> = {
  inbox: 'Inbox',
  drafts: 'Drafts',
  sentitems: 'Sent Items',
  deleteditems: 'Deleted Items',
  outbox: 'Outbox',
  junkemail: 'Junk Email',
  archive: 'Archive',
};

export const collectionKeys = {
  events: (userId: string) => `${userId}/calendar`,
  contacts: (userId: string, folderId: string) => `${userId}/contacts/${folderId}`,
  contactFolders: (userId: string) => `${userId}/contactFolders`,
  todoLists: (userId: string) => `${userId}/todoLists`,
  tasks: (userId: string, listId: string) => `${userId}/tasks/${listId}`,
  mailFolders: (userId: string) => `${userId}/mailFolders`,
  messages: (userId: string, folderId: string) => `${userId}/messages/${folderId}`,
};

/** The in-memory tenant. */
export class World {
  readonly items = new Map<string, ItemRecord>();
  readonly collections = new Map<string, Collection>();
  readonly mailboxes = new Map<string, Mailbox>();
  private readonly byName = new Map<string, string>();
  private seqCounter = 0;
  private changeCounter = 0;
  private readonly listeners: ((c: ChangeNotice) => void)[] = [];
  private changeKeyPrefix: Buffer;

  constructor(
    private readonly ids: Prng,
    readonly clock: TimeSource,
    readonly tenantId: string,
  ) {
    this.changeKeyPrefix = ids.bytes(16);
  }

  get seq(): number {
    return this.seqCounter;
  }

  onChange(listener: (c: ChangeNotice) => void): void {
    this.listeners.push(listener);
  }

  /** Drops every user and item (subscriptions and logs are reset by their owners). */
  reset(): void {
    this.items.clear();
    this.collections.clear();
    this.mailboxes.clear();
    this.byName.clear();
  }

  /** An Outlook-looking item id (base64url, stable for the item's life: the simulator's ids are immutable). */
  newItemId(): string {
    return `AAMkA${this.ids.bytes(33).toString('base64url')}AAA=`;
  }

  guid(): string {
    return this.ids.guid();
  }

  randomToken(bytes = 24): string {
    return this.ids.bytes(bytes).toString('base64url');
  }

  /** A new change key: a fixed per-run prefix and a counter, base64 as Exchange's are. */
  newChangeKey(): string {
    this.changeCounter += 1;
    const counter = Buffer.alloc(6);
    counter.writeUIntBE(this.changeCounter, 0, 6);
    return Buffer.concat([this.changeKeyPrefix, counter]).toString('base64');
  }

  /** An iCalendar UID shaped as Exchange's (the Outlook global object id prefix, then random bytes). */
  newICalUId(): string {
    return `040000008200E00074C5B7101A82E00800000000${this.ids.bytes(8).toString('hex').toUpperCase()}000000000000000010000000${this.ids.bytes(16).toString('hex').toUpperCase()}`;
  }

  seedUser(input: SeedUserInput): SimUser {
    const zone = input.timeZone === undefined ? UTC_ZONE : resolveTimeZone(input.timeZone);
    if (!zone) throw new GraphError(400, 'BadRequest', `timeZone '${input.timeZone ?? ''}' is neither a Windows nor an IANA time zone name`);
    const upn = input.userPrincipalName.trim();
    if (!upn.includes('@')) throw new GraphError(400, 'BadRequest', `userPrincipalName '${upn}' must contain '@'`);
    const id = (input.id ?? this.ids.guid()).toLowerCase();
    if (this.mailboxes.has(id)) throw new GraphError(409, 'Conflict', `a user with id ${id} already exists`);
    const mail = (input.mail ?? upn).trim();
    for (const name of [upn, mail]) {
      if (this.byName.has(name.toLowerCase())) throw new GraphError(409, 'Conflict', `a user with address ${name} already exists`);
    }
    const user: SimUser = {
      id,
      userPrincipalName: upn,
      mail,
      displayName: input.displayName ?? upn.split('@')[0] ?? upn,
      givenName: input.givenName ?? null,
      surname: input.surname ?? null,
      timeZone: { ...zone, label: zone.windows },
    };
    const mailbox: Mailbox = {
      user,
      calendarId: this.newItemId(),
      defaultContactFolderId: this.newItemId(),
      defaultTodoListId: this.newItemId(),
      mailFolders: new Map(),
      index: new MultiIndex(),
      transactionIds: new Map(),
    };
    for (const wk of WELL_KNOWN_MAIL_FOLDERS) mailbox.mailFolders.set(wk, this.newItemId());
    this.mailboxes.set(id, mailbox);
    this.byName.set(id, id);
    this.byName.set(upn.toLowerCase(), id);
    this.byName.set(mail.toLowerCase(), id);
    const seedActor: Actor = { kind: 'person', userId: id };
    const folders = this.collection(collectionKeys.mailFolders(id), 'mailFolder', id, id);
    for (const [wk, folderId] of mailbox.mailFolders) {
      this.insert({ id: folderId, kind: 'mailFolder', userId: id, collection: folders, data: { displayName: MAIL_FOLDER_NAMES[wk], wellKnownName: wk }, actor: seedActor, indexKeys: [], silent: true });
    }
    const lists = this.collection(collectionKeys.todoLists(id), 'todoTaskList', id, id);
    this.insert({
      id: mailbox.defaultTodoListId,
      kind: 'todoTaskList',
      userId: id,
      collection: lists,
      data: { displayName: 'Tasks', isOwner: true, isShared: false, wellknownListName: 'defaultList' },
      actor: seedActor,
      indexKeys: [],
      silent: true,
    });
    this.collection(collectionKeys.events(id), 'event', id, mailbox.calendarId);
    this.collection(collectionKeys.contactFolders(id), 'contactFolder', id, mailbox.defaultContactFolderId);
    this.collection(collectionKeys.contacts(id, mailbox.defaultContactFolderId), 'contact', id, mailbox.defaultContactFolderId);
    this.collection(collectionKeys.tasks(id, mailbox.defaultTodoListId), 'todoTask', id, mailbox.defaultTodoListId);
    for (const folderId of mailbox.mailFolders.values()) this.collection(collectionKeys.messages(id, folderId), 'message', id, folderId);
    return user;
  }

  /** The mailbox of a user by id or userPrincipalName (or primary SMTP address), case-insensitive. */
  findMailbox(idOrName: string): Mailbox | undefined {
    const id = this.byName.get(idOrName.toLowerCase());
    return id === undefined ? undefined : this.mailboxes.get(id);
  }

  collection(key: string, kind: ItemKind, userId: string, parentId: string): Collection {
    let c = this.collections.get(key);
    if (!c) {
      c = new Collection(key, kind, userId, parentId);
      this.collections.set(key, c);
    }
    return c;
  }

  dropCollection(key: string): void {
    this.collections.delete(key);
  }

  /** Stores a new item, logs it and notifies listeners (unless `silent`, used for seeded containers). */
  insert<D>(args: {
    id?: string;
    kind: ItemKind;
    userId: string;
    collection: Collection;
    data: D;
    ext?: Map<string, { id: string; value: string }>;
    indexKeys: string[];
    actor: Actor;
    silent?: boolean;
    createdAt?: number;
  }): ItemRecord<D> {
    const now = this.clock.now();
    this.seqCounter += 1;
    const record: ItemRecord<D> = {
      id: args.id ?? this.newItemId(),
      kind: args.kind,
      userId: args.userId,
      collectionKey: args.collection.key,
      parentId: args.collection.parentId,
      createdAt: args.createdAt ?? now,
      modifiedAt: now,
      changeKey: this.newChangeKey(),
      seq: this.seqCounter,
      data: args.data,
      ext: args.ext ?? new Map<string, { id: string; value: string }>(),
      indexKeys: [],
    };
    this.items.set(record.id, record);
    args.collection.ids.add(record.id);
    args.collection.recordChange(record.seq, record.id);
    this.reindex(record, args.indexKeys);
    if (!args.silent) this.emit(record, 'created', args.actor);
    return record;
  }

  /**
   * Marks an item changed after its data was mutated: new change key, timestamp, log entry, notification (none when
   * `silent`: an exception of a series is announced through its master).
   */
  touch(record: ItemRecord, indexKeys: string[], actor: Actor, silent = false): void {
    this.seqCounter += 1;
    record.seq = this.seqCounter;
    record.modifiedAt = Math.max(this.clock.now(), record.modifiedAt);
    record.changeKey = this.newChangeKey();
    record.view = undefined;
    this.collections.get(record.collectionKey)?.recordChange(record.seq, record.id);
    this.reindex(record, indexKeys);
    if (!silent) this.emit(record, 'updated', actor);
  }

  remove(record: ItemRecord, actor: Actor, silent = false): void {
    this.seqCounter += 1;
    this.items.delete(record.id);
    const coll = this.collections.get(record.collectionKey);
    coll?.ids.delete(record.id);
    coll?.recordChange(this.seqCounter, record.id);
    this.reindex(record, []);
    if (!silent) this.emit(record, 'deleted', actor);
  }

  /** The item with this id in this collection, or a Graph 404. */
  get(collectionKey: string, id: string, kindLabel = 'The specified object was not found in the store.'): ItemRecord {
    const record = this.items.get(id);
    if (!record || record.collectionKey !== collectionKey) throw new GraphError(404, 'ErrorItemNotFound', kindLabel);
    return record;
  }

  private reindex(record: ItemRecord, keys: string[]): void {
    const mailbox = this.mailboxes.get(record.userId);
    if (!mailbox) return;
    const prefix = `${record.kind}|`;
    for (const k of record.indexKeys) mailbox.index.remove(prefix + k, record.id);
    for (const k of keys) mailbox.index.add(prefix + k, record.id);
    record.indexKeys = keys;
  }

  private emit(record: ItemRecord, changeType: ChangeNotice['changeType'], actor: Actor): void {
    const notice: ChangeNotice = {
      userId: record.userId,
      kind: record.kind,
      id: record.id,
      changeType,
      collectionKey: record.collectionKey,
      parentId: record.parentId,
      changeKey: record.changeKey,
      actor,
    };
    for (const l of this.listeners) l(notice);
  }
}
