import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  activityToTodoTask,
  appointmentToEvent,
  bothDirectionFields,
  contactToGraphContact,
  eventToAppointment,
  graphContactToContact,
  snapshotFromDataverse,
  snapshotFromExchange,
  todoTaskToTask,
  type EntityKind,
  type MappingContext,
} from '../../shared/mapping/index.js';
import { context, dataverseActivity, dataverseAppointment, dataverseContact, graphContactArb, graphEvent, graphTodoTask } from './arbitraries.js';
import { asDataverseRecord, asGraphItem, me, seed } from './fixtures.js';

const runs = { seed, numRuns: 300 };

/** The Both-direction fields of two snapshots, minus the ones the item does not carry. */
function both(kind: EntityKind, snapshot: object, skip: readonly string[] = []): Record<string, unknown> {
  const fields = bothDirectionFields(kind).filter((f) => !skip.includes(f));
  return Object.fromEntries(fields.map((f) => [f, (snapshot as Record<string, unknown>)[f]]));
}

/** Exchange's answer to creating the event: the organizer is the creating mailbox, or the invitation's organizer. */
function eventAsCreated(result: ReturnType<typeof appointmentToEvent>, organizer: string | null): Record<string, unknown> {
  return asGraphItem(result.event as Record<string, unknown>, {
    organizer: { emailAddress: { address: result.mode === 'attendeeCopy' ? (organizer ?? 'external@example.org') : me.address } },
  });
}

describe('mapping never throws on valid input', () => {
  it('Dataverse appointments, activities and contacts, in any mailbox zone and at any time', () => {
    fc.assert(
      fc.property(dataverseAppointment, dataverseActivity, dataverseContact, context, (a, t, c, ctx) => {
        appointmentToEvent(a, ctx);
        activityToTodoTask(t, ctx);
        contactToGraphContact(c, ctx);
        snapshotFromDataverse('appointment', a, ctx);
        snapshotFromDataverse('task', t, ctx);
        snapshotFromDataverse('contact', c, ctx);
      }),
      runs,
    );
  });

  it('Graph events, To Do tasks and contacts, in any mailbox zone and at any time', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => fc.tuple(fc.constant(ctx), graphEvent(ctx), graphTodoTask(ctx), graphContactArb)),
        ([ctx, e, t, c]: [MappingContext, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]) => {
          eventToAppointment(e, ctx);
          todoTaskToTask(t, ctx);
          graphContactToContact(c, ctx);
          snapshotFromExchange('appointment', e, ctx);
          snapshotFromExchange('task', t, ctx);
          snapshotFromExchange('contact', c, ctx);
        },
      ),
      runs,
    );
  });
});

describe('Dataverse -> Exchange -> Dataverse keeps every Both-direction field', () => {
  it('appointment (attendees the invitation rule keeps out of Exchange are the one exception, and are empty there)', () => {
    fc.assert(
      fc.property(dataverseAppointment, context, (record, ctx) => {
        const before = snapshotFromDataverse('appointment', record, ctx);
        const result = appointmentToEvent(record, ctx);
        if (result.unsyncedFields.includes('attendees')) expect(result.event.attendees).toEqual([]);
        const back = asDataverseRecord(eventToAppointment(eventAsCreated(result, before.organizer), ctx), 'appointment');
        const after = snapshotFromDataverse('appointment', back, ctx);
        expect(both('appointment', after, result.unsyncedFields)).toEqual(both('appointment', before, result.unsyncedFields));
      }),
      runs,
    );
  });

  it('task, phone call, letter and fax (via a To Do task, back as a task)', () => {
    fc.assert(
      fc.property(dataverseActivity, context, (record, ctx) => {
        const before = snapshotFromDataverse('task', record, ctx);
        const todo = asGraphItem(activityToTodoTask(record, ctx) as Record<string, unknown>);
        const back = asDataverseRecord(todoTaskToTask(todo, ctx), 'task');
        expect(both('task', snapshotFromDataverse('task', back, ctx))).toEqual(both('task', before));
      }),
      runs,
    );
  });

  it('contact', () => {
    fc.assert(
      fc.property(dataverseContact, context, (record, ctx) => {
        const before = snapshotFromDataverse('contact', record, ctx);
        const graph = asGraphItem(contactToGraphContact(record, ctx) as Record<string, unknown>);
        const back = asDataverseRecord(graphContactToContact(graph, ctx), 'contact');
        expect(both('contact', snapshotFromDataverse('contact', back, ctx))).toEqual(both('contact', before));
      }),
      runs,
    );
  });
});

describe('Exchange -> Dataverse -> Exchange keeps every Both-direction field', () => {
  it('event (attendees the invitation rule keeps out of Exchange are the one exception)', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => fc.tuple(fc.constant(ctx), graphEvent(ctx))),
        ([ctx, event]: [MappingContext, Record<string, unknown>]) => {
          const before = snapshotFromExchange('appointment', event, ctx);
          const record = asDataverseRecord(eventToAppointment(event, ctx), 'appointment');
          const result = appointmentToEvent(record, ctx);
          const after = snapshotFromExchange('appointment', eventAsCreated(result, before.organizer), ctx);
          expect(both('appointment', after, result.unsyncedFields)).toEqual(both('appointment', before, result.unsyncedFields));
        },
      ),
      runs,
    );
  });

  it('To Do task', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => fc.tuple(fc.constant(ctx), graphTodoTask(ctx))),
        ([ctx, todo]: [MappingContext, Record<string, unknown>]) => {
          const before = snapshotFromExchange('task', todo, ctx);
          const record = asDataverseRecord(todoTaskToTask(todo, ctx), 'task');
          const again = asGraphItem(activityToTodoTask(record, ctx) as Record<string, unknown>);
          expect(both('task', snapshotFromExchange('task', again, ctx))).toEqual(both('task', before));
        },
      ),
      runs,
    );
  });

  it('contact', () => {
    fc.assert(
      fc.property(graphContactArb, context, (contact, ctx) => {
        const before = snapshotFromExchange('contact', contact, ctx);
        const record = asDataverseRecord(graphContactToContact(contact, ctx), 'contact');
        const again = asGraphItem(contactToGraphContact(record, ctx) as Record<string, unknown>);
        expect(both('contact', snapshotFromExchange('contact', again, ctx))).toEqual(both('contact', before));
      }),
      runs,
    );
  });
});
