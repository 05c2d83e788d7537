// Dataverse Web API (v9.2) JSON for the records the sync reads: appointment, task, phonecall, letter, fax, contact
// and their activity parties. Logical column names, integer statecode/statuscode, lookups as `_<name>_value`.
// Objects are loose: the API returns many more columns (and annotations) than the mapping reads.
import { z } from 'zod';
import { guidPattern } from '../guid.js';
import { invalidInput } from '../errors.js';
import { dataverseDate, dataverseDateTime } from './dates.js';
import { parseWire } from './parse.js';

/** The Dataverse tables the sync maps. */
export type DataverseEntity = 'appointment' | 'recurringappointmentmaster' | 'task' | 'phonecall' | 'letter' | 'fax' | 'contact' | 'email';
/** The four activity tables that become a To Do task (https://learn.microsoft.com/power-platform/admin/sync-logic: fax, letter, phone call and task). */
export type TaskLikeEntity = 'task' | 'phonecall' | 'letter' | 'fax';

export const taskLikeEntities: readonly TaskLikeEntity[] = ['task', 'phonecall', 'letter', 'fax'];

/** Entity set (collection) name of each table, as used in Web API URLs and `@odata.bind`. */
export const entitySetNames: Readonly<Record<DataverseEntity | 'systemuser' | 'account' | 'lead' | 'mailbox' | 'activitymimeattachment' | 'organization' | 'usersettings', string>> = {
  appointment: 'appointments',
  recurringappointmentmaster: 'recurringappointmentmasters',
  task: 'tasks',
  phonecall: 'phonecalls',
  letter: 'letters',
  fax: 'faxes',
  contact: 'contacts',
  email: 'emails',
  systemuser: 'systemusers',
  account: 'accounts',
  lead: 'leads',
  mailbox: 'mailboxes',
  activitymimeattachment: 'activitymimeattachments',
  organization: 'organizations',
  usersettings: 'usersettingscollection',
};

/**
 * Valid statuscode values per statecode, per table. Appointment and task: docs/reference/platform-facts.md section 6 (CONFIRMED). Phone
 * call: docs/reference/platform-facts.md section 6. Letter and fax: read from the table references (PAD
 * powerapps-docs/developer/data-platform/reference/entities/letter.md and fax.md, "StatusCode Choices/Options"),
 * where docs/reference/platform-facts.md marks them UNCONFIRMED.
 */
export const statusCodesByState: Readonly<Record<Exclude<DataverseEntity, 'contact'>, Readonly<Record<number, readonly number[]>>>> = {
  appointment: { 0: [1, 2], 1: [3], 2: [4], 3: [5, 6] },
  // A series has appointment's state and status codes (recurringappointmentmaster reference, statecode/statuscode).
  recurringappointmentmaster: { 0: [1, 2], 1: [3], 2: [4], 3: [5, 6] },
  task: { 0: [2, 3, 4, 7], 1: [5], 2: [6] },
  phonecall: { 0: [1], 1: [2, 4], 2: [3] },
  letter: { 0: [1, 2], 1: [3, 4], 2: [5] },
  fax: { 0: [1], 1: [2, 3, 4], 2: [5] },
  // Email: 0 Open {1 Draft, 8 Failed}, 1 Completed {2 Completed, 3 Sent, 4 Received, 6 Pending Send, 7 Sending},
  // 2 Canceled {5} (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/email, StatusCode).
  email: { 0: [1, 8], 1: [2, 3, 4, 6, 7], 2: [5] },
};

/** Activity state codes shared by the activity tables (activitypointer: 0 Open, 1 Completed, 2 Canceled, 3 Scheduled). */
export const ActivityState = { Open: 0, Completed: 1, Canceled: 2, Scheduled: 3 } as const;

/** activityparty.participationtypemask values (PAD activityparty-entity.md). */
export const ParticipationType = {
  Sender: 1,
  ToRecipient: 2,
  CcRecipient: 3,
  BccRecipient: 4,
  RequiredAttendee: 5,
  OptionalAttendee: 6,
  Organizer: 7,
  Regarding: 8,
  Owner: 9,
  Resource: 10,
  Customer: 11,
  ChatParticipant: 12,
} as const;

const guid = z.string().regex(guidPattern, 'expected a GUID');
const text = z.string().nullish();
const priority = z.union([z.literal(0), z.literal(1), z.literal(2)]).nullish();
const odata = {
  '@odata.etag': z.string().optional(),
  '@odata.type': z.string().optional(),
  '@odata.context': z.string().optional(),
};

/** One row of `<activity>_activity_parties`. */
export const dataverseActivityPartySchema = z.looseObject({
  activitypartyid: guid.optional(),
  participationtypemask: z.number().int().min(1).max(12),
  _partyid_value: guid.nullish(),
  '_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname': z.string().optional(),
  addressused: text,
});
export type DataverseActivityParty = z.output<typeof dataverseActivityPartySchema>;

const activityColumns = {
  ...odata,
  activityid: guid,
  subject: text,
  description: text,
  scheduledstart: dataverseDateTime.nullish(),
  scheduledend: dataverseDateTime.nullish(),
  actualstart: dataverseDateTime.nullish(),
  actualend: dataverseDateTime.nullish(),
  prioritycode: priority,
  statecode: z.number().int(),
  statuscode: z.number().int(),
  activitytypecode: z.string().optional(),
  _ownerid_value: guid.nullish(),
  _regardingobjectid_value: guid.nullish(),
};

/** Dataverse appointment, with its parties expanded (`$expand=appointment_activity_parties`). */
export const dataverseAppointmentSchema = z.looseObject({
  ...activityColumns,
  scheduledstart: dataverseDateTime,
  scheduledend: dataverseDateTime,
  location: text,
  isalldayevent: z.boolean().nullish(),
  globalobjectid: text,
  appointment_activity_parties: z.array(dataverseActivityPartySchema).optional(),
});
export type DataverseAppointment = z.output<typeof dataverseAppointmentSchema>;

/** Dataverse task (the only one of the four with percentcomplete). */
export const dataverseTaskSchema = z.looseObject({
  ...activityColumns,
  percentcomplete: z.number().int().min(0).max(100).nullish(),
});
export type DataverseTask = z.output<typeof dataverseTaskSchema>;

/** Dataverse phone call, letter or fax: the activity columns the To Do mapping reads. */
export const dataverseTaskLikeSchema = z.looseObject({
  ...activityColumns,
  percentcomplete: z.number().int().min(0).max(100).nullish(),
  phonecall_activity_parties: z.array(dataverseActivityPartySchema).optional(),
  letter_activity_parties: z.array(dataverseActivityPartySchema).optional(),
  fax_activity_parties: z.array(dataverseActivityPartySchema).optional(),
});
export type DataversePhoneCall = z.output<typeof dataverseTaskLikeSchema>;
export type DataverseLetter = DataversePhoneCall;
export type DataverseFax = DataversePhoneCall;
/** Any of task, phonecall, letter, fax. */
export type DataverseTaskLike = z.output<typeof dataverseTaskLikeSchema>;

/** Dataverse contact. Company is the `parentcustomerid` lookup; its name arrives as a formatted-value annotation. */
export const dataverseContactSchema = z.looseObject({
  ...odata,
  contactid: guid,
  firstname: text,
  middlename: text,
  lastname: text,
  fullname: text,
  salutation: text,
  suffix: text,
  nickname: text,
  emailaddress1: text,
  emailaddress2: text,
  emailaddress3: text,
  telephone1: text,
  telephone2: text,
  mobilephone: text,
  address1_line1: text,
  address1_line2: text,
  address1_line3: text,
  address1_city: text,
  address1_stateorprovince: text,
  address1_postalcode: text,
  address1_country: text,
  address2_line1: text,
  address2_line2: text,
  address2_line3: text,
  address2_city: text,
  address2_stateorprovince: text,
  address2_postalcode: text,
  address2_country: text,
  jobtitle: text,
  department: text,
  birthdate: dataverseDate.nullish(),
  description: text,
  _parentcustomerid_value: guid.nullish(),
  '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue': z.string().optional(),
  statecode: z.number().int().min(0).max(1).optional(),
  _ownerid_value: guid.nullish(),
});
export type DataverseContact = z.output<typeof dataverseContactSchema>;

const schemaByEntity = {
  appointment: dataverseAppointmentSchema,
  // A series master carries the appointment columns the mapping reads (scheduledstart/end: its first occurrence).
  recurringappointmentmaster: dataverseAppointmentSchema,
  task: dataverseTaskSchema,
  phonecall: dataverseTaskLikeSchema,
  letter: dataverseTaskLikeSchema,
  fax: dataverseTaskLikeSchema,
  contact: dataverseContactSchema,
} as const;

export interface DataverseRecordByEntity {
  appointment: DataverseAppointment;
  recurringappointmentmaster: DataverseAppointment;
  task: DataverseTask;
  phonecall: DataversePhoneCall;
  letter: DataverseLetter;
  fax: DataverseFax;
  contact: DataverseContact;
}

/** Validates a Dataverse record of `entity`, including that its statuscode belongs to its statecode. */
export function parseDataverseRecord<E extends keyof DataverseRecordByEntity>(entity: E, input: unknown): DataverseRecordByEntity[E] {
  const record = parseWire(schemaByEntity[entity], input, entity) as DataverseRecordByEntity[E];
  if (entity !== 'contact') checkStatus(entity, record as DataverseTaskLike);
  return record;
}

function checkStatus(entity: Exclude<DataverseEntity, 'contact'>, record: { statecode: number; statuscode: number }): void {
  const byState = statusCodesByState[entity];
  const allowed = byState[record.statecode];
  if (allowed === undefined) throw invalidInput('statecode', record.statecode, `is not a valid ${entity} state`);
  if (!allowed.includes(record.statuscode)) {
    const known = Object.values(byState).some((codes) => codes.includes(record.statuscode));
    throw invalidInput(
      'statuscode',
      record.statuscode,
      known
        ? `does not belong to ${entity} statecode ${record.statecode}`
        : `is not a valid ${entity} status reason`,
    );
  }
}
