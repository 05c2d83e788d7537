// A series deleted in Outlook whose delete notification was lost, met first by a change of one of its Dynamics 365
// instances (a reconciliation's change-tracking round lists them): shrunk from chaos seed 5 x 1000.
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

  it('a change of one of its instances applies the Exchange delete rule instead of being dead-lettered', async () => {
    const alice = stack.users.alice!;
    const start = daysFromNow(5, 12);
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: 'Gone series',
      start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: start.toISOString().slice(0, 10), numberOfOccurrences: 3 } },
      categories: [trackedCategory],
    });
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
});
