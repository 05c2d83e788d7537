// The tables the simulator serves, written from the Dataverse table reference pages (PAD
// powerapps-docs/developer/data-platform/reference/entities/<table>.md): column names, types, lengths, choices and the
// valid statecode/statuscode pairs (docs/reference/platform-facts.md section 6; letter.md and fax.md for the pairs docs/reference/platform-facts.md left UNCONFIRMED).

export type ColumnType =
  | 'guid'
  | 'string'
  | 'memo'
  | 'int'
  | 'bigint'
  | 'bool'
  | 'datetime'
  | 'date'
  | 'picklist'
  | 'lookup'
  | 'state'
  | 'status'
  | 'entityname';

export interface Column {
  name: string;
  type: ColumnType;
  maxLength?: number;
  min?: number;
  max?: number;
  /** Allowed values of a picklist. */
  options?: readonly number[];
  /** Tables a lookup may point to. */
  targets?: readonly string[];
  /** Not settable by callers (system-maintained or computed). */
  readOnly?: boolean;
  /** Settable on create only. */
  createOnly?: boolean;
  /** Never returned on read (serviceendpoint.authvalue: IsValidForRead=False). */
  writeOnly?: boolean;
  /** Value given on create when the caller gives none. */
  defaultValue?: string | number | boolean;
}

export interface StateOption {
  state: number;
  label: string;
  defaultStatus: number;
  statuses: ReadonlyArray<{ value: number; label: string }>;
}

export interface EntityDef {
  logicalName: string;
  setName: string;
  schemaName: string;
  primaryId: string;
  primaryName: string;
  columns: ReadonlyMap<string, Column>;
  /** `<nav>@odata.bind` names: nav property -> [lookup column, target table]. */
  binds: ReadonlyMap<string, { column: string; target: string }>;
  states?: readonly StateOption[];
  /** Create may only give the default (first) state; statecode is not valid for create (letter.md, fax.md). */
  createInOpenStateOnly?: boolean;
  activity?: {
    partyNav: string;
    /** participationtypemask -> party-list column surfaced in webhook Targets (activityparty-entity.md table). */
    partyColumns: Readonly<Record<number, string>>;
  };
  /** Columns with an equality index (besides the primary key). */
  indexed: readonly string[];
  /** Web API writes allowed. */
  writable: boolean;
  ownership: 'user' | 'none';
  /** Change tracking enabled (Prefer: odata.track-changes accepted). */
  changeTracking: boolean;
  /** Writes raise platform events that steps can run on (not the registration tables themselves). */
  raisesEvents?: boolean;
}

const col = (name: string, type: ColumnType, extra: Omit<Column, 'name' | 'type'> = {}): Column => ({ name, type, ...extra });
const str = (name: string, maxLength: number, extra: Omit<Column, 'name' | 'type' | 'maxLength'> = {}) => col(name, 'string', { maxLength, ...extra });
const memo = (name: string, maxLength: number) => col(name, 'memo', { maxLength });
const lookup = (name: string, targets: readonly string[], extra: Omit<Column, 'name' | 'type' | 'targets'> = {}) => col(name, 'lookup', { targets, ...extra });
const sysUserLookup = (name: string) => lookup(name, ['systemuser'], { readOnly: true });

const auditColumns = (): Column[] => [
  col('createdon', 'datetime', { readOnly: true }),
  col('modifiedon', 'datetime', { readOnly: true }),
  sysUserLookup('createdby'),
  sysUserLookup('modifiedby'),
  sysUserLookup('createdonbehalfby'),
  sysUserLookup('modifiedonbehalfby'),
  col('versionnumber', 'bigint', { readOnly: true }),
];

const ownerColumns = (): Column[] => [lookup('ownerid', ['systemuser']), lookup('owningbusinessunit', ['businessunit'], { readOnly: true })];

function activityColumns(descriptionMax: number): Column[] {
  return [
    col('activityid', 'guid', { createOnly: true }),
    str('subject', 200),
    memo('description', descriptionMax),
    col('scheduledstart', 'datetime'),
    col('scheduledend', 'datetime'),
    col('actualstart', 'datetime'),
    col('actualend', 'datetime'),
    col('scheduleddurationminutes', 'int', { min: 0, max: 2147483647 }),
    col('actualdurationminutes', 'int', { min: 0, max: 2147483647 }),
    col('prioritycode', 'picklist', { options: [0, 1, 2], defaultValue: 1 }),
    str('category', 250),
    str('subcategory', 250),
    col('activitytypecode', 'entityname', { readOnly: true }),
    lookup('regardingobjectid', ['account', 'contact']),
    col('statecode', 'state'),
    col('statuscode', 'status'),
    ...ownerColumns(),
    ...auditColumns(),
  ];
}

function def(
  d: Omit<EntityDef, 'columns' | 'binds'> & { columns: Column[]; binds?: Record<string, { column: string; target: string }> },
): EntityDef {
  const columns = new Map(d.columns.map((c) => [c.name, c]));
  const binds = new Map(Object.entries(d.binds ?? {}));
  const raisesEvents = d.raisesEvents ?? d.ownership === 'user';
  // Every single-target lookup is bound through its own name (`ownerid@odata.bind`, `sdkmessageid@odata.bind`).
  for (const c of d.columns) {
    if (c.type === 'lookup' && !c.readOnly && c.targets?.length === 1 && !binds.has(c.name)) binds.set(c.name, { column: c.name, target: c.targets[0]! });
  }
  return { ...d, columns, binds, raisesEvents };
}

const activityBinds = {
  regardingobjectid_contact: { column: 'regardingobjectid', target: 'contact' },
  regardingobjectid_account: { column: 'regardingobjectid', target: 'account' },
};

const s = (value: number, label: string) => ({ value, label });
/** The state/status pairs of appointment, shared by recurringappointmentmaster (its table reference lists the same). */
const appointmentStates = [
  { state: 0, label: 'Open', defaultStatus: 1, statuses: [s(1, 'Free'), s(2, 'Tentative')] },
  { state: 1, label: 'Completed', defaultStatus: 3, statuses: [s(3, 'Completed')] },
  { state: 2, label: 'Canceled', defaultStatus: 4, statuses: [s(4, 'Canceled')] },
  { state: 3, label: 'Scheduled', defaultStatus: 5, statuses: [s(5, 'Busy'), s(6, 'Out of Office')] },
];

export const entities: readonly EntityDef[] = [
  def({
    logicalName: 'appointment',
    setName: 'appointments',
    schemaName: 'Appointment',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [
      ...activityColumns(1048576),
      col('isalldayevent', 'bool', { defaultValue: false }),
      str('location', 200),
      str('globalobjectid', 300),
      col('instancetypecode', 'picklist', { options: [0, 1, 2, 3, 4], readOnly: true, defaultValue: 0 }),
      col('seriesid', 'guid', { readOnly: true }),
      col('ismapiprivate', 'bool', { defaultValue: false }),
      col('outlookownerapptid', 'int', { min: -2147483648, max: 2147483647 }),
      // appointment.md: read-only series columns the platform sets on the instances it expands (recurrence.ts).
      col('originalstartdate', 'datetime', { readOnly: true }),
      col('isregularactivity', 'bool', { readOnly: true, defaultValue: true }),
    ],
    binds: activityBinds,
    // docs/reference/platform-facts.md section 6 (CONFIRMED).
    states: appointmentStates,
    activity: { partyNav: 'appointment_activity_parties', partyColumns: { 5: 'requiredattendees', 6: 'optionalattendees', 7: 'organizer' } },
    indexed: ['ownerid', 'regardingobjectid', 'globalobjectid', 'seriesid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  recurringAppointmentMaster(),
  ...emailTables(),
  def({
    logicalName: 'task',
    setName: 'tasks',
    schemaName: 'Task',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [...activityColumns(2000), col('percentcomplete', 'int', { min: 0, max: 100 })],
    binds: activityBinds,
    states: [
      { state: 0, label: 'Open', defaultStatus: 2, statuses: [s(2, 'Not Started'), s(3, 'In Progress'), s(4, 'Waiting on someone else'), s(7, 'Deferred')] },
      { state: 1, label: 'Completed', defaultStatus: 5, statuses: [s(5, 'Completed')] },
      { state: 2, label: 'Canceled', defaultStatus: 6, statuses: [s(6, 'Canceled')] },
    ],
    createInOpenStateOnly: true,
    activity: { partyNav: 'task_activity_parties', partyColumns: {} },
    indexed: ['ownerid', 'regardingobjectid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'phonecall',
    setName: 'phonecalls',
    schemaName: 'PhoneCall',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [...activityColumns(2000), str('phonenumber', 200), col('directioncode', 'bool', { defaultValue: true })],
    binds: activityBinds,
    states: [
      { state: 0, label: 'Open', defaultStatus: 1, statuses: [s(1, 'Open')] },
      { state: 1, label: 'Completed', defaultStatus: 2, statuses: [s(2, 'Made'), s(4, 'Received')] },
      { state: 2, label: 'Canceled', defaultStatus: 3, statuses: [s(3, 'Canceled')] },
    ],
    createInOpenStateOnly: true,
    activity: { partyNav: 'phonecall_activity_parties', partyColumns: { 1: 'from', 2: 'to' } },
    indexed: ['ownerid', 'regardingobjectid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'letter',
    setName: 'letters',
    schemaName: 'Letter',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [...activityColumns(2000), str('address', 200), col('directioncode', 'bool', { defaultValue: true })],
    binds: activityBinds,
    // letter.md (StateCode/StatusCode choices): 0 Open (default 2 Draft), 1 Completed (default 4 Sent), 2 Canceled (5).
    states: [
      { state: 0, label: 'Open', defaultStatus: 2, statuses: [s(1, 'Open'), s(2, 'Draft')] },
      { state: 1, label: 'Completed', defaultStatus: 4, statuses: [s(3, 'Received'), s(4, 'Sent')] },
      { state: 2, label: 'Canceled', defaultStatus: 5, statuses: [s(5, 'Canceled')] },
    ],
    createInOpenStateOnly: true,
    activity: { partyNav: 'letter_activity_parties', partyColumns: { 1: 'from', 2: 'to', 3: 'cc', 4: 'bcc' } },
    indexed: ['ownerid', 'regardingobjectid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'fax',
    setName: 'faxes',
    schemaName: 'Fax',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [...activityColumns(2000), str('faxnumber', 200), col('numberofpages', 'int', { min: 0, max: 1000000000 }), col('directioncode', 'bool', { defaultValue: true })],
    binds: activityBinds,
    // fax.md (StateCode/StatusCode options): 0 Open (default 1), 1 Completed (default 2; 2 Completed, 3 Sent, 4 Received), 2 Canceled (5).
    states: [
      { state: 0, label: 'Open', defaultStatus: 1, statuses: [s(1, 'Open')] },
      { state: 1, label: 'Completed', defaultStatus: 2, statuses: [s(2, 'Completed'), s(3, 'Sent'), s(4, 'Received')] },
      { state: 2, label: 'Canceled', defaultStatus: 5, statuses: [s(5, 'Canceled')] },
    ],
    createInOpenStateOnly: true,
    activity: { partyNav: 'fax_activity_parties', partyColumns: { 1: 'from', 2: 'to' } },
    indexed: ['ownerid', 'regardingobjectid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'contact',
    setName: 'contacts',
    schemaName: 'Contact',
    primaryId: 'contactid',
    primaryName: 'fullname',
    columns: [
      col('contactid', 'guid', { createOnly: true }),
      str('firstname', 50),
      str('middlename', 50),
      str('lastname', 50),
      str('fullname', 160, { readOnly: true }),
      str('yomifullname', 450, { readOnly: true }),
      str('nickname', 100),
      str('salutation', 100),
      str('suffix', 10),
      str('emailaddress1', 100),
      str('emailaddress2', 100),
      str('emailaddress3', 100),
      str('telephone1', 50),
      str('telephone2', 50),
      str('telephone3', 50),
      str('mobilephone', 50),
      str('fax', 50),
      ...['address1', 'address2'].flatMap((a) => [
        str(`${a}_line1`, 250),
        str(`${a}_line2`, 250),
        str(`${a}_line3`, 250),
        str(`${a}_city`, 80),
        str(`${a}_stateorprovince`, 50),
        str(`${a}_postalcode`, 20),
        str(`${a}_country`, 80),
      ]),
      str('jobtitle', 100),
      str('department', 100),
      lookup('parentcustomerid', ['account', 'contact']),
      col('birthdate', 'date'),
      memo('description', 2000),
      col('statecode', 'state'),
      col('statuscode', 'status'),
      ...ownerColumns(),
      ...auditColumns(),
    ],
    binds: {
      parentcustomerid_account: { column: 'parentcustomerid', target: 'account' },
      parentcustomerid_contact: { column: 'parentcustomerid', target: 'contact' },
    },
    states: [
      { state: 0, label: 'Active', defaultStatus: 1, statuses: [s(1, 'Active')] },
      { state: 1, label: 'Inactive', defaultStatus: 2, statuses: [s(2, 'Inactive')] },
    ],
    indexed: ['ownerid', 'emailaddress1', 'parentcustomerid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'account',
    setName: 'accounts',
    schemaName: 'Account',
    primaryId: 'accountid',
    primaryName: 'name',
    columns: [
      col('accountid', 'guid', { createOnly: true }),
      str('name', 160),
      str('emailaddress1', 100),
      str('telephone1', 50),
      col('statecode', 'state'),
      col('statuscode', 'status'),
      ...ownerColumns(),
      ...auditColumns(),
    ],
    states: [
      { state: 0, label: 'Active', defaultStatus: 1, statuses: [s(1, 'Active')] },
      { state: 1, label: 'Inactive', defaultStatus: 2, statuses: [s(2, 'Inactive')] },
    ],
    indexed: ['ownerid', 'name'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  }),
  def({
    logicalName: 'systemuser',
    setName: 'systemusers',
    schemaName: 'SystemUser',
    primaryId: 'systemuserid',
    primaryName: 'fullname',
    columns: [
      col('systemuserid', 'guid', { createOnly: true }),
      str('firstname', 256),
      str('lastname', 256),
      str('fullname', 200),
      str('internalemailaddress', 100),
      str('domainname', 1024),
      col('azureactivedirectoryobjectid', 'guid'),
      col('applicationid', 'guid'),
      col('isdisabled', 'bool', { defaultValue: false }),
      // accessmode 4 = Non-interactive (application users).
      col('accessmode', 'picklist', { options: [0, 1, 2, 3, 4, 5, 6], defaultValue: 0 }),
      lookup('businessunitid', ['businessunit']),
      str('title', 128),
      ...auditColumns(),
    ],
    indexed: ['azureactivedirectoryobjectid', 'applicationid', 'internalemailaddress', 'domainname'],
    writable: true,
    ownership: 'none',
    changeTracking: true,
    raisesEvents: true,
  }),
  def({
    logicalName: 'activityparty',
    setName: 'activityparties',
    schemaName: 'ActivityParty',
    primaryId: 'activitypartyid',
    primaryName: 'partyidname',
    columns: [
      col('activitypartyid', 'guid'),
      lookup('activityid', ['appointment', 'recurringappointmentmaster', 'task', 'phonecall', 'letter', 'fax', 'email'], { readOnly: true }),
      lookup('partyid', ['systemuser', 'contact', 'account', 'lead']),
      col('participationtypemask', 'picklist', { options: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] }),
      str('addressused', 320),
      col('ispartydeleted', 'bool', { readOnly: true, defaultValue: false }),
      lookup('ownerid', ['systemuser'], { readOnly: true }),
      col('versionnumber', 'bigint', { readOnly: true }),
    ],
    binds: {
      partyid_systemuser: { column: 'partyid', target: 'systemuser' },
      partyid_contact: { column: 'partyid', target: 'contact' },
      partyid_account: { column: 'partyid', target: 'account' },
      partyid_lead: { column: 'partyid', target: 'lead' },
    },
    indexed: ['activityid', 'partyid', 'participationtypemask'],
    writable: false,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'serviceendpoint',
    setName: 'serviceendpoints',
    schemaName: 'ServiceEndpoint',
    primaryId: 'serviceendpointid',
    primaryName: 'name',
    // serviceendpoint.md (docs/reference/platform-facts.md section 5).
    columns: [
      col('serviceendpointid', 'guid', { createOnly: true }),
      str('name', 256),
      memo('description', 2000),
      str('url', 2000),
      col('contract', 'picklist', { options: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }),
      col('authtype', 'picklist', { options: [1, 2, 3, 4, 5, 6, 7, 8] }),
      str('authvalue', 2048, { writeOnly: true }),
      col('messageformat', 'picklist', { options: [1, 2, 3], defaultValue: 2 }),
      col('userclaim', 'picklist', { options: [1, 2, 3], defaultValue: 1 }),
      col('connectionmode', 'picklist', { options: [1, 2], defaultValue: 1 }),
      str('namespaceaddress', 255),
      str('path', 160),
      ...auditColumns(),
    ],
    indexed: ['contract', 'name'],
    writable: true,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'sdkmessageprocessingstep',
    setName: 'sdkmessageprocessingsteps',
    schemaName: 'SdkMessageProcessingStep',
    primaryId: 'sdkmessageprocessingstepid',
    primaryName: 'name',
    columns: [
      col('sdkmessageprocessingstepid', 'guid', { createOnly: true }),
      str('name', 256),
      memo('description', 256),
      col('mode', 'picklist', { options: [0, 1], defaultValue: 0 }),
      col('stage', 'picklist', { options: [10, 20, 40], defaultValue: 40 }),
      col('rank', 'int', { min: 0, max: 2147483647, defaultValue: 1 }),
      memo('filteringattributes', 100000),
      memo('configuration', 1073741823),
      lookup('eventhandler', ['serviceendpoint', 'plugintype']),
      lookup('sdkmessageid', ['sdkmessage']),
      lookup('sdkmessagefilterid', ['sdkmessagefilter']),
      lookup('impersonatinguserid', ['systemuser']),
      col('asyncautodelete', 'bool', { defaultValue: false }),
      col('supporteddeployment', 'picklist', { options: [0, 1, 2], defaultValue: 0 }),
      col('statecode', 'state'),
      col('statuscode', 'status'),
      ...auditColumns(),
    ],
    binds: {
      eventhandler_serviceendpoint: { column: 'eventhandler', target: 'serviceendpoint' },
    },
    states: [
      { state: 0, label: 'Enabled', defaultStatus: 1, statuses: [s(1, 'Enabled')] },
      { state: 1, label: 'Disabled', defaultStatus: 2, statuses: [s(2, 'Disabled')] },
    ],
    indexed: ['eventhandler', 'sdkmessageid', 'sdkmessagefilterid', 'name'],
    writable: true,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'sdkmessageprocessingstepimage',
    setName: 'sdkmessageprocessingstepimages',
    schemaName: 'SdkMessageProcessingStepImage',
    primaryId: 'sdkmessageprocessingstepimageid',
    primaryName: 'name',
    columns: [
      col('sdkmessageprocessingstepimageid', 'guid', { createOnly: true }),
      str('name', 256),
      str('entityalias', 256),
      col('imagetype', 'picklist', { options: [0, 1, 2] }),
      memo('attributes', 100000),
      str('messagepropertyname', 256),
      lookup('sdkmessageprocessingstepid', ['sdkmessageprocessingstep']),
      ...auditColumns(),
    ],
    indexed: ['sdkmessageprocessingstepid'],
    writable: true,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'sdkmessage',
    setName: 'sdkmessages',
    schemaName: 'SdkMessage',
    primaryId: 'sdkmessageid',
    primaryName: 'name',
    columns: [col('sdkmessageid', 'guid'), str('name', 256), col('versionnumber', 'bigint', { readOnly: true })],
    indexed: ['name'],
    writable: false,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'sdkmessagefilter',
    setName: 'sdkmessagefilters',
    schemaName: 'SdkMessageFilter',
    primaryId: 'sdkmessagefilterid',
    primaryName: 'primaryobjecttypecode',
    columns: [
      col('sdkmessagefilterid', 'guid'),
      col('primaryobjecttypecode', 'entityname'),
      col('secondaryobjecttypecode', 'entityname'),
      lookup('sdkmessageid', ['sdkmessage']),
      col('iscustomprocessingstepallowed', 'bool'),
      col('isvisible', 'bool'),
      col('versionnumber', 'bigint', { readOnly: true }),
    ],
    indexed: ['primaryobjecttypecode', 'sdkmessageid'],
    writable: false,
    ownership: 'none',
    changeTracking: false,
  }),
  def({
    logicalName: 'organization',
    setName: 'organizations',
    schemaName: 'Organization',
    primaryId: 'organizationid',
    primaryName: 'name',
    // organization.md: the recurrence expansion settings (recurring-appointment-partial-expansion-model.md); the
    // simulator changes them through its admin API only (admin.setOrganizationSettings).
    columns: [
      col('organizationid', 'guid'),
      str('name', 160),
      col('pastexpansionwindow', 'int', { min: 1, max: 120 }),
      col('futureexpansionwindow', 'int', { min: 1, max: 140 }),
      col('recurrenceexpansionsynchcreatemax', 'int', { min: 1, max: 1000 }),
      col('recurrenceexpansionjobbatchsize', 'int', { min: 1, max: 2147483647 }),
      col('recurrenceexpansionjobbatchinterval', 'int', { min: 1, max: 2147483647 }),
      // attachment-annotation-files.md "File size limits": 5 MB by default, at most 128 MB (131,072,000 bytes).
      col('maxuploadfilesize', 'int', { min: 0, max: 131072000 }),
      col('versionnumber', 'bigint', { readOnly: true }),
    ],
    indexed: [],
    writable: false,
    ownership: 'none',
    changeTracking: false,
  }),
];

/**
 * The series table (recurringappointmentmaster.md, generated reference ms.date 03/07/2023): the pattern and range
 * columns callers write, and the expansion state the platform keeps (read-only there: scheduledstart/end,
 * expansionstatecode, groupid, instancetypecode, isregularactivity, last/nextexpansioninstancedate,
 * deletedexceptionslist). firstdayofweek is IsValidForUpdate False. patternstartdate/patternenddate/
 * effectivestartdate are DateOnly with UserLocal behaviour, so the Web API carries them as the UTC instant of the
 * local midnight (behavior-format-date-time-attribute.md).
 */
function recurringAppointmentMaster(): EntityDef {
  const computed = new Set(['scheduledstart', 'scheduledend', 'scheduleddurationminutes']);
  return def({
    logicalName: 'recurringappointmentmaster',
    setName: 'recurringappointmentmasters',
    schemaName: 'RecurringAppointmentMaster',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [
      ...activityColumns(1048576).map((c) => (computed.has(c.name) ? { ...c, readOnly: true } : c)),
      col('isalldayevent', 'bool', { defaultValue: false }),
      str('location', 200),
      str('globalobjectid', 300),
      col('ismapiprivate', 'bool', { defaultValue: false }),
      col('outlookownerapptid', 'int', { min: -2147483648, max: 2147483647 }),
      col('recurrencepatterntype', 'picklist', { options: [0, 1, 2, 3] }),
      col('interval', 'int', { min: 1, max: 1000 }),
      col('daysofweekmask', 'int', { min: 1, max: 127 }),
      col('dayofmonth', 'int', { min: 1, max: 31 }),
      col('monthofyear', 'picklist', { options: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }),
      col('instance', 'picklist', { options: [1, 2, 3, 4, 5] }),
      col('firstdayofweek', 'int', { min: 0, max: 6, createOnly: true }),
      col('isnthmonthly', 'bool', { defaultValue: false }),
      col('isnthyearly', 'bool', { defaultValue: false }),
      col('isweekdaypattern', 'bool', { defaultValue: false }),
      col('isregenerate', 'bool', { defaultValue: false }),
      col('patternstartdate', 'datetime'),
      col('patternenddate', 'datetime'),
      col('patternendtype', 'picklist', { options: [1, 2, 3] }),
      col('occurrences', 'int', { min: 1, max: 999 }),
      col('starttime', 'datetime'),
      col('endtime', 'datetime'),
      col('duration', 'int', { min: 0, max: 2147483647 }),
      col('effectivestartdate', 'datetime'),
      col('effectiveenddate', 'datetime'),
      col('seriesstatus', 'bool', { defaultValue: true }),
      col('utcconversiontimezonecode', 'int', { min: -1, max: 2147483647 }),
      col('timezoneruleversionnumber', 'int', { min: -1, max: 2147483647 }),
      col('expansionstatecode', 'picklist', { options: [0, 1, 2], readOnly: true, defaultValue: 0 }),
      lookup('groupid', ['recurringappointmentmaster'], { readOnly: true }),
      col('instancetypecode', 'picklist', { options: [0, 1, 2, 3, 4], readOnly: true, defaultValue: 1 }),
      col('isregularactivity', 'bool', { readOnly: true, defaultValue: false }),
      col('lastexpandedinstancedate', 'datetime', { readOnly: true }),
      col('nextexpansioninstancedate', 'datetime', { readOnly: true }),
      col('deletedexceptionslist', 'memo', { readOnly: true, maxLength: 1073741823 }),
    ],
    binds: activityBinds,
    // The same StateCode/StatusCode options as appointment (recurringappointmentmaster.md).
    states: appointmentStates,
    activity: { partyNav: 'recurringappointmentmaster_activity_parties', partyColumns: { 5: 'requiredattendees', 6: 'optionalattendees', 7: 'organizer' } },
    indexed: ['ownerid', 'regardingobjectid', 'globalobjectid', 'groupid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  });
}

/**
 * The email activity and the tables around it, from the table reference pages email.md, activitymimeattachment.md,
 * mailbox.md and lead.md (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/email and
 * siblings). Platform behaviour (SendEmail, attachment size, one mailbox per user) is in email.ts.
 */
function emailTables(): EntityDef[] {
  const emailOverrides = new Map<string, Column>([
    // email.md: Subject MaxLength 800, Description MaxLength 1073741823.
    ['subject', str('subject', 800)],
    ['regardingobjectid', lookup('regardingobjectid', ['account', 'contact', 'lead'])],
  ]);
  const email = def({
    logicalName: 'email',
    setName: 'emails',
    schemaName: 'Email',
    primaryId: 'activityid',
    primaryName: 'subject',
    columns: [
      ...activityColumns(1073741823).map((c) => emailOverrides.get(c.name) ?? c),
      // email.md DirectionCode: Boolean, DefaultValue True (Outgoing), False = Incoming.
      col('directioncode', 'bool', { defaultValue: true }),
      str('messageid', 320),
      str('trackingtoken', 50),
      str('sender', 250),
      str('torecipients', 500),
      str('submittedby', 250),
      str('internetmessageheaders', 500),
      str('mimetype', 256),
      col('notifications', 'picklist', { options: [0, 1, 2], defaultValue: 0 }),
      col('deliveryattempts', 'int', { min: 0, max: 1000000000 }),
      col('deliveryprioritycode', 'picklist', { options: [0, 1, 2], defaultValue: 1 }),
      col('isduplicatesenderunresolved', 'bool', { defaultValue: false }),
      col('readreceiptrequested', 'bool', { defaultValue: false }),
      col('deliveryreceiptrequested', 'bool', { defaultValue: false }),
      lookup('parentactivityid', ['email']),
      lookup('correlatedactivityid', ['email']),
      lookup('receivingmailboxid', ['mailbox']),
      lookup('acceptingentityid', ['systemuser']),
      // email.md "Read-only columns/attributes": set by the platform only.
      str('conversationindex', 2048, { readOnly: true }),
      str('inreplyto', 320, { readOnly: true }),
      col('correlationmethod', 'picklist', { options: [0, 1, 2, 3, 4, 5, 6, 7], readOnly: true, defaultValue: 0 }),
      col('senton', 'datetime', { readOnly: true }),
      col('attachmentcount', 'int', { min: 0, max: 2147483647, readOnly: true, defaultValue: 0 }),
      lookup('emailsender', ['account', 'contact', 'systemuser', 'lead'], { readOnly: true }),
      lookup('sendermailboxid', ['mailbox'], { readOnly: true }),
    ],
    binds: {
      ...activityBinds,
      regardingobjectid_lead: { column: 'regardingobjectid', target: 'lead' },
      // email.md navigation property names: regardingobjectid_<table>_email.
      regardingobjectid_contact_email: { column: 'regardingobjectid', target: 'contact' },
      regardingobjectid_account_email: { column: 'regardingobjectid', target: 'account' },
      regardingobjectid_lead_email: { column: 'regardingobjectid', target: 'lead' },
      ReceivingMailboxId_Email: { column: 'receivingmailboxid', target: 'mailbox' },
    },
    // email.md StateCode/StatusCode choices: Open (default 1 Draft; 8 Failed), Completed (default 2; 3 Sent,
    // 4 Received, 6 Pending Send, 7 Sending), Canceled (5).
    states: [
      { state: 0, label: 'Open', defaultStatus: 1, statuses: [s(1, 'Draft'), s(8, 'Failed')] },
      { state: 1, label: 'Completed', defaultStatus: 2, statuses: [s(2, 'Completed'), s(3, 'Sent'), s(4, 'Received'), s(6, 'Pending Send'), s(7, 'Sending')] },
      { state: 2, label: 'Canceled', defaultStatus: 5, statuses: [s(5, 'Canceled')] },
    ],
    createInOpenStateOnly: true,
    activity: { partyNav: 'email_activity_parties', partyColumns: { 1: 'from', 2: 'to', 3: 'cc', 4: 'bcc' } },
    indexed: ['ownerid', 'regardingobjectid', 'messageid', 'statuscode'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  });
  const activityTargets = ['email', 'appointment', 'task', 'phonecall', 'letter', 'fax', 'recurringappointmentmaster'];
  const attachment = def({
    logicalName: 'activitymimeattachment',
    setName: 'activitymimeattachments',
    schemaName: 'ActivityMimeAttachment',
    primaryId: 'activitymimeattachmentid',
    primaryName: 'filename',
    columns: [
      col('activitymimeattachmentid', 'guid', { createOnly: true }),
      // activitymimeattachment.md: ObjectId targets activitypointer (any activity) and template.
      lookup('objectid', activityTargets, { createOnly: true }),
      col('objecttypecode', 'entityname', { createOnly: true }),
      lookup('activityid', activityTargets, { readOnly: true }),
      memo('body', 1073741823),
      str('filename', 255),
      str('mimetype', 256),
      str('subject', 2000),
      str('attachmentcontentid', 250),
      col('attachmentnumber', 'int', { min: 0, max: 1000000000 }),
      col('filesize', 'int', { min: 0, max: 1000000000, readOnly: true }),
      lookup('ownerid', ['systemuser'], { readOnly: true }),
      col('versionnumber', 'bigint', { readOnly: true }),
    ],
    // objectid_activitypointer takes `/activitypointers(<id>)` of any activity (engine resolveBind).
    binds: { ...Object.fromEntries(activityTargets.map((t) => [`objectid_${t}`, { column: 'objectid', target: t }])), objectid_activitypointer: { column: 'objectid', target: 'email' } },
    indexed: ['objectid'],
    writable: true,
    ownership: 'none',
    changeTracking: false,
    // activitymimeattachment.md "Messages": Create, Update and Delete are events.
    raisesEvents: true,
  });
  const mailbox = def({
    logicalName: 'mailbox',
    setName: 'mailboxes',
    schemaName: 'Mailbox',
    primaryId: 'mailboxid',
    primaryName: 'name',
    columns: [
      col('mailboxid', 'guid', { createOnly: true }),
      str('name', 100),
      str('emailaddress', 100),
      // mailbox.md lists RegardingObjectId among the read-only columns: the platform links the mailbox to its user.
      lookup('regardingobjectid', ['systemuser'], { readOnly: true }),
      // mailbox.md choices: incoming 0 None, 1 Dynamics 365 for Outlook, 2 Server-Side Synchronization or Email
      // Router, 3 Forward Mailbox; outgoing 0 None, 1 Outlook, 2 SSS or Email Router; ACT 0 Outlook, 1 SSS, 2 None.
      col('incomingemaildeliverymethod', 'picklist', { options: [0, 1, 2, 3] }),
      col('outgoingemaildeliverymethod', 'picklist', { options: [0, 1, 2] }),
      col('actdeliverymethod', 'picklist', { options: [0, 1, 2] }),
      col('incomingemailstatus', 'picklist', { options: [0, 1, 2], readOnly: true, defaultValue: 0 }),
      col('outgoingemailstatus', 'picklist', { options: [0, 1, 2], readOnly: true, defaultValue: 0 }),
      col('actstatus', 'picklist', { options: [0, 1, 2], readOnly: true, defaultValue: 0 }),
      col('enabledforincomingemail', 'bool', { defaultValue: true }),
      col('enabledforoutgoingemail', 'bool', { defaultValue: true }),
      col('enabledforact', 'bool', { defaultValue: true }),
      col('orgmarkedasprimaryforexchangesync', 'bool', { defaultValue: false }),
      col('isemailaddressapprovedbyo365admin', 'bool', { readOnly: true, defaultValue: false }),
      col('statecode', 'state'),
      col('statuscode', 'status'),
      ...ownerColumns(),
      ...auditColumns(),
    ],
    states: [
      { state: 0, label: 'Active', defaultStatus: 1, statuses: [s(1, 'Active')] },
      { state: 1, label: 'Inactive', defaultStatus: 2, statuses: [s(2, 'Inactive')] },
    ],
    indexed: ['regardingobjectid', 'emailaddress', 'ownerid'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  });
  // usersettings.md (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/usersettings):
  // one row per user, keyed by systemuserid, created with the user; timezonecode is the user's own time zone (a
  // timezonedefinition code), which Dynamics 365 shows times in.
  const usersettings = def({
    logicalName: 'usersettings',
    setName: 'usersettingscollection',
    schemaName: 'UserSettings',
    primaryId: 'systemuserid',
    primaryName: 'systemuserid',
    columns: [col('systemuserid', 'guid', { createOnly: true }), col('timezonecode', 'int', { min: 0, max: 2147483647 }), col('versionnumber', 'bigint', { readOnly: true })],
    indexed: [],
    writable: true,
    ownership: 'none',
    changeTracking: false,
  });
  const lead = def({
    logicalName: 'lead',
    setName: 'leads',
    schemaName: 'Lead',
    primaryId: 'leadid',
    primaryName: 'fullname',
    columns: [
      col('leadid', 'guid', { createOnly: true }),
      str('subject', 300),
      str('firstname', 50),
      str('lastname', 50),
      str('fullname', 160, { readOnly: true }),
      str('companyname', 100),
      str('emailaddress1', 100),
      col('statecode', 'state'),
      col('statuscode', 'status'),
      ...ownerColumns(),
      ...auditColumns(),
    ],
    // lead.md: 0 Open {1 New, 2 Contacted}, 1 Qualified {3}, 2 Disqualified {4 Lost, 5 Cannot Contact, 6 No Longer Interested, 7 Canceled}.
    states: [
      { state: 0, label: 'Open', defaultStatus: 1, statuses: [s(1, 'New'), s(2, 'Contacted')] },
      { state: 1, label: 'Qualified', defaultStatus: 3, statuses: [s(3, 'Qualified')] },
      { state: 2, label: 'Disqualified', defaultStatus: 4, statuses: [s(4, 'Lost'), s(5, 'Cannot Contact'), s(6, 'No Longer Interested'), s(7, 'Canceled')] },
    ],
    indexed: ['ownerid', 'emailaddress1'],
    writable: true,
    ownership: 'user',
    changeTracking: true,
  });
  return [email, attachment, mailbox, usersettings, lead];
}

export const entityBySet: ReadonlyMap<string, EntityDef> = new Map(entities.map((e) => [e.setName, e]));
export const entityByLogicalName: ReadonlyMap<string, EntityDef> = new Map(entities.map((e) => [e.logicalName, e]));
/** Activity party navigation property -> owning activity table. */
export const activityByPartyNav: ReadonlyMap<string, EntityDef> = new Map(
  entities.filter((e) => e.activity).map((e) => [e.activity!.partyNav, e]),
);

/** The table definition for a logical name; throws for an unknown one (a bug in the simulator). */
export function entityDef(logicalName: string): EntityDef {
  const d = entityByLogicalName.get(logicalName);
  if (!d) throw new Error(`unknown table ${logicalName}`);
  return d;
}

/** The state option for a statecode, if valid. */
export function stateOption(d: EntityDef, state: number): StateOption | undefined {
  return d.states?.find((o) => o.state === state);
}

/** The state a statuscode belongs to, if valid. */
export function stateOfStatus(d: EntityDef, status: number): StateOption | undefined {
  return d.states?.find((o) => o.statuses.some((x) => x.value === status));
}

/** Messages the simulator raises events for and lets steps register on. */
export const sdkMessageNames = ['Create', 'Update', 'Delete', 'SetState', 'SetStateDynamicEntity', 'Assign', 'Retrieve', 'RetrieveMultiple'] as const;

/** Tables added with email (their sdkmessagefilter rows are seeded after the older ones, so those keep their ids). */
export const emailFilterTables = ['email', 'activitymimeattachment', 'mailbox', 'lead'] as const;
