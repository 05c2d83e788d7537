// A series deleted in Outlook whose delete notification was lost, met first by a change of one of its Dynamics 365
// instances (a reconciliation's change-tracking round lists them): shrunk from chaos seed 5 x 1000. And a series
// deleted while its occurrence pass writes to it (chaos seed 18 x 1000).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import { dataverseChange } from '../../shared/servicebus/messages.js';
import { daysFromNow } from '../support/e2e.js';

describe('a series gone in Exchange', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ seed: 55 });
  }, 60_000);
  afterAll(async () => stack?.close());

  /** Alice's tracked daily series of three at 12:00 UTC, `days` days ahead, made in Outlook. */
  const trackedDailySeries = (subject: string, days: number) => {
    const start = daysFromNow(days, 12);
    return stack.graph.admin.createEvent(stack.users.alice!.graph.id, {
      subject,
      start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: start.toISOString().slice(0, 10), numberOfOccurrences: 3 } },
      categories: [trackedCategory],
    });
  };

  it('a change of one of its instances applies the Exchange delete rule instead of being dead-lettered', async () => {
    const alice = stack.users.alice!;
    const master = await trackedDailySeries('Gone series', 5);
    await stack.settled();
    const series = stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Gone series');
    expect(series).toHaveLength(1);
    const instances = stack.dataverse.admin.records('appointments').filter((a) => a._seriesid_value === series[0]!.activityid || a.seriesid === series[0]!.activityid);
    expect(instances.length).toBeGreaterThan(0);

    await stack.graph.admin.setFaultPlan({ notifications: { drop: 1 } });
    await stack.graph.admin.act({ action: 'delete', user: alice.graph.id, kind: 'event', id: String(master.id) });
    await stack.settled();
    await stack.graph.admin.setFaultPlan({});
    const dead = stack.serviceBus.counts('sync-item-changes').deadLettered;
    await stack.runtime.sender.send([dataverseChange({ entity: 'appointment', recordId: String(instances[0]!.activityid), message: 'Reconcile' }, { receivedAt: new Date().toISOString() })]);
    await stack.settled();
    expect(stack.serviceBus.counts('sync-item-changes').deadLettered - dead).toBe(0);
    // The organizer's future series deleted in Outlook: deleted in Dynamics 365, as the delete itself would have done.
    expect(stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Gone series')).toEqual([]);
  });

  // Chaos seed 18 x 1000: the series deleted in Dynamics 365 while a change of it wrote an exception to Exchange; the
  // pass's read had found the master, its write then found it gone (404), and the change was dead-lettered as
  // NotFound. A part that is gone between the pass's read and its write means the item changed: the change is
  // applied again from a new read (which then applies the delete rule, or writes what is left).
  it("a part gone between the occurrence pass's read and its write makes the change read again, not a dead letter", async () => {
    const alice = stack.users.alice!;
    await trackedDailySeries('Moving series', 6);
    await stack.settled();
    const [series] = stack.dataverse.admin.records('recurringappointmentmasters').filter((r) => r.subject === 'Moving series');
    const [first] = stack.dataverse.admin
      .records('appointments')
      .filter((a) => a.seriesid === series!.activityid)
      .sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)));
    const dead = stack.serviceBus.counts('sync-item-changes').deadLettered;
    // The occurrence write looks the occurrence up by its original start (/instances): gone there, as when the
    // series or the occurrence was deleted just after the pass read it.
    await stack.graph.admin.failNext({ method: 'GET', path: '/instances$', status: 404, code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' });
    stack.dataverse.admin.as(alice.systemUserId).update('appointments', String(first!.activityid), { subject: 'Moving series (first)' });
    await stack.settled();
    expect(stack.serviceBus.counts('sync-item-changes').deadLettered - dead).toBe(0);
    const occurrences = (await stack.graph.admin.items({ user: alice.graph.id, kind: 'event' })).filter((e) => e.item.type === 'exception');
    expect(occurrences.map((e) => e.item.subject)).toContain('Moving series (first)');
  });
});
