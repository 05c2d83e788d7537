// Backfill rate against the simulators with their default throttling limits, beside the rate Graph's Outlook limit
// per app and mailbox allows (10,000 requests per 10 minutes = 16.7 requests/s; docs/reference/platform-facts.md section 4).
// Usage: node dev/with-dev-ca.mjs npx tsx dev/bench/backfill.ts [dataverseRecords=150] [exchangeItems=50]
import { startStack } from '../stack/index.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { runBackfill } from '../../shared/onboarding/backfill.js';
import { trackedCategory } from '../../shared/mapping/index.js';

const dataverseRecords = Number(process.argv[2] ?? 150);
const exchangeItems = Number(process.argv[3] ?? 50);
const graphLimitPerSecond = 10_000 / 600;

const stack = await startStack({ onboard: false, seed: 42, logSink: () => undefined, users: [{ key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' }] });
try {
  const alice = stack.users.alice!;
  const dv = stack.dataverse.admin.as(alice.systemUserId);
  const base = Date.now() + 86400_000;
  for (let i = 0; i < dataverseRecords; i++) {
    const start = new Date(base + i * 3600_000);
    if (i % 3 === 0) dv.create('contacts', { firstname: `C${i}`, lastname: 'Bench', emailaddress1: `c${i}@fabrikam.example` });
    else if (i % 3 === 1) dv.create('tasks', { subject: `Task ${i}`, scheduledend: start.toISOString() });
    else dv.create('appointments', { subject: `Appt ${i}`, scheduledstart: start.toISOString(), scheduledend: new Date(start.getTime() + 1800_000).toISOString(), appointment_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})`, participationtypemask: 7 }] });
  }
  for (let i = 0; i < exchangeItems; i++) {
    const start = new Date(base + (i + 0.5) * 3600_000);
    const t = (d: Date) => ({ dateTime: d.toISOString().replace('Z', ''), timeZone: 'UTC' });
    await stack.graph.admin.createEvent(alice.graph.id, { subject: `Outlook ${i}`, start: t(start), end: t(new Date(start.getTime() + 1800_000)), categories: [trackedCategory] });
  }
  const { mailbox } = await enableMailbox(stack.runtime, alice.userPrincipalName);
  const graphBefore = (await stack.graph.admin.requests()).total;
  const throttledBefore = (await stack.graph.admin.requests()).throttled;
  const started = performance.now();
  const result = await runBackfill(stack.runtime, mailbox);
  const enqueuedMs = performance.now() - started;
  await stack.settled({ timeoutMs: 600_000 });
  const seconds = (performance.now() - started) / 1000;
  const stats = await stack.graph.admin.requests();
  const graphRequests = stats.total - graphBefore;
  const items = result.enqueued;
  console.log(JSON.stringify({ dataverseRecords, exchangeItems, plan: result.counts, enqueued: items }));
  console.log(`planned and enqueued in ${(enqueuedMs / 1000).toFixed(2)} s`);
  console.log(`backfill: ${items} items in ${seconds.toFixed(2)} s = ${(items / seconds).toFixed(1)} items/s`);
  console.log(`Graph: ${graphRequests} requests = ${(graphRequests / seconds).toFixed(1)} requests/s (${(graphRequests / Math.max(1, items)).toFixed(2)} per item), ${stats.throttled - throttledBefore} throttled`);
  console.log(`Graph per-mailbox limit: ${graphLimitPerSecond.toFixed(1)} requests/s -> at most ${(graphLimitPerSecond / Math.max(0.01, graphRequests / Math.max(1, items))).toFixed(1)} items/s at this cost per item`);
} finally {
  await stack.close();
}
