// The mass-delete breaker end to end through the simulators (issue 16 item 4): it trips on the ratio (Dataverse
// Delete webhooks), on the absolute cap (Outlook delete notifications) and on an empty listing (a reconciliation
// that starts over and lists nothing); held deletes wait in the quarantine while creates go on; and the CLI's
// release, discard and restore each do what they say. Thresholds are small so a few items trip them; each test
// uses its own scope (mailbox, kind, direction).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { buildStatus } from '../../shared/status/index.js';
import { reconcileMailbox } from '../../shared/sync/reconcile.js';
import { daysFromNow, outlookEvent } from '../support/e2e.js';

describe('issue 16: the mass-delete breaker', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 16 });
    // The limits are configuration (config set breaker.<limit>): small, so a few items trip them.
    const plan = await stack.runtime.config.planSet('global', { 'breaker.minDeletes': 3, 'breaker.deleteRatio': 0.5, 'breaker.deleteCap': 4, 'breaker.inferredDeleteRatio': 0.5, 'breaker.inferredDeleteCap': 4, 'breaker.emptyListingMinPairs': 3 });
    await stack.runtime.config.apply(plan, 'test');
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  async function cli(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { ...stack.env, USER: 'test-operator' } });
    return { code, stdout, stderr };
  }
  const todosOf = async (user: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'todoTask' })).map((t) => String(t.item.title));

  it('ratio: Dataverse deletes past half of the pairs are held; creates go on; release, restore and discard each do what they say', async () => {
    const bob = stack.users.bob!;
    const as = stack.dataverse.admin.as(bob.systemUserId);
    const owner = { 'ownerid@odata.bind': `/systemusers(${bob.systemUserId})` };
    const ids = Array.from({ length: 6 }, (_, i) => String(as.create('tasks', { subject: `Ratio${i}`, scheduledend: daysFromNow(3 + i).toISOString(), ...owner }).activityid));
    await stack.settled();
    expect((await todosOf('bob')).filter((s) => s.startsWith('Ratio'))).toHaveLength(6);

    for (const id of ids) as.delete('tasks', id);
    await stack.settled();
    // The deletes run in any order: the first three pass (1 and 2 below minDeletes, 3 is 50 % of 6, not past it),
    // the fourth is 67 % and trips the scope, which holds it and every later one.
    const remaining = (await todosOf('bob')).filter((s) => s.startsWith('Ratio'));
    expect(remaining).toHaveLength(3);
    const scope = `${bob.userPrincipalName}/task/toExchange`;
    const list = await cli('breaker', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${bob.graph.id.toLowerCase()}/task/toExchange +ratio at `));
    const show = await cli('breaker', 'show', scope, '--json');
    const held = (JSON.parse(show.stdout) as { held: { dataverseId: string; trigger: string }[] }).held;
    const heldIds = held.map((h) => h.dataverseId);
    expect(heldIds.map((id) => `Ratio${ids.indexOf(id)}`).sort()).toEqual([...remaining].sort());
    expect(new Set(held.map((h) => h.trigger))).toEqual(new Set(['ratio']));
    // The pairs of held deletes are kept.
    for (const id of heldIds) expect(await stack.runtime.pairs.get(bob.graph.id, id)).toBeDefined();
    // The status report (and so the status page) names the tripped scope and how much it holds.
    expect((await buildStatus(stack.runtime)).breakerHolds).toEqual([expect.objectContaining({ mailboxId: bob.graph.id.toLowerCase(), kind: 'task', direction: 'toExchange', trigger: 'ratio', held: remaining.length })]);
    const [released, restoredId, discarded] = heldIds as [string, string, string];
    const subject = (id: string) => `Ratio${ids.indexOf(id)}`;

    // Creates of the tripped scope go on.
    as.create('tasks', { subject: 'RatioNew', scheduledend: daysFromNow(2).toISOString(), ...owner });
    await stack.settled();
    expect(await todosOf('bob')).toContain('RatioNew');

    // release: the held delete is done.
    const release = await cli('breaker', 'release', scope, '--ids', released);
    expect(release.code).toBe(0);
    expect(release.stdout).toMatch(/release: 1 item\(s\) by test-operator$/m);
    expect(await todosOf('bob')).not.toContain(subject(released));
    // explain shows what was decided for it: held by the breaker, then released by the operator.
    const decisions = (await stack.runtime.decisions.lookup({ dataverseId: released })).flatMap((d) => d.decisions);
    expect(decisions.map((d) => d.decision)).toEqual(expect.arrayContaining(['Held', 'Released']));
    expect(decisions.find((d) => d.decision === 'Released')?.outcome).toBe('deleted');
    // restore: the Dataverse record is made again from the To Do copy, and paired.
    const restore = await cli('breaker', 'restore', scope, '--ids', restoredId);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    const restored = stack.dataverse.admin.records('tasks').filter((r) => r.subject === subject(restoredId));
    expect(restored, restore.stdout).toHaveLength(1);
    expect(await todosOf('bob')).toContain(subject(restoredId));
    expect(await stack.runtime.pairs.get(bob.graph.id, String(restored[0]!.activityid))).toMatchObject({ status: 'linked' });
    // discard: nothing is deleted, the pair is gone, the scope is cleared.
    const discard = await cli('breaker', 'discard', scope);
    expect(discard.code).toBe(0);
    expect(discard.stdout).toContain('cleared');
    expect(await todosOf('bob')).toContain(subject(discarded));
    expect(await stack.runtime.pairs.get(bob.graph.id, discarded)).toBeUndefined();
    expect((await cli('breaker', 'show', scope)).stdout).toMatch(/not tripped; 0 held/);
    // Every action is in the audit log with the operator.
    const after = await cli('breaker', 'list');
    expect(after.stdout).toMatch(/release +\S+task\/toExchange +1 +test-operator/);
    expect(after.stdout).toMatch(/restore +\S+task\/toExchange +1 +test-operator/);
    expect(after.stdout).toMatch(/discard +\S+task\/toExchange +1 +test-operator/);
  });

  it('cap: Outlook deletes past the absolute cap are held, and restore puts the events back in Outlook', async () => {
    const alice = stack.users.alice!;
    const made = [];
    for (let i = 0; i < 10; i += 1) made.push(await outlookEvent(stack, 'alice', `Cap ${i}`, daysFromNow(2 + i), { track: true }));
    await stack.settled();
    const records = () => stack.dataverse.admin.records('appointments').filter((r) => String(r.subject).startsWith('Cap ')).filter((r) => r.statecode !== 2);
    expect(records()).toHaveLength(10);
    for (const e of made.slice(0, 6)) await stack.graph.admin.act({ user: alice.graph.id, action: 'delete', kind: 'event', id: String(e.id) });
    await stack.settled();
    // 3 of 10 and 4 of 10 pass the ratio; the fifth passes the cap of 4: two are held.
    const dataverseDeletes = 10 - stack.dataverse.admin.records('appointments').filter((r) => String(r.subject).startsWith('Cap ')).length;
    const scope = `${alice.userPrincipalName}/appointment/toDataverse`;
    const show = JSON.parse((await cli('breaker', 'show', scope, '--json')).stdout) as { trip: { trigger: string }; held: { exchangeId: string }[] };
    expect(show.trip.trigger).toBe('hardCap');
    expect(show.held).toHaveLength(2);
    expect(dataverseDeletes).toBe(4);

    const restore = await cli('breaker', 'restore', scope);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain('cleared');
    const subjects = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).map((e) => String(e.item.subject)).filter((s) => s.startsWith('Cap '));
    // The four deleted in Dataverse stay gone; the two held are back in Outlook.
    expect(subjects).toHaveLength(6);
  });

  it('empty listing: a reconciliation that starts over and lists no events holds every delete it infers; discard keeps the records', async () => {
    const bob = stack.users.bob!;
    for (let i = 0; i < 4; i += 1) await outlookEvent(stack, 'bob', `Empty ${i}`, daysFromNow(3 + i), { track: true });
    await stack.settled();
    const records = () => stack.dataverse.admin.records('appointments').filter((r) => String(r.subject).startsWith('Empty '));
    expect(records()).toHaveLength(4);
    // A first round stores the calendar's delta token.
    await reconcileMailbox(stack.runtime, (await stack.runtime.mailboxes.get(bob.graph.id))!);
    await stack.settled();

    // Every event goes from Exchange without a notification, and the delta token is lost: the next round lists
    // from scratch and finds nothing.
    const events = await stack.graph.admin.items({ user: bob.graph.id, kind: 'event' });
    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    for (const e of events) await stack.graph.admin.act({ user: bob.graph.id, action: 'delete', kind: 'event', id: e.id });
    await stack.graph.admin.setFaultPlan({});
    await stack.graph.admin.evictDeltaTokens(bob.graph.id);
    const round = await reconcileMailbox(stack.runtime, (await stack.runtime.mailboxes.get(bob.graph.id))!);
    expect(round.errors).toEqual([]);
    expect(round.resynced).toBeGreaterThan(0);
    await stack.settled();

    expect(records()).toHaveLength(4);
    const scope = `${bob.userPrincipalName}/appointment/toDataverse`;
    const show = JSON.parse((await cli('breaker', 'show', scope, '--json')).stdout) as { trip: { trigger: string }; held: { inferred: boolean }[] };
    expect(show.trip.trigger).toBe('emptyListing');
    expect(show.held).toHaveLength(events.length);
    expect(show.held.every((h) => h.inferred)).toBe(true);

    const discard = await cli('breaker', 'discard', scope);
    expect(discard.code).toBe(0);
    expect(records()).toHaveLength(4);
    for (const r of records()) expect(await stack.runtime.pairs.get(bob.graph.id, String(r.activityid))).toBeUndefined();
  });

  it('a scope that is not one refuses with the rule it breaks (usage error, nothing written)', async () => {
    const bad = await cli('breaker', 'show', 'nobody/contact/sideways');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/direction is one of toExchange, toDataverse/);
  });
});
