// What an operator sees (logs, dead-letter records, GET /api/status, `cli status`) when Graph or Dataverse rejects a
// write with a message that quotes the item, and what the backlog figures say when asked more than once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { main } from '../../shared/cli/main.js';
import { formatStatus } from '../../shared/cli/commands/status.js';
import { buildStatus } from '../../shared/status/index.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { deadLetterScope, type DeadLetterRecord } from '../../shared/sync/worker.js';
import { createAppointment, daysFromNow, outlookEvent } from '../support/e2e.js';

async function cliStatus(env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await main(['status', '--json'], { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as Awaited<ReturnType<typeof buildStatus>>;
}

describe('operator view', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ seed: 47, logSink: (level, message, props) => void lines.push(JSON.stringify({ level, message, ...props })) });
  }, 60_000);
  afterAll(async () => stack?.close());

  const graphSubject = 'Quarterly merger with Fabrikam';
  const dataverseSubject = 'Pay rise for Mallory';

  it('defect 14: a Graph or Dataverse error quoting a subject keeps its code and status but not the subject in logs, dead letters and status', async () => {
    // Graph rejects the event the sync creates for a Dynamics 365 appointment, quoting its subject.
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 400, code: 'ErrorInvalidRequest', message: `The event '${graphSubject}' could not be saved: invalid recurrence.` });
    createAppointment(stack, 'alice', graphSubject, daysFromNow(4));
    await stack.settled();
    // Dataverse rejects the appointment the sync creates for an Outlook event, quoting its subject.
    stack.dataverse.admin.setFaultPlan({
      requests: { match: '^(POST|PATCH) /api/data/v9.2/appointments', reject: { probability: 1, status: 400, code: '0x80044331', message: `A validation error occurred. The value '${dataverseSubject}' of 'subject' on record of type 'appointment' is outside the valid range.` } },
    });
    await outlookEvent(stack, 'bob', dataverseSubject, daysFromNow(5), { track: true });
    await stack.settled();
    stack.dataverse.admin.setFaultPlan({});

    const dead = (await stack.runtime.cursors.list<DeadLetterRecord>(deadLetterScope)).map((d) => d.value);
    expect(dead.length).toBe(2);
    const report = await buildStatus(stack.runtime);
    const printed = formatStatus(report).join('\n');
    const cli = JSON.stringify(await cliStatus(stack.env));
    for (const [what, text] of [['dead letters', JSON.stringify(dead)], ['status', JSON.stringify(report)], ['cli status', printed], ['cli status --json', cli], ['logs', lines.join('\n')]] as const) {
      expect(text, what).not.toContain(graphSubject);
      expect(text, what).not.toContain(dataverseSubject);
      expect(text, what).not.toContain('Mallory');
      expect(text, what).not.toContain('Fabrikam');
    }
    // What the administrator needs stays: the service's code, the HTTP status and the message id.
    const descriptions = dead.map((d) => d.description).join('\n');
    expect(descriptions).toMatch(/ErrorInvalidRequest/);
    expect(descriptions).toMatch(/0x80044331/);
    expect(descriptions).toMatch(/400/);
    expect(printed).toMatch(/0x80044331/);
    for (const d of dead) expect(printed).toContain(d.messageId);
  });

  it('defect 13: two consecutive status calls report the same backlog and dead letters as the CLI', async () => {
    // Three changes waiting (scheduled an hour ahead); the two dead letters of the test above.
    const later = new Date(Date.now() + 3600_000);
    const change = (n: number) => ({ v: 1 as const, source: 'dataverse' as const, correlationId: `backlog-${n}`, receivedAt: new Date().toISOString(), entity: 'task' as const, recordId: `0b6f8a2c-3d4e-4f50-9a1b-2c3d4e5f6a7${n}`, message: 'Update' as const });
    await stack.runtime.sender.send([change(1), change(2), change(3)], { scheduledEnqueueTime: later });
    const truth = stack.serviceBus.counts(changesQueue.name);
    expect(truth.deadLettered).toBe(2);
    const first = await buildStatus(stack.runtime);
    const second = await buildStatus(stack.runtime);
    const third = await buildStatus(stack.runtime);
    const cli = await cliStatus(stack.env);
    expect(cli.backlog).toMatchObject({ queued: 3, deadLettered: 2, capped: false });
    for (const report of [first, second, third]) {
      expect(report.backlog).toEqual(cli.backlog);
      expect(report.deadLetters.count).toBe(cli.deadLetters.count);
    }
  });
});
