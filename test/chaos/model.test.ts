// The chaos model's conflict rule (model.ts ItemModel.alternatives) and how the check applies it: pure, no stack.
// A model that accepted any value would let a lost update pass, so the cases where only the model's value is
// allowed are as much the point as the one where the other side's may win.
import { describe, expect, it } from 'vitest';
import { occurrenceViolations, violations } from './check.js';
import { completed, createdInDynamics, deletedInDynamics, deletedInOutlook, edited, editedClosedInOutlook, mailReceived, mailSent, mailTracked, newModel, observed, occurrenceCancelled, occurrenceEdited, occurrenceMoved, ownerCopy, reassigned, type ItemModel, type MailModel } from './model.js';
import type { Snapshot } from './world.js';

const contact = (): ItemModel => createdInDynamics('C1', 'contact', 'alice', { a: 'red', b: 'red' });

/** Dynamics 365 and alice's mailbox holding the contact with these job titles (a) and departments (b). */
function snapshot(d365: { a: string; b: string } | undefined, outlook: { a: string; b: string }): Snapshot {
  const empty = { appointment: [], series: [], task: [], contact: [] };
  return {
    records: { ...empty, contact: d365 ? [{ contactid: '1', lastname: 'C1', jobtitle: d365.a, department: d365.b }] : [] },
    mailbox: {
      alice: { ...empty, contact: [{ id: 'x', kind: 'contact', userId: 'u', parentId: 'p', etag: 'e', item: { surname: 'C1', jobTitle: outlook.a, department: outlook.b } }] },
      bob: { ...empty },
    },
    emails: [],
    sent: [],
  };
}

const check = (item: ItemModel, snap: Snapshot) => {
  const model = newModel(0);
  model.items.push(item);
  return violations(model, snap).map((v) => v.text);
};

describe('chaos model: a field both sides changed before the sync saw either', () => {
  it('an unheard Dynamics 365 edit met by an Outlook edit of the same field: either value, but the same on both sides', () => {
    const item = contact();
    edited(item, 'b', 'teal', 'd365');
    edited(item, 'b', 'sand', 'outlook');
    expect(item.d365.fields.b).toBe('sand');
    expect(item.alternatives.b).toEqual(['teal']);
    expect(check(item, snapshot({ a: 'red', b: 'sand' }, { a: 'red', b: 'sand' }))).toEqual([]);
    expect(check(item, snapshot({ a: 'red', b: 'teal' }, { a: 'red', b: 'teal' }))).toEqual([]);
    expect(check(item, snapshot({ a: 'red', b: 'teal' }, { a: 'red', b: 'sand' }))).toEqual(["contact C1: field b settled on 'teal' in Dynamics 365 and 'sand' in alice's copy after a conflict"]);
    // The value before both edits is a lost update either way.
    expect(check(item, snapshot({ a: 'red', b: 'red' }, { a: 'red', b: 'red' }))).toHaveLength(2);
  });

  it('two edits on one side, or edits of different fields, leave only the model value', () => {
    const item = contact();
    edited(item, 'b', 'teal', 'd365');
    edited(item, 'b', 'sand', 'd365');
    edited(item, 'a', 'blue', 'outlook');
    expect(item.alternatives).toEqual({});
    expect(check(item, snapshot({ a: 'blue', b: 'teal' }, { a: 'blue', b: 'teal' }))).toEqual(["contact C1: Dynamics 365 field b is 'teal', the model 'sand'", "contact C1: alice's owner copy field b is 'teal', the model 'sand'"]);
  });

  it('an edit a settle showed on both sides is synced: a later edit on the other side is the only value', () => {
    const item = contact();
    edited(item, 'b', 'teal', 'd365');
    observed(item, 'b', 'teal', 'teal');
    edited(item, 'b', 'sand', 'outlook');
    expect(item.alternatives).toEqual({});
  });

  it('sides settled on the other value make it the model value; sides that disagree change nothing', () => {
    const item = contact();
    edited(item, 'b', 'teal', 'd365');
    edited(item, 'b', 'sand', 'outlook');
    observed(item, 'b', 'teal', 'sand');
    expect(item.alternatives.b).toEqual(['teal']);
    observed(item, 'b', 'plum', 'plum');
    expect(item.d365.fields.b).toBe('sand');
    observed(item, 'b', 'teal', 'teal');
    expect(item.d365.fields.b).toBe('teal');
    expect(item.alternatives).toEqual({});
    expect(item.unsynced).toEqual({});
    expect(check(item, snapshot({ a: 'red', b: 'teal' }, { a: 'red', b: 'teal' }))).toEqual([]);
  });
});

describe('chaos model: what a delete lets go of may keep an edit it never heard', () => {
  it("the contact copy a Dynamics 365 delete leaves may hold a field's earlier value, never another", () => {
    const item = contact();
    edited(item, 'b', 'teal', 'outlook');
    edited(item, 'b', 'sand', 'd365');
    deletedInDynamics(item);
    expect(check(item, snapshot(undefined, { a: 'red', b: 'sand' }))).toEqual([]);
    expect(check(item, snapshot(undefined, { a: 'red', b: 'teal' }))).toEqual([]);
    expect(check(item, snapshot(undefined, { a: 'red', b: 'plum' }))).toEqual(["contact C1: alice's left copy field b is 'plum', the model 'sand'"]);
  });

  it("the record an Outlook delete unlinks may hold a field's earlier value, never another", () => {
    const item = contact();
    edited(item, 'a', 'teal', 'outlook');
    deletedInOutlook(item);
    expect(check(item, { ...snapshot({ a: 'red', b: 'red' }, { a: 'x', b: 'x' }), mailbox: { alice: { appointment: [], series: [], task: [], contact: [] }, bob: { appointment: [], series: [], task: [], contact: [] } } })).toEqual([]);
    expect(check(item, { ...snapshot({ a: 'plum', b: 'red' }, { a: 'x', b: 'x' }), mailbox: { alice: { appointment: [], series: [], task: [], contact: [] }, bob: { appointment: [], series: [], task: [], contact: [] } } })).toEqual(["contact C1: Dynamics 365 field a is 'plum', the model 'teal'"]);
  });

  it('a linked record and copy still hold only the model value', () => {
    const item = contact();
    edited(item, 'a', 'teal', 'outlook');
    expect(check(item, snapshot({ a: 'red', b: 'red' }, { a: 'red', b: 'red' }))).toEqual(["contact C1: Dynamics 365 field a is 'red', the model 'teal'", "contact C1: alice's owner copy field a is 'red', the model 'teal'"]);
  });

  it('a task completed in Dynamics 365 and deleted: its To Do copy stays when the completion was seen there, else may go', () => {
    const task = (): ItemModel => createdInDynamics('T1', 'task', 'alice', { a: 'red', b: '' });
    const seen = task();
    completed(seen, 'd365');
    deletedInDynamics(seen, true, true);
    expect(seen.copies[0]).toMatchObject({ role: 'left', exists: true, completed: true });
    expect(seen.copies[0]!.maybeMissing).toBeUndefined();
    const unseen = task();
    completed(unseen, 'd365');
    deletedInDynamics(unseen, true, false);
    expect(unseen.copies[0]!.maybeMissing).toBe(true);
    // Completed in To Do itself: the copy is completed whatever the last settle showed.
    const inTodo = task();
    completed(inTodo, 'outlook');
    deletedInDynamics(inTodo, true, false);
    expect(inTodo.copies[0]!.maybeMissing).toBeUndefined();
  });

  it("the old owner's copy of a reassigned record may go with its delete only when the reassignment was not seen", () => {
    const heard = contact();
    reassigned(heard);
    deletedInDynamics(heard, true);
    expect(heard.copies.find((c) => c.mailbox === 'alice')!.maybeMissing).toBeUndefined();
    const unheard = contact();
    reassigned(unheard);
    deletedInDynamics(unheard, false);
    expect(unheard.copies.find((c) => c.mailbox === 'alice')!.maybeMissing).toBe(true);
  });

  it('a task completed in To Do and deleted there: its record may stay open only when the completion was not seen in Dynamics 365', () => {
    const empty = { appointment: [], series: [], task: [], contact: [] };
    const snap = (statecode: number): Snapshot => ({ records: { ...empty, task: [{ activityid: '1', subject: 'T1 red', statecode }] }, mailbox: { alice: { ...empty }, bob: { ...empty } }, emails: [], sent: [] });
    const item = (seen: boolean): ItemModel => {
      const t = createdInDynamics('T1', 'task', 'alice', { a: 'red', b: '' });
      completed(t, 'outlook');
      deletedInOutlook(t, seen);
      return t;
    };
    expect(check(item(false), snap(0))).toEqual([]);
    expect(check(item(false), snap(1))).toEqual([]);
    expect(check(item(true), snap(0))).toEqual(['task T1: Dynamics 365 completed false, the model true']);
  });
});

describe('chaos model: mail, copied once each way', () => {
  const empty = { appointment: [], series: [], task: [], contact: [] };
  const incoming = (n: number) => Array.from({ length: n }, (_, i) => ({ activityid: `${i}`, subject: 'M1 mail', directioncode: false, statecode: 1, statuscode: 4 }));
  const snap = (emails: Record<string, unknown>[], sent: Snapshot['sent'] = []): Snapshot => ({ records: empty, mailbox: { alice: { ...empty }, bob: { ...empty } }, emails, sent });
  const checkMail = (mail: MailModel, s: Snapshot) => {
    const model = newModel(0);
    model.mails.push(mail);
    return violations(model, s).map((v) => v.text);
  };

  it('an incoming mail is one activity once any recipient tracked it, however many copies were tracked, and none before', () => {
    const mail = mailReceived('M1', ['alice', 'bob'], []);
    expect(checkMail(mail, snap([]))).toEqual([]);
    expect(checkMail(mail, snap(incoming(1)))).toEqual(['incoming mail M1 (to alice and bob, tracked by nobody): Dynamics 365 holds 1 email activities, the model 0']);
    mailTracked(mail, 'bob');
    mailTracked(mail, 'alice');
    expect(checkMail(mail, snap(incoming(1)))).toEqual([]);
    expect(checkMail(mail, snap(incoming(2)))).toEqual(['incoming mail M1 (to alice and bob, tracked by bob and alice): Dynamics 365 holds 2 email activities, the model 1']);
    expect(checkMail(mail, snap([{ ...incoming(1)[0]!, directioncode: true, statuscode: 3 }]))).toEqual(['incoming mail M1: the activity is (direction, state/status) true 1/3, the model incoming Received (false 1/4)']);
  });

  it('a sent email is sent once, from its sender, and its activity ends Sent', () => {
    const mail = mailSent('M2', 'alice');
    const sentRecord = { activityid: 'x', subject: 'M2 out', directioncode: true, statecode: 1, statuscode: 3 };
    expect(checkMail(mail, snap([sentRecord], [{ subject: 'M2 out', from: 'alice' }]))).toEqual([]);
    expect(checkMail(mail, snap([sentRecord], []))).toEqual(["email M2 sent by alice: alice's mailbox sent it 0 time(s), other mailboxes 0, the model once"]);
    expect(checkMail(mail, snap([sentRecord], [{ subject: 'M2 out', from: 'alice' }, { subject: 'M2 out', from: 'alice' }]))).toEqual(["email M2 sent by alice: alice's mailbox sent it 2 time(s), other mailboxes 0, the model once"]);
    expect(checkMail(mail, snap([{ ...sentRecord, statecode: 1, statuscode: 6 }], [{ subject: 'M2 out', from: 'alice' }]))).toEqual(['email M2 sent by alice: the activity is (direction, state/status) true 1/6, the model outgoing Sent (true 1/3)']);
    // The Sent Items copy tracked again as a second outgoing activity is a duplicate.
    expect(checkMail(mail, snap([sentRecord, { ...sentRecord, activityid: 'y' }], [{ subject: 'M2 out', from: 'alice' }]))).toEqual(['email M2 sent by alice: Dynamics 365 holds 2 email activities, the model 1']);
  });
});

describe('chaos model: occurrences of a series and edits of closed tasks', () => {
  const seriesModel = () => {
    const model = newModel(0);
    const series = createdInDynamics('S1', 'series', 'alice', { a: 'red', b: 'red' });
    model.items.push(series);
    return { model, series };
  };
  // Each side's occurrences by their place in the series: a subject value (at its original start), or a value and the
  // hours it moved; a hole (undefined) is an occurrence that side does not hold.
  type Held = string | [string, number] | undefined;
  const byPlace = (values: Held[]) => Object.fromEntries(values.flatMap((v, i) => (v === undefined ? [] : [[i, typeof v === 'string' ? { value: v, movedHours: 0 } : { value: v[0], movedHours: v[1] }] as const])));
  const seen = (d365: Held[], outlook: Held[] | undefined) => new Map([['S1', { d365: byPlace(d365), outlook: outlook && byPlace(outlook) }]]);

  it("an edited occurrence holds its value on both sides, the others the series'; an occurrence lost or gained is a violation", () => {
    const { model, series } = seriesModel();
    occurrenceEdited(series, 1, 'blue');
    const texts = (d365: string[], outlook: string[] | undefined) => occurrenceViolations(model, seen(d365, outlook)).map((v) => v.text);
    expect(texts(['red', 'blue', 'red'], ['red', 'blue', 'red'])).toEqual([]);
    expect(texts(['red', 'blue', 'red'], ['red', 'red', 'red'])).toEqual(["series S1: occurrence 1 in alice's mailbox is 'red', the model 'blue'"]);
    expect(texts(['red', 'blue'], ['red', 'blue', 'red'])).toEqual(['series S1: Dynamics 365 holds occurrences [0, 1], the model [0, 1, 2]']);
    // No copy to read (undefined): only Dynamics 365 is compared.
    expect(texts(['red', 'red', 'red'], undefined)).toEqual(["series S1: occurrence 1 in Dynamics 365 is 'red', the model 'blue'"]);
  });

  it("an edit of the series' own subject drops its occurrences from the check; a deleted series is not compared", () => {
    const { model, series } = seriesModel();
    occurrenceEdited(series, 0, 'blue');
    edited(series, 'b', 'teal', 'outlook');
    expect(series.occurrences).toEqual({ 0: 'blue' });
    edited(series, 'a', 'teal', 'd365');
    expect(series.occurrences).toBeUndefined();
    occurrenceEdited(series, 2, 'jade');
    deletedInDynamics(series);
    expect(occurrenceViolations(model, seen(['red', 'red', 'red'], undefined))).toEqual([]);
  });

  it('a cancelled occurrence is on neither side, whatever the series does later; one still there, or another gone, is a violation', () => {
    const { model, series } = seriesModel();
    occurrenceEdited(series, 2, 'blue');
    occurrenceCancelled(series, 1);
    const texts = (d365: Held[], outlook: Held[] | undefined) => occurrenceViolations(model, seen(d365, outlook)).map((v) => v.text);
    expect(texts(['red', undefined, 'blue'], ['red', undefined, 'blue'])).toEqual([]);
    expect(texts(['red', 'red', 'blue'], ['red', undefined, 'blue'])).toEqual(['series S1: Dynamics 365 holds occurrences [0, 1, 2], the model [0, 2]']);
    expect(texts(['red', undefined, 'blue'], [undefined, undefined, 'blue'])).toEqual(["series S1: alice's mailbox holds occurrences [2], the model [0, 2]"]);
    // A cancellation drops the occurrence's own edit; an edit of the series' subject keeps the cancellation.
    occurrenceCancelled(series, 2);
    expect(series.occurrences).toEqual({});
    edited(series, 'a', 'teal', 'outlook');
    expect(series.cancelled).toEqual([1, 2]);
    expect(texts(['teal', undefined, undefined], ['teal', undefined, undefined])).toEqual([]);
    expect(texts(['teal', undefined, 'teal'], ['teal', undefined, undefined])).toEqual(['series S1: Dynamics 365 holds occurrences [0, 2], the model [0]']);
  });

  it('a moved occurrence starts where it was moved to on both sides, every other one at its original start; a cancellation takes the move with it', () => {
    const { model, series } = seriesModel();
    occurrenceMoved(series, 1, 2);
    expect(series.occurrencesUnsure).toBe(true);
    const texts = (d365: Held[], outlook: Held[] | undefined) => occurrenceViolations(model, seen(d365, outlook)).map((v) => v.text);
    expect(texts(['red', ['red', 2], 'red'], ['red', ['red', 2], 'red'])).toEqual([]);
    expect(texts(['red', 'red', 'red'], ['red', ['red', 2], 'red'])).toEqual(['series S1: occurrence 1 in Dynamics 365 starts 0 h after its original start, the model 2 h']);
    expect(texts(['red', ['red', 2], ['red', 2]], ['red', ['red', 2], 'red'])).toEqual(['series S1: occurrence 2 in Dynamics 365 starts 2 h after its original start, the model 0 h']);
    // Edits of the series' subject and location keep the move; the check of the renamed ones is dropped as before.
    edited(series, 'a', 'teal', 'd365');
    edited(series, 'b', 'teal', 'outlook');
    expect(series.moved).toEqual({ 1: 2 });
    expect(texts(['teal', ['teal', 2], 'teal'], ['teal', ['teal', 2], 'teal'])).toEqual([]);
    occurrenceCancelled(series, 1);
    expect(series.moved).toEqual({});
    expect(texts(['teal', undefined, 'teal'], ['teal', undefined, 'teal'])).toEqual([]);
  });

  it('a To Do edit of a task completed on both sides changes the copy only', () => {
    const task = createdInDynamics('T2', 'task', 'alice', { a: 'red', b: '' });
    completed(task, 'd365');
    editedClosedInOutlook(task, 'blue');
    expect(ownerCopy(task).fields.a).toBe('blue');
    expect(task.d365.fields.a).toBe('red');
  });
});
