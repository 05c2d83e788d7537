// Dataverse change tracking at tenant scale (issue 19 item 5): a round decides which changed rows matter from the
// users its rows name, asked of the registry's index by system user, and from each changed activity's parties, read
// in batches; it never lists the registry in one call, and its Dataverse queries do not grow with the mailboxes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { reconcileDataverse } from '../../shared/sync/reconcile.js';
import { countTableRequests, readsWholeRegistry } from '../support/tableRequests.js';
import { daysFromNow } from '../support/e2e.js';

const users = ['alice', 'bob', 'carol', 'dave'].map((key) => ({ key, userPrincipalName: `${key}@contoso.example`, displayName: `${key[0]!.toUpperCase()}${key.slice(1)} Tester`, timeZone: 'UTC' }));

describe('Dataverse change tracking without the whole registry', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 23, users, entities: ['appointment'], env: { SYNC_SWEEP_PAGE_SIZE: '2' } });
    // Carol and Dave are Dynamics 365 users whose mailboxes do not sync.
    for (const key of ['carol', 'dave']) await stack.runtime.mailboxes.patch(stack.users[key]!.graph.id, { state: 'disabled', stateReason: 'disabled by an administrator' });
    // The first round is a full one (no token yet): it lists every row there is, so start from a taken token.
    await reconcileDataverse(stack.runtime);
    await stack.settled();
    // A registry's first index look-up of a deployment marks the index built, after one scan (MailboxStore
    // ensureIndex, for registries from before the index): done here, so the round below is a steady one.
    await stack.runtime.mailboxes.findKnown('nobody@contoso.example');
  }, 60_000);
  afterAll(async () => stack?.close());

  /** An appointment written without webhooks (only change tracking finds it), owned by `owner`, with these attendees. */
  function seedAppointment(owner: string, subject: string, attendees: string[], day: number): string {
    const start = daysFromNow(day);
    const o = stack.users[owner]!;
    const [id] = stack.dataverse.admin.seedRecords(
      'appointments',
      [
        {
          subject,
          scheduledstart: start.toISOString(),
          scheduledend: new Date(start.getTime() + 3600_000).toISOString(),
          'ownerid@odata.bind': `/systemusers(${o.systemUserId})`,
          appointment_activity_parties: [
            { 'partyid_systemuser@odata.bind': `/systemusers(${o.systemUserId})`, participationtypemask: 7 },
            ...attendees.map((a) => ({ 'partyid_systemuser@odata.bind': `/systemusers(${stack.users[a]!.systemUserId})`, participationtypemask: 5 })),
          ],
        },
      ],
      { ownerId: o.systemUserId },
    );
    return id!;
  }

  it('finds the rows an enabled mailbox owns or attends, skips the others, and reads no whole registry', async () => {
    const owned = seedAppointment('bob', 'Owned by a syncing user', [], 2);
    const attended = seedAppointment('carol', 'Attended by a syncing user', ['alice'], 3);
    const neither = seedAppointment('carol', 'Nobody who syncs', ['dave'], 4);
    const registry = countTableRequests(stack.runtime.tables.client('mailboxes'));
    const parties = () => Object.entries(stack.dataverse.admin.requestCounts().byRoute).filter(([route]) => route.includes('activityparties')).reduce((n, [, c]) => n + c, 0);
    const partyQueries = parties();
    const result = await reconcileDataverse(stack.runtime);
    registry.stop();
    expect(result.errors).toEqual([]);
    expect(result.tables).toContain('appointment');
    expect(result.enqueued).toBe(2);
    expect(result.skipped).toBeGreaterThanOrEqual(1);
    // No query of the mailbox partition without a filter: the users were asked of the index, the tables of one page.
    expect(registry.requests.filter((r) => readsWholeRegistry(r.url)).map((r) => r.url)).toEqual([]);
    // One activityparty query for the two rows no syncing user owns, whatever the number of mailboxes (it was one
    // query per enabled mailbox's user). The worker's reads of the records it syncs are not the round's.
    expect(parties() - partyQueries).toBe(1);
    await stack.settled();
    const subjects = async (user: string) => (await stack.graph.admin.items({ user: stack.users[user]!.graph.id, kind: 'event' })).map((e) => String(e.item.subject));
    expect(await subjects('bob')).toContain('Owned by a syncing user');
    expect(await subjects('alice')).toContain('Attended by a syncing user');
    expect([...(await subjects('alice')), ...(await subjects('bob'))]).not.toContain('Nobody who syncs');
    expect(await stack.runtime.pairs.mailboxesOf(owned)).toEqual([stack.users.bob!.graph.id.toLowerCase()]);
    expect(await stack.runtime.pairs.mailboxesOf(attended)).toEqual([stack.users.alice!.graph.id.toLowerCase()]);
    expect(await stack.runtime.pairs.mailboxesOf(neither)).toEqual([]);
  });
});
