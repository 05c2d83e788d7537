// Microsoft Graph v1.0 JSON for event, todoTask and contact (GDC api-reference/v1.0/resources/event.md,
// todotask.md, contact.md). Types come from @microsoft/microsoft-graph-types; the zod schemas check, at the process
// boundary, the properties the mapping reads. Graph returns null for empty scalars, [] for empty collections and {}
// for an empty physicalAddress (samples/graph-contact.json), so every property here is nullish.
import { z } from 'zod';
import { graphDateTimeTimeZone } from './dates.js';
import { parseWire } from './parse.js';

export type { Contact as GraphContact, Event as GraphEvent, TodoTask as GraphTodoTask } from '@microsoft/microsoft-graph-types';

const text = z.string().nullish();
const categories = z.array(z.string()).nullish();
const emailAddress = z.looseObject({ address: text, name: text });
const itemBody = z.looseObject({ contentType: z.enum(['text', 'html', 'Text', 'HTML']).nullish(), content: text });
const importance = z.enum(['low', 'normal', 'high']).nullish();

/** Graph showAs (freeBusyStatus) values, including the evolvable-enum sentinel. */
export const showAsValues = ['free', 'tentative', 'busy', 'oof', 'workingElsewhere', 'unknown', 'unknownFutureValue'] as const;
/** Graph todoTask status values (taskStatus). */
export const todoStatusValues = ['notStarted', 'inProgress', 'completed', 'waitingOnOthers', 'deferred'] as const;
export type TodoStatus = (typeof todoStatusValues)[number];

export const graphAttendeeSchema = z.looseObject({
  type: z.enum(['required', 'optional', 'resource']).nullish(),
  emailAddress: emailAddress.nullish(),
});

/** Graph event as read with GET/delta. start and end are required: every event has them. */
export const graphEventSchema = z.looseObject({
  id: z.string().optional(),
  '@odata.etag': z.string().optional(),
  subject: text,
  body: itemBody.nullish(),
  start: graphDateTimeTimeZone,
  end: graphDateTimeTimeZone,
  isAllDay: z.boolean().nullish(),
  showAs: z.enum(showAsValues).nullish(),
  isCancelled: z.boolean().nullish(),
  isReminderOn: z.boolean().nullish(),
  importance,
  location: z.looseObject({ displayName: text }).nullish(),
  attendees: z.array(graphAttendeeSchema).nullish(),
  organizer: z.looseObject({ emailAddress: emailAddress.nullish() }).nullish(),
  isOrganizer: z.boolean().nullish(),
  iCalUId: text,
  categories,
  type: z.string().nullish(),
});

/** Graph todoTask. status is required: the service always returns it. */
export const graphTodoTaskSchema = z.looseObject({
  id: z.string().optional(),
  '@odata.etag': z.string().optional(),
  title: text,
  body: itemBody.nullish(),
  status: z.enum(todoStatusValues),
  importance,
  dueDateTime: graphDateTimeTimeZone.nullish(),
  completedDateTime: graphDateTimeTimeZone.nullish(),
  reminderDateTime: graphDateTimeTimeZone.nullish(),
  isReminderOn: z.boolean().nullish(),
  categories,
});

const physicalAddress = z
  .looseObject({ street: text, city: text, state: text, countryOrRegion: text, postalCode: text })
  .nullish();

/** Graph contact. */
export const graphContactSchema = z.looseObject({
  id: z.string().optional(),
  '@odata.etag': z.string().optional(),
  givenName: text,
  middleName: text,
  surname: text,
  displayName: text,
  title: text,
  generation: text,
  nickName: text,
  emailAddresses: z.array(emailAddress).nullish(),
  businessPhones: z.array(z.string()).nullish(),
  homePhones: z.array(z.string()).nullish(),
  mobilePhone: text,
  businessAddress: physicalAddress,
  homeAddress: physicalAddress,
  companyName: text,
  department: text,
  jobTitle: text,
  birthday: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?)?$/, 'expected an ISO 8601 date')
    .nullish(),
  personalNotes: text,
  categories,
});

export type ParsedGraphEvent = z.output<typeof graphEventSchema>;
export type ParsedGraphTodoTask = z.output<typeof graphTodoTaskSchema>;
export type ParsedGraphContact = z.output<typeof graphContactSchema>;

/** Validates a Graph event (throws SyncError InvalidInput naming the field). */
export function parseGraphEvent(input: unknown): ParsedGraphEvent {
  return parseWire(graphEventSchema, input, 'event');
}
/** Validates a Graph todoTask (throws SyncError InvalidInput naming the field). */
export function parseGraphTodoTask(input: unknown): ParsedGraphTodoTask {
  return parseWire(graphTodoTaskSchema, input, 'todoTask');
}
/** Validates a Graph contact (throws SyncError InvalidInput naming the field). */
export function parseGraphContact(input: unknown): ParsedGraphContact {
  return parseWire(graphContactSchema, input, 'contact');
}
