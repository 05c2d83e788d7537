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
import { activityPartiesOf, directionsOfTable, notFound, orUndefined, ownerAndParties, readActivity, stampOf } from './common.js';
import type { SyncKind } from './types.js';

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

export const taskKind: SyncKind<'task'> = {
  name: 'task',
  tables: ['task', 'phonecall', 'letter', 'fax'],
  primaryKey: 'activityid',
  partyNavigation: activityPartiesOf,
  partyColumns: (table) => partyColumnsByTable[table] ?? {},
  resource: 'todoTask',
  graphType: '#microsoft.graph.todotask',
  subscription: undefined,
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
  endsExchangeItem: () => false,
  unsupportedRecord: () => undefined,
  unsupportedItem: () => undefined,
  itemFacts: () => ({}),
  recordIdFor: (mailboxId, item) => recordIdForExchangeItem(mailboxId, item.id!),
};
