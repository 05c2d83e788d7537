// The mailbox registry: each enabled mailbox with its identities on both sides, its time zone, what it syncs, and
// its state. The worker reads it to decide scope (which mailboxes a Dataverse record reaches).
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { kindNames } from '../sync/kinds/index.js';
import { BoundedCache } from '../boundedCache.js';
import { buildOnce, checkedKey, encodeKey, getEntityOrUndefined, tableKeyProblem, tableStatus, translateTableError } from './tables.js';

/**
 * `paused`: an outage outlasted the retries; changes wait on Service Bus until `pausedUntil` and the first one tried
 * then resumes it. `blocked`: a permanent cause of the mailbox (`stateReason` names it); pairs are kept and its work
 * is skipped until an operator runs `mailbox enable` again (shared/sync/errorPolicy.ts).
 */
export const mailboxStates = ['backfilling', 'active', 'degraded', 'paused', 'blocked', 'disabled'] as const;
export type MailboxState = (typeof mailboxStates)[number];
/**
 * The states that stop a mailbox's sync until something changes (the "mailbox needs attention" alert,
 * infra/modules/alerts.bicep; shared/telemetry mailboxNeedsAttention says the same).
 */
export const attentionStates = ['degraded', 'paused', 'blocked'] as const satisfies readonly MailboxState[];
/** What a mailbox may sync: the kinds of shared/sync/kinds/. */
export const syncedEntities = kindNames;

export const mailboxSchema = z.object({
  /** Entra object id of the user (Graph /users/{id}). */
  id: z.string().min(1),
  userPrincipalName: z.string().min(3),
  /** Primary SMTP address. */
  address: z.string().min(3),
  /** systemuserid of the same person in Dataverse. */
  systemUserId: z.string().min(1),
  /** IANA time zone of the mailbox (from Graph mailboxSettings). */
  timeZone: z.string().min(1),
  entities: z.array(z.enum(syncedEntities)),
  state: z.enum(mailboxStates),
  stateReason: z.string().optional(),
  /** While paused: when the pause ends (ISO 8601 UTC) and how long it was, so the next one doubles it. */
  pausedUntil: z.string().optional(),
  pauseSeconds: z.number().int().min(0).optional(),
  /** While blocked: the stable code of the cause (shared/sync/errorPolicy.ts blockCodes). */
  blockCode: z.string().optional(),
  /** Default To Do list, where Dataverse tasks are created. */
  defaultTodoListId: z.string().optional(),
  updatedOn: z.string().optional(),
});
export type Mailbox = z.infer<typeof mailboxSchema>;

const partition = 'mailbox';

/**
 * The periodic tasks scheduled on each mailbox row (shared/sync/work.ts). Each has two columns beside the mailbox's
 * data: `<task>DueAt`, when it is next due (ISO 8601 UTC, so a string comparison in a query orders them), and
 * `<task>Running`, when its work was enqueued ('' when none is outstanding). The To Do poll also keeps its current
 * interval in `pollTodoIntervalSeconds` (adaptive polling).
 */
export const scheduledTasks = ['pollTodo', 'reconcile', 'renew'] as const;
export type ScheduledTask = (typeof scheduledTasks)[number];
const dueColumn = (task: ScheduledTask) => `${task}DueAt` as const;
const runningColumn = (task: ScheduledTask) => `${task}Running` as const;
const intervalColumn = 'pollTodoIntervalSeconds';

/** When each task of a mailbox is first due (the runtime decides: e.g. reconciliation spread over its period). */
export type InitialSchedule = (mailboxId: string, now: Date) => Record<ScheduledTask, Date>;

const dueNow: InitialSchedule = (_id, now) => ({ pollTodo: now, reconcile: now, renew: now });

/** A mailbox due for a task, with its schedule. */
export interface DueMailbox {
  mailbox: Mailbox;
  dueAt: string;
  /** The To Do poll's current interval (seconds), when one was recorded. */
  intervalSeconds?: number | undefined;
}

type Row = { data: string; state?: string } & Partial<Record<string, string | number>>;

// The index a change looks mailboxes up by, in the same table: one row per (key, mailbox), RowKey "<key>|<mailbox
// id>", so a range query of one key answers with its mailboxes however large the registry (issue 19 item 5). A row
// only points at a mailbox: every answer is checked against the mailbox's own row, so a row left behind (a write
// that failed half-way, a reassignment another instance made) can never make a wrong answer, only a miss.
const systemUserPartition = 'bySystemUser';
const addressPartition = 'byAddress';
/** Its row says the index was built for every mailbox (a registry from before the index has none: see ensureIndex). */
const indexMarker = { partitionKey: 'index', rowKey: 'v1' } as const;

interface IndexRow {
  partitionKey: string;
  rowKey: string;
}

/** The index rows of a mailbox: its system user, its SMTP address and its UPN (addresses base64url: any character). */
function indexRowsOf(m: Pick<Mailbox, 'id' | 'systemUserId' | 'address' | 'userPrincipalName'>): IndexRow[] {
  const id = m.id.toLowerCase();
  const rows = new Map<string, IndexRow>();
  const add = (partitionKey: string, key: string) => rows.set(`${partitionKey}/${key}`, { partitionKey, rowKey: checkedKey(`${key}|${id}`, 'mailbox index key') });
  add(systemUserPartition, encodeKey(m.systemUserId.toLowerCase()));
  for (const address of [m.address, m.userPrincipalName]) add(addressPartition, encodeKey(address.toLowerCase()));
  return [...rows.values()];
}

const sameRow = (a: IndexRow, b: IndexRow) => a.partitionKey === b.partitionKey && a.rowKey === b.rowKey;

/** Look-ups cached per process: at most this many keys, each for the store's cache time. */
const lookupCacheEntries = 10_000;

export class MailboxStore {
  /** System user or address -> the ids of the mailboxes its index rows name (an empty list is a cached miss). */
  private readonly lookups: BoundedCache<string, readonly string[]>;
  /**
   * Mailbox rows seen enabled. Only those: the engine reads a mailbox again before it writes for it, so a cached
   * enabled row that was disabled meanwhile costs nothing wrong, while a cached disabled one would drop the changes
   * of a mailbox enabled again on another instance until it expired.
   */
  private readonly rows: BoundedCache<string, Mailbox>;

  constructor(
    private readonly table: TableClient,
    private readonly cacheMs = 15_000,
    private readonly initialSchedule: InitialSchedule = dueNow,
    /** The runtime's clock (the schedule is compared with it). */
    private readonly now: () => Date = () => new Date(),
    /**
     * Told of every mailbox row this store wrote with another state than it had (a new row too), after the write:
     * the runtime records the attention gauge from it, so the gauge follows the state changes themselves instead of
     * a read of the whole registry (shared/runtime.ts). It must not throw.
     */
    private readonly onStateChange: (mailbox: Mailbox) => void = () => undefined,
  ) {
    // Aged by the wall clock, not the runtime's: a test's frozen clock must not keep a look-up forever.
    this.lookups = new BoundedCache(lookupCacheEntries, cacheMs);
    this.rows = new BoundedCache(lookupCacheEntries, cacheMs);
  }

  /** The schedule columns of a new row, or those a row written before scheduling existed lacks. */
  private scheduleColumns(id: string, existing: Row | undefined): Record<string, string> {
    const first = this.initialSchedule(id, this.now());
    const columns: Record<string, string> = {};
    for (const task of scheduledTasks) {
      const due = existing?.[dueColumn(task)];
      columns[dueColumn(task)] = typeof due === 'string' && due ? due : first[task].toISOString();
      const running = existing?.[runningColumn(task)];
      columns[runningColumn(task)] = typeof running === 'string' ? running : '';
    }
    return columns;
  }

  async get(id: string): Promise<Mailbox | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
    return entity ? mailboxSchema.parse(JSON.parse(entity.data)) : undefined;
  }

  /** Creates or replaces a mailbox row (and its index rows: the new ones before the row, the old ones after it). */
  async put(mailbox: Mailbox): Promise<void> {
    const data = mailboxSchema.parse({ ...mailbox, updatedOn: new Date().toISOString() });
    // The index is built (or found built) before a row is added: a registry that starts empty is then marked built
    // by its first put, and no later look-up scans it (the marker was written only by a look-up's scan, so every
    // new deployment listed its whole registry once).
    await this.ensureIndex();
    const before = await this.get(data.id);
    await this.writeIndex(data);
    try {
      const rowKey = checkedKey(data.id.toLowerCase(), 'mailbox id');
      // A mailbox (re-)registered starts its schedule afresh: due at once, reconciliation at its place in the period.
      await this.table.upsertEntity({ partitionKey: partition, rowKey, data: JSON.stringify(data), state: data.state, ...this.scheduleColumns(rowKey, undefined) }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
    if (before) await this.dropIndex(before, data);
    this.clearCaches();
    if (before?.state !== data.state) this.onStateChange(data);
  }

  /**
   * Changes some fields of a mailbox row without overwriting concurrent changes to the others: read, merge,
   * replace conditional on the row's etag, and start over when someone else wrote in between.
   */
  async patch(id: string, fields: Partial<Omit<Mailbox, 'id'>>): Promise<Mailbox | undefined> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entity = await getEntityOrUndefined<Row>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
      if (!entity) return undefined;
      const previous = mailboxSchema.parse(JSON.parse(entity.data));
      const next = mailboxSchema.parse({ ...previous, ...fields, updatedOn: new Date().toISOString() });
      // Only a change of the system user or an address moves index rows (a pause, a block, a list id do not).
      const moved = indexRowsOf(previous).some((r) => !indexRowsOf(next).some((n) => sameRow(r, n)));
      if (moved) await this.writeIndex(next);
      try {
        // Merge: the schedule columns the work queue writes are kept (and a row from before scheduling gains them).
        await this.table.updateEntity(
          { partitionKey: partition, rowKey: next.id.toLowerCase(), data: JSON.stringify(next), state: next.state, ...this.scheduleColumns(next.id.toLowerCase(), entity) },
          'Merge',
          { etag: entity.etag },
        );
        if (moved) await this.dropIndex(previous, next);
        this.clearCaches();
        if (previous.state !== next.state) this.onStateChange(next);
        return next;
      } catch (error) {
        const translated = translateTableError(error);
        if (!(translated instanceof SyncError && translated.code === 'PreconditionFailed')) throw translated;
      }
    }
    throw new SyncError('PreconditionFailed', `mailbox ${id} kept changing; could not update it`);
  }

  /**
   * Every registered mailbox, read afresh: operator commands, the doctor and the benchmark's "before" loops. The
   * periodic work pages by schedule or state (duePage, inStatesPage) and a change looks up by index instead.
   */
  async list(): Promise<Mailbox[]> {
    const list: Mailbox[] = [];
    try {
      for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['data'] } })) {
        list.push(mailboxSchema.parse(JSON.parse(row.data)));
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return list;
  }

  /**
   * One page of the mailboxes in one of these states, and the token of the next page: the attention gauge's pass
   * (shared/sync/work.ts) reads the few mailboxes that need attention, never the whole registry in one call. The
   * state is a column of the row, so the service filters; Table Storage pages the answer (at most 1,000 rows).
   * https://learn.microsoft.com/rest/api/storageservices/query-timeout-and-pagination
   */
  async inStatesPage(states: readonly MailboxState[], options: { pageSize: number; continuation?: string | undefined }): Promise<{ mailboxes: Mailbox[]; continuation?: string | undefined }> {
    if (states.length === 0) return { mailboxes: [] };
    // The states are of the closed set mailboxStates (checked): no other input reaches the filter.
    const known = states.filter((s) => (mailboxStates as readonly string[]).includes(s));
    const filter = `${odata`PartitionKey eq ${partition}`} and (${known.map((s) => odata`state eq ${s}`).join(' or ')})`;
    try {
      const pages = this.table.listEntities<{ data: string }>({ queryOptions: { filter, select: ['data'] } }).byPage({ maxPageSize: options.pageSize, ...(options.continuation ? { continuationToken: options.continuation } : {}) });
      const first = await pages.next();
      if (first.done) return { mailboxes: [] };
      const mailboxes: Mailbox[] = [];
      for (const row of first.value) {
        const parsed = mailboxSchema.safeParse(JSON.parse(row.data));
        if (parsed.success) mailboxes.push(parsed.data);
      }
      return { mailboxes, continuation: first.value.continuationToken };
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /**
   * The mailboxes that sync (not disabled) of these Dataverse systemuserids, by systemuserid: one index look-up per
   * user the cache does not hold, whatever the size of the registry.
   */
  async enabledBySystemUsers(systemUserIds: Iterable<string>): Promise<ReadonlyMap<string, Mailbox>> {
    const out = new Map<string, Mailbox>();
    for (const raw of new Set([...systemUserIds].map((id) => id.toLowerCase()))) {
      const found = (await this.indexed(systemUserPartition, raw)).find((m) => m.systemUserId.toLowerCase() === raw && m.state !== 'disabled');
      if (found) out.set(raw, found);
    }
    return out;
  }

  /** A registered mailbox (enabled or not, an enabled one first) by SMTP address or UPN. */
  async findKnown(address: string): Promise<Mailbox | undefined> {
    const key = address.toLowerCase();
    const named = (await this.indexed(addressPartition, key)).filter((m) => m.address.toLowerCase() === key || m.userPrincipalName.toLowerCase() === key);
    return named.find((m) => m.state !== 'disabled') ?? named[0];
  }

  /**
   * A registered mailbox in any state by Entra object id or by SMTP address / UPN, from its row or the address index
   * (an operator's `mailbox disable` of one mailbox read the whole registry to find it).
   */
  async find(idOrAddress: string): Promise<Mailbox | undefined> {
    const key = idOrAddress.toLowerCase();
    if (key.includes('@')) return this.findKnown(key);
    return tableKeyProblem(key) ? undefined : this.get(key);
  }

  /** An enabled mailbox by Entra object id or by SMTP address / UPN. */
  async findEnabled(idOrAddress: string): Promise<Mailbox | undefined> {
    const key = idOrAddress.toLowerCase();
    // An Entra object id has no @, an address always has one: one look-up, never both.
    if (key.includes('@')) {
      const known = await this.findKnown(key);
      return known && known.state !== 'disabled' ? known : undefined;
    }
    if (tableKeyProblem(key)) return undefined;
    const m = await this.cachedRow(key);
    return m && m.state !== 'disabled' ? m : undefined;
  }

  private clearCaches(): void {
    this.lookups.clear();
    this.rows.clear();
  }

  /** A mailbox row, from the cache when it was seen enabled lately. */
  private async cachedRow(id: string): Promise<Mailbox | undefined> {
    const hit = this.rows.get(id.toLowerCase());
    if (hit) return hit;
    const m = await this.get(id);
    if (m && m.state !== 'disabled') this.rows.set(id.toLowerCase(), m);
    return m;
  }

  /** The mailboxes an index key points at, read from their own rows (the key's ids cached, an empty list a cached miss). */
  private async indexed(indexPartition: string, key: string): Promise<readonly Mailbox[]> {
    const cacheKey = `${indexPartition}:${key}`;
    let ids = this.lookups.get(cacheKey);
    if (!ids) {
      await this.ensureIndex();
      const prefix = encodeKey(key);
      const found: string[] = [];
      try {
        // "|" sorts after every base64url character, "}" right after "|": the range holds exactly this key's rows.
        const filter = odata`PartitionKey eq ${indexPartition} and RowKey ge ${`${prefix}|`} and RowKey lt ${`${prefix}}`}`;
        for await (const row of this.table.listEntities<{ mailboxId: string }>({ queryOptions: { filter, select: ['mailboxId'] } })) found.push(row.mailboxId);
      } catch (error) {
        throw translateTableError(error);
      }
      ids = found;
      this.lookups.set(cacheKey, ids);
    }
    return (await Promise.all(ids.map((id) => this.cachedRow(id)))).filter((m): m is Mailbox => m !== undefined);
  }

  private async writeIndex(m: Mailbox): Promise<void> {
    try {
      await Promise.all(indexRowsOf(m).map((row) => this.table.upsertEntity({ ...row, mailboxId: m.id.toLowerCase() }, 'Replace')));
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /** Deletes the index rows `before` had and `after` has not (a reassigned system user, a changed address). */
  private async dropIndex(before: Mailbox, after: Mailbox): Promise<void> {
    const keep = indexRowsOf(after);
    for (const row of indexRowsOf(before).filter((r) => !keep.some((k) => sameRow(r, k)))) {
      try {
        await this.table.deleteEntity(row.partitionKey, row.rowKey);
      } catch (error) {
        // Already gone is the expected answer; anything else leaves a row every look-up checks and ignores.
        if (tableStatus(error) !== 404) throw translateTableError(error);
      }
    }
  }

  /**
   * A registry written before the index existed has no index rows: the first look-up or put of the process builds
   * them from one scan and marks the index built, so such a deployment scans once (every later put keeps the index
   * itself); a registry that starts empty is marked by its first put, over an empty scan.
   * Two instances building at once write the same rows.
   */
  private readonly ensureIndex = buildOnce(
    () => this.table,
    indexMarker,
    async () => {
      const all = await this.list();
      for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map((m) => this.writeIndex(m)));
    },
    () => this.now(),
  );

  // ----------------------------------------------------------------------------------------------------------
  // The schedule of the periodic tasks (shared/sync/work.ts)
  // ----------------------------------------------------------------------------------------------------------

  /**
   * One page of the mailboxes (not disabled) whose task (the parameter) is due at `now`, and the token of the next page. Table
   * Storage pages a query by itself (at most 1,000 rows a page), so no call reads the whole registry.
   * https://learn.microsoft.com/rest/api/storageservices/query-timeout-and-pagination
   */
  async duePage(task: ScheduledTask, now: Date, options: { pageSize: number; continuation?: string | undefined }): Promise<{ due: DueMailbox[]; continuation?: string | undefined }> {
    // The column is one of a closed set and the time an ISO string (no quote in either): no input reaches the filter.
    const filter = `${odata`PartitionKey eq ${partition} and state ne ${'disabled'}`} and ${dueColumn(task)} le '${now.toISOString()}'`;
    try {
      const pages = this.table.listEntities<Row>({ queryOptions: { filter, select: ['data', dueColumn(task), intervalColumn] } }).byPage({ maxPageSize: options.pageSize, ...(options.continuation ? { continuationToken: options.continuation } : {}) });
      const first = await pages.next();
      if (first.done) return { due: [] };
      const page = first.value;
      const due: DueMailbox[] = [];
      for (const row of page) {
        const parsed = mailboxSchema.safeParse(JSON.parse(row.data));
        if (!parsed.success) continue;
        const interval = row[intervalColumn];
        due.push({ mailbox: parsed.data, dueAt: String(row[dueColumn(task)]), intervalSeconds: typeof interval === 'number' ? interval : undefined });
      }
      return { due, continuation: page.continuationToken };
    } catch (error) {
      throw translateTableError(error);
    }
  }

  /**
   * Marks the task of these mailboxes enqueued: not due again until `until` (the work message's time to live), so a
   * run still going when the next sweep comes is not doubled. One entity-group transaction per 100 rows.
   */
  async markEnqueued(task: ScheduledTask, ids: string[], now: Date, until: Date): Promise<void> {
    for (let i = 0; i < ids.length; i += 100) {
      const actions: TransactionAction[] = ids.slice(i, i + 100).map((id) => ['update', { partitionKey: partition, rowKey: checkedKey(id.toLowerCase(), 'mailbox id'), [dueColumn(task)]: until.toISOString(), [runningColumn(task)]: now.toISOString() }, 'Merge']);
      try {
        await this.table.submitTransaction(actions);
      } catch (error) {
        throw translateTableError(error);
      }
    }
  }

  /** Records a task done: due again at `next`, nothing outstanding; the To Do poll also stores its interval. */
  async markDone(task: ScheduledTask, id: string, next: Date, intervalSeconds?: number): Promise<void> {
    const entity = { partitionKey: partition, rowKey: checkedKey(id.toLowerCase(), 'mailbox id'), [dueColumn(task)]: next.toISOString(), [runningColumn(task)]: '', ...(intervalSeconds !== undefined ? { [intervalColumn]: intervalSeconds } : {}) };
    try {
      await this.table.updateEntity(entity, 'Merge');
    } catch (error) {
      const translated = translateTableError(error);
      // The mailbox was removed while its work ran: nothing to schedule.
      if (!(translated instanceof SyncError && translated.code === 'NotFound')) throw translated;
    }
  }

  /** The To Do poll's current interval (seconds), when one was recorded. */
  async pollInterval(id: string): Promise<number | undefined> {
    const entity = await getEntityOrUndefined<Row>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
    const interval = entity?.[intervalColumn];
    return typeof interval === 'number' ? interval : undefined;
  }

  /**
   * A change of the mailbox was synced (either direction): its To Do poll goes back to the shortest interval, and
   * is due within it unless a poll is outstanding (that poll's completion then uses the short interval).
   * Conditional on the row's etag; a concurrent writer wins, since it can only have scheduled the poll too.
   */
  async noteActivity(id: string, now: Date, minSeconds: number): Promise<void> {
    const entity = await getEntityOrUndefined<Row>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
    if (!entity) return;
    const interval = entity[intervalColumn];
    if (typeof interval === 'number' && interval <= minSeconds) return;
    const soon = new Date(now.getTime() + minSeconds * 1000).toISOString();
    const due = String(entity[dueColumn('pollTodo')] ?? '');
    const outstanding = typeof entity[runningColumn('pollTodo')] === 'string' && entity[runningColumn('pollTodo')] !== '';
    const update = { partitionKey: partition, rowKey: entity.rowKey!, [intervalColumn]: minSeconds, ...(!outstanding && (!due || due > soon) ? { [dueColumn('pollTodo')]: soon } : {}) };
    try {
      await this.table.updateEntity(update, 'Merge', { etag: entity.etag });
    } catch (error) {
      const translated = translateTableError(error);
      if (!(translated instanceof SyncError && (translated.code === 'PreconditionFailed' || translated.code === 'NotFound'))) throw translated;
    }
  }
}
