// The simulator's storage: every item in one id map, grouped into collections (a calendar, a contact folder, a
// To Do list, a mail folder) that keep a change log for delta rounds, and per-mailbox hash indexes for the
// equality filters the product uses. Nothing here scans all items of a mailbox per request.
import type { ResolvedZone } from './timeZones.js';

export type ItemKind = 'event' | 'contact' | 'contactFolder' | 'todoTaskList' | 'todoTask' | 'message' | 'mailFolder';

/** One stored Graph item. `data` is kind-specific state; `ext` holds singleValueExtendedProperties by normalised id. */
export interface ItemRecord<D = unknown> {
  id: string;
  kind: ItemKind;
  userId: string;
  collectionKey: string;
  parentId: string;
  createdAt: number;
  modifiedAt: number;
  changeKey: string;
  seq: number;
  data: D;
  ext: Map<string, { id: string; value: string }>;
  indexKeys: string[];
  /** The full Graph JSON in UTC, rebuilt lazily after each write. */
  view?: Record<string, unknown>;
}

/** A directory user with a mailbox. */
export interface SimUser {
  id: string;
  userPrincipalName: string;
  mail: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  timeZone: ResolvedZone;
}

/** Set-valued hash index: key -> item ids. */
export class MultiIndex {
  private readonly map = new Map<string, Set<string>>();

  add(key: string, id: string): void {
    let set = this.map.get(key);
    if (!set) {
      set = new Set();
      this.map.set(key, set);
    }
    set.add(id);
  }

  remove(key: string, id: string): void {
    const set = this.map.get(key);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.map.delete(key);
  }

  get(key: string): ReadonlySet<string> {
    return this.map.get(key) ?? EMPTY;
  }

  clear(): void {
    this.map.clear();
  }
}
const EMPTY: ReadonlySet<string> = new Set();

/** Items of one container in insertion order, with an append-only change log (sequence, id) for delta. */
export class Collection {
  readonly ids = new Set<string>();
  private readonly logSeq: number[] = [];
  private readonly logIds: string[] = [];

  constructor(
    readonly key: string,
    readonly kind: ItemKind,
    readonly userId: string,
    readonly parentId: string,
  ) {}

  recordChange(seq: number, id: string): void {
    this.logSeq.push(seq);
    this.logIds.push(id);
  }

  /** Ids changed (created, updated or removed) after `seq`, each once, in order of their last change. */
  changedSince(seq: number): string[] {
    let lo = 0;
    let hi = this.logSeq.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.logSeq[mid] as number) <= seq) lo = mid + 1;
      else hi = mid;
    }
    const lastIndex = new Map<string, number>();
    for (let i = lo; i < this.logIds.length; i += 1) lastIndex.set(this.logIds[i] as string, i);
    return [...lastIndex.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  }
}

/** Per-mailbox state: the user, the ids of default containers, and the filter indexes. */
export interface Mailbox {
  user: SimUser;
  calendarId: string;
  defaultContactFolderId: string;
  defaultTodoListId: string;
  mailFolders: Map<string, string>;
  /** `<kind>|<hint key>` -> ids (see odataFilter.indexHints). */
  index: MultiIndex;
  transactionIds: Map<string, string>;
  /**
   * What Graph answers for the mailbox when it is not reachable: `removed` (the user was deleted: ErrorInvalidUser),
   * `unlicensed` (the Exchange license was removed: MailboxNotEnabledForRESTAPI), `accessPolicy` (an application
   * access policy leaves it out: 403 ErrorAccessDenied "Access to OData is disabled"). Unset: reachable.
   */
  unavailable?: MailboxUnavailability;
}

export const mailboxUnavailabilities = ['removed', 'unlicensed', 'accessPolicy'] as const;
export type MailboxUnavailability = (typeof mailboxUnavailabilities)[number];
