// Which mapping applies to a record or item: appointments <-> events, task/phonecall/letter/fax <-> To Do tasks,
// contacts <-> contacts.
import { invalidInput } from '../errors.js';
import { taskLikeEntities, type DataverseEntity, type TaskLikeEntity } from '../wire/dataverse.js';

/** The three kinds of synced item. */
export type EntityKind = 'appointment' | 'task' | 'contact' | 'email';

const entityByType: Readonly<Record<string, DataverseEntity>> = {
  appointment: 'appointment',
  recurringappointmentmaster: 'recurringappointmentmaster',
  task: 'task',
  phonecall: 'phonecall',
  letter: 'letter',
  fax: 'fax',
  contact: 'contact',
  email: 'email',
  // Entity set names, as in `@odata.context` ("$metadata#tasks/$entity").
  appointments: 'appointment',
  recurringappointmentmasters: 'recurringappointmentmaster',
  tasks: 'task',
  phonecalls: 'phonecall',
  letters: 'letter',
  faxes: 'fax',
  contacts: 'contact',
  emails: 'email',
};

const kindByGraphType: Readonly<Record<string, EntityKind>> = {
  '#microsoft.graph.event': 'appointment',
  '#microsoft.graph.todotask': 'task',
  '#microsoft.graph.contact': 'contact',
  '#microsoft.graph.message': 'email',
};

/**
 * The Dataverse table a record comes from, told by `@odata.type` (e.g. "#Microsoft.Dynamics.CRM.phonecall"),
 * `activitytypecode`, the entity set in `@odata.context`, or a `contactid` column, in that order.
 */
export function dataverseEntityOf(record: Record<string, unknown>): DataverseEntity {
  const odataType = record['@odata.type'];
  if (typeof odataType === 'string') {
    const match = /^#?Microsoft\.Dynamics\.CRM\.(\w+)$/i.exec(odataType);
    const entity = match?.[1] === undefined ? undefined : entityByType[match[1].toLowerCase()];
    if (entity === undefined) throw invalidInput('@odata.type', odataType, 'is not a table the sync maps');
    return entity;
  }
  const typeCode = record['activitytypecode'];
  if (typeof typeCode === 'string') {
    const entity = entityByType[typeCode.toLowerCase()];
    if (entity === undefined) throw invalidInput('activitytypecode', typeCode, 'is not an activity type the sync maps');
    return entity;
  }
  const context = record['@odata.context'];
  if (typeof context === 'string') {
    const match = /\$metadata#(\w+)/.exec(context);
    const entity = match?.[1] === undefined ? undefined : entityByType[match[1].toLowerCase()];
    if (entity !== undefined) return entity;
  }
  if (typeof record['contactid'] === 'string') return 'contact';
  throw invalidInput('@odata.type', undefined, 'or activitytypecode is needed to tell the record type apart');
}

/** True for the four activity tables that map to a To Do task. */
export function isTaskLikeEntity(entity: DataverseEntity): entity is TaskLikeEntity {
  return (taskLikeEntities as readonly string[]).includes(entity);
}

const kindByEntity: Readonly<Record<DataverseEntity, EntityKind>> = { appointment: 'appointment', recurringappointmentmaster: 'appointment', task: 'task', phonecall: 'task', letter: 'task', fax: 'task', contact: 'contact', email: 'email' };

/** The kind of a Dataverse table; a table no kind maps is refused, never taken for a task. */
export function kindOfDataverseEntity(entity: DataverseEntity): EntityKind {
  const kind = (kindByEntity as Readonly<Record<string, EntityKind>>)[entity];
  if (kind === undefined) throw invalidInput('entity', entity, 'is not a table the sync maps');
  return kind;
}

/**
 * The sync kind of a Dataverse record (by `@odata.type`, `activitytypecode`, `@odata.context`) or of a Graph item
 * (by `@odata.type`, e.g. "#microsoft.graph.todoTask").
 */
export function entityKindOf(item: Record<string, unknown>): EntityKind {
  const odataType = item['@odata.type'];
  if (typeof odataType === 'string' && odataType.toLowerCase().startsWith('#microsoft.graph.')) {
    const kind = kindByGraphType[odataType.toLowerCase()];
    if (kind === undefined) throw invalidInput('@odata.type', odataType, 'is not a Graph type the sync maps');
    return kind;
  }
  return kindOfDataverseEntity(dataverseEntityOf(item));
}
