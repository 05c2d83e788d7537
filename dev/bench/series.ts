// Benchmark of recurring series: the product's API calls per series change each way (create, one occurrence moved,
// pattern changed), echoes included, beside the floor (the fewest calls the change needs), and the cost of one
// series comparison (the occurrence pass a reconciliation runs per paired series). Prints figures; asserts nothing.
// Run: npm run bench -- series  [-- --series 10]
import { parseArgs } from 'node:util';
import { startStack } from '../stack/index.js';
import { trackedCategory } from '../../shared/mapping/index.js';
import type { CallCounts } from '../../shared/runtime.js';
import { compareParts } from '../../shared/sync/reconcile.js';

const { values } = parseArgs({ options: { series: { type: 'string', default: '10' } } });
const n = Number(values.series);
const day = 86_400_000;

// Logs off: the figures are the output.
const stack = await startStack({ seed: 77, logSink: () => undefined });
const alice = stack.users.alice!;
const bob = stack.users.bob!;
const total = (c: CallCounts) => c.graphRead + c.graphWrite + c.dataverseRead + c.dataverseWrite;
const diff = (a: CallCounts, b: CallCounts): CallCounts => ({
  graphRead: b.graphRead - a.graphRead,
  graphWrite: b.graphWrite - a.graphWrite,
  dataverseRead: b.dataverseRead - a.dataverseRead,
  dataverseWrite: b.dataverseWrite - a.dataverseWrite,
});
const per = (c: CallCounts) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Math.round((v / n) * 100) / 100]));
/** `own`: calls the benchmark itself makes through the product's clients per series (an occurrence is reachable only through Graph), taken off. */
async function measure(label: string, floor: string, act: () => Promise<void>, own: Partial<CallCounts> = {}): Promise<void> {
  const before = { ...stack.runtime.calls };
  await act();
  await stack.settled({ timeoutMs: 120_000 });
  const raw = diff(before, stack.runtime.calls);
  const d: CallCounts = {
    graphRead: raw.graphRead - (own.graphRead ?? 0) * n,
    graphWrite: raw.graphWrite - (own.graphWrite ?? 0) * n,
    dataverseRead: raw.dataverseRead - (own.dataverseRead ?? 0) * n,
    dataverseWrite: raw.dataverseWrite - (own.dataverseWrite ?? 0) * n,
  };
  console.log(`${label}: ${JSON.stringify(per(d))} = ${Math.round((total(d) / n) * 100) / 100} calls per series; floor ${floor}`);
}

const weekday = (d: Date) => ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][d.getUTCDay()]!;
const firstAt = (i: number) => {
  const d = new Date(Date.now() + (7 + (i % 20)) * day);
  d.setUTCHours(9, 0, 0, 0);
  return d;
};

// Exchange -> Dataverse
const masters: string[] = [];
await measure('Exchange -> Dataverse, series created (weekly, 8 occurrences)', '2 (read the master with its exceptions, create the recurringappointmentmaster)', async () => {
  for (let i = 0; i < n; i += 1) {
    const first = firstAt(i);
    const master = await stack.graph.admin.createEvent(alice.graph.id, {
      subject: `Bench series ${i}`,
      start: { dateTime: first.toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(first.getTime() + 1800_000).toISOString().slice(0, 19), timeZone: 'UTC' },
      categories: [trackedCategory],
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: [weekday(first)] }, range: { type: 'numbered', startDate: first.toISOString().slice(0, 10), numberOfOccurrences: 8 } },
    });
    masters.push(String(master.id));
  }
});
await measure('Exchange -> Dataverse, one occurrence moved', '3 (read the master with its exceptions, find the instance, write it)', async () => {
  for (const id of masters) {
    const occurrence = (await stack.runtime.graph.seriesInstances(alice.graph.id, id, { start: new Date(), end: new Date(Date.now() + 60 * day) }))[1]!;
    const moved = Date.parse(String(occurrence.originalStart)) + 3600_000;
    await stack.runtime.graph.updateEvent(alice.graph.id, String(occurrence.id), {
      start: { dateTime: new Date(moved).toISOString().slice(0, 19), timeZone: 'UTC' },
      end: { dateTime: new Date(moved + 1800_000).toISOString().slice(0, 19), timeZone: 'UTC' },
    });
  }
}, { graphRead: 1, graphWrite: 1 });
await measure('Exchange -> Dataverse, pattern changed (8 -> 10 occurrences)', '2 (read the master, write the pattern; the occurrence pass adds 2 reads)', async () => {
  for (const id of masters) {
    const master = (await stack.runtime.graph.getSeriesMaster(alice.graph.id, id)) as { recurrence: { pattern: { daysOfWeek: string[] }; range: { startDate: string } } };
    await stack.graph.admin.updateEvent(alice.graph.id, id, {
      recurrence: { pattern: { type: 'weekly', interval: 1, daysOfWeek: master.recurrence.pattern.daysOfWeek }, range: { type: 'numbered', startDate: master.recurrence.range.startDate, numberOfOccurrences: 10 } },
    });
  }
}, { graphRead: 1 });

// Dataverse -> Exchange
const dvSeries: string[] = [];
await measure('Dataverse -> Exchange, series created (weekly, 8 instances)', '1 (create the Graph series; the post image saves the read)', () => {
  for (let i = 0; i < n; i += 1) {
    const first = firstAt(i);
    const midnight = new Date(first);
    midnight.setUTCHours(0, 0, 0, 0);
    const row = stack.dataverse.admin.as(bob.systemUserId).create('recurringappointmentmasters', {
      subject: `Bench D365 series ${i}`,
      recurrencepatterntype: 1,
      interval: 1,
      daysofweekmask: 2 ** first.getUTCDay(),
      starttime: first.toISOString(),
      endtime: new Date(first.getTime() + 1800_000).toISOString(),
      patternstartdate: midnight.toISOString(),
      patternendtype: 2,
      occurrences: 8,
      'ownerid@odata.bind': `/systemusers(${bob.systemUserId})`,
    });
    dvSeries.push(String(row.activityid));
  }
  return Promise.resolve();
});
await measure('Dataverse -> Exchange, one instance moved', '3 (read the instances, find the occurrence, write it)', () => {
  for (const id of dvSeries) {
    const instance = stack.dataverse.admin.records('appointments').filter((r) => r.seriesid === id).sort((a, b) => String(a.originalstartdate).localeCompare(String(b.originalstartdate)))[1]!;
    const moved = Date.parse(String(instance.scheduledstart)) + 3600_000;
    stack.dataverse.admin.as(bob.systemUserId).update('appointments', String(instance.activityid), { scheduledstart: new Date(moved).toISOString(), scheduledend: new Date(moved + 1800_000).toISOString() });
  }
  return Promise.resolve();
});
await measure('Dataverse -> Exchange, pattern changed (8 -> 10 occurrences)', '1 (write the Graph master; the post image saves the read)', () => {
  for (const id of dvSeries) stack.dataverse.admin.as(bob.systemUserId).update('recurringappointmentmasters', id, { occurrences: 10 });
  return Promise.resolve();
});

// The periodic comparison reconciliation runs for every paired series (shared/sync/reconcile.ts compareParts): one
// change per series pair of the mailbox, which the worker reads as an echo of the master and compares the parts.
await measure('Series comparison per paired series (nothing changed)', '3 (the Graph master with exceptions and cancellations, the Dataverse series, its instances)', async () => {
  const mailbox = (await stack.runtime.mailboxes.get(alice.graph.id))!;
  await compareParts(stack.runtime, mailbox, { enqueued: 0, skipped: 0, resynced: 0 });
});

await stack.close();
