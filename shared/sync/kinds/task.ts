// Tasks, phone calls, letters and faxes <-> To Do tasks in the mailbox's default list, on the mapping of
// shared/mapping/task.ts (https://learn.microsoft.com/power-platform/admin/sync-logic: fax, letter, phone call and
// task sync as Exchange tasks). To Do has no change notifications here: the reconciliation polls it.
import { SyncError } from '../../errors.js';
import {
  activityToTodoTask,
  dataverseBodyFromSnapshot,
  exchangeBodyFromSnapshot,
  fieldTables,
  isTrackedInExchange,
  shouldDeleteTodoTask,
  snapshotFromDataverse,
  snapshotFromExchange,
  todoTaskToTask,
} from '../../mapping/index.js';
import type { TodoTask } from '@microsoft/microsoft-graph-types';
import type { Runtime } from '../../runtime.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import { recordIdForExchangeItem } from '../ids.js';
import { activityPartiesOf, directionsOfTable, itemCandidate, myActivitiesFilter, notFound, orUndefined, ownerAndParties, readActivity, stampOf } from './common.js';
import type { GraphItem, SyncKind } from './types.js';

const directions = directionsOfTable(fieldTables.task);

/** Party-list columns of the activities synced as To Do tasks: no field maps them, but scope does (a party is in "My Activities"). */
const partyColumnsByTable: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  phonecall: { from: 1, to: 2 },
  letter: { from: 1, to: 2, cc: 3, bcc: 4 },
  fax: { from: 1, to: 2 },
};

/** The mailbox's default To Do list ("Tasks"), remembered in the registry. */
export async function defaultTodoList(rt: Runtime, mailbox: Mailbox): Promise<string> {
  if (mailbox.defaultTodoListId) return mailbox.defaultTodoListId;
  const lists = await rt.graph.listTodoLists(mailbox.id);
  const list = lists.find((l) => l.wellknownListName === 'defaultList') ?? lists[0];
  if (!list?.id) throw new SyncError('NotFound', `mailbox ${mailbox.id} has no To Do list`);
  // Only this field: the row may have changed since `mailbox` was read (state, backfill progress).
  await rt.mailboxes.patch(mailbox.id, { defaultTodoListId: list.id });
  mailbox.defaultTodoListId = list.id;
  return list.id;
}

/** Cursor scopes of the To Do rounds: a delta link per mailbox and list, and the lists a mailbox had last time. */
const todoDeltaScope = 'todoDelta';
const todoListsScope = 'todoLists';

/** The mailbox's To Do lists that have an id. */
async function todoLists(rt: Runtime, mailbox: Mailbox) {
  return (await rt.graph.listTodoLists(mailbox.id)).filter((l): l is typeof l & { id: string } => typeof l.id === 'string');
}

export const taskKind: SyncKind<'task'> = {
  name: 'task',
  tables: ['task', 'phonecall', 'letter', 'fax'],
  primaryKey: 'activityid',
  partyNavigation: activityPartiesOf,
  partyColumns: (table) => partyColumnsByTable[table] ?? {},
  resource: 'todoTask',
  subscription: undefined,
  // The To Do mapping reads percentcomplete where it exists: only the task table has it (shared/mapping/task.ts).
  hasColumn: (table, column) => column !== 'percentcomplete' || table === 'task',
  extraColumns: [],
  fields: fieldTables.task,
  directions,

  snapshotFromDataverse: (record, ctx) => snapshotFromDataverse('task', record, ctx),
  snapshotFromExchange: (item, ctx) => snapshotFromExchange('task', item, ctx),
  exchangeCreate: (record, ctx) => ({ body: activityToTodoTask(record, ctx), unsyncedFields: [] }),
  dataverseCreate: (item, ctx) => todoTaskToTask(item as TodoTask, ctx),
  exchangeBody: (fields, ctx, current) => exchangeBodyFromSnapshot('task', fields as never, ctx, current),
  dataverseBody: (fields, ctx, current) => dataverseBodyFromSnapshot('task', fields as never, ctx, current),

  exchange: {
    get: async (rt, mailbox, id, listId) => orUndefined(async () => rt.graph.getTodoTask(mailbox.id, listId ?? (await defaultTodoList(rt, mailbox)), id), notFound),
    async create(rt, mailbox, create, record, dataverseId) {
      const listId = await defaultTodoList(rt, mailbox);
      const title = typeof record.subject === 'string' ? record.subject : 'Dynamics 365 activity';
      return { item: await rt.graph.createTodoTask(mailbox.id, listId, create.body as TodoTask, dataverseId, title), listId };
    },
    update: async (rt, mailbox, pair, patch, ifMatch) =>
      rt.graph.updateTodoTask(mailbox.id, pair.exchangeListId ?? (await defaultTodoList(rt, mailbox)), pair.exchangeId!, patch as TodoTask, ifMatch),
    remove: async (rt, mailbox, pair) => rt.graph.deleteTodoTask(mailbox.id, pair.exchangeListId ?? (await defaultTodoList(rt, mailbox)), pair.exchangeId!),
    async findExisting(rt, mailbox, _record, dataverseId, _ctx, retrying) {
      // Only after an attempt whose answer may be lost: the task linked to this record.
      if (!retrying) return undefined;
      const listId = await defaultTodoList(rt, mailbox);
      const item = await rt.graph.findTodoTask(mailbox.id, listId, dataverseId);
      return item ? { item, how: 'adopt', listId } : undefined;
    },
    stampOf,
  },
  dataverse: {
    get: (rt, table, id) => readActivity(rt, table, id),
    findLinkTarget: () => Promise.resolve(undefined),
    findExisting: () => Promise.resolve([]),
  },
  backfill: {
    async listRecords(rt, mailbox, table, window) {
      // "My Activities" due in the window, or with no due date.
      const filter = `${myActivitiesFilter(table, mailbox.systemUserId)} and (scheduledend eq null or (scheduledend ge ${window.start.toISOString()} and scheduledend le ${window.end.toISOString()}))`;
      const rows = await rt.dataverse.query(table, { filter, select: ['activityid'] });
      return rows.map((r) => ({ entity: table, id: String(r.activityid).toLowerCase(), etag: r['@odata.etag'] }));
    },
    async listItems(rt, mailbox) {
      // Every list, as the To Do poll does: a tracked task in any list syncs.
      const out = [];
      for (const list of await todoLists(rt, mailbox)) {
        for (const t of await rt.graph.listTodoTasks(mailbox.id, list.id)) if (t.id) out.push(itemCandidate(taskKind, t as GraphItem & { id: string }, [], list.id));
      }
      return out;
    },
    // A task has nothing to match besides the stamp (To Do tasks have no shared identity with Dataverse).
    match: () => undefined,
    async prepare(rt, mailbox) {
      // Record the default list before the worker needs it: the engine otherwise looks it up on the first create.
      if (mailbox.defaultTodoListId) return;
      const listId = (await rt.graph.listTodoLists(mailbox.id)).find((l) => l.wellknownListName === 'defaultList')?.id;
      if (listId) await rt.mailboxes.patch(mailbox.id, { defaultTodoListId: listId });
    },
  },
  delta: {
    collection: 'todo',
    /**
     * The delta of every list of the mailbox (To Do has no app-only notifications, and delta is per list:
     * https://learn.microsoft.com/graph/api/todotask-delta); the pollTodo timer runs this every minute. A new list is
     * picked up by the next round (its first round is a full one); a removed list's paired tasks are reported
     * deleted, which unlinks them.
     */
    async round(rt, mailbox, _window, ctx) {
      const known = (await rt.cursors.get<string[]>(todoListsScope, mailbox.id)) ?? [];
      const current = (await todoLists(rt, mailbox)).map((l) => l.id);
      for (const listId of current) {
        const name = `${mailbox.id}|${listId}`;
        const link = await rt.cursors.get<string>(todoDeltaScope, name);
        const page = await ctx.fromLink(link, (l) => rt.graph.todoTasksDelta(mailbox.id, l ? { link: l } : { listId }));
        await ctx.enqueue(page.items, listId, page.full ? 'resync' : 'listing');
        if (page.resynced) await ctx.afterFullRound(page.items, listId);
        if (page.deltaLink) await rt.cursors.set(todoDeltaScope, name, page.deltaLink);
      }
      const removed = known.filter((id) => !current.includes(id));
      if (removed.length > 0) {
        const gone = [];
        for await (const pair of rt.pairs.listMailbox(mailbox.id)) {
          if (pair.kind === taskKind.name && pair.exchangeId && pair.exchangeListId && removed.includes(pair.exchangeListId)) gone.push(pair);
        }
        const tasks = await ctx.enqueueDeleted(gone);
        for (const listId of removed) await rt.cursors.remove(todoDeltaScope, `${mailbox.id}|${listId}`);
        rt.log.info('To Do lists removed; their paired tasks are unlinked', { mailboxId: mailbox.id, lists: removed.length, tasks });
      }
      if (removed.length > 0 || current.some((id) => !known.includes(id))) await rt.cursors.set(todoListsScope, mailbox.id, current);
    },
  },

  scopeOf: (table, record) => ownerAndParties(record, activityPartiesOf(table)),
  isTracked: (item) => isTrackedInExchange(item, false),
  directionsFor: (_pair, configured = directions) => ({ ...configured }),
  // A task's status codes depend on its table and its percentage; the other tables' bodies fit the table only
  // with the record (only task has percentcomplete; shared/mapping/task.ts taskDataverseBody).
  writeNeedsRecord: (table, fields) => table !== 'task' || fields.includes('status'),
  shapeExchangePatch: (patch) => patch,
  // Rule (deleted tasks): deleted in Exchange only while not completed there.
  dataverseDeleteReads: 'exchangeItem',
  onDataverseDelete({ exchangeItem }) {
    const del = exchangeItem !== undefined && shouldDeleteTodoTask(exchangeItem as TodoTask);
    return { delete: del, reason: del ? 'not completed in Exchange' : 'completed in Exchange (kept)' };
  },
  exchangeDeleteReads: 'nothing',
  onExchangeDelete: () => ({ delete: false, reason: 'contacts and tasks deleted in Exchange are only unlinked' }),
  endsExchangeItem: () => undefined,
  unsupportedRecord: () => undefined,
  unsupportedItem: () => undefined,
  itemFacts: () => ({}),
  recordIdFor: (mailboxId, item) => recordIdForExchangeItem(mailboxId, item.id!),
};
