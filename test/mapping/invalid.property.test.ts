import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSyncError, type SyncError } from '../../shared/errors.js';
import {
  activityToTodoTask,
  appointmentToEvent,
  contactToGraphContact,
  eventToAppointment,
  graphContactToContact,
  todoTaskToTask,
  type MappingContext,
} from '../../shared/mapping/index.js';
import { context, dataverseActivity, dataverseAppointment, dataverseContact, graphEvent, graphTodoTask } from './arbitraries.js';
import { appointment, ctxAt, event, seed, todo } from './fixtures.js';

const runs = { seed, numRuns: 200 };

function rejection(run: () => unknown): SyncError {
  try {
    run();
  } catch (error) {
    if (isSyncError(error, 'InvalidInput')) return error;
    throw error;
  }
  throw new Error('expected an InvalidInput SyncError');
}

const malformedDates = ['2024-02-30T10:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01 10:00:00', '2024-01-01T10:00:00', '', 'tomorrow', '1700000000'];

describe('invalid input is rejected with InvalidInput naming the field and the value', () => {
  it('a Dataverse record missing a required column', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(dataverseAppointment, fc.constantFrom('activityid', 'scheduledstart', 'scheduledend', 'statecode', 'statuscode'), fc.constant('appointment')),
          fc.tuple(dataverseActivity, fc.constantFrom('activityid', 'statecode', 'statuscode'), fc.constant('task')),
          fc.tuple(dataverseContact, fc.constant('contactid'), fc.constant('contact')),
        ),
        context,
        ([record, column, kind], ctx) => {
          const { [column]: _dropped, ...rest } = record;
          const map = kind === 'appointment' ? appointmentToEvent : kind === 'task' ? activityToTodoTask : contactToGraphContact;
          const error = rejection(() => map(rest, ctx));
          expect(error.field).toBe(column);
          expect(error.value).toBeUndefined();
          expect(error.message).toContain(`${column} (missing)`);
        },
      ),
      runs,
    );
  });

  it('an unknown statuscode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(dataverseAppointment, fc.constant('appointment')), fc.tuple(dataverseActivity, fc.constant('task'))),
        fc.oneof(fc.integer({ min: 8, max: 99 }), fc.integer({ min: -5, max: 0 }), fc.integer({ min: 100_000_000, max: 100_000_099 })),
        context,
        ([record, kind], statuscode, ctx) => {
          const map = kind === 'appointment' ? appointmentToEvent : activityToTodoTask;
          const error = rejection(() => map({ ...record, statuscode }, ctx));
          expect(error).toMatchObject({ field: 'statuscode', value: statuscode });
          expect(error.message).toMatch(new RegExp(`^statuscode ${statuscode} is not a valid \\w+ status reason$`));
        },
      ),
      runs,
    );
  });

  it('a malformed Dataverse date', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(dataverseAppointment, fc.constantFrom('scheduledstart', 'scheduledend')),
          fc.tuple(dataverseActivity, fc.constantFrom('scheduledend', 'actualend')),
        ),
        fc.constantFrom(...malformedDates),
        context,
        ([record, column], bad, ctx) => {
          const map = 'appointment_activity_parties' in record ? appointmentToEvent : activityToTodoTask;
          expect(rejection(() => map({ ...record, [column]: bad }, ctx))).toMatchObject({ field: column, value: bad });
        },
      ),
      runs,
    );
  });

  it('a malformed Graph date-time, an unknown zone, or a missing todoTask status', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => fc.tuple(fc.constant(ctx), graphEvent(ctx), graphTodoTask(ctx))),
        fc.constantFrom('start', 'end'),
        fc.constantFrom('2024-02-30T10:00:00', '2024-01-01T25:00:00', '10:00', '2024-01-01T10:00:00Z'),
        ([ctx, e, t]: [MappingContext, Record<string, unknown>, Record<string, unknown>], which, bad) => {
          const zone = (e[which] as { timeZone: string }).timeZone;
          expect(rejection(() => eventToAppointment({ ...e, [which]: { dateTime: bad, timeZone: zone } }, ctx))).toMatchObject({
            field: `${which}.dateTime`,
            value: bad,
          });
          const timed = { ...e, isAllDay: false, [which]: { dateTime: '2024-01-01T10:00:00', timeZone: 'Mars Standard Time' } };
          expect(rejection(() => eventToAppointment(timed, ctx))).toMatchObject({ field: `${which}.timeZone`, value: 'Mars Standard Time' });
          const { status: _status, ...noStatus } = t;
          expect(rejection(() => todoTaskToTask(noStatus, ctx))).toMatchObject({ field: 'status', value: undefined });
        },
      ),
      runs,
    );
  });

  it('named cases: end before start, a bad context zone, a non-object contact', () => {
    const ctx = ctxAt('2024-01-01T00:00:00Z');
    expect(rejection(() => appointmentToEvent(appointment({ scheduledend: '2024-07-01T09:00:00Z' }), ctx))).toMatchObject({
      field: 'scheduledend',
      value: '2024-07-01T09:00:00Z',
    });
    expect(rejection(() => eventToAppointment(event(), { ...ctx, timeZone: 'Europe/Atlantis' }))).toMatchObject({ field: 'ctx.timeZone', value: 'Europe/Atlantis' });
    expect(rejection(() => todoTaskToTask(todo({ importance: 'urgent' }), ctx))).toMatchObject({ field: 'importance', value: 'urgent' });
    expect(rejection(() => graphContactToContact('not a contact' as never, ctx))).toMatchObject({ field: 'contact', value: 'not a contact' });
  });
});
