// `doctor` against the simulators (issue 16 item 7): every check reports, the webhook tag round trip passes when the
// Dataverse simulator's webhooks carry the sync's tag and fails (saying the version check carries echo suppression)
// when they do not (simulator option webhookCarriesTag), and the probe record is gone afterwards. The subscription
// round trip passes when the probe event's notification reaches the webhook and is "unknown" when Graph drops it
// (the Graph simulator's fault plan, notifications.drop), after a bounded wait; a validation Graph refuses fails.
import { afterAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { probeIdPrefix, requiredDataversePrivileges, subscriptionProbePrefix } from '../../shared/doctor/index.js';

async function cli(stack: Stack, ...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: stack.env });
  return { code, stdout, stderr };
}

describe('issue 16: doctor', () => {
  const stacks: Stack[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.close();
  });

  for (const carriesTag of [true, false]) {
    it(`reports each assumption; the tag round trip ${carriesTag ? 'passes when the webhook carries the tag' : 'fails and names the version check when it does not'}`, async () => {
      const stack = await startStack({ seed: 167, webhookCarriesTag: carriesTag });
      stacks.push(stack);
      if (!carriesTag) {
        // This deployment's role also lacks two privileges, and bob's own Dynamics 365 zone is not his mailbox's.
        const appUser = (await stack.runtime.dataverse.whoAmI()).UserId;
        const held = requiredDataversePrivileges.filter((p) => p !== 'prvActOnBehalfOfAnotherUser').map((name) => ({ name, depth: name === 'prvWriteContact' ? ('Local' as const) : ('Global' as const) }));
        stack.dataverse.admin.setUserPrivileges(appUser, held);
        stack.dataverse.admin.setUserTimeZone(stack.users.bob!.systemUserId, 110);
        // And Graph drops every notification: the probe event's never arrives.
        await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
      }
      const graphWrites = stack.runtime.calls.graphWrite;
      const subscriptionsBefore = (await stack.graph.admin.subscriptions()).length;
      // Without the notification the wait runs out: bounded by --wait-seconds, so the failing case waits less.
      const run = await cli(stack, 'doctor', '--json', '--wait-seconds', carriesTag ? '20' : '3');
      const checks = JSON.parse(run.stdout) as { code: string; status: string; detail: string }[];
      const byCode = (code: string) => checks.filter((c) => c.code === code);
      expect(byCode('graph.permissions')[0]?.status).toBe('pass');
      expect(byCode('graph.accessPolicy').map((c) => c.status)).toEqual(['pass', 'pass']);
      expect(byCode('timeZone').map((c) => c.status)).toEqual(['pass', 'pass']);
      expect(byCode('graph.subscriptions').map((c) => c.status)).toEqual(['pass', 'pass']);
      expect(byCode('dataverse.applicationUser')[0]?.status).toBe('pass');
      const privileges = byCode('dataverse.privileges')[0]!;
      const zones = byCode('dataverse.timeZone');
      if (carriesTag) {
        expect(privileges.status).toBe('pass');
        expect(zones.map((c) => c.status)).toEqual(['pass', 'pass']);
      } else {
        expect(privileges).toMatchObject({ status: 'fail', detail: 'missing: prvWriteContact (Local, needs Organization), prvActOnBehalfOfAnotherUser (docs/deploy.md step 3)' });
        expect(zones.find((c) => c.detail.startsWith('bob@'))).toMatchObject({ status: 'fail' });
        expect(zones.find((c) => c.detail.startsWith('bob@'))?.detail).toMatch(/timezonecode 110 \(W\. Europe Standard Time\) differs from the mailbox's America\/New_York/);
        expect(zones.find((c) => c.detail.startsWith('alice@'))?.status).toBe('pass');
      }
      expect(byCode('graph.subscriptionValidation')[0]).toMatchObject({ status: 'pass' });
      expect(byCode('graph.subscriptionValidation')[0]?.detail).toMatch(/Graph validated https?:\/\/\S+\/graph\/notifications\?code=\*\*\* and created the probe subscription/);
      const roundTrip = byCode('graph.subscriptionRoundTrip')[0]!;
      if (carriesTag) {
        expect(roundTrip).toMatchObject({ status: 'pass' });
        expect(roundTrip.detail).toMatch(/: the notification for the probe event \(created\) reached the webhook with the probe's clientState$/);
      } else {
        expect(roundTrip).toMatchObject({ status: 'unknown' });
        expect(roundTrip.detail).toMatch(/no notification for the probe event arrived within 3000 ms/);
      }
      // The probe subscription and the probe event are deleted again.
      const subscriptions = await stack.graph.admin.subscriptions();
      expect(subscriptions.filter((x) => x.clientState?.startsWith(subscriptionProbePrefix))).toEqual([]);
      expect(subscriptions).toHaveLength(subscriptionsBefore);
      expect((await stack.graph.admin.items({ kind: 'event' })).filter((e) => String(e.item.subject).includes('doctor probe'))).toEqual([]);
      const tag = byCode('dataverse.webhookTag')[0]!;
      if (carriesTag) {
        expect(tag.status).toBe('pass');
        expect(run.code).toBe(0);
      } else {
        expect(tag.status).toBe('fail');
        expect(tag.detail).toMatch(/version check/);
        expect(run.code).toBe(1);
      }
      // Its own probe is deleted again, and nothing reached a mailbox.
      expect(stack.dataverse.admin.records('tasks').filter((t) => String(t.activityid).startsWith(probeIdPrefix))).toEqual([]);
      await stack.settled();
      expect(stack.runtime.calls.graphWrite).toBe(graphWrites);
      if (!carriesTag) {
        // A notification URL Graph cannot validate: no subscription, the check fails and names the URL (key masked).
        await stack.graph.admin.setFaultPlan({});
        await stack.graph.admin.failNext({ method: 'POST', path: '^/subscriptions$', status: 400, code: 'ValidationError', message: 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.' });
        const refused = await cli(stack, 'doctor', '--json', '--wait-seconds', '3');
        const validation = (JSON.parse(refused.stdout) as { code: string; status: string; detail: string }[]).filter((c) => c.code === 'graph.subscriptionValidation' || c.code === 'graph.subscriptionRoundTrip');
        expect(validation).toHaveLength(1);
        expect(validation[0]).toMatchObject({ code: 'graph.subscriptionValidation', status: 'fail' });
        expect(validation[0]!.detail).toMatch(/Graph did not create the probe subscription \(InvalidInput 400 ValidationError\): does https?:\/\/\S+\?code=\*\*\* answer Graph's validation request\?/);
      }
    }, 60_000);
  }
});
