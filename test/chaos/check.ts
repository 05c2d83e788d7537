// The chaos test's verdict, from the simulators' own state: every item the model expects exists exactly once with
// the model's values, nothing the model says is gone exists, and no item of the run exists that the model does not
// know. Returns every violation (one line each), not only the first.
import { comparedFields, itemFields, keyOfItem, keyOfMail, keyOfRecord, recordFields, seriesOccurrences, type OccurrenceSeen, type OccurrencesSeen, type Snapshot } from './world.js';
import { hasOccurrenceFacts, kinds, userKeys, type ItemModel, type Model } from './model.js';

/**
 * Findings of this test that are not fixed yet, each under a name `npm run test:chaos` reports. A run whose only
 * violations are known findings is skipped in `npm test` with the names (never passed); CHAOS_STRICT=1 fails it.
 */
// Fixed: delivery-count-exceeded (dead letters are judged by their recorded reason now), todo-completion-lost (a
// lost answer on a create, test/e2e/lostAnswers.test.ts; the merge recording To Do's pending change as synced,
// test/e2e/throttledCompletion.test.ts; a completion's two PATCHes cut in half, test/e2e/halfWrittenCompletion.test.ts),
// d365-delete-event-kept (test/e2e/dataverseDeleteUnheard.test.ts), reassign-lost-update
// (test/e2e/reassignedCopy.test.ts), reassigned-task-duplicated (test/e2e/reassignedTask.test.ts) and
// reassign-unsynced-edit-lost (an Outlook edit not yet heard of when the record was reassigned, seed 9 x 200;
// test/e2e/reassignedCopy.test.ts). A new one is
// added here as `name: 'what is seen'`; the checks below still name some of them, but a name counts only while listed.
export const knownFindings: Readonly<Record<string, string>> = {};
/** A key of knownFindings (a plain string: a typed key of the list would be `never` whenever it is empty). */
export type FindingName = string;

export interface Violation {
  text: string;
  finding?: FindingName;
}

export function violations(model: Model, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  // A check names the finding a violation looks like; it counts as known only while that finding is listed open.
  const push = (text: string, finding?: FindingName) => out.push(finding !== undefined && Object.hasOwn(knownFindings, finding) ? { text, finding } : { text });
  const known = new Set(model.items.map((i) => i.key));
  for (const kind of kinds) {
    for (const r of snap.records[kind]) if (!known.has(keyOfRecord(kind, r)!)) push(`Dynamics 365 holds a ${kind} ${keyOfRecord(kind, r)} nobody made`);
    for (const u of userKeys) for (const i of snap.mailbox[u][kind]) if (!known.has(keyOfItem(kind, i)!)) push(`${u}'s mailbox holds a ${kind} ${keyOfItem(kind, i)} nobody made`);
  }
  for (const item of model.items) {
    const where = `${item.kind === 'task' && item.table !== 'task' ? `task (${item.table})` : item.kind} ${item.key}`;
    const records = snap.records[item.kind].filter((r) => keyOfRecord(item.kind, r) === item.key);
    const expected = item.d365.exists ? 1 : 0;
    // A copy an unlinking delete left behind created again on the deleting side (once the known finding
    // unlinked-copy-recreated) is a plain violation now: test/e2e/unlinkedCopy.test.ts.
    if (records.length !== expected) push(`${where}: Dynamics 365 holds ${records.length}, the model ${expected}`, item.kind === 'task' && item.reassigned && records.length === expected + 1 ? 'reassigned-task-duplicated' : undefined);
    const record = records.length === 1 && item.d365.exists ? recordFields(item.kind, records[0]!) : undefined;
    if (record) {
      // A field both sides changed before the sync saw either may settle on the other side's value (model.ts
      // ItemModel.alternatives), on both sides alike; a record an Outlook delete unlinked may keep an earlier value
      // (ItemModel.d365Left).
      const alt = (f: keyof typeof item.d365.fields, v: string | undefined) => (item.alternatives[f] ?? []).includes(v ?? '') || (item.d365Left === true && item.d365Earlier[f].includes(v ?? ''));
      for (const f of comparedFields(item.kind)) if (record.fields[f] !== item.d365.fields[f] && !alt(f, record.fields[f])) push(`${where}: Dynamics 365 field ${f} is '${record.fields[f]}', the model '${item.d365.fields[f]}'`, item.reassigned ? 'reassign-unsynced-edit-lost' : undefined);
      if (item.kind === 'task' && record.completed !== item.d365.completed && !(item.d365CompletedUnsure === true && !record.completed)) push(`${where}: Dynamics 365 completed ${record.completed}, the model ${item.d365.completed}`, item.d365.completed ? 'todo-completion-lost' : undefined);
    }
    for (const u of userKeys) {
      const real = snap.mailbox[u][item.kind].filter((i) => keyOfItem(item.kind, i) === item.key);
      const mine = item.copies.filter((c) => c.mailbox === u && c.exists);
      const strict = mine.filter((c) => !c.cancelledOrGone);
      const loose = mine.filter((c) => c.cancelledOrGone);
      const live = real.filter((i) => !itemFields(item.kind, i).cancelled);
      const cancelled = real.length - live.length;
      // An organizer's event kept after a Dynamics 365 delete whose webhook was lost (once the known finding
      // d365-delete-event-kept) is a plain violation now: test/e2e/dataverseDeleteUnheard.test.ts.
      const optional = strict.filter((c) => c.maybeMissing).length;
      if (live.length > strict.length || live.length < strict.length - optional) push(`${where}: ${u}'s mailbox holds ${live.length} live copies, the model ${optional ? `${strict.length - optional} to ${strict.length}` : strict.length}`);
      if (cancelled > loose.length) push(`${where}: ${u}'s mailbox holds ${cancelled} cancelled copies, the model at most ${loose.length}`);
      if (live.length === 1 && strict.length === 1) {
        const got = itemFields(item.kind, live[0]!);
        const want = strict[0]!;
        const allowed = (f: keyof typeof want.fields) => got.fields[f] === want.fields[f] || (want.role === 'left' && want.earlier[f].includes(got.fields[f] ?? '')) || (item.alternatives[f] ?? []).includes(got.fields[f] ?? '');
        for (const f of comparedFields(item.kind, want)) if (!allowed(f)) push(`${where}: ${u}'s ${want.role} copy field ${f} is '${got.fields[f]}', the model '${want.fields[f]}'`, item.reassigned && want.role === 'owner' ? 'reassign-unsynced-edit-lost' : undefined);
        if (item.kind === 'task' && got.completed !== want.completed) push(`${where}: ${u}'s copy completed ${got.completed}, the model ${want.completed}`);
        // Either value of a conflict may win, but the same one on both sides.
        if (want.role === 'owner' && record) {
          const d365 = record.fields;
          for (const f of comparedFields(item.kind, want)) if ((item.alternatives[f] ?? []).length > 0 && d365[f] !== got.fields[f]) push(`${where}: field ${f} settled on '${d365[f]}' in Dynamics 365 and '${got.fields[f]}' in ${u}'s copy after a conflict`);
        }
      }
    }
  }
  out.push(...mailViolations(model, snap));
  return out;
}

/**
 * Mail (model.ts MailModel) is counted, not compared field by field: it is copied once and never edited. One
 * incoming activity per tracked mail, however many copies were tracked, how often the notification came and whether
 * the host died on the way (README "One activity per (Message-ID, direction)"); a sent email sent once and Sent
 * (README "Sending": a send whose answer was lost is never repeated).
 */
function mailViolations(model: Model, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const keys = new Set(model.mails.map((m) => m.key));
  for (const e of snap.emails) if (!keys.has(keyOfMail(e.subject)!)) out.push({ text: `Dynamics 365 holds an email ${keyOfMail(e.subject)} nobody made` });
  for (const s of snap.sent) if (!keys.has(keyOfMail(s.subject)!)) out.push({ text: `${s.from ?? 'a mailbox'} sent ${keyOfMail(s.subject)}, which nobody sent` });
  for (const mail of model.mails) {
    const records = snap.emails.filter((e) => keyOfMail(e.subject) === mail.key);
    const sent = snap.sent.filter((s) => keyOfMail(s.subject) === mail.key);
    const state = (r: Record<string, unknown>) => `${String(r.directioncode)} ${String(r.statecode)}/${String(r.statuscode)}`;
    if (mail.direction === 'in') {
      const expected = mail.trackedBy.length > 0 ? 1 : 0;
      const by = mail.trackedBy.join(' and ') || 'nobody';
      if (records.length !== expected) out.push({ text: `incoming mail ${mail.key} (to ${mail.recipients.join(' and ')}, tracked by ${by}): Dynamics 365 holds ${records.length} email activities, the model ${expected}` });
      for (const r of records) if (state(r) !== 'false 1/4') out.push({ text: `incoming mail ${mail.key}: the activity is (direction, state/status) ${state(r)}, the model incoming Received (false 1/4)` });
      if (sent.length > 0) out.push({ text: `incoming mail ${mail.key}: ${sent.length} message(s) of it were sent` });
    } else {
      if (records.length !== 1) out.push({ text: `email ${mail.key} sent by ${mail.from}: Dynamics 365 holds ${records.length} email activities, the model 1` });
      for (const r of records) if (state(r) !== 'true 1/3') out.push({ text: `email ${mail.key} sent by ${mail.from}: the activity is (direction, state/status) ${state(r)}, the model outgoing Sent (true 1/3)` });
      const fromSender = sent.filter((s) => s.from === mail.from).length;
      if (fromSender !== 1 || sent.length !== 1) out.push({ text: `email ${mail.key} sent by ${mail.from}: ${mail.from}'s mailbox sent it ${fromSender} time(s), other mailboxes ${sent.length - fromSender}, the model once` });
    }
  }
  return out;
}

/** One dead letter of a run: where it is, and the reason the worker recorded for it (or Service Bus's own). */
export interface DeadLetter {
  queue: string;
  sequenceNumber: number;
  messageId: string;
  /** The worker's DeadLetterRecord reason when it recorded one (shared/sync/worker.ts), else Service Bus's DeadLetterReason. */
  reason: string;
  description: string;
  /** Whether the reason is the worker's record (false: Service Bus dead-lettered it on its own). */
  recorded: boolean;
}

/**
 * Dead-letter reasons the sync's rules give for a change they reject, each with the rule. The worker dead-letters by
 * recording a DeadLetterRecord and failing the message's later deliveries until Service Bus moves it, so Service
 * Bus's own reason is MaxDeliveryCountExceeded for every one of them; the record's reason is the verdict
 * (`npm run dlq -- list` shows the same join). None of the chaos model's operations is one the rules reject (its
 * mail has no attachment and one valid outside recipient, so the attachment and recipient rejections of
 * shared/sync/kinds/email.ts do not apply), so the table is empty and every dead letter of a run is a violation.
 */
export const rejectedByRules: readonly { reason: string; description: RegExp; rule: string }[] = [];

/** A dead letter the rules do not explain is a violation that names its recorded reason. */
export function deadLetterViolations(dead: readonly DeadLetter[]): Violation[] {
  return dead
    .filter((d) => !rejectedByRules.some((r) => r.reason === d.reason && r.description.test(d.description)))
    .map((d) => ({
      text: `dead-lettered with reason ${d.reason}${d.recorded ? '' : ' (by Service Bus; the worker recorded none)'}, which no rule gives for an operation of the run: ${d.queue} #${d.sequenceNumber} ${JSON.stringify(d.description.slice(0, 300))}`,
    }));
}

/**
 * A series' edited, moved and cancelled occurrences (model.ts ItemModel.occurrences, moved, cancelled), each side's
 * read keyed by the occurrence's place in the series: each edited one holds the model's subject in its Dynamics 365
 * instance and in its owner's occurrence, each one starts where the model says (moved, or at its original start),
 * each cancelled one is on neither side, and neither side lost or gained another. Only series alive on both sides:
 * a deleted series' occurrences go with it.
 */
export function occurrenceViolations(model: Model, seen: ReadonlyMap<string, OccurrencesSeen>): Violation[] {
  const out: Violation[] = [];
  for (const item of model.items) {
    if (!hasOccurrenceFacts(item)) continue;
    const got = seen.get(item.key);
    if (got) out.push(...seriesOccurrenceViolations(item, got));
  }
  return out;
}

/** One series' occurrences against the model (occurrenceViolations). */
export function seriesOccurrenceViolations(item: ItemModel, got: OccurrencesSeen): Violation[] {
  const out: Violation[] = [];
  const want = Array.from({ length: seriesOccurrences }, (_, i) => i).filter((i) => !item.cancelled?.includes(i));
  const sides: [string, Record<number, OccurrenceSeen> | undefined][] = [['Dynamics 365', got.d365], [`${item.owner}'s mailbox`, got.outlook]];
  for (const [where, held] of sides) {
    if (!held) continue;
    const places = Object.keys(held).map(Number).sort((x, y) => x - y);
    if (places.join() !== want.join()) out.push({ text: `series ${item.key}: ${where} holds occurrences [${places.join(', ')}], the model [${want.join(', ')}]` });
    for (const [index, value] of Object.entries(item.occurrences ?? {})) {
      if (held[Number(index)]?.value !== value) out.push({ text: `series ${item.key}: occurrence ${index} in ${where} is '${held[Number(index)]?.value}', the model '${value}'` });
    }
    for (const place of places) {
      const hours = item.moved?.[place] ?? 0;
      if (held[place]!.movedHours !== hours) out.push({ text: `series ${item.key}: occurrence ${place} in ${where} starts ${held[place]!.movedHours} h after its original start, the model ${hours} h` });
    }
  }
  return out;
}
