// Disabling and enabling a mailbox again (defect 15): disable takes effect for every later change, even when it was
// done by another process (the CLI) while the worker's registry cache still says enabled; pairs are kept while
// disabled, whatever changes on either side; enabling again brings both sides up to date once, and a further enable
// finds nothing left to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { createLogger } from '../../shared/log.js';
import { planBackfill, runBackfill } from '../../shared/onboarding/backfill.js';
import { disableMailbox, enableMailbox } from '../../shared/onboarding/mailbox.js';
import { createRuntime, type Runtime } from '../../shared/runtime.js';
import { daysFromNow, outlookEvent } from '../support/e2e.js';

describe('defect 15: disable, change on both sides, enable again', () => {
  let stack: Stack;
  /** The operator's CLI: its own process, its own registry cache. */
  let cli: Runtime;
  beforeAll(async () => {
    stack = await startStack({ seed: 15 });
    cli = createRuntime(stack.env, { log: createLogger(() => undefined) });
    await cli.ready();
  }, 60_000);
  afterAll(async () => {
    await cli?.close();
    await stack?.close();
  });

  const todos = async (title: string) => (await stack.graph.admin.items({ user: stack.users.alice!.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === title);
  const bind = () => `/systemusers(${stack.users.alice!.systemUserId})`;

  it('defect 15: disable takes effect at once for every later change, keeps the pairs, and enabling again converges', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const task = as.create('tasks', { subject: 'Finish while disabled', scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': bind() });
    const other = as.create('tasks', { subject: 'Renamed while disabled', scheduledend: daysFromNow(4).toISOString(), 'ownerid@odata.bind': bind() });
    const event = await outlookEvent(stack, 'alice', 'Edited in Outlook while disabled', daysFromNow(5), { track: true });
    await stack.settled();
    const taskId = String(task.activityid);
    const otherId = String(other.activityid);
    const [record] = stack.dataverse.admin.records('appointments', `subject eq 'Edited in Outlook while disabled'`);
    expect((await todos('Finish while disabled'))[0]?.item.status).toBe('notStarted');
    const pairsBefore = await Promise.all([taskId, otherId, String(record!.activityid)].map((id) => stack.runtime.pairs.get(alice.graph.id, id)));
    expect(pairsBefore.every((p) => p?.status === 'linked')).toBe(true);

    // The operator disables Alice from the CLI; the worker's look-up cache was filled a moment before.
    await stack.runtime.mailboxes.findEnabled(alice.graph.id);
    await disableMailbox(cli, alice.userPrincipalName);
    expect((await stack.runtime.mailboxes.findEnabled(alice.graph.id))?.state).toBe('active');
    const writes = stack.runtime.calls.graphWrite;
    as.complete('tasks', taskId);
    as.update('tasks', otherId, { subject: 'Renamed while disabled (v2)' });
    await stack.graph.admin.updateEvent(alice.graph.id, String(event.id), { subject: 'Edited in Outlook while disabled (v2)' });
    await stack.settled();
    // Nothing reached the disabled mailbox, nothing came from it, and every pair is still there.
    expect(stack.runtime.calls.graphWrite).toBe(writes);
    expect((await todos('Finish while disabled'))[0]?.item.status).toBe('notStarted');
    expect(stack.dataverse.admin.record('appointments', String(record!.activityid))?.subject).toBe('Edited in Outlook while disabled');
    for (const id of [taskId, otherId, String(record!.activityid)]) expect(await stack.runtime.pairs.get(alice.graph.id, id)).toMatchObject({ status: 'linked' });

    // Enabled again: each side takes the other's changes, once.
    const enabled = await enableMailbox(cli, alice.userPrincipalName);
    const first = await runBackfill(cli, enabled.mailbox);
    expect(first.counts.createInExchange + first.counts.createInDataverse + first.counts.link).toBe(0);
    await stack.settled();
    expect((await todos('Finish while disabled'))[0]?.item.status).toBe('completed');
    expect(await todos('Renamed while disabled (v2)')).toHaveLength(1);
    expect(await todos('Renamed while disabled')).toHaveLength(0);
    expect(stack.dataverse.admin.record('appointments', String(record!.activityid))?.subject).toBe('Edited in Outlook while disabled (v2)');
    expect(stack.dataverse.admin.record('tasks', taskId)?.statecode).toBe(1);

    // And it has converged: a second enable plans nothing but "leave".
    const again = await planBackfill(cli, (await cli.mailboxes.get(alice.graph.id))!);
    expect({ link: again.link, createInExchange: again.createInExchange, createInDataverse: again.createInDataverse, update: again.update }).toEqual({ link: [], createInExchange: [], createInDataverse: [], update: [] });
  });
});
