// Issue 16 items 1-3 and 6 end to end (simulators, Azurite, local host, the CLI in-process): the sync configuration
// as data. A field direction changed with `config set` is honoured both ways and can be re-applied with --resync; a
// scope-filter change is previewed per mailbox, then applied: what leaves is unlinked and never deleted, what
// enters is created; `explain` answers for a tracked, an untracked, an out-of-scope and a dead-lettered item.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { dataverseChange } from '../../shared/servicebus/messages.js';
import { createAppointment, daysFromNow, events, outlookEvent } from '../support/e2e.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('sync configuration as data (issue 16)', () => {
  let stack: Stack;
  const cli = async (...args: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { ...stack.env, USER: 'e2e-admin' } });
    return { code, stdout, stderr };
  };
  beforeAll(async () => {
    stack = await startStack({ seed: 1616, env: { SYNC_MAX_ATTEMPTS: '1' } });
  }, 60_000);
  afterAll(async () => stack?.close());

  const eventOf = async (user: string, dataverseId: string) => {
    const pair = await stack.runtime.pairs.get(stack.users[user]!.graph.id, dataverseId);
    return (await events(stack, user)).find((e) => e.id === pair?.exchangeId);
  };
  const todos = async (user: string, title: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'todoTask' })).filter((t) => t.item.title === title);

  it('refuses a direction server-side sync does not allow, naming the key and the rule, and writes no version', async () => {
    const run = await cli('config', 'set', 'fields.appointment.time.direction', 'toExchange');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/fields\.appointment\.time\.direction: appointment time is a fixed field: it only syncs both .*\[rule allowed-directions\]/);
    expect((await stack.runtime.config.snapshot({ fresh: true })).version).toBe(0);
  });

  it('a location set to toExchange flows only to Exchange, set to toDataverse only to Dynamics 365', async () => {
    const alice = stack.users.alice!;
    const appointment = createAppointment(stack, 'alice', 'Directions review', daysFromNow(4));
    const id = String(appointment.activityid);
    await stack.settled();
    const as = stack.dataverse.admin.as(alice.systemUserId);

    const set = await cli('config', 'set', 'fields.appointment.location.direction', 'toExchange', '--mailbox', alice.userPrincipalName);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`mailbox:${alice.graph.id.toLowerCase()} fields.appointment.location.direction: (unset) -> toExchange`);
    // Outlook's edit stays in Outlook ...
    const event = (await eventOf('alice', id))!;
    await stack.graph.admin.updateEvent(alice.graph.id, event.id, { location: { displayName: 'Room from Outlook' } });
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments').find((a) => a.activityid === id)?.location ?? null).toBeNull();
    // ... Dynamics 365's goes to Outlook.
    as.update('appointments', id, { location: 'Room from Dynamics' });
    await stack.settled();
    expect(((await eventOf('alice', id))!.item.location as { displayName?: string } | undefined)?.displayName).toBe('Room from Dynamics');

    expect((await cli('config', 'set', 'fields.appointment.location.direction', 'toDataverse', '--mailbox', alice.userPrincipalName)).code).toBe(0);
    as.update('appointments', id, { location: 'Dynamics again' });
    await stack.settled();
    expect(((await eventOf('alice', id))!.item.location as { displayName?: string } | undefined)?.displayName).toBe('Room from Dynamics');
    await stack.graph.admin.updateEvent(alice.graph.id, event.id, { location: { displayName: 'Outlook wins now' } });
    await stack.settled();
    expect(stack.dataverse.admin.records('appointments').find((a) => a.activityid === id)?.location).toBe('Outlook wins now');
    expect((await cli('config', 'unset', 'fields.appointment.location.direction', '--mailbox', alice.userPrincipalName)).code).toBe(0);
  });

  it("a field set to toDataverse everywhere leaves the appointment Update step's filtering attributes, so its Dynamics 365 edits raise no webhook; set back, it raises them again", async () => {
    const alice = stack.users.alice!;
    const appointment = createAppointment(stack, 'alice', 'Filtering review', daysFromNow(5));
    const id = String(appointment.activityid);
    await stack.settled();
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const step = () => stack.dataverse.admin.records('sdkmessageprocessingsteps').find((x) => x.name === 'dataverse-exchange-sync: Update of appointment')!;
    const updates = () => stack.dataverse.admin.deliveries({ entity: 'appointment', message: 'Update', recordId: id }).length;
    expect(String(step().filteringattributes).split(',')).toContain('location');

    const off = await cli('config', 'set', 'fields.appointment.location.direction', 'toDataverse');
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/step "dataverse-exchange-sync: Update of appointment" updated \(filtering attributes: [a-z_,]+\)/);
    expect(String(step().filteringattributes).split(',')).not.toContain('location');
    // The other tables' steps and the appointment's other columns are unchanged.
    expect(String(step().filteringattributes).split(',')).toContain('subject');
    const before = updates();
    as.update('appointments', id, { location: 'Not raised' });
    await stack.settled();
    expect(updates()).toBe(before);

    const on = await cli('config', 'unset', 'fields.appointment.location.direction');
    expect(on.code, on.stderr).toBe(0);
    expect(String(step().filteringattributes).split(',')).toContain('location');
    as.update('appointments', id, { location: 'Raised again' });
    await stack.settled();
    expect(updates()).toBe(before + 1);
    expect(((await eventOf('alice', id))!.item.location as { displayName?: string } | undefined)?.displayName).toBe('Raised again');
    // A mailbox's own key counts too: the step keeps a field any scope lets flow to Exchange.
    const mixed = await cli('config', 'set', 'fields.appointment.location.direction', 'toDataverse', '--mailbox', alice.userPrincipalName);
    expect(mixed.stdout).toContain('webhook filtering attributes already match the directions');
    expect((await cli('config', 'unset', 'fields.appointment.location.direction', '--mailbox', alice.userPrincipalName)).code).toBe(0);
  });

  it('--resync counts the pairs in scope first, then writes a field switched back on without waiting for a change', async () => {
    const bob = stack.users.bob!;
    const appointment = createAppointment(stack, 'bob', 'Resync me', daysFromNow(5));
    const id = String(appointment.activityid);
    await stack.settled();
    expect((await cli('config', 'set', 'fields.appointment.subject.direction', 'none', '--mailbox', bob.userPrincipalName)).code).toBe(0);
    stack.dataverse.admin.as(bob.systemUserId).update('appointments', id, { subject: 'Renamed in Dynamics' });
    await stack.settled();
    expect((await eventOf('bob', id))!.item.subject).toBe('Resync me');

    const pairs = await (async () => {
      let n = 0;
      for await (const p of stack.runtime.pairs.listMailbox(bob.graph.id)) if (p.kind === 'appointment' && !p.mirror && p.exchangeId) n += 1;
      return n;
    })();
    const dry = await cli('config', 'set', 'fields.appointment.subject.direction', 'both', '--mailbox', bob.userPrincipalName, '--resync', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Dry run: nothing is changed.');
    expect(dry.stdout).toContain(`resync ${bob.userPrincipalName} appointment: ${pairs} pair(s) in scope, fields subject`);
    expect((await eventOf('bob', id))!.item.subject).toBe('Resync me');

    const run = await cli('config', 'set', 'fields.appointment.subject.direction', 'both', '--mailbox', bob.userPrincipalName, '--resync');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`resync applied: ${pairs} pair\\(s\\) merged again, [1-9]\\d* written`));
    expect((await eventOf('bob', id))!.item.subject).toBe('Renamed in Dynamics');
  });

  it('a scope filter change is previewed per mailbox, then applied: the task that leaves is unlinked, not deleted; one that enters is created', async () => {
    const carol = stack.users.carol ?? stack.users.alice!;
    const key = carol === stack.users.alice ? 'alice' : 'carol';
    const as = stack.dataverse.admin.as(carol.systemUserId);
    const bind = `/systemusers(${carol.systemUserId})`;
    const high = as.create('tasks', { subject: 'Scope high', prioritycode: 2, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': bind });
    const low = as.create('tasks', { subject: 'Scope low', prioritycode: 0, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': bind });
    await stack.settled();
    expect(await todos(key, 'Scope low')).toHaveLength(1);
    const lowId = String(low.activityid);
    const highOnly = JSON.stringify([{ name: 'High only', who: 'ownerOrParty', where: [{ column: 'prioritycode', op: 'eq', value: 2 }] }]);

    const dry = await cli('config', 'set', 'scope.task', highOnly, '--mailbox', carol.userPrincipalName, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`${carol.userPrincipalName} task: 0 enter, [1-9]\\d* leave \\(leaving items are unlinked, never deleted\\)`));
    expect(dry.stdout).toContain(`leave: task ${lowId}`);
    expect(dry.stdout).not.toContain(`leave: task ${String(high.activityid)}`);
    expect(await stack.runtime.pairs.get(carol.graph.id, lowId)).toBeDefined();

    const run = await cli('config', 'set', 'scope.task', highOnly, '--mailbox', carol.userPrincipalName);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/scope applied: [1-9]\d* unlinked, 0 enqueued to enter/);
    await stack.settled();
    expect(await stack.runtime.pairs.get(carol.graph.id, lowId)).toBeUndefined();
    expect(await todos(key, 'Scope low')).toHaveLength(1);
    expect(await stack.runtime.pairs.get(carol.graph.id, String(high.activityid))).toMatchObject({ status: 'linked' });

    // While the filter holds, a new low-priority task stays out, and explain says why.
    const later = as.create('tasks', { subject: 'Scope later', prioritycode: 0, scheduledend: daysFromNow(2).toISOString(), 'ownerid@odata.bind': bind });
    await stack.settled();
    expect(await todos(key, 'Scope later')).toHaveLength(0);
    const out = await cli('explain', String(later.activityid));
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/OutOfScope in .*: no sync filter matches \(High only\)/);

    // Back to the default: both low tasks enter; the one unlinked before adopts its old copy, no duplicate.
    const back = await cli('config', 'unset', 'scope.task', '--mailbox', carol.userPrincipalName, '--dry-run');
    expect(back.stdout).toContain(`enter: task ${String(later.activityid)} (filter "My Activities")`);
    expect(back.stdout).toContain(`enter: task ${lowId} (filter "My Activities")`);
    expect((await cli('config', 'unset', 'scope.task', '--mailbox', carol.userPrincipalName)).code).toBe(0);
    await stack.settled();
    expect(await todos(key, 'Scope later')).toHaveLength(1);
    expect(await todos(key, 'Scope low')).toHaveLength(1);
    expect(await stack.runtime.pairs.get(carol.graph.id, lowId)).toMatchObject({ status: 'linked' });
  });

  it('explain answers for a tracked, an untracked and a dead-lettered item, in the CLI and at GET /api/status?explain=', async () => {
    const alice = stack.users.alice!;
    const synced = createAppointment(stack, 'alice', 'Explain me', daysFromNow(6));
    const untracked = await outlookEvent(stack, 'alice', 'Private lunch', daysFromNow(2), { track: false });
    await stack.settled();

    const tracked = await cli('explain', String(synced.activityid));
    expect(tracked.code, tracked.stderr).toBe(0);
    expect(tracked.stdout).toMatch(new RegExp(`${alice.userPrincipalName}\\s+appointment\\s+appointment ${String(synced.activityid)}\\s+\\S+\\s+linked`));
    expect(tracked.stdout).toMatch(/Create\s+created\s+v\d+\s+not paired: create in Exchange/);
    expect(tracked.stdout).toMatch(/last to Exchange: 20\d\d-/);

    const notTracked = await cli('explain', String(untracked.id));
    expect(notTracked.stdout).toContain('Pairs: none');
    expect(notTracked.stdout).toMatch(/Ignore\s+ignored\s+v\d+\s+not tracked/);

    // A change that fails for good (the record's end is before its start) is dead-lettered; explain says so.
    const bad = createAppointment(stack, 'alice', 'Broken times', daysFromNow(3));
    await stack.settled();
    const start = daysFromNow(3);
    await stack.runtime.sender.send([
      dataverseChange(
        {
          entity: 'appointment',
          recordId: String(bad.activityid),
          message: 'Update',
          image: { ...bad, '@odata.etag': 'W/"999999"', scheduledstart: start.toISOString(), scheduledend: new Date(start.getTime() - 3600_000).toISOString() },
        },
        { receivedAt: new Date().toISOString() },
      ),
    ]);
    await stack.settled();
    const response = await fetch(`${stack.host.origin}/api/status?code=${stack.functionKey}&explain=${String(bad.activityid)}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { summary: string; mailboxes: { decisions: { decision: string; reason: string }[] }[] };
    expect(body.summary).toMatch(/^DeadLettered/);
    expect(body.mailboxes.flatMap((m) => m.decisions).find((d) => d.decision === 'DeadLettered')?.reason).toMatch(/^InvalidInput: .*scheduledend/);
    expect(JSON.stringify(body)).not.toContain('Broken times');

    const never = await cli('explain', '00000000-0000-4000-8000-000000000000');
    expect(never.stdout).toContain('no decision recorded for this Dataverse id');
    const hostile = await fetch(`${stack.host.origin}/api/status?code=${stack.functionKey}&explain=${'x'.repeat(2000)}`);
    expect(hostile.status).toBe(400);
  });

  it('status shows the configuration version in force; export imports back with no change', async () => {
    const status = await cli('status');
    const version = (await stack.runtime.config.snapshot({ fresh: true })).version;
    expect(status.stdout).toMatch(new RegExp(`Sync configuration: version ${version} \\(.* by e2e-admin\\)`));
    const exported = await cli('config', 'export');
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'config.json');
    writeFileSync(file, exported.stdout);
    const again = await cli('config', 'import', file, '--dry-run');
    expect(again.stdout).toContain(`No change: the configuration is already so (version ${version}).`);
  });

  // As the record leaving by its own change does (engine.ts catchUpLeavingCopy, test/e2e/reassignedCopy.test.ts): a
  // change of the copy the sync has not heard yet (To Do is polled) was made while the item was in scope, so the
  // filter change writes it to Dynamics 365 before it lets the copy go; else the edit stayed in To Do only.
  it('a filter change writes an unheard change of a leaving copy to Dynamics 365 before it unlinks the pair', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const low = as.create('tasks', { subject: 'Scope unheard', prioritycode: 0, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    const id = String(low.activityid);
    await stack.settled();
    const [todo] = await todos('alice', 'Scope unheard');
    expect(todo).toBeDefined();
    await stack.graph.admin.act({ action: 'update', user: alice.graph.id, kind: 'todoTask', id: todo!.id, listId: todo!.parentId, body: { title: 'Scope unheard (edited in To Do)' } });
    const highOnly = JSON.stringify([{ name: 'High only', who: 'ownerOrParty', where: [{ column: 'prioritycode', op: 'eq', value: 2 }] }]);
    const run = await cli('config', 'set', 'scope.task', highOnly, '--mailbox', alice.userPrincipalName);
    expect(run.code, run.stderr).toBe(0);
    try {
      expect(run.stdout).toContain(`leave: task ${id}`);
      expect(run.stdout).not.toContain('without catching up');
      await stack.settled();
      expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
      expect(stack.dataverse.admin.record('tasks', id)?.subject, "the copy's change, made while in scope").toBe('Scope unheard (edited in To Do)');
      expect((await stack.runtime.pairs.unlinkedCopy(alice.graph.id, 'exchange', todo!.id))?.cause, 'remembered as left out of scope').toBe('outOfScope');
      // The poll then finds the copy unpaired and remembered: it writes nothing.
      await stack.host.fireTimer('pollTodo');
      await stack.settled();
      expect(stack.dataverse.admin.records('tasks').filter((t) => String(t.subject).startsWith('Scope unheard'))).toHaveLength(1);
    } finally {
      expect((await cli('config', 'unset', 'scope.task', '--mailbox', alice.userPrincipalName)).code).toBe(0);
      await stack.settled();
    }
  });

  it('a filter change whose catch-up of a leaving copy fails lets the copy go, and says so, instead of stopping half-way', async () => {
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const id = String(as.create('tasks', { subject: 'Scope unreadable', prioritycode: 0, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` }).activityid);
    await stack.settled();
    const [todo] = await todos('alice', 'Scope unreadable');
    expect(todo).toBeDefined();
    // Every attempt of the catch-up's read of the copy fails (the client tries 3 times: shared/http/retry.ts). The
    // id's other characters are URL-encoded in the path.
    await stack.graph.admin.failNext({ method: 'GET', path: `/tasks/${todo!.id.replace(/[^A-Za-z0-9]/g, '.*')}$`, status: 503, times: 3 });
    const highOnly = JSON.stringify([{ name: 'High only', who: 'ownerOrParty', where: [{ column: 'prioritycode', op: 'eq', value: 2 }] }]);
    const run = await cli('config', 'set', 'scope.task', highOnly, '--mailbox', alice.userPrincipalName);
    try {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`leave: task ${id}`);
      expect(run.stdout).toContain('1 leaving copy/copies let go without catching up an unsynced Outlook change');
      expect(await stack.runtime.pairs.get(alice.graph.id, id)).toBeUndefined();
      expect((await stack.runtime.pairs.unlinkedCopy(alice.graph.id, 'exchange', todo!.id))?.cause).toBe('outOfScope');
    } finally {
      expect((await cli('config', 'unset', 'scope.task', '--mailbox', alice.userPrincipalName)).code).toBe(0);
      await stack.settled();
    }
  });

  it('a copy a filter change left behind is not created again in Dynamics 365 once its record is deleted', async () => {
    // As the record leaving the scope by its own change does (engine.ts, test/e2e/unlinkedCopy.test.ts), the
    // filter change remembers the copy it leaves, so a later listing of it (its stamp naming a deleted record) is not
    // taken for a new task made in To Do.
    const alice = stack.users.alice!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const low = as.create('tasks', { subject: 'Scope gone', prioritycode: 0, scheduledend: daysFromNow(3).toISOString(), 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` });
    await stack.settled();
    expect(await todos('alice', 'Scope gone')).toHaveLength(1);
    const highOnly = JSON.stringify([{ name: 'High only', who: 'ownerOrParty', where: [{ column: 'prioritycode', op: 'eq', value: 2 }] }]);
    const run = await cli('config', 'set', 'scope.task', highOnly, '--mailbox', alice.userPrincipalName);
    expect(run.code, run.stderr).toBe(0);
    await stack.settled();
    expect(await stack.runtime.pairs.get(alice.graph.id, String(low.activityid))).toBeUndefined();

    as.delete('tasks', String(low.activityid));
    await stack.settled();
    await stack.host.fireTimer('reconcile');
    await stack.settled();
    await stack.host.fireTimer('pollTodo');
    await stack.settled();
    expect(stack.dataverse.admin.records('tasks').filter((t) => t.subject === 'Scope gone')).toEqual([]);
    expect(await todos('alice', 'Scope gone')).toHaveLength(1);
    expect((await cli('config', 'unset', 'scope.task', '--mailbox', alice.userPrincipalName)).code).toBe(0);
  });
});
