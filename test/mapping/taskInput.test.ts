// What the task mapping refuses and how it reads the reminder back (shared/mapping/task.ts): the cases the item
// tests in task.test.ts do not reach.
import { describe, expect, it } from 'vitest';
import { parseTaskLike, shouldDeleteTodoTask, taskSnapshotFromExchange, todoStatusOfActivity } from '../../shared/mapping/task.js';
import { ctxAt, todo } from './fixtures.js';

const ctx = ctxAt('2024-06-15T12:00:00Z');
const invalid = (field: string, problem: string): Error => expect.objectContaining({ code: 'InvalidInput', field, message: expect.stringContaining(problem) }) as Error;

describe('task input', () => {
  it('refuses what is not a record, or a record of another table, naming the field', () => {
    for (const input of [null, 'task', 42]) expect(() => parseTaskLike(input)).toThrow(invalid('activity', 'is not a Dataverse record'));
    expect(() => parseTaskLike({ '@odata.type': '#Microsoft.Dynamics.CRM.appointment', activityid: 'a' })).toThrow(invalid('@odata.type', 'is not a task, phone call, letter or fax'));
    expect(() => todoStatusOfActivity({ '@odata.type': '#Microsoft.Dynamics.CRM.appointment' } as never, ctx)).toThrow(invalid('@odata.type', 'is not a task, phone call, letter or fax'));
  });

  it('the delete rule needs a To Do status it knows', () => {
    expect(() => shouldDeleteTodoTask({})).toThrow(invalid('status', 'is required to decide the delete'));
    expect(() => shouldDeleteTodoTask({ status: null })).toThrow(invalid('status', 'is required to decide the delete'));
    expect(() => shouldDeleteTodoTask({ status: 'done' })).toThrow(invalid('status', 'is not a To Do task status'));
    expect(shouldDeleteTodoTask({ status: 'completed' })).toBe(false);
    expect(shouldDeleteTodoTask({ status: 'waitingOnOthers' })).toBe(true);
  });

  it('reads the To Do reminder as on only when isReminderOn is true', () => {
    expect(taskSnapshotFromExchange(todo({ isReminderOn: true }), ctx).reminder).toBe(true);
    expect(taskSnapshotFromExchange(todo({ isReminderOn: false }), ctx).reminder).toBe(false);
    const { isReminderOn: _omitted, ...withoutReminder } = todo();
    expect(taskSnapshotFromExchange(withoutReminder, ctx).reminder).toBe(false);
  });
});
