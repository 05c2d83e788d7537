// Benchmark of tracked email: API calls per tracked message (Exchange -> Dynamics 365) and per sent email
// (Dynamics 365 -> Exchange), printed beside the floor each needs, with the simulators at zero latency. Prints
// figures; asserts nothing.
// Run: npm run bench:email [-- --messages 50]
//
// The floors, per item, from what the services make necessary:
// - tracked message: Graph 1 read (a notification never carries the body: email.md section 0.7); Dataverse 1 read
//   (is it tracked already, by another mailbox or by server-side sync: email.md section 5.3), 2 writes (create, then
//   the state: statecode is not valid on create), plus 1 read per table tried for each address not yet known
//   (system user, contact, account, lead) -- here the sender is a contact, found on the second table.
// - sent email: Graph 2 writes (the draft, then send: sendMail would give no id to find the copy by), Dataverse
//   2 reads (the email with its parties and body: the webhook's image carries neither; the sender's mailbox row,
//   checked before every send: email.md section 4), 1 read of its attachments, 1 write (Sent).
import { parseArgs } from 'node:util';
import { startStack } from '../stack/index.js';
import type { CallCounts } from '../../shared/runtime.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '50' } } });
const n = Number(values.messages);
const stack = await startStack({
  seed: 7,
  logSink: () => undefined,
  entities: ['appointment', 'task', 'contact', 'email'],
  dataverseEmail: { mailboxDefaults: { incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0, actdeliverymethod: 2 } },
});
const alice = stack.users.alice!;
const diff = (a: CallCounts, b: CallCounts): CallCounts => ({
  graphRead: b.graphRead - a.graphRead,
  graphWrite: b.graphWrite - a.graphWrite,
  dataverseRead: b.dataverseRead - a.dataverseRead,
  dataverseWrite: b.dataverseWrite - a.dataverseWrite,
});
const per = (c: CallCounts) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Math.round((v / n) * 100) / 100])) as Record<keyof CallCounts, number>;
const row = (label: string, measured: Record<keyof CallCounts, number>, floor: CallCounts) =>
  console.log(
    `${label.padEnd(16)} measured: Graph ${measured.graphRead} reads + ${measured.graphWrite} writes, Dataverse ${measured.dataverseRead} reads + ${measured.dataverseWrite} writes` +
      `   floor: Graph ${floor.graphRead} + ${floor.graphWrite}, Dataverse ${floor.dataverseRead} + ${floor.dataverseWrite}`,
  );

// Tracked messages from an external sender who is a contact.
stack.dataverse.admin.seedRecords('contacts', [{ firstname: 'Bench', lastname: 'Sender', emailaddress1: 'sender@fabrikam.example' }]);
// Warm the per-process caches (organization upload limit, Sent Items folder) outside the measurement.
await stack.graph.admin.act({ action: 'create', user: alice.graph.id, kind: 'message', folderId: 'inbox', body: { subject: 'warm-up', from: { emailAddress: { address: 'sender@fabrikam.example' } }, toRecipients: [{ emailAddress: { address: alice.userPrincipalName } }], categories: ['Tracked to Dynamics 365'] } });
await stack.settled();
let before = { ...stack.runtime.calls };
let started = Date.now();
for (let i = 0; i < n; i++) {
  await stack.graph.admin.act({
    action: 'create',
    user: alice.graph.id,
    kind: 'message',
    folderId: 'inbox',
    body: { subject: `Bench ${i}`, body: { contentType: 'text', content: 'x' }, from: { emailAddress: { address: 'sender@fabrikam.example' } }, toRecipients: [{ emailAddress: { address: alice.userPrincipalName } }], internetMessageId: `<bench.${i}@fabrikam.example>`, categories: ['Tracked to Dynamics 365'] },
  });
}
await stack.settled({ timeoutMs: 120_000 });
const trackMs = Date.now() - started;
const tracked = per(diff(before, stack.runtime.calls));
const trackedCount = stack.dataverse.admin.records('emails').filter((e) => String(e.subject).startsWith('Bench ')).length;

// Emails sent from Dynamics 365.
before = { ...stack.runtime.calls };
started = Date.now();
const as = stack.dataverse.admin.as(alice.systemUserId);
for (let i = 0; i < n; i++) {
  const email = as.create('emails', {
    subject: `Send ${i}`,
    description: '<p>x</p>',
    email_activity_parties: [{ 'partyid_systemuser@odata.bind': `/systemusers(${alice.systemUserId})`, participationtypemask: 1 }, { addressused: `r${i}@fabrikam.example`, participationtypemask: 2 }],
  });
  await stack.runtime.dataverse.raw('POST', `emails(${String(email.activityid)})/Microsoft.Dynamics.CRM.SendEmail`, { IssueSend: true }, { CallerObjectId: alice.graph.id });
}
// The creates and SendEmail calls above went through the product's client too (as the person): not the sync's.
const personCalls = { graphRead: 0, graphWrite: 0, dataverseRead: 0, dataverseWrite: n };
await stack.settled({ timeoutMs: 300_000 });
const sendMs = Date.now() - started;
const sentCalls = diff(before, stack.runtime.calls);
const sent = per({ ...sentCalls, dataverseWrite: sentCalls.dataverseWrite - personCalls.dataverseWrite });
const sentCount = (await stack.graph.admin.sentMail()).filter((m) => m.subject.startsWith('Send ')).length;

console.log(`Email, ${n} of each (simulators at zero latency; ${trackedCount} tracked in ${trackMs} ms, ${sentCount} sent in ${sendMs} ms, paced at ${stack.runtime.settings.SYNC_EMAIL_SENDS_PER_WINDOW} per ${stack.runtime.settings.SYNC_EMAIL_SEND_WINDOW_MS} ms)`);
row('tracked message', tracked, { graphRead: 1, graphWrite: 0, dataverseRead: 3, dataverseWrite: 2 });
row('sent email', sent, { graphRead: 0, graphWrite: 2, dataverseRead: 3, dataverseWrite: 1 });
await stack.close();
