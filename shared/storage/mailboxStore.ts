// The mailbox registry: each enabled mailbox with its identities on both sides, its time zone, what it syncs, and
// its state. The worker reads it to decide scope (which mailboxes a Dataverse record reaches).
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { kindNames } from '../sync/kinds/index.js';
import { checkedKey, getEntityOrUndefined, translateTableError } from './tables.js';

/**
 * `paused`: an outage outlasted the retries; changes wait on Service Bus until `pausedUntil` and the first one tried
 * then resumes it. `blocked`: a permanent cause of the mailbox (`stateReason` names it); pairs are kept and its work
 * is skipped until an operator runs `mailbox enable` again (shared/sync/errorPolicy.ts).
 */
export const mailboxStates = ['backfilling', 'active', 'degraded', 'paused', 'blocked', 'disabled'] as const;
export type MailboxState = (typeof mailboxStates)[number];
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

/** The registry as read, with the indexes every change looks mailboxes up by (built once per read, not per change). */
interface RegistryCache {
  at: number;
  list: Mailbox[];
  /** Enabled (not disabled) mailboxes by Dataverse systemuserid. */
  bySystemUser: ReadonlyMap<string, Mailbox>;
  systemUsers: ReadonlySet<string>;
  /** Enabled mailboxes by Entra object id, SMTP address and UPN (lower case). */
  byKey: ReadonlyMap<string, Mailbox>;
  /** Every registered mailbox (disabled ones too) by SMTP address and UPN (lower case). */
  byAddress: ReadonlyMap<string, Mailbox>;
}

function indexed(list: Mailbox[]): RegistryCache {
  const bySystemUser = new Map<string, Mailbox>();
  const byKey = new Map<string, Mailbox>();
  const byAddress = new Map<string, Mailbox>();
  for (const m of list) {
    for (const key of [m.userPrincipalName, m.address]) if (!byAddress.has(key.toLowerCase())) byAddress.set(key.toLowerCase(), m);
    if (m.state === 'disabled') continue;
    bySystemUser.set(m.systemUserId.toLowerCase(), m);
    for (const key of [m.userPrincipalName, m.address, m.id]) byKey.set(key.toLowerCase(), m);
  }
  return { at: Date.now(), list, bySystemUser, systemUsers: new Set(bySystemUser.keys()), byKey, byAddress };
}

export class MailboxStore {
  private cache: RegistryCache | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly cacheMs = 15_000,
    private readonly initialSchedule: InitialSchedule = dueNow,
    /** The runtime's clock (the schedule is compared with it). */
    private readonly now: () => Date = () => new Date(),
  ) {}

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

  /** Creates or replaces a mailbox row. */
  async put(mailbox: Mailbox): Promise<void> {
    const data = mailboxSchema.parse({ ...mailbox, updatedOn: new Date().toISOString() });
    try {
      const rowKey = checkedKey(data.id.toLowerCase(), 'mailbox id');
      // A mailbox (re-)registered starts its schedule afresh: due at once, reconciliation at its place in the period.
      await this.table.upsertEntity({ partitionKey: partition, rowKey, data: JSON.stringify(data), state: data.state, ...this.scheduleColumns(rowKey, undefined) }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
    this.cache = undefined;
  }

  /**
   * Changes some fields of a mailbox row without overwriting concurrent changes to the others: read, merge,
   * replace conditional on the row's etag, and start over when someone else wrote in between.
   */
  async patch(id: string, fields: Partial<Omit<Mailbox, 'id'>>): Promise<Mailbox | undefined> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entity = await getEntityOrUndefined<Row>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
      if (!entity) return undefined;
      const next = mailboxSchema.parse({ ...mailboxSchema.parse(JSON.parse(entity.data)), ...fields, updatedOn: new Date().toISOString() });
      try {
        // Merge: the schedule columns the work queue writes are kept (and a row from before scheduling gains them).
        await this.table.updateEntity(
          { partitionKey: partition, rowKey: next.id.toLowerCase(), data: JSON.stringify(next), state: next.state, ...this.scheduleColumns(next.id.toLowerCase(), entity) },
          'Merge',
          { etag: entity.etag },
        );
        this.cache = undefined;
        return next;
      } catch (error) {
        const translated = translateTableError(error);
        if (!(translated instanceof SyncError && translated.code === 'PreconditionFailed')) throw translated;
      }
    }
    throw new SyncError('PreconditionFailed', `mailbox ${id} kept changing; could not update it`);
  }

  /** Every registered mailbox (cached briefly: the registry changes rarely and is read for every change). */
  async list(options: { fresh?: boolean } = {}): Promise<Mailbox[]> {
    return (await this.registry(options)).list;
  }

  private async registry(options: { fresh?: boolean } = {}): Promise<RegistryCache> {
    if (!options.fresh && this.cache && Date.now() - this.cache.at < this.cacheMs) return this.cache;
    const list: Mailbox[] = [];
    try {
      for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['data'] } })) {
        list.push(mailboxSchema.parse(JSON.parse(row.data)));
      }
    } catch (error) {
      throw translateTableError(error);
    }
    this.cache = indexed(list);
    return this.cache;
  }

  /** Mailboxes that sync (not disabled), by Dataverse systemuserid: a map kept with the cache, not built per call. */
  async enabledBySystemUser(): Promise<ReadonlyMap<string, Mailbox>> {
    return (await this.registry()).bySystemUser;
  }

  /** The systemuserids of the mailboxes that sync. */
  async enabledSystemUsers(): Promise<ReadonlySet<string>> {
    return (await this.registry()).systemUsers;
  }

  /** A registered mailbox (enabled or not) by SMTP address or UPN. */
  async findKnown(address: string): Promise<Mailbox | undefined> {
    return (await this.registry()).byAddress.get(address.toLowerCase());
  }

  /** An enabled mailbox by Entra object id or by SMTP address / UPN (one map look-up). */
  async findEnabled(idOrAddress: string): Promise<Mailbox | undefined> {
    return (await this.registry()).byKey.get(idOrAddress.toLowerCase());
  }

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
