import { describe, expect, it } from 'vitest';
import {
  activityToTodoTask,
  dataverseBodyFromSnapshot,
  entityKindOf,
  exchangeBodyFromSnapshot,
  separateStateChange,
  shouldDeleteTodoTask,
  snapshotFromDataverse,
  todoTaskToTask,
  trackedCategory,
} from '../../shared/mapping/index.js';
import { isSyncError } from '../../shared/errors.js';
import { activity, ctxAt, todo } from './fixtures.js';

const ctx = ctxAt('2024-06-15T12:00:00Z');

describe('all four activity types map to a todoTask, told apart by @odata.type or activitytypecode', () => {
  it.each(['task', 'phonecall', 'letter', 'fax'] as const)('%s -> todoTask with title and the tracked category', (entity) => {
    const t = activityToTodoTask(activity(entity), ctx);
    expect(t).toMatchObject({ title: `A ${entity}`, status: 'notStarted', categories: [trackedCategory] });
  });

  it('activitytypecode or the entity set in @odata.context tell the table when @odata.type is absent', () => {
    const { '@odata.type': _type, ...bare } = activity('phonecall', { statecode: 1, statuscode: 4 });
    expect(activityToTodoTask({ ...bare, activitytypecode: 'phonecall' }, ctx).status).toBe('completed');
    const fromContext = { ...bare, '@odata.context': 'https://org.crm.dynamics.com/api/data/v9.2/$metadata#phonecalls/$entity' };
    expect(activityToTodoTask(fromContext, ctx).status).toBe('completed');
    expect(entityKindOf({ ...bare, activitytypecode: 'fax' })).toBe('task');
  });

  it('a record with no type information is rejected naming the missing field', () => {
    const { '@odata.type': _type, ...bare } = activity('task');
    expect(() => activityToTodoTask(bare, ctx)).toThrowError(/@odata.type \(missing\) or activitytypecode/);
  });
});

describe('task status when percentcomplete is empty: Open -> notStarted; Completed or Canceled -> completed', () => {
  it.each([
    ['task', 0, 2, 'notStarted'],
    ['task', 1, 5, 'completed'],
    ['task', 2, 6, 'completed'],
    ['phonecall', 0, 1, 'notStarted'],
    ['phonecall', 1, 2, 'completed'],
    ['phonecall', 1, 4, 'completed'],
    ['phonecall', 2, 3, 'completed'],
    ['letter', 0, 1, 'notStarted'],
    ['letter', 0, 2, 'notStarted'],
    ['letter', 1, 4, 'completed'],
    ['letter', 2, 5, 'completed'],
    ['fax', 0, 1, 'notStarted'],
    ['fax', 1, 3, 'completed'],
    ['fax', 2, 5, 'completed'],
  ] as const)('%s state %i status %i -> %s', (entity, statecode, statuscode, status) => {
    expect(activityToTodoTask(activity(entity, { statecode, statuscode }), ctx).status).toBe(status);
  });
});

describe('task status with percentcomplete: 0 -> notStarted, 1-99 -> inProgress, 100 -> completed', () => {
  it.each([
    [0, 'notStarted'],
    [1, 'inProgress'],
    [50, 'inProgress'],
    [99, 'inProgress'],
    [100, 'completed'],
  ])('percentcomplete %i -> %s', (percentcomplete, status) => {
    expect(activityToTodoTask(activity('task', { percentcomplete }), ctx).status).toBe(status);
  });

  it('a Completed task is completed whatever its percentage says (the closed state wins)', () => {
    expect(activityToTodoTask(activity('task', { statecode: 1, statuscode: 5, percentcomplete: 40 }), ctx).status).toBe('completed');
  });

  it('Waiting on someone else and Deferred have To Do statuses of their own', () => {
    expect(activityToTodoTask(activity('task', { statuscode: 4, percentcomplete: 30 }), ctx).status).toBe('waitingOnOthers');
    expect(activityToTodoTask(activity('task', { statuscode: 7 }), ctx).status).toBe('deferred');
    expect(activityToTodoTask(activity('task', { statuscode: 3 }), ctx).status).toBe('inProgress');
  });
});

describe('actualend set and in the past -> completed, whatever the state', () => {
  it.each([
    ['2024-06-15T11:59:59Z', 'completed', 'a second before now'],
    ['2024-06-15T12:00:00Z', 'notStarted', 'exactly now is not in the past'],
    ['2024-06-16T00:00:00Z', 'notStarted', 'in the future'],
  ])('Open task with actualend %s -> %s (%s)', (actualend, status) => {
    expect(activityToTodoTask(activity('task', { actualend }), ctx).status).toBe(status);
  });

  it('actualend syncs as the completion date in the mailbox zone', () => {
    const t = activityToTodoTask(activity('task', { statecode: 1, statuscode: 5, actualend: '2024-06-13T22:30:00Z' }), ctx);
    expect(t.completedDateTime).toEqual({ dateTime: '2024-06-14T00:00:00', timeZone: 'W. Europe Standard Time' });
  });
});

describe('reminder set when the due date is more than one day ago and the state is Open or Scheduled', () => {
  it.each([
    ['2024-06-14T12:00:00Z', 0, false, 'exactly one day ago'],
    ['2024-06-14T11:59:59Z', 0, true, 'one day and one second ago'],
    ['2024-06-01T00:00:00Z', 0, true, 'two weeks ago'],
    ['2024-06-20T00:00:00Z', 0, false, 'due in the future'],
    ['2024-06-01T00:00:00Z', 1, false, 'Completed'],
  ])('due %s, statecode %i -> isReminderOn %s (%s)', (scheduledend, statecode, on) => {
    const t = activityToTodoTask(activity('task', { scheduledend, statecode, statuscode: statecode === 1 ? 5 : 2 }), ctx);
    expect(t.isReminderOn).toBe(on);
    if (on) expect(t.reminderDateTime).toEqual({ dateTime: '2024-06-15T14:00:00', timeZone: 'W. Europe Standard Time' });
  });

  it('no due date, no reminder', () => {
    expect(activityToTodoTask(activity('phonecall'), ctx).isReminderOn).toBe(false);
  });
});

describe('scheduledend -> dueDateTime as the due date in the mailbox zone', () => {
  it.each([
    ['Europe/Berlin', '2024-03-31T21:59:59Z', '2024-03-31', 'W. Europe Standard Time', 'last second of the 23-hour March day'],
    ['Europe/Berlin', '2024-03-31T22:00:00Z', '2024-04-01', 'W. Europe Standard Time', 'midnight after the March change (CEST)'],
    ['Europe/Berlin', '2024-10-27T22:59:59Z', '2024-10-27', 'W. Europe Standard Time', 'last second of the 25-hour October day'],
    ['America/New_York', '2024-03-10T04:59:59Z', '2024-03-09', 'Eastern Standard Time', 'before midnight EST'],
    ['America/New_York', '2024-11-04T04:59:59Z', '2024-11-03', 'Eastern Standard Time', 'end of the November change day'],
  ])('%s: %s -> %s (%s)', (timeZone, scheduledend, date, zoneName) => {
    const t = activityToTodoTask(activity('task', { scheduledend }), ctxAt('2024-01-01T00:00:00Z', timeZone));
    expect(t.dueDateTime).toEqual({ dateTime: `${date}T00:00:00`, timeZone: zoneName });
  });

  it('a due date back to Dataverse is local midnight in UTC, across the DST change', () => {
    const ny = ctxAt('2024-01-01T00:00:00Z', 'America/New_York');
    expect(todoTaskToTask(todo({ dueDateTime: { dateTime: '2024-03-10T00:00:00.0000000', timeZone: 'Eastern Standard Time' } }), ny).scheduledend).toBe('2024-03-10T05:00:00Z');
    expect(todoTaskToTask(todo({ dueDateTime: { dateTime: '2024-03-11T00:00:00.0000000', timeZone: 'Eastern Standard Time' } }), ny).scheduledend).toBe('2024-03-11T04:00:00Z');
  });

  it('a due date Graph returns as UTC instant is dated in the mailbox zone', () => {
    const t = todo({ dueDateTime: { dateTime: '2024-05-01T22:00:00.0000000', timeZone: 'UTC' } });
    expect(todoTaskToTask(t, ctx).scheduledend).toBe('2024-05-01T22:00:00Z');
  });
});

describe('todoTask -> task: status, percentcomplete, state, due and completion dates', () => {
  it.each([
    ['notStarted', { statecode: 0, statuscode: 2, percentcomplete: 0 }],
    ['inProgress', { statecode: 0, statuscode: 3 }],
    ['waitingOnOthers', { statecode: 0, statuscode: 4 }],
    ['deferred', { statecode: 0, statuscode: 7 }],
    ['completed', { statecode: 1, statuscode: 5, percentcomplete: 100 }],
  ])('status %s -> %o', (status, expected) => {
    const body = todoTaskToTask(todo({ status }), ctx);
    expect(body).toMatchObject(expected);
    if (status === 'inProgress') expect(body.percentcomplete).toBeUndefined();
  });

  it('maps title, text body, importance, completion date and owner', () => {
    const body = todoTaskToTask(
      todo({ status: 'completed', importance: 'high', body: { contentType: 'text', content: 'Call back\r\n' }, completedDateTime: { dateTime: '2024-06-14T00:00:00.0000000', timeZone: 'UTC' } }),
      ctx,
    );
    expect(body).toMatchObject({
      subject: 'A new task',
      description: 'Call back',
      prioritycode: 2,
      actualend: '2024-06-13T22:00:00Z',
      'ownerid@odata.bind': '/systemusers(11111111-2222-4333-8444-555555555555)',
    });
  });

  it('statecode is split off for a create (not valid on create)', () => {
    const { fields, state } = separateStateChange(todoTaskToTask(todo({ status: 'completed' }), ctx));
    expect(state).toEqual({ statecode: 1, statuscode: 5 });
    expect(fields).not.toHaveProperty('statecode');
  });

  it('a phone call is completed as Made, with no percentcomplete (only tasks have it)', () => {
    const current = activity('phonecall');
    expect(dataverseBodyFromSnapshot('task', { status: 'completed' }, ctx, current)).toEqual({ statecode: 1, statuscode: 2 });
    const letter = activity('letter', { statecode: 1, statuscode: 4, actualend: '2024-06-01T00:00:00Z' });
    expect(dataverseBodyFromSnapshot('task', { status: 'notStarted' }, ctx, letter)).toEqual({ statecode: 0, statuscode: 1, actualend: null });
  });

  it('inProgress keeps a percentage between 1 and 99, and reopening clears a past actualend', () => {
    const waitingAt40 = activity('task', { percentcomplete: 40, statuscode: 4, statecode: 0 });
    expect(dataverseBodyFromSnapshot('task', { status: 'inProgress' }, ctx, waitingAt40)).toEqual({ statecode: 0, statuscode: 3 });
    const at40 = activity('task', { percentcomplete: 40, statuscode: 2, statecode: 0 });
    expect(dataverseBodyFromSnapshot('task', { status: 'inProgress' }, ctx, at40)).toEqual({});
    const done = activity('task', { statecode: 1, statuscode: 5, percentcomplete: 100, actualend: '2024-06-10T00:00:00Z' });
    expect(dataverseBodyFromSnapshot('task', { status: 'inProgress' }, ctx, done)).toEqual({ statecode: 0, statuscode: 3, percentcomplete: null, actualend: null });
  });

  it('a canceled task already counts as completed: nothing to write', () => {
    const canceled = activity('task', { statecode: 2, statuscode: 6 });
    expect(dataverseBodyFromSnapshot('task', { status: 'completed' }, ctx, canceled)).toEqual({});
  });

  it('clearing the completion date in To Do while completed leaves To Do its own date', () => {
    expect(exchangeBodyFromSnapshot('task', { status: 'completed', completed: null }, ctx)).toEqual({ status: 'completed' });
    expect(exchangeBodyFromSnapshot('task', { status: 'notStarted', completed: null }, ctx)).toEqual({ status: 'notStarted', completedDateTime: null });
  });

  it('missing optional fields give a minimal task', () => {
    expect(todoTaskToTask({ status: 'notStarted' }, ctx)).toEqual({
      prioritycode: 1,
      statecode: 0,
      statuscode: 2,
      percentcomplete: 0,
      'ownerid@odata.bind': '/systemusers(11111111-2222-4333-8444-555555555555)',
    });
  });
});

describe('a task deleted in Dataverse is deleted in Exchange only when its Exchange status is not completed', () => {
  it.each([
    ['notStarted', true],
    ['inProgress', true],
    ['waitingOnOthers', true],
    ['deferred', true],
    ['completed', false],
  ])('status %s -> delete %s', (status, expected) => {
    expect(shouldDeleteTodoTask({ status })).toBe(expected);
  });

  it('an item without a status cannot be decided and is rejected naming the field', () => {
    let error: unknown;
    try {
      shouldDeleteTodoTask({});
    } catch (e) {
      error = e;
    }
    expect(isSyncError(error, 'InvalidInput')).toBe(true);
    expect(error).toMatchObject({ field: 'status' });
  });
});

describe('task snapshot', () => {
  it('is flat JSON: dates as YYYY-MM-DD, null for absent', () => {
    const snap = snapshotFromDataverse('task', activity('task', { scheduledend: '2024-06-20T10:00:00Z' }), ctx);
    expect(snap).toEqual({ title: 'A task', body: null, due: '2024-06-20', importance: 'normal', status: 'notStarted', completed: null, reminder: false });
  });
});
