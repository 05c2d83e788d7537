// A To Do completion is written to Dynamics 365 in two PATCHes (the fields, among them a past actualend, then the
// closing state change: a closed activity is read-only, shared/mapping/state.ts). When only the first one takes
// effect, the task still reads "completed" (rule 2 of todoStatusOfActivity: a past actualend completes it), so a
// retry that re-reads the record found nothing left to write and the task stayed open: shrunk from the chaos test's
// todo-completion-lost (test/chaos; a task completed in To Do under dvThrottle / dvErrorsAfter stayed open).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { HandledRequest } from '../../dev/sim/dataverse/index.js';
import { daysFromNow } from '../support/e2e.js';

describe('a To Do completion whose Dynamics 365 write was cut in half', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 23 });
  }, 60_000);
  afterAll(async () => stack?.close());

  const taskPatch = /^PATCH .*tasks\(/;

  /** Applies `plan` to task PATCHes once `skip` of them passed, until `times` of them were answered with `status`. */
  const faultPatches = (skip: number, times: number, status: (s: number) => boolean, plan: object) => {
    let passed = 0;
    let faulted = 0;
    const on = (r: HandledRequest) => {
      if (!taskPatch.test(`${r.method} ${r.path}`)) return;
      if (status(r.status)) faulted += 1;
      else if (passed < skip) passed += 1;
      if (passed === skip && faulted === 0) stack.dataverse.admin.setFaultPlan({ requests: { match: taskPatch.source, ...plan } });
      if (faulted >= times) {
        stack.dataverse.admin.setFaultPlan({});
        stack.dataverse.requests.off('handled', on);
      }
    };
    if (skip === 0) stack.dataverse.admin.setFaultPlan({ requests: { match: taskPatch.source, ...plan } });
    stack.dataverse.requests.on('handled', on);
  };

  for (const [what, arm] of [
    // The fields PATCH took effect, its answer was a 503: the in-process retry meets 412 (the record changed), the merge re-reads.
    ['the fields PATCH answered 503 after it took effect', () => faultPatches(0, 1, (s) => s >= 500, { serverError: { probability: 1, status: 503, afterExecution: true, times: 1 } })],
    // Every task PATCH after the first throttled past the in-process retries (3 attempts), so the worker retries the
    // change later: that was the closing PATCH while it was one of its own; now the completion is the first PATCH.
    ['a second PATCH throttled past the in-process retries', () => faultPatches(1, 4, (s) => s === 429, { throttle: { probability: 1, burst: 1, retryAfterSeconds: 1 } })],
  ] as const) {
    it(`a task completed in To Do is closed in Dynamics 365: ${what}`, async () => {
      const alice = stack.users.alice!;
      const subject = `Half-written completion ${what.length}`;
      const task = stack.dataverse.admin.as(alice.systemUserId).create('tasks', { subject, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
      await stack.settled({ timeoutMs: 30_000 });
      const todo = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'todoTask' })).find((t) => t.item.title === subject);
      expect(todo).toBeDefined();
      arm();
      await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo!.id, listId: todo!.parentId, body: { status: 'completed' } });
      await stack.host.fireTimer('pollTodo');
      await stack.settled({ timeoutMs: 60_000 });
      stack.dataverse.admin.setFaultPlan({});
      // A later poll and reconciliation do not hide it either: they find both sides "completed".
      await stack.host.fireTimer('pollTodo');
      await stack.host.fireTimer('reconcile');
      await stack.settled({ timeoutMs: 60_000 });
      const record = stack.dataverse.admin.record('tasks', String(task.activityid));
      expect(record?.statecode).toBe(1);
      expect(record?.statuscode).toBe(5);
    }, 180_000);
  }
});
