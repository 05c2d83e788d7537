// Microsoft To Do lists and tasks (GDC api-reference/v1.0/resources/todotasklist.md, todotask.md). Each user has
// the built-in "Tasks" list (wellknownListName defaultList), which cannot be deleted. Extended properties do not
// exist on todoTask in Graph; the simulator models linkedResources (which the samples show) as the place to keep a
// foreign key, and rejects singleValueExtendedProperties as Graph does.
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { civilDateOf, nextDateAfter, parseRecurrence, renderRecurrence, type PatternedRecurrence } from '../recurrence.js';
import { UTC_ZONE, utcTimestamp7 } from '../timeZones.js';
import { DateTime } from 'luxon';
import { collectionKeys, type Actor, type World } from '../world.js';
import { bodyAsHtml, dateTimeTimeZoneInput, itemBodyInput, parseBody, parseDateTimeTimeZone, rejectUnknownProperties, zoned, type ResourceSpec } from './common.js';
import type { ResolvedZone } from '../timeZones.js';

export interface LinkedResource {
  id: string;
  webUrl: string | null;
  applicationName: string | null;
  displayName: string | null;
  externalId: string | null;
}

interface Zoned {
  ms: number;
  zone: ResolvedZone;
}

export interface TaskData {
  title: string;
  body: { contentType: 'text' | 'html'; content: string };
  bodyLastModifiedAt: number;
  importance: string;
  status: string;
  isReminderOn: boolean;
  categories: string[];
  dueDateTime: Zoned | null;
  startDateTime: Zoned | null;
  reminderDateTime: Zoned | null;
  completedDateTime: Zoned | null;
  linkedResources: LinkedResource[];
  recurrence: PatternedRecurrence | null;
}
export type TaskRecord = ItemRecord<TaskData>;

export interface TaskListData {
  displayName: string;
  isOwner: boolean;
  isShared: boolean;
  wellknownListName: string;
}

const linkedResourceInput = z.object({
  webUrl: z.string().nullable().optional(),
  applicationName: z.string().nullable().optional(),
  displayName: z.string().nullable().optional(),
  externalId: z.string().nullable().optional(),
  id: z.string().optional(),
});

const taskInput = z.object({
  title: z.string().nullable().optional(),
  body: itemBodyInput.nullable().optional(),
  importance: z.enum(['low', 'normal', 'high']).optional(),
  status: z.enum(['notStarted', 'inProgress', 'completed', 'waitingOnOthers', 'deferred']).optional(),
  isReminderOn: z.boolean().optional(),
  categories: z.array(z.string()).nullable().optional(),
  dueDateTime: dateTimeTimeZoneInput.nullable().optional(),
  startDateTime: dateTimeTimeZoneInput.nullable().optional(),
  reminderDateTime: dateTimeTimeZoneInput.nullable().optional(),
  completedDateTime: dateTimeTimeZoneInput.nullable().optional(),
  linkedResources: z.array(linkedResourceInput).optional(),
  recurrence: z.unknown().optional(),
});
const TASK_KNOWN = new Set([...Object.keys(taskInput.shape), 'id', 'createdDateTime', 'lastModifiedDateTime', 'bodyLastModifiedDateTime', 'hasAttachments']);
const TASK_PROPS = ['importance', 'isReminderOn', 'status', 'title', 'createdDateTime', 'lastModifiedDateTime', 'hasAttachments', 'categories', 'body', 'bodyLastModifiedDateTime', 'dueDateTime', 'startDateTime', 'reminderDateTime', 'completedDateTime', 'linkedResources', 'recurrence'];
const ZONED_FIELDS = ['dueDateTime', 'startDateTime', 'reminderDateTime', 'completedDateTime'] as const;

export const taskSpec: ResourceSpec = {
  typeName: 'todoTask',
  etag: true,
  properties: new Set(TASK_PROPS.map((p) => p.toLowerCase())),
  view(record) {
    const d = (record as TaskRecord).data;
    const out: Record<string, unknown> = {
      importance: d.importance,
      isReminderOn: d.isReminderOn,
      status: d.status,
      title: d.title,
      createdDateTime: utcTimestamp7(record.createdAt),
      lastModifiedDateTime: utcTimestamp7(record.modifiedAt),
      hasAttachments: false,
      categories: [...d.categories],
      id: record.id,
      body: d.body.contentType === 'html' ? bodyAsHtml(d.body) : { content: d.body.content, contentType: 'text' },
      bodyLastModifiedDateTime: utcTimestamp7(d.bodyLastModifiedAt),
    };
    for (const key of ZONED_FIELDS) {
      const v = d[key];
      if (v) out[key] = zoned(v.ms, { iana: 'UTC', windows: 'UTC', label: 'UTC', isUtc: true });
    }
    if (d.recurrence) out.recurrence = renderRecurrence(d.recurrence);
    return out;
  },
  adjust(out, record, opts) {
    const d = (record as TaskRecord).data;
    for (const key of ZONED_FIELDS) {
      const v = d[key];
      if (v && key in out) out[key] = zoned(v.ms, opts.zone);
    }
    if (opts.expandLinkedResources) out.linkedResources = d.linkedResources.map((l) => ({ ...l }));
  },
};

export const taskListSpec: ResourceSpec = {
  typeName: 'todoTaskList',
  etag: true,
  properties: new Set(['displayname', 'isowner', 'isshared', 'wellknownlistname']),
  view(record) {
    const d = record.data as TaskListData;
    return { displayName: d.displayName, isOwner: d.isOwner, isShared: d.isShared, wellknownListName: d.wellknownListName, id: record.id };
  },
};

/** To Do rules. */
export class TodoService {
  constructor(private readonly world: World) {}

  listsKey(mb: Mailbox): string {
    return collectionKeys.todoLists(mb.user.id);
  }

  tasksKey(mb: Mailbox, listId: string): string {
    return collectionKeys.tasks(mb.user.id, listId);
  }

  list(mb: Mailbox, listId: string): ItemRecord {
    return this.world.get(this.listsKey(mb), listId);
  }

  createList(mb: Mailbox, body: unknown, actor: Actor): ItemRecord {
    const input = parseBody(z.object({ displayName: z.string().min(1, 'displayName is required') }), body, 'todoTaskList');
    const coll = this.world.collection(this.listsKey(mb), 'todoTaskList', mb.user.id, mb.user.id);
    const data: TaskListData = { displayName: input.displayName, isOwner: true, isShared: false, wellknownListName: 'none' };
    const record = this.world.insert({ kind: 'todoTaskList', userId: mb.user.id, collection: coll, data, indexKeys: [], actor });
    this.world.collection(this.tasksKey(mb, record.id), 'todoTask', mb.user.id, record.id);
    return record;
  }

  updateList(mb: Mailbox, listId: string, body: unknown, actor: Actor): ItemRecord {
    const record = this.list(mb, listId);
    const input = parseBody(z.object({ displayName: z.string().min(1) }), body, 'todoTaskList');
    record.data = { ...(record.data as TaskListData), displayName: input.displayName };
    this.world.touch(record, [], actor);
    return record;
  }

  deleteList(mb: Mailbox, listId: string, actor: Actor): void {
    const record = this.list(mb, listId);
    if ((record.data as TaskListData).wellknownListName === 'defaultList') {
      throw new GraphError(400, 'invalidRequest', 'The default task list cannot be deleted.');
    }
    const coll = this.world.collections.get(this.tasksKey(mb, listId));
    for (const id of [...(coll?.ids ?? [])]) {
      const t = this.world.items.get(id);
      if (t) this.world.remove(t, actor);
    }
    this.world.remove(record, actor);
  }

  indexKeys(record: TaskRecord): string[] {
    return [...record.data.categories.map((c) => `cat:${c.toLowerCase()}`), ...record.data.linkedResources.filter((l) => l.externalId).map((l) => `lr:${String(l.externalId).toLowerCase()}`)];
  }

  createTask(mb: Mailbox, listId: string, body: unknown, actor: Actor): TaskRecord {
    this.list(mb, listId);
    const input = this.parse(body);
    const now = this.world.clock.now();
    const data: TaskData = {
      title: input.title ?? '',
      body: { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' },
      bodyLastModifiedAt: now,
      importance: input.importance ?? 'normal',
      status: input.status ?? 'notStarted',
      isReminderOn: input.isReminderOn ?? false,
      categories: input.categories ?? [],
      dueDateTime: null,
      startDateTime: null,
      reminderDateTime: null,
      completedDateTime: null,
      linkedResources: (input.linkedResources ?? []).map((l) => this.linkedResource(l)),
      recurrence: null,
    };
    this.assignTimes(data, input);
    this.assignRecurrence(data, input);
    this.completion(data, undefined, input, now);
    const coll = this.world.collection(this.tasksKey(mb, listId), 'todoTask', mb.user.id, listId);
    return this.world.insert({ kind: 'todoTask', userId: mb.user.id, collection: coll, data, indexKeys: this.indexKeys({ data } as TaskRecord), actor });
  }

  task(mb: Mailbox, listId: string, taskId: string): TaskRecord {
    this.list(mb, listId);
    return this.world.get(this.tasksKey(mb, listId), taskId) as TaskRecord;
  }

  updateTask(record: TaskRecord, body: unknown, actor: Actor, ifMatch?: string): TaskRecord {
    checkTaskIfMatch(ifMatch, record);
    const input = this.parse(body);
    const before = record.data;
    const next: TaskData = { ...before, categories: [...before.categories], linkedResources: before.linkedResources.map((l) => ({ ...l })) };
    const now = this.world.clock.now();
    if (input.title !== undefined) next.title = input.title ?? '';
    if (input.body !== undefined) {
      next.body = { contentType: input.body?.contentType ?? 'text', content: input.body?.content ?? '' };
      next.bodyLastModifiedAt = now;
    }
    if (input.importance !== undefined) next.importance = input.importance;
    if (input.status !== undefined) next.status = input.status;
    if (input.isReminderOn !== undefined) next.isReminderOn = input.isReminderOn;
    if (input.categories !== undefined) next.categories = input.categories ?? [];
    if (input.linkedResources !== undefined) next.linkedResources = input.linkedResources.map((l) => this.linkedResource(l));
    this.assignTimes(next, input);
    this.assignRecurrence(next, input);
    this.completion(next, before, input, now);
    record.data = next;
    this.world.touch(record, this.indexKeys(record), actor);
    if (next.status === 'completed' && before.status !== 'completed' && next.recurrence) this.createNextOccurrence(record, actor);
    return record;
  }

  deleteTask(record: TaskRecord, actor: Actor, ifMatch?: string): void {
    checkTaskIfMatch(ifMatch, record);
    this.world.remove(record, actor);
  }

  addLinkedResource(record: TaskRecord, body: unknown, actor: Actor): LinkedResource {
    const lr = this.linkedResource(parseBody(linkedResourceInput, body, 'linkedResource'));
    record.data = { ...record.data, linkedResources: [...record.data.linkedResources, lr] };
    this.world.touch(record, this.indexKeys(record), actor);
    return lr;
  }

  removeLinkedResource(record: TaskRecord, id: string, actor: Actor): void {
    if (!record.data.linkedResources.some((l) => l.id === id)) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    record.data = { ...record.data, linkedResources: record.data.linkedResources.filter((l) => l.id !== id) };
    this.world.touch(record, this.indexKeys(record), actor);
  }

  private linkedResource(l: z.infer<typeof linkedResourceInput>): LinkedResource {
    return { id: this.world.guid(), webUrl: l.webUrl ?? null, applicationName: l.applicationName ?? null, displayName: l.displayName ?? null, externalId: l.externalId ?? null };
  }

  private parse(body: unknown): z.infer<typeof taskInput> {
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const rec = body as Record<string, unknown>;
      if ('singleValueExtendedProperties' in rec || 'multiValueExtendedProperties' in rec) {
        throw new GraphError(400, 'RequestBodyRead', "The property 'singleValueExtendedProperties' does not exist on type 'microsoft.graph.todoTask'. Make sure to only use property names that are defined by the type or mark the type as open type.");
      }
      rejectUnknownProperties(rec, TASK_KNOWN, 'todoTask');
    }
    return parseBody(taskInput, body, 'todoTask');
  }

  private assignTimes(d: TaskData, input: z.infer<typeof taskInput>): void {
    for (const key of ZONED_FIELDS) {
      const v = input[key];
      if (v === undefined) continue;
      d[key] = v === null ? null : parseDateTimeTimeZone(v, key);
    }
  }

  /**
   * A recurring task needs a due date to recur from: without one, To Do dates it on the range's start (the
   * simulator's reading; the docs do not say). Range dates are in the due date's zone unless recurrenceTimeZone is set.
   */
  private assignRecurrence(d: TaskData, input: z.infer<typeof taskInput>): void {
    if (input.recurrence === undefined) return;
    if (input.recurrence === null) {
      d.recurrence = null;
      return;
    }
    const recurrence = parseRecurrence(input.recurrence, d.dueDateTime?.zone ?? UTC_ZONE, 'todoTask');
    d.recurrence = recurrence;
    if (!d.dueDateTime) {
      const [y, m, day] = recurrence.range.startDate.split('-').map(Number) as [number, number, number];
      d.dueDateTime = { ms: DateTime.fromObject({ year: y, month: m, day }, { zone: recurrence.range.zone.iana }).toMillis(), zone: recurrence.range.zone };
    }
  }

  /**
   * Completing a recurring task creates its next occurrence, as To Do does: a new task due on the pattern's next
   * date after the completed one's due date (start and reminder moved by the same amount), not started, with the
   * same recurrence. linkedResources are not copied: the new task is not the item a linked application created.
   */
  private createNextOccurrence(done: TaskRecord, actor: Actor): void {
    const d = done.data;
    const rec = d.recurrence;
    if (!rec || !d.dueDateTime) return;
    const zone = rec.range.zone;
    const dueLocal = DateTime.fromMillis(d.dueDateTime.ms, { zone: zone.iana });
    const nextDate = nextDateAfter(rec, civilDateOf(d.dueDateTime.ms, zone));
    if (!nextDate) return;
    const nextDue = DateTime.fromObject({ year: nextDate.y, month: nextDate.m, day: nextDate.d, hour: dueLocal.hour, minute: dueLocal.minute, second: dueLocal.second }, { zone: zone.iana }).toMillis();
    const shift = nextDue - d.dueDateTime.ms;
    const moved = (v: { ms: number; zone: typeof zone } | null) => (v ? { ms: v.ms + shift, zone: v.zone } : null);
    const now = this.world.clock.now();
    const data: TaskData = {
      ...d,
      categories: [...d.categories],
      bodyLastModifiedAt: now,
      status: 'notStarted',
      dueDateTime: { ms: nextDue, zone: d.dueDateTime.zone },
      startDateTime: moved(d.startDateTime),
      reminderDateTime: moved(d.reminderDateTime),
      completedDateTime: null,
      linkedResources: [],
    };
    const coll = this.world.collection(done.collectionKey, 'todoTask', done.userId, done.parentId);
    this.world.insert({ kind: 'todoTask', userId: done.userId, collection: coll, data, indexKeys: this.indexKeys({ data } as TaskRecord), actor });
  }

  /** completedDateTime follows status: set when a task becomes completed, cleared when it is reopened. */
  private completion(d: TaskData, before: TaskData | undefined, input: z.infer<typeof taskInput>, now: number): void {
    if (d.status === 'completed' && !d.completedDateTime && input.completedDateTime === undefined) d.completedDateTime = { ms: now, zone: { iana: 'UTC', windows: 'UTC', label: 'UTC', isUtc: true } };
    if (d.status !== 'completed' && before?.status === 'completed' && input.completedDateTime === undefined) d.completedDateTime = null;
  }
}

function checkTaskIfMatch(ifMatch: string | undefined, record: ItemRecord): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const given = ifMatch.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  if (given !== record.changeKey) throw new GraphError(412, 'PreconditionFailed', 'The If-Match header does not match the current version of the task.');
}

export const taskCreatedAt = (r: TaskRecord): string => utcTimestamp7(r.createdAt);
