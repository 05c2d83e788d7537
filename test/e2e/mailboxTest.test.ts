// Test & Enable end to end (issue 16 item 5): `mailbox enable` runs the checks, prints them like Dynamics 365's
// mailbox test results and stores them; it refuses a mailbox whose Dataverse mailbox row has appointments, contacts
// and tasks delivered by server-side synchronization (the double engine), and --force enables it with the override
// recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { lastMailboxTest } from '../../shared/onboarding/mailboxTest.js';

describe('issue 16: mailbox Test & Enable', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 165 });
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

  it('a mailbox with no other engine passes every check and the results are printed and stored', async () => {
    const alice = stack.users.alice!;
    const run = await cli('mailbox', 'enable', alice.userPrincipalName, '--skip-backfill');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Appointments, Contacts, and Tasks Status: Success/);
    expect(run.stdout).toMatch(/No other engine syncs appointments, contacts and tasks +Success +actdeliverymethod 2 \(None\)/);
    expect(run.stdout).toMatch(/Dynamics 365: the app user can act as the user +Success/);
    expect(run.stdout).toMatch(/Dynamics 365: the user's time zone agrees with the mailbox's +Success +timezonecode 110 \(W\. Europe Standard Time\)/);
    const stored = await lastMailboxTest(stack.runtime, alice.graph.id);
    expect(stored?.results.map((r) => `${r.code}:${r.status}`)).toContain('engine.doubleEngine:Success');
    expect(stored?.forced).toBeUndefined();
  });

  it("warns, and still enables, when the user's Dynamics 365 time zone differs from the mailbox's", async () => {
    const alice = stack.users.alice!;
    // Alice's mailbox is in W. Europe Standard Time; her Dynamics 365 settings say Eastern Standard Time (35).
    stack.dataverse.admin.setUserTimeZone(alice.systemUserId, 35);
    const run = await cli('mailbox', 'enable', alice.userPrincipalName, '--skip-backfill');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Dynamics 365: the user's time zone agrees with the mailbox's +Warning +timezonecode 35 \(Eastern Standard Time\) differs from the mailbox's Europe\/Berlin: times are synced as instants/);
    expect((await lastMailboxTest(stack.runtime, alice.graph.id))?.results.find((r) => r.code === 'dataverse.timeZone')?.status).toBe('Warning');
    stack.dataverse.admin.setUserTimeZone(alice.systemUserId, 110);
  });

  it('refuses a mailbox that server-side synchronization also syncs, and --force enables it with the override recorded', async () => {
    const bob = stack.users.bob!;
    stack.dataverse.admin.setMailbox(bob.systemUserId, { actdeliverymethod: 1 });
    const before = await stack.runtime.mailboxes.get(bob.graph.id);
    const refused = await cli('mailbox', 'enable', bob.userPrincipalName, '--skip-backfill', '--entities', 'task');
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/Appointments, Contacts, and Tasks Status: Failure/);
    expect(refused.stderr).toMatch(/engine\.doubleEngine: the mailbox row has appointments, contacts and tasks delivered by Server-Side Synchronization \(actdeliverymethod 1\)/);
    // Nothing was written: the registry row is as it was.
    expect((await stack.runtime.mailboxes.get(bob.graph.id))?.entities).toEqual(before?.entities);
    expect((await lastMailboxTest(stack.runtime, bob.graph.id))?.results.find((r) => r.code === 'engine.doubleEngine')?.status).toBe('Failure');

    const forced = await cli('mailbox', 'enable', bob.userPrincipalName, '--skip-backfill', '--force', '--entities', 'task');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/Status: Success \(forced by test-operator over engine\.doubleEngine\)/);
    expect((await stack.runtime.mailboxes.get(bob.graph.id))?.entities).toEqual(['task']);
    expect((await lastMailboxTest(stack.runtime, bob.graph.id))?.forced).toMatchObject({ by: 'test-operator', codes: ['engine.doubleEngine'] });
  });
});
