// Dataverse task, phone call, letter and fax <-> Microsoft To Do todoTask (the Outlook tasks API is retired,
// docs/reference/platform-facts.md section 3). Rules from docs/reference/server-side-sync-rules.md "Syncing tasks from Dynamics 365 to
// Exchange" and docs/reference/platform-facts.md sections 6 and 7.
import { DateTime } from 'luxon';
import { invalidInput } from '../errors.js';
import {
  ActivityState,
  entitySetNames,
  parseDataverseRecord,
  type DataverseTaskLike,
  type TaskLikeEntity,
} from '../wire/dataverse.js';
import { parseGraphTodoTask, todoStatusValues, type GraphTodoTask, type ParsedGraphTodoTask, type TodoStatus } from '../wire/graph.js';
import { activityBodyRow, activityImportanceRow, activitySubjectRow, ageOf, dateOfGraph, dayMs, type Importance } from './common.js';
import { checkContext, type MappingContext } from './context.js';
import { readSnapshot, withoutNulls, writeBody, type FieldTable } from './fieldTable.js';
import { dataverseEntityOf, isTaskLikeEntity } from './kinds.js';
import { dataverseDateTimeOf, graphDateTimeOf, graphMidnightOf, instantOfDataverse, localDateOf, midnightOf } from './time.js';
import { withTrackedCategory } from './tracking.js';

/** Canonical task snapshot: one value per row of `todoTaskFields`. Dates are `YYYY-MM-DD` in the mailbox zone. */
export type TaskSnapshot = {
  title: string | null;
  body: string | null;
  due: string | null;
  importance: Importance;
  status: TodoStatus;
  completed: string | null;
  reminder: boolean;
};

/** A Dataverse task body (logical names). statecode/statuscode are not valid on create: see `separateStateChange`. */
export type DataverseTaskBody = {
  subject?: string | null;
  description?: string | null;
  scheduledend?: string | null;
  actualend?: string | null;
  prioritycode?: 0 | 1 | 2;
  statecode?: number;
  statuscode?: number;
  percentcomplete?: number | null;
  'ownerid@odata.bind'?: string;
};

const taskStatus = { NotStarted: 2, InProgress: 3, Waiting: 4, Completed: 5, Canceled: 6, Deferred: 7 } as const;

/** statuscode each To Do-like table gets when it is (re)opened or completed (defaults from the table references). */
const openCloseStatus: Readonly<Record<Exclude<TaskLikeEntity, 'task'>, { open: number; completed: number }>> = {
  phonecall: { open: 1, completed: 2 },
  letter: { open: 1, completed: 4 },
  fax: { open: 1, completed: 2 },
};

function entityOf(record: DataverseTaskLike): TaskLikeEntity {
  const entity = dataverseEntityOf(record);
  if (!isTaskLikeEntity(entity)) throw invalidInput('@odata.type', entity, 'is not a task, phone call, letter or fax');
  return entity;
}

/** Reads and validates a task, phone call, letter or fax (told apart by `@odata.type` or `activitytypecode`). */
export function parseTaskLike(input: unknown): DataverseTaskLike {
  if (input === null || typeof input !== 'object') throw invalidInput('activity', input, 'is not a Dataverse record');
  const entity = dataverseEntityOf(input as Record<string, unknown>);
  if (!isTaskLikeEntity(entity)) throw invalidInput('@odata.type', entity, 'is not a task, phone call, letter or fax');
  return parseDataverseRecord(entity, input);
}

function isPast(value: string | null | undefined, field: string, ctx: MappingContext): boolean {
  return value != null && ageOf(instantOfDataverse(value, field), ctx) > 0;
}

/**
 * Rule (task status), in this order:
 * 1. Completed or Canceled -> completed (the closed state wins over a percentage: a closed activity is done).
 * 2. actualend set and in the past -> completed, whatever the state says (task auto-completion).
 * 3. Task status Waiting on someone else -> waitingOnOthers, Deferred -> deferred (To Do has both; docs/reference/platform-facts.md section 6).
 * 4. percentcomplete set: 0 -> notStarted, 1-99 -> inProgress, 100 -> completed (To Do has no percentage).
 * 5. Task status In Progress -> inProgress; any other open activity -> notStarted.
 */
export function todoStatusOfActivity(record: DataverseTaskLike, ctx: MappingContext): TodoStatus {
  if (record.statecode === ActivityState.Completed || record.statecode === ActivityState.Canceled) return 'completed';
  if (isPast(record.actualend, 'actualend', ctx)) return 'completed';
  const isTask = entityOf(record) === 'task';
  if (isTask && record.statuscode === taskStatus.Waiting) return 'waitingOnOthers';
  if (isTask && record.statuscode === taskStatus.Deferred) return 'deferred';
  const percent = isTask ? record.percentcomplete : null;
  if (percent != null) return percent === 0 ? 'notStarted' : percent >= 100 ? 'completed' : 'inProgress';
  return isTask && record.statuscode === taskStatus.InProgress ? 'inProgress' : 'notStarted';
}

/**
 * Rule (task reminder): set when the due date is more than one day ago and the state is Open or Scheduled;
 * exactly one day is not more than one day. The reminder is set at sync time (reminderDateTime = ctx.now), which
 * is what "a reminder is set during sync" makes Outlook show: an overdue-task reminder.
 */
export function todoReminderOn(record: DataverseTaskLike, ctx: MappingContext): boolean {
  if (record.statecode !== ActivityState.Open && record.statecode !== ActivityState.Scheduled) return false;
  return record.scheduledend != null && ageOf(instantOfDataverse(record.scheduledend, 'scheduledend'), ctx) > dayMs;
}

/** Rule (deleted tasks): a task deleted in Dataverse is deleted in Exchange only when its Exchange status is not completed. */
export function shouldDeleteTodoTask(todo: { status?: string | null } | GraphTodoTask): boolean {
  const status = todo.status;
  if (status === undefined || status === null) throw invalidInput('status', status ?? undefined, 'is required to decide the delete');
  if (!(todoStatusValues as readonly string[]).includes(status)) throw invalidInput('status', status, 'is not a To Do task status');
  return status !== 'completed';
}

function statusBody(value: TodoStatus, ctx: MappingContext, current: DataverseTaskLike | undefined): DataverseTaskBody {
  const entity = current === undefined ? 'task' : entityOf(current);
  // Reopening must also clear a past actualend, or rule 2 would complete the task again on the next sync.
  const clearEnd = value !== 'completed' && (current === undefined || isPast(current.actualend, 'actualend', ctx)) ? { actualend: null } : {};
  if (entity !== 'task') {
    const codes = openCloseStatus[entity];
    return value === 'completed'
      ? { statecode: ActivityState.Completed, statuscode: codes.completed }
      : { statecode: ActivityState.Open, statuscode: codes.open, ...clearEnd };
  }
  switch (value) {
    case 'completed':
      return { statecode: ActivityState.Completed, statuscode: taskStatus.Completed, percentcomplete: 100 };
    case 'notStarted':
      return { statecode: ActivityState.Open, statuscode: taskStatus.NotStarted, percentcomplete: 0, ...clearEnd };
    case 'waitingOnOthers':
      return { statecode: ActivityState.Open, statuscode: taskStatus.Waiting, ...clearEnd };
    case 'deferred':
      return { statecode: ActivityState.Open, statuscode: taskStatus.Deferred, ...clearEnd };
    case 'inProgress': {
      // A percentage between 1 and 99 already says "in progress"; anything else would contradict it.
      const keep = current?.percentcomplete != null && current.percentcomplete > 0 && current.percentcomplete < 100;
      return { statecode: ActivityState.Open, statuscode: taskStatus.InProgress, ...(keep ? {} : { percentcomplete: null }), ...clearEnd };
    }
  }
}

function completedOfRecord(record: DataverseTaskLike, ctx: MappingContext): string | null {
  if (todoStatusOfActivity(record, ctx) !== 'completed' || record.actualend == null) return null;
  return localDateOf(instantOfDataverse(record.actualend, 'actualend'), ctx);
}

function completedOfTodo(todo: ParsedGraphTodoTask, ctx: MappingContext): string | null {
  if (todo.status !== 'completed' || todo.completedDateTime == null) return null;
  return dateOfGraph(todo.completedDateTime, 'completedDateTime', ctx);
}

/** The task field table (server-side sync's synchronized fields for tasks, on To Do's todoTask). */
export const todoTaskFields: FieldTable<TaskSnapshot, DataverseTaskLike, ParsedGraphTodoTask> = [
  activitySubjectRow('title', 'title', (t) => t.title),
  activityBodyRow(),
  {
    name: 'due',
    dataverse: ['scheduledend'],
    graph: ['dueDateTime'],
    direction: 'Both',
    conversion: {
      toExchange: 'due date: the date of scheduledend in the mailbox zone, at local midnight',
      toDataverse: 'local midnight of the due date in the mailbox zone, in UTC',
    },
    fromDataverse: (r, ctx) => (r.scheduledend == null ? null : localDateOf(instantOfDataverse(r.scheduledend, 'scheduledend'), ctx)),
    fromExchange: (t, ctx) => (t.dueDateTime == null ? null : dateOfGraph(t.dueDateTime, 'dueDateTime', ctx)),
    toExchange: (v, ctx) => ({ dueDateTime: v === null ? null : graphMidnightOf(v, ctx) }),
    toDataverse: (v, ctx) => ({ scheduledend: v === null ? null : dataverseDateTimeOf(midnightOf(v, ctx)) }),
  },
  activityImportanceRow(),
  {
    name: 'status',
    dataverse: ['statecode', 'statuscode', 'percentcomplete', 'actualend'],
    graph: ['status'],
    direction: 'Both',
    conversion: {
      toExchange:
        'Completed/Canceled -> completed; actualend in the past -> completed; Waiting -> waitingOnOthers; Deferred -> deferred; percentcomplete 0 / 1-99 / 100 -> notStarted / inProgress / completed; In Progress -> inProgress; other open -> notStarted',
      toDataverse:
        'task: notStarted -> Open/Not Started 0%; inProgress -> Open/In Progress; waitingOnOthers -> Open/Waiting; deferred -> Open/Deferred; completed -> Completed 100%. Phone call, letter, fax: Open or Completed (Made, Sent, Completed)',
    },
    fromDataverse: (r, ctx) => todoStatusOfActivity(r, ctx),
    fromExchange: (t) => t.status,
    toExchange: (v) => ({ status: v }),
    toDataverse: (v, ctx, current) => statusBody(v, ctx, current),
  },
  {
    name: 'completed',
    dataverse: ['actualend'],
    graph: ['completedDateTime'],
    direction: 'Both',
    conversion: {
      toExchange: 'date of actualend in the mailbox zone, when the task is completed',
      toDataverse: 'local midnight of the completion date in UTC',
    },
    fromDataverse: (r, ctx) => completedOfRecord(r, ctx),
    fromExchange: (t, ctx) => completedOfTodo(t, ctx),
    toExchange: (v, ctx, current, fields) => {
      // To Do stamps its own completion date when a task completes; only a known date overrides it.
      if (v !== null) return { completedDateTime: graphMidnightOf(v, ctx) };
      const status = (fields['status'] as TodoStatus | undefined) ?? current?.status;
      return status === 'completed' ? {} : { completedDateTime: null };
    },
    toDataverse: (v, ctx) => ({ actualend: v === null ? null : dataverseDateTimeOf(midnightOf(v, ctx)) }),
  },
  {
    name: 'reminder',
    dataverse: ['scheduledend', 'statecode'],
    graph: ['isReminderOn', 'reminderDateTime'],
    direction: 'ToExchange',
    conversion: {
      toExchange: 'on (at sync time) when the due date is more than one day ago and the state is Open or Scheduled; otherwise off',
      toDataverse: 'not written (the activity tables have no reminder)',
    },
    fromDataverse: (r, ctx) => todoReminderOn(r, ctx),
    fromExchange: (t) => t.isReminderOn === true,
    toExchange: (v, ctx) =>
      v ? { isReminderOn: true, reminderDateTime: graphDateTimeOf(DateTime.fromJSDate(ctx.now), ctx) } : { isReminderOn: false },
    toDataverse: () => ({}),
  },
  {
    name: 'start',
    dataverse: ['scheduledstart'],
    graph: ['startDateTime'],
    direction: 'None',
    conversion: { toExchange: 'not synced (To Do shows no start date)', toDataverse: 'not synced' },
  },
  {
    name: 'regarding',
    dataverse: ['regardingobjectid'],
    graph: [],
    direction: 'None',
    conversion: { toExchange: 'not synced', toDataverse: 'not synced' },
  },
];

/** Canonical snapshot of a Dataverse task, phone call, letter or fax (validated first). */
export function taskSnapshotFromDataverse(record: unknown, ctx: MappingContext): TaskSnapshot {
  checkContext(ctx);
  return readSnapshot(todoTaskFields, 'dataverse', parseTaskLike(record), ctx);
}

/** Canonical snapshot of a Graph todoTask (validated first). */
export function taskSnapshotFromExchange(todo: unknown, ctx: MappingContext): TaskSnapshot {
  checkContext(ctx);
  return readSnapshot(todoTaskFields, 'exchange', parseGraphTodoTask(todo), ctx);
}

/** todoTask body for the given fields; with `current` (the todoTask now), unchanged fields are left out. */
export function taskExchangeBody(fields: Partial<TaskSnapshot>, ctx: MappingContext, current?: unknown): GraphTodoTask {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseGraphTodoTask(current);
  return writeBody(todoTaskFields, 'exchange', fields, ctx, now, 'todoTaskFields');
}

/**
 * Dataverse body for the given fields. With `current` (the task, phone call, letter or fax now) the body fits
 * that table (status codes differ; only task has percentcomplete) and unchanged fields are left out; without it,
 * a task body.
 */
export function taskDataverseBody(fields: Partial<TaskSnapshot>, ctx: MappingContext, current?: unknown): DataverseTaskBody {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseTaskLike(current);
  return writeBody(todoTaskFields, 'dataverse', fields, ctx, now, 'todoTaskFields');
}

/** Maps a Dataverse task, phone call, letter or fax to the todoTask to create (status, due, completion, reminder rules). */
export function activityToTodoTask(activity: DataverseTaskLike | Record<string, unknown>, ctx: MappingContext): GraphTodoTask {
  checkContext(ctx);
  const snapshot = readSnapshot(todoTaskFields, 'dataverse', parseTaskLike(activity), ctx);
  const body = writeBody(todoTaskFields, 'exchange', snapshot, ctx, undefined, 'todoTaskFields') as GraphTodoTask;
  return { ...withoutNulls(body), categories: withTrackedCategory([]) };
}

/**
 * Maps a To Do task to a Dataverse task body for a create, owned by the mailbox user. statecode/statuscode are
 * not valid on create: see `separateStateChange`.
 */
export function todoTaskToTask(todo: GraphTodoTask | Record<string, unknown>, ctx: MappingContext): DataverseTaskBody {
  checkContext(ctx);
  const snapshot = readSnapshot(todoTaskFields, 'exchange', parseGraphTodoTask(todo), ctx);
  const body = writeBody(todoTaskFields, 'dataverse', snapshot, ctx, undefined, 'todoTaskFields') as DataverseTaskBody;
  return withoutNulls({ ...body, 'ownerid@odata.bind': `/${entitySetNames.systemuser}(${ctx.mailbox.systemUserId})` });
}
