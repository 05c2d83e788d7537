// The task kind's pure rules (shared/sync/kinds/task.ts): the party lists of the four tables it syncs (the scope
// rule and the webhook images read them), which table has a percentage, what backfill can match (nothing but the
// stamp), and what the kind hands the engine for a create and for the directions. Its adapters (To Do lists, tasks
// and delta rounds, the activity reads) are reached by the e2e tests only.
import { describe, expect, it } from 'vitest';
import { activityToTodoTask, fieldTables } from '../../../../shared/mapping/index.js';
import { taskKind } from '../../../../shared/sync/kinds/task.js';
import type { Mailbox } from '../../../../shared/storage/mailboxStore.js';
import type { GraphItem } from '../../../../shared/sync/kinds/types.js';
import { activity, ctxAt, me, todo } from '../../../mapping/fixtures.js';

const ctx = ctxAt('2026-12-08T09:00:00Z');
const mailbox: Mailbox = { id: 'mbx-dana', userPrincipalName: me.address, address: me.address, systemUserId: me.systemUserId, timeZone: 'Europe/Berlin', entities: ['task'], state: 'active', defaultTodoListId: 'list-tasks' };
/** No runtime: the rules below must not read anything, and any read through it would throw. */
const noRuntime = undefined as never;

describe('the task kind', () => {
  it.each([
    ['task', {}],
    ['phonecall', { from: 1, to: 2 }],
    ['letter', { from: 1, to: 2, cc: 3, bcc: 4 }],
    ['fax', { from: 1, to: 2 }],
  ] as const)('the party-list columns of %s are %j', (table, columns) => {
    expect(taskKind.partyColumns(table)).toEqual(columns);
    expect(taskKind.partyNavigation(table)).toBe(`${table}_activity_parties`);
  });

  it('reads percentcomplete from the task table only, and every other column from every table', () => {
    expect(taskKind.hasColumn('task', 'percentcomplete')).toBe(true);
    for (const table of ['phonecall', 'letter', 'fax'] as const) {
      expect(taskKind.hasColumn(table, 'percentcomplete')).toBe(false);
      expect(taskKind.hasColumn(table, 'scheduledend')).toBe(true);
    }
  });

  it('matches no To Do task in backfill but by the stamp', () => {
    const free = [{ resource: 'todoTask' as const, id: 't1', matchKeys: ['a phone call'], tracked: true }];
    expect(taskKind.backfill.match({ entity: 'phonecall', id: 'eeeeeeee-0000-4000-8000-000000000001', matchKey: 'a phone call' }, free)).toBeUndefined();
  });

  it('creates in To Do with the mapping body and no field left for later', () => {
    const record = activity('phonecall');
    expect(taskKind.exchangeCreate(record, ctx)).toEqual({ body: activityToTodoTask(record, ctx), unsyncedFields: [] });
  });

  it("syncs the field table's directions, or the configured ones", () => {
    const own = Object.fromEntries(fieldTables.task.map((row) => [row.name, row.direction]));
    expect(taskKind.directionsFor({})).toEqual(own);
    const configured = { ...own, due: 'ToDataverse' as const };
    expect(taskKind.directionsFor({}, configured)).toEqual(configured);
  });

  it('syncs an unpaired To Do task only when it carries the tracking category', () => {
    expect(taskKind.isTracked(todo() as GraphItem)).toBe(true);
    expect(taskKind.isTracked(todo({ categories: [] }) as GraphItem)).toBe(false);
  });

  it('looks for an existing To Do task only when retrying a create, and never adopts an existing activity', async () => {
    const record = activity('task');
    await expect(taskKind.exchange.findExisting(noRuntime, mailbox, record, String(record.activityid), ctx, false)).resolves.toBeUndefined();
    await expect(taskKind.dataverse.findExisting(noRuntime, mailbox, {})).resolves.toEqual([]);
  });

  it("reads nothing before a backfill when the mailbox's default list is known", async () => {
    await expect(taskKind.backfill.prepare!(noRuntime, mailbox)).resolves.toBeUndefined();
  });
});
