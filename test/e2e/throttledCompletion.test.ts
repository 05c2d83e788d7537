// A task completed in To Do reaches Dynamics 365 completed while Dataverse throttles (429 with Retry-After), also
// when its subject was edited in Dynamics 365 at the same time: shrunk from the chaos test's todo-completion-lost
// (test/chaos: a task edited in Dynamics 365 and completed in To Do during a Dataverse 429 storm stayed open). The
// merge wrote the subject to To Do and recorded the pair with the item's version and a base saying "completed"
// before the Dataverse write, which the storm failed; the retry and the To Do poll then saw only echoes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { HandledRequest } from '../../dev/sim/dataverse/index.js';
import { daysFromNow } from '../support/e2e.js';

describe('a To Do completion under Dataverse throttling', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 17 });
  }, 60_000);
  afterAll(async () => stack?.close());

  /** Throttles Web API requests matching `match` (429, Retry-After 1 s): `skip` of them pass first, then `times` are throttled. */
  const throttle = (match: RegExp, skip: number, times: number) => {
    let passed = 0;
    let throttled = 0;
    const plan = { requests: { match: match.source, throttle: { probability: 1, burst: 1, retryAfterSeconds: 1 } } };
    const on = (r: HandledRequest) => {
      if (!match.test(`${r.method} ${r.path}`)) return;
      if (r.status === 429) throttled += 1;
      else if (passed < skip) passed += 1;
      if (passed === skip && throttled === 0) stack.dataverse.admin.setFaultPlan(plan);
      if (throttled >= times) {
        stack.dataverse.admin.setFaultPlan({});
        stack.dataverse.requests.off('handled', on);
      }
    };
    if (skip === 0) stack.dataverse.admin.setFaultPlan(plan);
    stack.dataverse.requests.on('handled', on);
  };

  for (const [what, match, skip, times, hot] of [
    // The completion is one PATCH, the closing state change with the other columns (test/e2e/halfWrittenCompletion.test.ts):
    // that PATCH throttled twice, within the client's own retries.
    ['the closing PATCH is throttled', /^PATCH .*tasks\(/, 0, 2, false],
    ['edited in Dynamics 365 at the same time, every request throttled (the shrunk chaos case)', /./, 0, 4, true],
  ] as const) {
    it(`a task completed in To Do is completed in Dynamics 365: ${what}`, async () => {
      const alice = stack.users.alice!;
      const subject = `Throttled completion ${what.length}${hot ? 'h' : ''}${skip}`;
      const task = stack.dataverse.admin.as(alice.systemUserId).create('tasks', { subject, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
      await stack.settled({ timeoutMs: 30_000 });
      stack.dataverse.admin.as(alice.systemUserId).update('tasks', String(task.activityid), { subject: `${subject} edited` });
      await stack.settled({ timeoutMs: 30_000 });
      const todo = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).find((t) => t.item.title === `${subject} edited`);
      expect(todo).toBeDefined();
      throttle(match, skip, times);
      if (hot) stack.dataverse.admin.as(alice.systemUserId).update('tasks', String(task.activityid), { subject: `${subject} hot` });
      await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo!.id, listId: todo!.parentId, body: { status: 'completed' } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled({ timeoutMs: 60_000 });
      stack.dataverse.admin.setFaultPlan({});
      await stack.host.fireTimer('pollTodo');
      await stack.settled({ timeoutMs: 60_000 });
      const record = stack.dataverse.admin.record('tasks', String(task.activityid));
      const after = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).find((t) => t.id === todo!.id);
      expect(record?.statecode).toBe(1);
      expect(after?.item.status).toBe('completed');
      const title = hot ? `${subject} hot` : `${subject} edited`;
      expect([record?.subject, after?.item.title]).toEqual([title, title]);
    }, 180_000);
  }
});
