// Recurring To Do tasks in the Graph simulator: recurrence on todoTask is accepted, and completing the task creates
// its next occurrence, as To Do does.
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGraph, USERS, type Loose, type TestGraph } from './support.js';

describe('Graph simulator: recurring To Do tasks', () => {
  let g: TestGraph;
  let user: string;
  let list: string;
  beforeAll(async () => {
    g = await startTestGraph();
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    const [seeded] = await g.sim.admin.seedUsers(USERS);
    user = seeded!.id;
    list = (await g.client.api(`/users/${user}/todo/lists`).get()).value[0].id;
  });

  it('accepts a weekly recurrence and creates the next task, due on the next pattern date, when the task is completed', async () => {
    const task = await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).post({
      title: 'Weekly report',
      dueDateTime: { dateTime: '2030-03-29T17:00:00', timeZone: 'W. Europe Standard Time' },
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: ['friday'] }, range: { type: 'noEnd', startDate: '2030-03-29' } },
      linkedResources: [{ applicationName: 'Dynamics 365', externalId: 'task-1', displayName: 'task' }],
    });
    expect(task.recurrence.pattern).toMatchObject({ type: 'weekly', daysOfWeek: ['friday'] });
    await g.client.api(`/users/${user}/todo/lists/${list}/tasks/${task.id}`).patch({ status: 'completed' });
    const tasks = (await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).header('Prefer', 'outlook.timezone="W. Europe Standard Time"').get()).value;
    expect(tasks.map((t: Loose) => [t.title, t.status, t.dueDateTime.dateTime])).toEqual([
      ['Weekly report', 'completed', '2030-03-29T17:00:00.0000000'],
      // The next Friday is after the DST change: still 17:00 local.
      ['Weekly report', 'notStarted', '2030-04-05T17:00:00.0000000'],
    ]);
    expect(tasks[1].id).not.toBe(task.id);
    expect(tasks[1].recurrence).toEqual(task.recurrence);
    const linked = await g.client.api(`/users/${user}/todo/lists/${list}/tasks/${tasks[1].id}/linkedResources`).get();
    expect(linked.value).toEqual([]);
  });

  it('creates no next task when a numbered range is used up, and none for a task without recurrence', async () => {
    const task = await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).post({
      title: 'Twice',
      dueDateTime: { dateTime: '2030-01-01T00:00:00', timeZone: 'UTC' },
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: '2030-01-01', numberOfOccurrences: 2 } },
    });
    await g.client.api(`/users/${user}/todo/lists/${list}/tasks/${task.id}`).patch({ status: 'completed' });
    const second = (await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).get()).value.find((t: Loose) => t.status === 'notStarted');
    expect(second.dueDateTime.dateTime).toBe('2030-01-02T00:00:00.0000000');
    await g.client.api(`/users/${user}/todo/lists/${list}/tasks/${second.id}`).patch({ status: 'completed' });
    const plain = await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).post({ title: 'once' });
    await g.client.api(`/users/${user}/todo/lists/${list}/tasks/${plain.id}`).patch({ status: 'completed' });
    expect((await g.client.api(`/users/${user}/todo/lists/${list}/tasks`).get()).value).toHaveLength(3);
  });

  it('refuses an invalid task recurrence with 400', async () => {
    const bad = await g.raw('POST', `/users/${user}/todo/lists/${list}/tasks`, { title: 'x', recurrence: { pattern: { type: 'absoluteMonthly', interval: 1 }, range: { type: 'noEnd', startDate: '2030-01-01' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('ErrorCalendarInvalidRecurrence');
  });
});
