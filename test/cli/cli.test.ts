// The CLI's main() run in-process against the whole local stack (simulators, Azurite, local host): every command
// is idempotent, prints what it changed, and exits 0 / 1 / 2 as documented.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { changesQueue } from '../../shared/servicebus/queues.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

describe('usage', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [[], /missing command/],
    [['mailbox'], /missing mailbox command: one of enable, disable, list/],
    [['mailbox', 'enable'], /mailbox enable needs <upn>/],
    [['mailbox', 'enable', 'a@b', 'c@d'], /unexpected argument "c@d"/],
    [['mailbox', 'enable', 'a@b', '--entities', 'appointment,chat'], /--entities: chat is not one of appointment, task, contact, email/],
    [['mailbox', 'enable', 'a@b', '--from', 'team.txt'], /give a <upn> or --from <file>, not both/],
    [['mailbox', 'enable', '--from', '/nonexistent/team.txt'], /--from: cannot read \/nonexistent\/team.txt \(ENOENT\)/],
    [['status', '--verbose'], /status: unknown option '--verbose'/],
    [['dlq', 'replay'], /say what to replay: --all or --message-id <id>/],
    [['dlq', 'replay', '--all', '--message-id', 'x'], /--all and --message-id exclude each other/],
    [['dlq', 'list', '--max', '0'], /--max must be a whole number from 1 to 5000, got "0"/],
    [['status', '--env-file', '/nonexistent/settings.env'], /--env-file \/nonexistent\/settings.env cannot be read: ENOENT/],
  ])('%j exits 2 naming the problem', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/^usage: dataverse-exchange-sync /m);
    expect(run.stdout).toBe('');
  });

  it('mailbox enable --from refuses a file that names no mailbox or a line that is not one, and a concurrency out of range', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-from-'));
    try {
      const write = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const cases: [string[], RegExp][] = [
        [['--from', write('empty.txt', '# nobody yet\n\n')], /--from: .*empty.txt names no mailbox/],
        [['--from', write('csv.txt', 'alice@contoso.example, bob@contoso.example\n')], /--from: one UPN or Entra object id a line, not 'alice@contoso.example, bob@contoso.example'/],
        [['--from', write('ok.txt', 'alice@contoso.example\n'), '--concurrency', '0'], /--concurrency takes a whole number from 1 to 16, not '0'/],
        [['--from', write('ok2.txt', 'alice@contoso.example\n'), '--concurrency', '2.5'], /--concurrency takes a whole number from 1 to 16, not '2.5'/],
      ];
      for (const [args, message] of cases) {
        const run = await cli(['mailbox', 'enable', ...args]);
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(message);
        expect(run.stdout).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help describes each command and exits 0 without any settings', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const name of ['dataverse register-webhooks', 'mailbox enable', 'mailbox disable', 'mailbox list', 'status', 'dlq list', 'dlq replay']) {
      expect(top.stdout).toContain(name);
      const one = await cli([...name.split(' '), '--help']);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(new RegExp(`^Usage: dataverse-exchange-sync ${name}`));
    }
  });

  it('a missing setting is a failure (exit 1) that names the setting', async () => {
    const run = await cli(['status'], { SYNC_TENANT_ID: 'not-a-guid' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: invalid configuration: SYNC_TENANT_ID must be the Entra tenant id \(a GUID\);.*DATAVERSE_URL is required but not set/);
  });
});

describe('against the local stack', () => {
  let stack: Stack;
  let env: Record<string, string>;
  const sessionsFor = async (userId: string) => (await stack.graph.admin.subscriptions()).filter((s) => s.userId === userId);

  beforeAll(async () => {
    // One attempt per change and pausing off, so a change whose dependency keeps failing is dead-lettered at once
    // (MaxAttemptsExceeded) instead of pausing its mailbox (test/e2e/errorPolicy.test.ts covers pausing).
    stack = await startStack({ onboard: false, logSink: () => undefined, env: { SYNC_MAX_ATTEMPTS: '1', SYNC_PAUSE_MIN_SECONDS: '0' } });
    env = { ...stack.env, DATAVERSE_WEBHOOK_FUNCTION_KEY: stack.functionKey };
  }, 60_000);
  afterAll(async () => stack?.close());

  it('dataverse register-webhooks run twice leaves one endpoint and one set of steps', async () => {
    const first = await cli(['dataverse', 'register-webhooks'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/service endpoint dataverse-exchange-sync \([0-9a-f-]+\) created/);
    expect(first.stdout).toContain('step "dataverse-exchange-sync: Update of appointment" created');
    expect(first.stdout).not.toContain(stack.functionKey);
    const endpoints = stack.dataverse.admin.records('serviceendpoints');
    const steps = stack.dataverse.admin.records('sdkmessageprocessingsteps').filter((s) => String(s.name).startsWith('dataverse-exchange-sync: '));
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]!.url).toBe(`${stack.host.origin}/api/dataverse/webhook?code=${stack.functionKey}`);
    // Create, Update and Delete on appointment, recurringappointmentmaster, task, phonecall, letter, fax, contact and email.
    expect(steps).toHaveLength(24);

    const second = await cli(['dataverse', 'register-webhooks'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/updated: url and key written/);
    expect(second.stdout).toMatch(/^0 created, 1 updated, 24 kept$/m);
    expect(stack.dataverse.admin.records('serviceendpoints')).toHaveLength(1);
    const again = stack.dataverse.admin.records('sdkmessageprocessingsteps').filter((s) => String(s.name).startsWith('dataverse-exchange-sync: '));
    expect(again.map((s) => s.sdkmessageprocessingstepid).sort()).toEqual(steps.map((s) => s.sdkmessageprocessingstepid).sort());
  });

  it('register-webhooks without a function key is a usage error naming both ways to give one', async () => {
    const run = await cli(['dataverse', 'register-webhooks'], { ...env, DATAVERSE_WEBHOOK_FUNCTION_KEY: undefined });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no function key for dataverseWebhook: pass --function-key <key> or set DATAVERSE_WEBHOOK_FUNCTION_KEY/);
    const bare = await cli(['dataverse', 'register-webhooks', '--url', 'https://example.test/api/dataverse/webhook'], env);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/--url must carry the function key of dataverseWebhook as \?code=<key>/);
  });

  it('mailbox enable --dry-run changes nothing; enable twice creates one set of subscriptions and backfills once', async () => {
    const alice = stack.users.alice!;
    // Items that exist before the mailbox is enabled: nothing syncs them until the backfill.
    const day = new Date(Date.now() + 86_400_000);
    day.setUTCHours(8, 0, 0, 0);
    const at = (h: number) => new Date(day.getTime() + h * 3_600_000).toISOString().replace('Z', '');
    const tracked = await stack.graph.admin.createEvent(alice.userPrincipalName, {
      subject: 'Planning (tracked in Outlook)',
      start: { dateTime: at(1), timeZone: 'UTC' },
      end: { dateTime: at(2), timeZone: 'UTC' },
      categories: ['Tracked to Dynamics 365'],
    });
    await stack.graph.admin.createEvent(alice.userPrincipalName, { subject: 'Private', start: { dateTime: at(3), timeZone: 'UTC' }, end: { dateTime: at(4), timeZone: 'UTC' } });
    const [recordId] = stack.dataverse.admin.seedRecords(
      'appointments',
      [{ subject: 'Budget review (from Dynamics)', scheduledstart: `${at(5)}Z`, scheduledend: `${at(6)}Z`, 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` }],
      { ownerId: alice.systemUserId },
    );

    const dry = await cli(['mailbox', 'enable', alice.userPrincipalName, '--dry-run'], env);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would create subscription events on \/users\/[^ ]+\/events/);
    expect(dry.stdout).toMatch(/would create subscription contacts/);
    expect(dry.stdout).toMatch(/would register mailbox alice@contoso.example \(entities appointment,task,contact, state active\)/);
    expect(dry.stdout).toContain('time zone Europe/Berlin');
    expect(dry.stdout).toMatch(/would backfill: 0 link, 1 create in Exchange, 1 create in Dataverse, 0 update, 1 leave as they are; 2 change\(s\) to enqueue/);
    expect(dry.stdout).toContain(`create in Exchange: appointment ${recordId}`);
    expect(dry.stdout).toContain(`create in Dataverse: event ${String(tracked.id)}`);
    expect(await sessionsFor(alice.graph.id)).toHaveLength(0);
    expect(await stack.runtime.mailboxes.get(alice.graph.id)).toBeUndefined();
    expect(stack.serviceBus.counts(changesQueue.name).active).toBe(0);

    const first = await cli(['mailbox', 'enable', alice.userPrincipalName], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/create subscription events on \S+ -> \S+ => created \S+/);
    expect(first.stdout).toMatch(/register mailbox alice@contoso.example \(entities appointment,task,contact, state active\) => registered/);
    expect(first.stdout).toMatch(/backfill: 0 link, 1 create in Exchange, 1 create in Dataverse, 0 update, 1 leave as they are; 2 change\(s\) to enqueue => 2 change\(s\) enqueued/);
    expect(first.stderr).toBe('backfill 2/2 changes enqueued\n');
    await stack.settled();
    expect((await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).map((e) => e.item.subject).sort()).toEqual([
      'Budget review (from Dynamics)',
      'Planning (tracked in Outlook)',
      'Private',
    ]);
    expect(stack.dataverse.admin.records('appointments').map((r) => r.subject).sort()).toEqual(['Budget review (from Dynamics)', 'Planning (tracked in Outlook)']);
    const created = await sessionsFor(alice.graph.id);
    expect(created.map((s) => s.resource).sort()).toEqual([`/users/${alice.graph.id}/contacts`, `/users/${alice.graph.id}/events`]);

    const second = await cli(['mailbox', 'enable', alice.userPrincipalName], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/keep subscription events \S+ \(expires \S+\) => kept/);
    expect(second.stdout).toMatch(/keep subscription contacts \S+ \(expires \S+\) => kept/);
    expect(second.stdout).toMatch(/ => 0 change\(s\) enqueued/);
    expect((await sessionsFor(alice.graph.id)).map((s) => s.id).sort()).toEqual(created.map((s) => s.id).sort());

    const dryAgain = await cli(['mailbox', 'enable', alice.userPrincipalName, '--dry-run', '--entities', 'appointment'], env);
    expect(dryAgain.stdout).toMatch(/would keep subscription events/);
    expect(dryAgain.stdout).toMatch(/would update mailbox alice@contoso.example \(active -> active, entities appointment,task,contact -> appointment\)/);
    expect((await stack.runtime.mailboxes.get(alice.graph.id))?.entities).toEqual(['appointment', 'task', 'contact']);

    const bob = await cli(['mailbox', 'enable', stack.users.bob!.userPrincipalName, '--entities', 'appointment,contact'], env);
    expect(bob.code).toBe(0);
    const list = await cli(['mailbox', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^UPN\s+STATE\s+REASON\s+ENTITIES\s+SUBSCRIPTIONS \(EXPIRY\)$/m);
    expect(list.stdout).toMatch(/^alice@contoso.example\s+active\s+-\s+appointment,task,contact\s+contacts \S+ until \S+; events \S+ until \S+$/m);
    expect(list.stdout).toMatch(/^bob@contoso.example\s+active\s+-\s+appointment,contact\s+/m);
  });

  it('mailbox enable --dry-run prints exactly the actions a real run then performs (a stale subscription is replaced, not kept)', async () => {
    const bob = stack.users.bob!;
    // Bob is enabled (appointment, contact) by the test above. His events subscription now carries an out-of-date
    // notification URL (a rotated function key), and items exist that only a backfill brings across.
    const [events] = (await stack.runtime.subscriptions.list(bob.graph.id)).filter((sub) => sub.resourceKind === 'events');
    await stack.runtime.subscriptions.put({ ...events!, notificationUrl: 'https://old-host.example/api/graph/notifications?code=old' });
    const day = new Date(Date.now() + 2 * 86_400_000);
    day.setUTCHours(8, 0, 0, 0);
    const at = (h: number) => new Date(day.getTime() + h * 3_600_000).toISOString().replace('Z', '');
    await stack.graph.admin.createEvent(bob.userPrincipalName, { subject: 'Tracked', start: { dateTime: at(1), timeZone: 'UTC' }, end: { dateTime: at(2), timeZone: 'UTC' }, categories: ['Tracked to Dynamics 365'] });
    // Bob syncs appointments already, so the tracked event's notification brings it across before the dry run (a
    // worker that still held a registry read from before Bob was enabled dropped it, which this test once relied on);
    // the appointment seeded without a webhook is what only the backfill brings.
    await stack.settled();
    stack.dataverse.admin.seedRecords('appointments', [{ subject: 'From Dynamics', scheduledstart: `${at(3)}Z`, scheduledend: `${at(4)}Z`, 'ownerid@odata.bind': `/systemusers(${bob.systemUserId})` }], { ownerId: bob.systemUserId });
    const args = ['mailbox', 'enable', bob.userPrincipalName, '--entities', 'appointment,contact,task'];

    const dry = await cli([...args, '--dry-run'], env);
    expect(dry.code).toBe(0);
    const [header, ...planned] = dry.stdout.trimEnd().split('\n');
    expect(header).toBe('Dry run: nothing is changed.');
    expect(planned.join('\n')).toContain(`would replace subscription events ${events!.id} (its notification URL is out of date)`);
    expect(planned.join('\n')).toMatch(/would backfill: .*; 1 change\(s\) to enqueue/);
    expect((await sessionsFor(bob.graph.id)).map((sub) => sub.id)).toContain(events!.id);

    const real = await cli(args, env);
    expect(real.code).toBe(0);
    const done = real.stdout.trimEnd().split('\n');
    expect(done.pop()).toMatch(/^mailbox bob@contoso.example is active \(entities appointment,contact,task/);
    // Both print Test & Enable's checks first (the dry run's read only: shared/onboarding/mailboxTest.ts).
    const checks = (lines: string[]) => lines.filter((line) => /^ {2}Appointments, Contacts, and Tasks Status: |^ {4}(Exchange: |Dynamics 365: |No other engine )/.test(line));
    expect(checks(planned).length).toBe(8);
    expect(checks(done).length).toBe(8);
    // The same lines: the dry run's "would <action>" is the real run's "<action> => <what it did>".
    const actions = (lines: string[]) => lines.filter((line) => !checks(lines).includes(line));
    expect(actions(done).map((line) => line.replace(/ => .*$/, ''))).toEqual(actions(planned).map((line) => line.replace(/^ {2}would /, '  ')));
    expect(done.join('\n')).toMatch(/ => deleted; created \S+ \(expires /);
    expect(done.join('\n')).toMatch(/; 1 change\(s\) to enqueue => 1 change\(s\) enqueued/);
    expect((await sessionsFor(bob.graph.id)).map((sub) => sub.id)).not.toContain(events!.id);
    await stack.settled();

    // --skip-backfill: neither mode plans or runs a backfill.
    const skipped = await cli([...args, '--dry-run', '--skip-backfill'], env);
    expect(skipped.stdout).not.toMatch(/backfill/);
  });

  it('mailbox enable of an unknown user fails with exit 1 naming the user', async () => {
    const run = await cli(['mailbox', 'enable', 'nobody@contoso.example'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: .*nobody@contoso.example/);
  });

  // For thousands of mailboxes a shell loop over `mailbox enable` pays a process start and its tokens per mailbox;
  // --from enables a list in one process, a few at once, each as the single enable does it.
  it('mailbox enable --from enables every mailbox of a list, each once, prints each under its UPN, and fails at the end naming the one that failed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-from-'));
    try {
      const file = join(dir, 'team.txt');
      writeFileSync(file, ['# the sales team', 'alice@contoso.example', '', 'nobody@contoso.example', 'bob@contoso.example', 'BOB@contoso.example', ''].join('\n'));
      const subscriptionsBefore = (await stack.graph.admin.subscriptions()).length;
      const run = await cli(['mailbox', 'enable', '--from', file, '--concurrency', '2'], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: 1 of 3 mailbox\(es\) not enabled/m);
      // Each mailbox's lines together under its UPN (they ran two at once), the duplicate line taken once.
      const sections = run.stdout.trimEnd().split(/^== /m).filter(Boolean);
      expect(sections.map((x) => x.split('\n')[0]).sort()).toEqual(['alice@contoso.example', 'bob@contoso.example', 'nobody@contoso.example']);
      const section = (upn: string) => sections.find((x) => x.startsWith(upn))!;
      expect(section('alice@contoso.example')).toMatch(/^mailbox alice@contoso.example is active \(entities appointment,task,contact,/m);
      expect(section('bob@contoso.example')).toMatch(/^mailbox bob@contoso.example is active \(entities appointment,contact,task,/m);
      expect(section('nobody@contoso.example')).toMatch(/^ {2}failed: .*nobody@contoso.example/m);
      expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('2 of 3 mailbox(es) enabled; failed: nobody@contoso.example');
      // Enabled again as they were: their subscriptions kept, none added.
      expect((await stack.graph.admin.subscriptions()).length).toBe(subscriptionsBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('status prints the mailboxes and their subscriptions', async () => {
    const run = await cli(['status'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Mailboxes \(2\)$/m);
    expect(run.stdout).toMatch(/^alice@contoso.example\s+active\s+-\s+appointment,task,contact\s+contacts until \S+; events until \S+$/m);
    expect(run.stdout).toMatch(/^Dead letters recorded: 0$/m);
    const json = await cli(['status', '--json'], env);
    expect((JSON.parse(json.stdout) as { mailboxes: unknown[] }).mailboxes).toHaveLength(2);
  });

  it('reads its settings from --env-file when the environment has none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    try {
      const path = join(dir, 'env.json');
      writeFileSync(path, JSON.stringify(env));
      const run = await cli(['--env-file', path, 'status'], {});
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/^Mailboxes \(2\)$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a message whose body fails the schema is listed with its reason; replay puts it back and it dead-letters again', async () => {
    const client = new ServiceBusClient(stack.env.ServiceBusConnection!);
    const sender = client.createSender(changesQueue.name);
    const dead = stack.serviceBus.waitFor('deadLettered', (e) => e.messageId === 'cli-test-invalid', 20_000);
    await sender.sendMessages({ body: { v: 1, source: 'exchange', correlationId: 'c-1' }, messageId: 'cli-test-invalid', contentType: 'application/json' });
    await dead;
    await sender.close();
    await client.close();

    const list = await cli(['dlq', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^1 message\(s\) in sync-item-changes\/\$deadletterqueue:$/m);
    expect(list.stdout).toMatch(/^cli-test-invalid\s+\S+Z\s+\?\s+\(body is not a change message\)\s+\?\s+InvalidMessage\s+.*receivedAt/m);

    const again = stack.serviceBus.waitFor('deadLettered', (e) => e.messageId.startsWith('cli-test-invalid#replay-'), 20_000);
    const replay = await cli(['dlq', 'replay', '--message-id', 'cli-test-invalid'], env);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed cli-test-invalid as cli-test-invalid#replay-\d+/);
    const back = await again;
    expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').map((m) => m.messageId)).toEqual([back.messageId]);
    const after = await cli(['dlq', 'list', '--json'], env);
    const rows = JSON.parse(after.stdout) as { messageId: string; reason: string }[];
    expect(rows).toEqual([expect.objectContaining({ messageId: back.messageId, reason: 'InvalidMessage' })]);
    // The first copy's recorded reason went with it; status counts the one that is still dead.
    expect((await stack.runtime.cursors.list('deadletter')).map((r) => r.name)).toEqual([back.messageId]);

    const missing = await cli(['dlq', 'replay', '--message-id', 'cli-test-invalid'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not in sync-item-changes\/\$deadletterqueue: cli-test-invalid/);
    // Awaited from before the replay: without sessions the copy is dead-lettered again before the command returns.
    const deadAgain = stack.serviceBus.waitFor('deadLettered', (e) => e.messageId.startsWith('cli-test-invalid#replay-') && e.messageId !== back.messageId, 20_000);
    const cleared = await cli(['dlq', 'replay', '--all'], env);
    expect(cleared.code).toBe(0);
    await deadAgain;
  });

  it('a valid change that failed is dead-lettered with its reason, and replay syncs it once the cause is gone', async () => {
    const alice = stack.users.alice!;
    // Exchange fails every event create until the test lifts it (an outage that outlasts the retries).
    await stack.graph.admin.setFaultPlan({ routes: '^POST .*/events$', serverErrors: { probability: 1, statuses: [503] } });
    const dead = stack.serviceBus.waitFor('deadLettered', (e) => e.messageId.startsWith('dv|appointment|'), 20_000);
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCHours(10, 0, 0, 0);
    const appointment = stack.dataverse.admin.as(alice.systemUserId).create('appointments', {
      subject: 'Replayed review',
      scheduledstart: start.toISOString(),
      scheduledend: new Date(start.getTime() + 3_600_000).toISOString(),
      'ownerid@odata.bind': `/systemusers(${alice.systemUserId})`,
    });
    const event = await dead;

    const list = await cli(['dlq', 'list', '--json'], env);
    const row = (JSON.parse(list.stdout) as { messageId: string; source: string; item: string; attempt: string; reason: string; description: string }[]).find(
      (r) => r.messageId === event.messageId,
    );
    expect(row).toMatchObject({ source: 'dataverse', item: `appointment ${String(appointment.activityid)} (Create)`, attempt: '1', reason: 'MaxAttemptsExceeded' });
    expect(row?.description).toMatch(/^Transient: .*503/);
    expect((await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).map((e) => e.item.subject)).not.toContain('Replayed review');

    await stack.graph.admin.setFaultPlan({});
    const replay = await cli(['dlq', 'replay', '--message-id', event.messageId], env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed ${event.messageId} as ${event.messageId}#replay-`);
    await stack.settled();
    const events = await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' });
    expect(events.map((e) => e.item.subject)).toContain('Replayed review');
    expect(stack.serviceBus.messages(changesQueue.name, 'deadLetter').map((m) => m.messageId)).not.toContain(event.messageId);
    expect((await stack.runtime.cursors.list('deadletter')).map((r) => r.name)).not.toContain(event.messageId);
  });

  it('mailbox disable deletes the subscriptions; running it again changes nothing', async () => {
    const alice = stack.users.alice!;
    const first = await cli(['mailbox', 'disable', alice.userPrincipalName], env);
    expect(first.code).toBe(0);
    expect(first.stdout.match(/subscription (events|contacts) \S+ deleted/g)).toHaveLength(2);
    expect(first.stdout).toMatch(/mailbox alice@contoso.example disabled/);
    expect(await sessionsFor(alice.graph.id)).toHaveLength(0);
    const second = await cli(['mailbox', 'disable', alice.userPrincipalName], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/already disabled; nothing changed/);
    const list = await cli(['mailbox', 'list'], env);
    expect(list.stdout).toMatch(/^alice@contoso.example\s+disabled\s+disabled by an administrator\s+appointment,task,contact\s+none$/m);
    const unknown = await cli(['mailbox', 'disable', 'nobody@contoso.example'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: mailbox nobody@contoso.example is not registered$/m);
  });
});
