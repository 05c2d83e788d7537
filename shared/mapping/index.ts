// Export surface of the Dataverse <-> Exchange mapping: pure functions of (item, context), built on declarative
// field tables. No I/O; the clock is ctx.now.
export type { MappingContext } from './context.js';
export type { CanonicalValue, Conversion, Direction, FieldTable, SyncedRow, UnsyncedRow } from './fieldTable.js';
export { canonicalEqual, writesToDataverse, writesToExchange } from './fieldTable.js';
export type { EntityKind } from './kinds.js';
export { dataverseEntityOf, entityKindOf, isTaskLikeEntity, kindOfDataverseEntity } from './kinds.js';
export { isTrackedInExchange, trackedCategory, withTrackedCategory } from './tracking.js';
export { isClosedActivity, separateStateChange } from './state.js';
export { allowedDirections, isSettableField } from './allowedDirections.js';
export type { Importance } from './common.js';

export {
  appointmentFields,
  appointmentReminderOn,
  appointmentToEvent,
  attendeeCopyFields,
  decideEventWrite,
  eventToAppointment,
  isSyncingUserOrganizer,
  showAsOfAppointment,
} from './appointment.js';
export type {
  AppointmentSnapshot,
  AppointmentTime,
  AppointmentToEventResult,
  CanonicalAttendee,
  DataverseActivityPartyBody,
  DataverseAppointmentBody,
  EventWriteDecision,
  EventWriteMode,
  ShowAs,
} from './appointment.js';

export {
  activityToTodoTask,
  parseTaskLike,
  shouldDeleteTodoTask,
  todoReminderOn,
  todoStatusOfActivity,
  todoTaskFields,
  todoTaskToTask,
} from './task.js';
export type { DataverseTaskBody, TaskSnapshot } from './task.js';

export { contactFields, contactToGraphContact, graphContactToContact } from './contact.js';
export type { CanonicalAddress, ContactSnapshot, DataverseContactBody } from './contact.js';

export {
  bothDirectionFields,
  dataverseBodyFromSnapshot,
  exchangeBodyFromSnapshot,
  fieldTables,
  snapshotFromDataverse,
  snapshotFromExchange,
} from './snapshot.js';
export type { DataverseBodyByKind, ExchangeBodyByKind, FieldDescription, SnapshotByKind } from './snapshot.js';

export { mappingDecisions } from './decisions.js';
export {
  dataverseColumnsOf,
  dataverseZoneCodeOf,
  graphRecurrenceOf,
  patternOfDataverse,
  patternOfGraph,
  recurrencePatternTable,
  unsupportedInDataverse,
  windowsZoneOfDataverseCode,
} from './recurrence.js';
export type { PatternTableRow, SeriesPattern } from './recurrence.js';
export type { MappingDecision } from './decisions.js';

export {
  EmailStatus,
  activityIdProperty,
  classifySendFailure,
  draftFromEmail,
  emailFields,
  emailFromMessage,
  headerOf,
  messageDirection,
  messageParties,
  messageSelect,
  normalizeMessageId,
  notificationAttachmentsSkipped,
  repliedMessageIds,
  sendFailureRules,
} from './email.js';
export type { EmailDirection, EmailPartyRow, ResolvedParty, SendFailure } from './email.js';
