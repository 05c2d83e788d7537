// The backfill decision, row by row (no I/O): what is linked, created on either side, updated or left, with the
// stamp matched first and then each kind's own rule (a meeting's iCalUId, a contact's e-mail address).
import { describe, expect, it } from 'vitest';
import { backfillSlices, decideBackfill, type BackfillInputs, type BackfillPlan, type PlanEntry } from '../../../shared/onboarding/backfill.js';

const dv1 = '11111111-1111-1111-1111-111111111111';
const dv2 = '22222222-2222-2222-2222-222222222222';

type Row = [string, Partial<BackfillInputs>, keyof BackfillPlan, Partial<PlanEntry>];

const where = (plan: BackfillPlan) => (Object.keys(plan) as (keyof BackfillPlan)[]).flatMap((list) => plan[list].map((entry) => ({ list, entry })));

describe('decideBackfill', () => {
  it.each<Row>([
    ['a record in scope with nothing in the mailbox is created in Exchange', { records: [{ entity: 'appointment', id: dv1 }] }, 'createInExchange', { kind: 'appointment', dataverseId: dv1, message: 'dataverse' }],
    [
      'an event stamped with the record id is linked from the Exchange side',
      { records: [{ entity: 'appointment', id: dv1 }], items: [{ resource: 'event', id: 'AAMk1', stampedId: dv1.toUpperCase(), matchKeys: [], tracked: false }] },
      'link',
      { exchangeId: 'AAMk1', dataverseId: dv1, message: 'exchange', reason: 'the Exchange item carries this Dataverse id' },
    ],
    [
      'an event of the same meeting (iCalUId = globalobjectid) is linked from the Exchange side',
      { records: [{ entity: 'appointment', id: dv1, matchKey: '040000008200E0' }], items: [{ resource: 'event', id: 'AAMk1', matchKeys: ['040000008200E0'], tracked: false }] },
      'link',
      { exchangeId: 'AAMk1', dataverseId: dv1, message: 'exchange', reason: 'same meeting (iCalUId = globalobjectid)' },
    ],
    [
      'a contact with the same address is linked from the Dataverse side',
      { records: [{ entity: 'contact', id: dv1, matchKey: 'ann@contoso.com' }], items: [{ resource: 'contact', id: 'AAMk2', matchKeys: ['ann@contoso.com'], tracked: false }] },
      'link',
      { kind: 'contact', dataverseId: dv1, exchangeId: 'AAMk2', message: 'dataverse', reason: 'same e-mail address' },
    ],
    [
      'a contact stamped for another record does not match by address',
      { records: [{ entity: 'contact', id: dv1, matchKey: 'ann@contoso.com' }], items: [{ resource: 'contact', id: 'AAMk2', stampedId: dv2, matchKeys: ['ann@contoso.com'], tracked: false }] },
      'createInExchange',
      { dataverseId: dv1 },
    ],
    [
      'a match key of another kind never links (a contact address equal to a meeting iCalUId)',
      { records: [{ entity: 'contact', id: dv1, matchKey: 'x' }], items: [{ resource: 'event', id: 'AAMk1', matchKeys: ['x'], tracked: false }] },
      'createInExchange',
      { dataverseId: dv1 },
    ],
    [
      'a To Do task has no rule besides the stamp',
      { records: [{ entity: 'phonecall', id: dv1 }], items: [{ resource: 'todoTask', id: 'AAMk3', listId: 'L1', matchKeys: [], tracked: true }] },
      'createInExchange',
      { kind: 'task', dataverseEntity: 'phonecall', dataverseId: dv1 },
    ],
    ['a tracked unpaired item is created in Dataverse', { items: [{ resource: 'todoTask', id: 'AAMk3', listId: 'L1', matchKeys: [], tracked: true }] }, 'createInDataverse', { kind: 'task', listId: 'L1', message: 'exchange' }],
    ['an untracked unpaired item is left', { items: [{ resource: 'contact', id: 'AAMk2', matchKeys: [], tracked: false }] }, 'leave', { reason: 'not tracked to Dynamics 365' }],
    [
      'a paired record whose etag did not change is left',
      { records: [{ entity: 'task', id: dv1, etag: 'W/"5"' }], pairs: [{ dataverseId: dv1, dataverseEtag: 'W/"5"', status: 'linked' }] },
      'leave',
      { dataverseId: dv1, reason: 'already paired and in sync' },
    ],
    [
      'a paired record that changed is updated',
      { records: [{ entity: 'task', id: dv1, etag: 'W/"6"' }], pairs: [{ dataverseId: dv1, exchangeId: 'AAMk3', dataverseEtag: 'W/"5"', status: 'linked' }] },
      'update',
      { dataverseId: dv1, exchangeId: 'AAMk3', message: 'dataverse' },
    ],
    [
      'a stamped item whose record is outside the window is linked by its stamp',
      { items: [{ resource: 'event', id: 'AAMk1', stampedId: dv2, matchKeys: [], tracked: true }] },
      'link',
      { dataverseId: dv2, message: 'exchange', reason: 'carries a Dataverse id outside the backfill window' },
    ],
  ])('%s', (_name, inputs, list, expected) => {
    const plan = decideBackfill({ records: [], items: [], pairs: [], ...inputs });
    const entries = where(plan);
    // Each row plans exactly one message-bearing or leave entry for the thing it names.
    expect(entries.find((e) => e.list === list && Object.entries(expected).every(([k, v]) => e.entry[k as keyof PlanEntry] === v)), JSON.stringify(plan)).toBeDefined();
    // A linked item is not planned a second time.
    const exIds = entries.filter((e) => e.entry.message === 'exchange' && e.entry.exchangeId).map((e) => e.entry.exchangeId);
    expect(new Set(exIds).size).toBe(exIds.length);
  });

  it('links an item to one record only: the second record with the same address is created', () => {
    const plan = decideBackfill({
      records: [{ entity: 'contact', id: dv1, matchKey: 'ann@contoso.com' }, { entity: 'contact', id: dv2, matchKey: 'ann@contoso.com' }],
      items: [{ resource: 'contact', id: 'AAMk2', matchKeys: ['ann@contoso.com'], tracked: false }],
      pairs: [],
    });
    expect(plan.link.map((e) => e.dataverseId)).toEqual([dv1]);
    expect(plan.createInExchange.map((e) => e.dataverseId)).toEqual([dv2]);
    expect(plan.leave).toEqual([]);
  });
});

describe('backfillSlices: the pace of a backfill on the queue', () => {
  it('paced: one second of changes per slice, the first now and slice k k seconds later, so mailboxes enabled one after another interleave', () => {
    expect(backfillSlices(12, { perSecond: 5, batchSize: 100, now: 1_000 })).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 10, dueAt: 2_000 },
      { start: 10, end: 12, dueAt: 3_000 },
    ]);
  });

  it('unpaced (0): everything now in slices of the batch size; nothing to enqueue gives no slice', () => {
    expect(backfillSlices(250, { perSecond: 0, batchSize: 100, now: 0 })).toEqual([{ start: 0, end: 100 }, { start: 100, end: 200 }, { start: 200, end: 250 }]);
    expect(backfillSlices(0, { perSecond: 5, batchSize: 100, now: 0 })).toEqual([]);
  });
});
