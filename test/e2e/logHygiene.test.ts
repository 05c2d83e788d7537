// Log hygiene: the sync runs every kind both ways, through retries and through service errors that quote the items,
// with secrets and item content it knows; then nothing of either may be found in any log line (the runtime's and the
// local host's), dead-letter record, GET /api/status, the status page or `cli status` (text and JSON). Ids, codes and
// counts are what an operator gets (README "Operations"); subjects, bodies, names, addresses, phone numbers and keys
// are not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { formatStatus } from '../../shared/cli/commands/status.js';
import { buildStatus } from '../../shared/status/index.js';
import { deadLetterScope, type DeadLetterRecord } from '../../shared/sync/worker.js';
import { createAppointment, daysFromNow, outlookEvent, tracked } from '../support/e2e.js';

/** Item content the test writes: each value is distinctive, so finding it anywhere is a leak. */
const content = {
  appointmentSubject: 'Zanzibar acquisition talks',
  appointmentBody: 'Offer price is confidential: nine hundred',
  externalAttendee: 'quill.external@fabrikam.example',
  eventSubject: 'Whistleblower interview Ortega',
  eventBody: 'Bring the Ortega evidence folder',
  eventLocation: 'Basement room Kestrel',
  contactFirst: 'Perpetua',
  contactLast: 'Vandersloot',
  contactEmail: 'perpetua.vandersloot@tailspin.example',
  contactPhone: '+41 44 668 1234',
  outlookContactEmail: 'ignatius.mbeki@northwind.example',
  taskSubject: 'Renegotiate Halvorsen lease',
  todoTitle: 'Shred the Quimby drafts',
  quotedSubject: 'Merger codename Bluejay',
};

async function cli(args: string[], env: Record<string, string>): Promise<string> {
  let out = '';
  const code = await main(args, { stdout: (t) => void (out += t), stderr: (t) => void (out += t), env });
  expect(code).toBe(0);
  return out;
}

describe('log hygiene: no secret and no item content leaves the sync', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ seed: 71, logSink: (level, message, props) => void lines.push(JSON.stringify({ level, message, ...props })) });
  }, 60_000);
  afterAll(async () => stack?.close());

  it('every kind both ways, retries and quoting service errors leave no content or secret in logs, dead letters or status', async () => {
    const alice = stack.users.alice!;
    const bob = stack.users.bob!;
    const as = stack.dataverse.admin.as(alice.systemUserId);
    const owner = { 'ownerid@odata.bind': `/systemusers(${alice.systemUserId})` };

    // Dynamics 365 -> Exchange: a meeting with an external attendee, a contact, a task; the first event write fails
    // once with a 503 (a retry, logged with its cause).
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 503, code: 'ServiceUnavailable', message: `Could not save '${content.appointmentSubject}'.` });
    const appointment = createAppointment(stack, 'alice', content.appointmentSubject, daysFromNow(3), ['bob']);
    as.update('appointments', String(appointment.activityid), { description: content.appointmentBody });
    as.create('contacts', { firstname: content.contactFirst, lastname: content.contactLast, emailaddress1: content.contactEmail, telephone1: content.contactPhone, ...owner });
    as.create('tasks', { subject: content.taskSubject, scheduledend: daysFromNow(2).toISOString(), ...owner });
    await stack.settled();

    // Exchange -> Dynamics 365: a tracked event with a body, a location and an external attendee, a tracked
    // contact, a tracked To Do task.
    await stack.graph.admin.createEvent(bob.graph.id, {
      subject: content.eventSubject,
      body: { contentType: 'text', content: content.eventBody },
      location: { displayName: content.eventLocation },
      start: { dateTime: daysFromNow(4).toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(daysFromNow(4).getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      attendees: [{ emailAddress: { address: content.externalAttendee }, type: 'required' }],
      categories: [tracked],
    });
    await stack.graph.admin.createContact(bob.graph.id, { givenName: 'Ignatius', surname: 'Mbeki', emailAddresses: [{ address: content.outlookContactEmail }], categories: [tracked] });
    await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'todoTask', listId: alice.graph.defaultTodoListId, body: { title: content.todoTitle, categories: [tracked] } });
    await stack.host.fireTimer('pollTodo');
    await stack.settled();

    // Service errors that quote the item, on both sides: each change ends dead-lettered.
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 400, code: 'ErrorInvalidRequest', message: `The event '${content.quotedSubject}' for ${content.externalAttendee} is invalid.` });
    createAppointment(stack, 'alice', content.quotedSubject, daysFromNow(5));
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({
      requests: { match: '^(POST|PATCH) /api/data/v9.2/appointments', reject: { probability: 1, status: 400, code: '0x80044331', message: `The value '${content.eventSubject} (2)' of 'subject' is invalid.` } },
    });
    await outlookEvent(stack, 'bob', `${content.eventSubject} (2)`, daysFromNow(6), { track: true });
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});

    // The sync did its work (so the scenario really ran through the paths that log).
    expect(stack.dataverse.admin.records('contacts').some((c) => c.emailaddress1 === content.outlookContactEmail)).toBe(true);
    expect(stack.dataverse.admin.records('tasks').some((t) => t.subject === content.todoTitle)).toBe(true);
    const dead = (await stack.runtime.cursors.list<DeadLetterRecord>(deadLetterScope)).map((d) => d.value);
    expect(dead.length).toBe(2);
    expect(lines.some((l) => /503|ServiceUnavailable|Transient/.test(l))).toBe(true);

    const secrets = {
      clientSecret: stack.env.SYNC_CLIENT_SECRET!,
      webhookKey: stack.env.DATAVERSE_WEBHOOK_KEY!,
      functionKey: stack.functionKey,
      ...Object.fromEntries((await stack.runtime.subscriptions.list()).map((s, i) => [`clientState${i}`, s.clientState])),
    };
    const report = await buildStatus(stack.runtime);
    const outputs = {
      logs: lines.join('\n'),
      'dead letters': JSON.stringify(dead),
      status: JSON.stringify(report),
      'status (formatted)': formatStatus(report).join('\n'),
      'cli status': await cli(['status'], stack.env),
      'cli status --json': await cli(['status', '--json'], stack.env),
      'cli dlq list': await cli(['dlq', 'list'], stack.env),
      // The page as a browser gets it, with its entities decoded so an escaped quote cannot hide a leak.
      'status page': (await (await fetch(`${stack.host.origin}/api/status/page?code=${encodeURIComponent(stack.functionKey)}`)).text()).replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? ''),
    };
    for (const [where, text] of Object.entries(outputs)) {
      for (const [what, value] of Object.entries({ ...content, ...secrets })) expect(text, `${what} in ${where}`).not.toContain(value);
      // A bearer token (a JWT) never appears either.
      expect(text, `a token in ${where}`).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    }
  }, 120_000);
});
